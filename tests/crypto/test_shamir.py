"""Tests for k-of-n Shamir secret sharing and its printable share format."""

from __future__ import annotations

import dataclasses
import itertools
import string
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissent.crypto import shamir
from dissent.crypto._encoding import bech32_decode, bech32_encode
from dissent.crypto.errors import KeyFormatError
from dissent.crypto.shamir import (
    NotEnoughSharesError,
    Share,
    combine_shares,
    format_share,
    parse_share,
    split_secret,
)

SECRET = bytes(range(100, 132))

# Pins the printed format: paper shares already handed to custodians depend on it.
PINNED_SHARE = Share(set_id=bytes.fromhex("0badcafe"), threshold=2, index=3, value=bytes(range(32)))
PINNED_TEXT = (
    "DISSENT-SHARE1 QY96M JH7QG PJQQQ PQGPS GPGXQ UYQJZ STPSX SURCS ZYFPX 9Q4ZC T3SXG 6RVWP"
    " 68SLS GGJGP"
)


def reference_mul(a: int, b: int) -> int:
    """Carry-less multiply, then reduce by the AES polynomial: the textbook definition."""
    product = 0
    for bit in range(8):
        if b >> bit & 1:
            product ^= a << bit
    for bit in range(14, 7, -1):
        if product >> bit & 1:
            product ^= 0x11B << (bit - 8)
    return product


@st.composite
def splits(draw: st.DrawFn) -> tuple[bytes, int, list[Share]]:
    """A secret, its threshold and all shares of one split, in a random order."""
    secret = draw(st.binary(min_size=1, max_size=64))
    count = draw(st.integers(min_value=2, max_value=10))
    threshold = draw(st.integers(min_value=2, max_value=count))
    shares = split_secret(secret, threshold=threshold, shares=count)
    return secret, threshold, draw(st.permutations(shares))


# --- GF(256) arithmetic ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "product"),
    [
        (0x53, 0xCA, 0x01),  # FIPS-197 section 4.2: inverses of each other
        (0x57, 0x83, 0xC1),  # FIPS-197 section 4.2
        (0x57, 0x13, 0xFE),  # FIPS-197 section 4.2.1
        (0x57, 0x00, 0x00),
        (0x01, 0xFF, 0xFF),
    ],
)
def test_gf_mul_known_answers(a: int, b: int, product: int) -> None:
    assert shamir._gf_mul(a, b) == product
    assert shamir._gf_mul(b, a) == product


def test_gf_mul_matches_textbook_definition_everywhere() -> None:
    for a, b in itertools.product(range(256), repeat=2):
        assert shamir._gf_mul(a, b) == reference_mul(a, b)


def test_gf_inverse_of_every_nonzero_element() -> None:
    assert shamir._gf_inverse(0x53) == 0xCA
    for a in range(1, 256):
        assert shamir._gf_mul(a, shamir._gf_inverse(a)) == 1


@given(st.binary(min_size=1, max_size=40), st.integers(min_value=0, max_value=255))
def test_scale_multiplies_each_byte_lane_independently(data: bytes, scalar: int) -> None:
    ones = shamir._lane_ones(len(data))
    scaled = shamir._scale(int.from_bytes(data, "big"), scalar, ones=ones)
    assert scaled.to_bytes(len(data), "big") == bytes(reference_mul(b, scalar) for b in data)


# --- Splitting and combining ------------------------------------------------------------


def test_split_known_answer_degree_one() -> None:
    # f(x) = 0x42 + 0x53 x, worked by hand.
    shares = shamir._split_with(
        b"\x42", threshold=2, shares=3, set_id=b"\x00\x01\x02\x03", coefficients=[b"\x53"]
    )
    assert [(s.index, s.value) for s in shares] == [(1, b"\x11"), (2, b"\xe4"), (3, b"\xb7")]
    assert combine_shares(shares[1:]) == b"\x42"


def test_split_known_answer_degree_two() -> None:
    # f(x) = 0x01 + 0x57 x + 0x83 x^2, worked by hand.
    shares = shamir._split_with(
        b"\x01", threshold=3, shares=3, set_id=b"\x00\x01\x02\x03", coefficients=[b"\x57", b"\x83"]
    )
    assert [s.value for s in shares] == [b"\xd5", b"\x95", b"\x41"]
    assert combine_shares(shares) == b"\x01"


def test_split_makes_shares_of_one_set_with_indices_one_to_n() -> None:
    shares = split_secret(SECRET, threshold=3, shares=5)
    assert [s.index for s in shares] == [1, 2, 3, 4, 5]
    assert {s.set_id for s in shares} == {shares[0].set_id}
    assert {s.threshold for s in shares} == {3}
    assert all(len(s.value) == len(SECRET) for s in shares)
    assert all(s.value != SECRET for s in shares)


