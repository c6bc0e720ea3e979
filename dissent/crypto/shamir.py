"""k-of-n Shamir secret sharing over GF(256), with a typo-proof text form for paper.

The instance's offline recovery identity is split among custodians so that any
``threshold`` of them can rebuild it and fewer learn nothing about it. Each byte of the
secret is the constant term of its own random polynomial of degree ``threshold - 1``;
share ``i`` holds every polynomial evaluated at ``x = i``.

Python offers no constant-time guarantees, so this module makes none. Splitting and
combining happen offline at a key ceremony, where timing is not observable by an
attacker; still, secret bytes are never used as a table index or a branch condition
(see :func:`_scale`), so the code is no leakier than it has to be.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._encoding import bech32_decode, bech32_encode
from .errors import KeyFormatError

__all__ = [
    "MAX_SECRET_LENGTH",
    "MAX_SHARES",
    "MIN_THRESHOLD",
    "NotEnoughSharesError",
    "Share",
    "combine_shares",
    "format_share",
    "parse_share",
    "split_secret",
]

MIN_THRESHOLD = 2
# x-coordinates are the non-zero elements of GF(256), and x = 0 is the secret itself.
MAX_SHARES = 255
MAX_SECRET_LENGTH = 255
SET_ID_LENGTH = 4

SHARE_HRP = "dissent-share"
SHARE_FORMAT_VERSION = 1
# version (1) || set_id (4) || threshold (1) || index (1), then the share value.
_HEADER_LENGTH = 1 + SET_ID_LENGTH + 1 + 1 + 1  # version, set id, threshold, index, length
# Bech32 puts "1" between the human-readable part and the data.
_TEXT_PREFIX = SHARE_HRP + "1"
# Five characters is short enough to read aloud and compare by eye.
GROUP_SIZE = 5

# The AES reduction polynomial x^8 + x^4 + x^3 + x + 1, without its x^8 term, which
# the shift out of each byte lane already accounts for.
_REDUCTION = 0x1B
_TYPO_HINT = (
    "compare each group of five with the paper copy "
    "(the letters B, I, O and the digit 1 never appear after the first group)"
)


class NotEnoughSharesError(KeyFormatError):
    """Fewer shares were given than the split's threshold requires."""

    def __init__(self, *, needed: int, given: int) -> None:
        self.needed = needed
        self.given = given
        super().__init__(
            f"{needed} shares are needed to recover the secret, but only {given} "
            f"{'was' if given == 1 else 'were'} given"
        )


@dataclass(frozen=True)
class Share:
    """One custodian's share of a split secret."""

    set_id: bytes
    threshold: int
    index: int
    # Kept out of the repr so that a logged share does not leak its value.
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.set_id) != SET_ID_LENGTH:
            raise ValueError(f"set id must be {SET_ID_LENGTH} bytes, not {len(self.set_id)}")
        if not MIN_THRESHOLD <= self.threshold <= MAX_SHARES:
            raise ValueError(
                f"threshold must be between {MIN_THRESHOLD} and {MAX_SHARES}, not {self.threshold}"
            )
        if not 1 <= self.index <= MAX_SHARES:
            raise ValueError(f"share index must be between 1 and {MAX_SHARES}, not {self.index}")
        if not 1 <= len(self.value) <= MAX_SECRET_LENGTH:
            raise ValueError(
                f"share value must be 1 to {MAX_SECRET_LENGTH} bytes, not {len(self.value)}"
            )


def split_secret(secret: bytes, *, threshold: int, shares: int) -> list[Share]:
    """Return ``shares`` shares of ``secret``, any ``threshold`` of which recover it."""
    if not 1 <= len(secret) <= MAX_SECRET_LENGTH:
        raise ValueError(f"secret must be 1 to {MAX_SECRET_LENGTH} bytes, not {len(secret)}")
    if threshold < MIN_THRESHOLD:
        # A threshold of 1 would make every share a copy of the secret.
        raise ValueError(f"threshold must be at least {MIN_THRESHOLD}, not {threshold}")
    if shares > MAX_SHARES:
        raise ValueError(f"at most {MAX_SHARES} shares can be made, not {shares}")
    if threshold > shares:
        raise ValueError(
            f"threshold ({threshold}) cannot exceed the number of shares ({shares}): "
            "the secret could never be recovered"
        )
    coefficients = [secrets.token_bytes(len(secret)) for _ in range(threshold - 1)]
    return _split_with(
        secret,
        threshold=threshold,
        shares=shares,
        set_id=secrets.token_bytes(SET_ID_LENGTH),
        coefficients=coefficients,
    )