def test_two_splits_of_one_secret_differ() -> None:
    first = split_secret(SECRET, threshold=2, shares=2)
    second = split_secret(SECRET, threshold=2, shares=2)
    assert first[0].set_id != second[0].set_id
    assert first[0].value != second[0].value


@given(splits(), st.data())
def test_any_threshold_shares_recover_the_secret(
    split: tuple[bytes, int, list[Share]], data: st.DataObject
) -> None:
    secret, threshold, shares = split
    count = data.draw(st.integers(min_value=threshold, max_value=len(shares)))
    assert combine_shares(shares[:count]) == secret


@given(splits())
def test_one_share_too_few_is_refused(split: tuple[bytes, int, list[Share]]) -> None:
    _, threshold, shares = split
    with pytest.raises(NotEnoughSharesError) as excinfo:
        combine_shares(shares[: threshold - 1])
    assert excinfo.value.needed == threshold
    assert excinfo.value.given == threshold - 1
    assert f"{threshold} shares are needed" in str(excinfo.value)


def test_largest_split_recovers() -> None:
    shares = split_secret(SECRET, threshold=255, shares=255)
    assert combine_shares(shares[::-1]) == SECRET


def test_longest_secret_recovers() -> None:
    secret = bytes(range(255))
    shares = split_secret(secret, threshold=3, shares=5)
    assert combine_shares(shares[2:]) == secret


def test_no_shares_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="no shares"):
        combine_shares([])


@pytest.mark.parametrize(
    ("secret", "threshold", "count", "message"),
    [
        (b"", 2, 3, "secret must be 1 to 255 bytes"),
        (bytes(256), 2, 3, "secret must be 1 to 255 bytes"),
        (SECRET, 1, 3, "threshold must be at least 2"),
        (SECRET, 0, 3, "threshold must be at least 2"),
        (SECRET, 4, 3, "cannot exceed the number of shares"),
        (SECRET, 2, 256, "at most 255 shares"),
    ],
)
def test_bad_split_parameters_are_refused(
    secret: bytes, threshold: int, count: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        split_secret(secret, threshold=threshold, shares=count)


def test_shares_from_different_splits_are_refused() -> None:
    first = split_secret(SECRET, threshold=2, shares=3)
    second = split_secret(SECRET, threshold=2, shares=3)
    with pytest.raises(KeyFormatError, match="different splits"):
        combine_shares([first[0], second[1]])


def test_duplicate_share_is_refused() -> None:
    shares = split_secret(SECRET, threshold=2, shares=3)
    with pytest.raises(KeyFormatError, match="share number 2 was given more than once"):
        combine_shares([shares[1], shares[1]])


def test_conflicting_shares_with_one_index_are_refused() -> None:
    shares = split_secret(SECRET, threshold=2, shares=3)
    forged = dataclasses.replace(shares[0], value=bytes(len(SECRET)))
    with pytest.raises(KeyFormatError, match="two different shares claim"):
        combine_shares([shares[0], forged, shares[1]])


def test_shares_disagreeing_about_the_threshold_are_refused() -> None:
    shares = split_secret(SECRET, threshold=2, shares=3)
    altered = dataclasses.replace(shares[1], threshold=3)
    with pytest.raises(KeyFormatError, match="disagree about how many are needed"):
        combine_shares([shares[0], altered, shares[2]])


def test_shares_of_different_lengths_are_refused() -> None:
    shares = split_secret(SECRET, threshold=2, shares=3)
    altered = dataclasses.replace(shares[1], value=shares[1].value + b"\x00")
    with pytest.raises(KeyFormatError, match="different lengths"):
        combine_shares([shares[0], altered])


def test_altered_extra_share_is_detected() -> None:
    shares = split_secret(SECRET, threshold=2, shares=3)
    altered = dataclasses.replace(shares[2], value=bytes(b ^ 1 for b in shares[2].value))
    with pytest.raises(KeyFormatError, match="share number 3 is inconsistent"):
        combine_shares([shares[0], shares[1], altered])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"set_id": b"\x00" * 3}, "set id must be 4 bytes"),
        ({"threshold": 1}, "threshold must be between 2 and 255"),
        ({"index": 0}, "share index must be between 1 and 255"),
        ({"index": 256}, "share index must be between 1 and 255"),
        ({"value": b""}, "share value must be 1 to 255 bytes"),
    ],
)
def test_invalid_share_fields_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PINNED_SHARE, **change)  # type: ignore[arg-type]


def test_share_repr_hides_the_value() -> None:
    assert PINNED_SHARE.value.hex() not in repr(PINNED_SHARE)
    assert repr(PINNED_SHARE.value) not in repr(PINNED_SHARE)


# --- Text form ----------------------------------------------------------------------------