def combine_shares(shares: Sequence[Share]) -> bytes:
    """Return the secret rebuilt from at least ``threshold`` shares of one split.

    Shares beyond the threshold are checked against the others, so a share that was
    altered (not merely mistyped, which its checksum catches) is refused rather than
    silently yielding a wrong secret.
    """
    if not shares:
        raise KeyFormatError("no shares were given")
    first = shares[0]
    for share in shares[1:]:
        if share.set_id != first.set_id:
            raise KeyFormatError("the shares come from different splits and cannot be combined")
        if share.threshold != first.threshold:
            raise KeyFormatError(
                "the shares disagree about how many are needed; one has been altered"
            )
        if len(share.value) != len(first.value):
            # Bech32 misses a "q" typed or dropped just before a final "p", which changes
            # the length of one share; this is where that typo is caught.
            raise KeyFormatError(
                "the shares have different lengths: one was mistyped (check the last "
                "groups of each share) or altered"
            )
    seen: dict[int, bytes] = {}
    for share in shares:
        if share.index in seen:
            if seen[share.index] == share.value:
                raise KeyFormatError(f"share number {share.index} was given more than once")
            raise KeyFormatError(
                f"two different shares claim to be share number {share.index}; one has been altered"
            )
        seen[share.index] = share.value
    if len(shares) < first.threshold:
        raise NotEnoughSharesError(needed=first.threshold, given=len(shares))

    ones = _lane_ones(len(first.value))
    points = [(share.index, int.from_bytes(share.value, "big")) for share in shares]
    basis_points, extra_points = points[: first.threshold], points[first.threshold :]
    weights = _barycentric_weights([x for x, _ in basis_points])
    for x, y in extra_points:
        if _interpolate(basis_points, weights, at=x, ones=ones) != y:
            raise KeyFormatError(
                f"share number {x} is inconsistent with the others; one of them has been altered"
            )
    secret = _interpolate(basis_points, weights, at=0, ones=ones)
    return secret.to_bytes(len(first.value), "big")


def format_share(share: Share) -> str:
    """Return the share as uppercase Bech32 in space-separated groups, for printing."""
    payload = (
        bytes([SHARE_FORMAT_VERSION])
        + share.set_id
        + bytes([share.threshold, share.index, len(share.value)])
        + share.value
    )
    data = bech32_encode(SHARE_HRP, payload).upper()[len(_TEXT_PREFIX) :]
    groups = [data[start : start + GROUP_SIZE] for start in range(0, len(data), GROUP_SIZE)]
    return " ".join([_TEXT_PREFIX.upper(), *groups])


def parse_share(text: str) -> Share:
    """Return the share written in ``text``, as typed back in from paper.

    Case does not matter, and spaces, line breaks and hyphens between groups are
    ignored. A mistyped character is reported as a typo rather than yielding a
    different share.
    """
    compact = "".join(text.split())
    # The prefix is handled first because the human-readable part itself holds a hyphen.
    if compact[: len(_TEXT_PREFIX)].lower() != _TEXT_PREFIX:
        raise KeyFormatError(
            "this is not a dissent share, or its first group has a typo: "
            f"it must begin with {_TEXT_PREFIX.upper()}"
        )
    # Bech32's checksum is over character values, not case, so accepting mixed case
    # (a custodian who hits caps lock midway) costs no error detection.
    data = compact[len(_TEXT_PREFIX) :].replace("-", "").lower()
    try:
        _, payload = bech32_decode(_TEXT_PREFIX + data)
    except KeyFormatError as exc:
        raise KeyFormatError(f"the share has a typo: {_TYPO_HINT}") from exc
    if len(payload) <= _HEADER_LENGTH:
        raise KeyFormatError("the share is too short to hold a secret")
    if payload[0] != SHARE_FORMAT_VERSION:
        raise KeyFormatError(
            f"the share uses format version {payload[0]}, which this version of dissent cannot read"
        )
    # The explicit length catches what Bech32's checksum cannot: a "q" inserted or
    # dropped just before a final "p" keeps the checksum valid but changes the length.
    if payload[3 + SET_ID_LENGTH] != len(payload) - _HEADER_LENGTH:
        raise KeyFormatError(f"the share has a typo: {_TYPO_HINT}")
    try:
        return Share(
            set_id=payload[1 : 1 + SET_ID_LENGTH],
            threshold=payload[1 + SET_ID_LENGTH],
            index=payload[2 + SET_ID_LENGTH],
            value=payload[_HEADER_LENGTH:],
        )
    except ValueError as exc:
        raise KeyFormatError(f"the share is malformed: {exc}") from exc