def test_format_matches_pinned_vector() -> None:
    assert format_share(PINNED_SHARE) == PINNED_TEXT
    hrp, payload = bech32_decode(PINNED_TEXT.replace(" ", "").lower())
    assert hrp == "dissent-share"
    assert payload == bytes.fromhex("01 0badcafe 02 03 20") + bytes(range(32))
    assert parse_share(PINNED_TEXT) == PINNED_SHARE


def test_format_is_uppercase_groups_of_five_after_the_prefix() -> None:
    text = format_share(split_secret(SECRET, threshold=2, shares=2)[0])
    prefix, *groups = text.split(" ")
    assert prefix == "DISSENT-SHARE1"
    assert text == text.upper()
    assert all(len(group) == 5 for group in groups[:-1])
    assert 1 <= len(groups[-1]) <= 5


@settings(max_examples=50)
@given(splits())
def test_text_form_round_trips(split: tuple[bytes, int, list[Share]]) -> None:
    _, _, shares = split
    for share in shares:
        assert parse_share(format_share(share)) == share


@pytest.mark.parametrize(
    "retype",
    [
        str.lower,
        lambda text: text.replace(" ", ""),
        lambda text: text.replace(" ", "-"),
        lambda text: text.replace(" ", "\n", 4).replace(" ", "  "),
        lambda text: "  " + text.title() + "\n",
        lambda text: text[:40].lower() + text[40:],
    ],
    ids=["lowercase", "no-spaces", "hyphens", "newlines", "mixed-case", "half-lowercase"],
)
def test_parse_accepts_how_people_type(retype: Callable[[str], str]) -> None:
    assert parse_share(retype(PINNED_TEXT)) == PINNED_SHARE


def test_every_single_character_substitution_is_a_typo() -> None:
    prefix_length = len("DISSENT-SHARE1 ")
    alphabet = string.ascii_uppercase + string.digits
    checked = 0
    for position in range(prefix_length, len(PINNED_TEXT)):
        original = PINNED_TEXT[position]
        if original == " ":
            continue
        for replacement in alphabet:
            if replacement == original:
                continue
            typo = PINNED_TEXT[:position] + replacement + PINNED_TEXT[position + 1 :]
            with pytest.raises(KeyFormatError, match="the share has a typo"):
                parse_share(typo)
            checked += 1
    assert checked == (len(PINNED_TEXT.replace(" ", "")) - len("DISSENT-SHARE1")) * 35


def test_q_inserted_before_a_final_p_is_caught_as_a_typo() -> None:
    # Bech32's known weakness: "q" added or dropped just before a final "p" keeps the
    # checksum valid. Find a share that ends in "P" and make that typo.
    for set_number in itertools.count():
        shares = shamir._split_with(
            SECRET,
            threshold=2,
            shares=2,
            set_id=set_number.to_bytes(4, "big"),
            coefficients=[bytes(range(32))],
        )
        text = format_share(shares[0]).replace(" ", "")
        if text.endswith("P"):
            break
    typo = text[:-1] + "QP"
    with pytest.raises(KeyFormatError, match="typo"):
        parse_share(typo)


@pytest.mark.parametrize(
    "text",
    [
        PINNED_TEXT.replace("DISSENT-SHARE1", "DISSENT-SHARF1"),
        PINNED_TEXT.replace("DISSENT-SHARE1", "DISSENTSHARE1"),
        "AGE1QY96MJH7QG",
        "",
    ],
)
def test_wrong_prefix_is_refused(text: str) -> None:
    with pytest.raises(KeyFormatError, match="must begin with DISSENT-SHARE1"):
        parse_share(text)


def test_truncated_share_is_a_typo() -> None:
    with pytest.raises(KeyFormatError, match="typo"):
        parse_share(PINNED_TEXT[:-6])


def test_unknown_version_is_refused() -> None:
    payload = bytes([2]) + bytes.fromhex("0badcafe020320") + bytes(32)
    with pytest.raises(KeyFormatError, match="format version 2"):
        parse_share(bech32_encode("dissent-share", payload))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (bytes.fromhex("01 0badcafe 02 03"), "too short"),
        (bytes.fromhex("01 0badcafe 02 00 20") + bytes(32), "share index"),
        (bytes.fromhex("01 0badcafe 01 03 20") + bytes(32), "threshold"),
    ],
    ids=["no-value", "index-zero", "threshold-one"],
)
def test_malformed_payload_is_refused(payload: bytes, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        parse_share(bech32_encode("dissent-share", payload))


@settings(max_examples=25)
@given(splits())
def test_shares_recover_after_printing_and_retyping(split: tuple[bytes, int, list[Share]]) -> None:
    secret, threshold, shares = split
    typed = [parse_share(format_share(share).lower()) for share in shares[:threshold]]
    assert combine_shares(typed) == secret