def _split_with(
    secret: bytes,
    *,
    threshold: int,
    shares: int,
    set_id: bytes,
    coefficients: Sequence[bytes],
) -> list[Share]:
    """Return the shares for the given randomness; the seam for known-answer tests."""
    ones = _lane_ones(len(secret))
    polynomial = [int.from_bytes(secret, "big")]
    polynomial += [int.from_bytes(coefficient, "big") for coefficient in coefficients]
    return [
        Share(
            set_id=set_id,
            threshold=threshold,
            index=x,
            value=_evaluate(polynomial, at=x, ones=ones).to_bytes(len(secret), "big"),
        )
        for x in range(1, shares + 1)
    ]


# Field arithmetic. A whole secret is held as one integer with each byte in its own
# 8-bit lane, so the byte-wise polynomials are evaluated together. Every product in
# Shamir's scheme is a secret value times a public one (an x-coordinate or a Lagrange
# coefficient), so only the public factor ever steers a branch.


def _lane_ones(length: int) -> int:
    """Return an integer with the value 1 in each of ``length`` byte lanes."""
    return int.from_bytes(b"\x01" * length, "big")


def _scale(lanes: int, scalar: int, *, ones: int) -> int:
    """Return every byte lane of ``lanes`` multiplied in GF(256) by the public ``scalar``."""
    low_bits = ones * 0x7F
    product = 0
    for bit in range(8):
        if (scalar >> bit) & 1:
            product ^= lanes
        # Multiply each lane by x: shift within the lane and reduce the bit shifted out.
        lanes = ((lanes & low_bits) << 1) ^ (((lanes >> 7) & ones) * _REDUCTION)
    return product


def _gf_mul(a: int, b: int) -> int:
    """Return the product of two public elements of GF(256)."""
    return _scale(a, b, ones=1)


def _gf_inverse(a: int) -> int:
    """Return the multiplicative inverse of a non-zero public element of GF(256)."""
    # The multiplicative group has order 255, so a^254 * a = 1.
    result = 1
    power = a
    exponent = 254
    while exponent:
        if exponent & 1:
            result = _gf_mul(result, power)
        power = _gf_mul(power, power)
        exponent >>= 1
    return result


def _evaluate(polynomial: Sequence[int], *, at: int, ones: int) -> int:
    """Return the lanes of the polynomial (constant term first) evaluated at ``at``."""
    result = 0
    for coefficient in reversed(polynomial):
        result = _scale(result, at, ones=ones) ^ coefficient
    return result


def _barycentric_weights(xs: Sequence[int]) -> list[int]:
    """Return, for each distinct public ``x_i``, the inverse of the product of ``x_i - x_j``."""
    weights = []
    for i, x_i in enumerate(xs):
        denominator = 1
        for j, x_j in enumerate(xs):
            if j != i:
                # Subtraction in GF(256) is XOR.
                denominator = _gf_mul(denominator, x_i ^ x_j)
        weights.append(_gf_inverse(denominator))
    return weights


def _interpolate(
    points: Sequence[tuple[int, int]], weights: Sequence[int], *, at: int, ones: int
) -> int:
    """Return the lanes of the polynomial through ``points`` evaluated at ``at``.

    ``at`` must not be one of the points' x-coordinates: it is 0 or another share's.
    """
    # Barycentric form: the weights depend only on the x-coordinates, so checking extra
    # shares costs O(k) per share instead of O(k^2).
    all_factors = 1
    for x, _ in points:
        all_factors = _gf_mul(all_factors, at ^ x)
    result = 0
    for (x, y), weight in zip(points, weights, strict=True):
        basis = _gf_mul(_gf_mul(all_factors, _gf_inverse(at ^ x)), weight)
        result ^= _scale(y, basis, ones=ones)
    return result
