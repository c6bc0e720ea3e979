"""Source codenames: generate one, normalise what a source types, derive the source's keys.

A codename is the only thing a source keeps. The server stores neither the codename nor
anything that can be checked against it cheaply: a memory-hard derivation with the instance's
secret salt turns it into a *lookup id* (stored, to find the source's records) and an
*identity seed* (from which the caller builds the source's age identity; only its public
recipient is stored). This module derives bytes only and never builds age keys.

A new codename is drawn from the word list of the source's language, which the caller
passes in (this layer knows nothing of requests); a typed codename may use the words of any
list, including the EFF list every codename came from before the lists were split.
"""

from __future__ import annotations

import functools
import hmac
import itertools
import math
import re
import secrets
import threading
from dataclasses import dataclass, field
from importlib import resources

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

CODENAME_WORDS = 7
# The loader refuses a shorter list, so the entropy below is a floor, not an estimate.
MIN_WORDLIST_SIZE = 7776
# log2(7776) * 7 ≈ 12.925 * 7 ≈ 90.5 bits: out of reach of online guessing and, behind a
# memory-hard KDF with a secret salt, of offline guessing from a database dump too.
CODENAME_MIN_ENTROPY_BITS = CODENAME_WORDS * math.log2(MIN_WORDLIST_SIZE)

MIN_SALT_BYTES = 16
SOURCE_KEY_BYTES = 32

_WORDLIST_PACKAGE = "dissent.crypto"
_WORDLIST_FOLDER = "wordlists"
# The list a new codename is drawn from, by the source's language (docs/decisions.md). A
# language without its own list gets English.
WORDLISTS = {"nl": "nl.txt", "en": "en.txt"}
DEFAULT_LANGUAGE = "en"
# Every codename made before the lists were split by language came from the EFF list. No
# new codename uses it, but login accepts its words so that those codenames keep working.
LEGACY_WORDLIST = "eff_large.txt"
# Lowercase ASCII words, hyphens only between letters ("t-shirt", "yo-yo"). Above all no
# whitespace, so that a codename joined with spaces splits back into the same words.
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")

# Distinct HKDF labels keep the two outputs independent: knowing the lookup id (which sits
# in the database) says nothing about the identity seed. "v1" lets a future scheme coexist.
# One Argon2id derivation at a time per process. OpenSSL runs the lanes on a thread pool
# that `cryptography` caps at the CPU count; two derivations with two lanes each on two
# cores wait on each other's pool threads for ever (seen in a load test: every source
# login hung). Serialising loses nothing: one derivation already uses every core.
_ARGON2_LOCK = threading.Lock()
_INFO_LOOKUP_ID = b"dissent/v1/source-lookup-id"
_INFO_IDENTITY = b"dissent/v1/source-identity"


class InvalidCodename(ValueError):
    """What the source typed cannot be a codename (wrong word count or unknown word).

    The message is about format only and safe to show: it never says whether a codename
    exists, and it never repeats the typed words, so logging it leaks no part of a codename.
    ``word_count`` or ``position`` say what was wrong, for a message in the reader's language.
    """

    def __init__(self, message: str, *, word_count: int | None = None, position: int | None = None):
        super().__init__(message)
        self.word_count = word_count
        self.position = position


class WordlistError(RuntimeError):
    """The packaged word list is missing, malformed or too short: a broken installation."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters for deriving a source's keys from a codename."""

    memory_cost_kib: int
    iterations: int
    lanes: int

    def __post_init__(self) -> None:
        # Argon2 needs at least 8 KiB per lane; fail here, where the value was chosen,
        # rather than at the first login.
        if self.lanes < 1 or self.iterations < 1 or self.memory_cost_kib < 8 * self.lanes:
            raise ValueError(
                "Argon2id needs lanes >= 1, iterations >= 1 and memory_cost_kib >= 8 * lanes"
            )


# The production cost. Measured on the 2-core development machine (cryptography 50.0.2,
# 10 runs): mean 225 ms wall clock (min 202, max 247), about 330 ms of CPU time across both
# cores. Why these values: memory is what makes a guessing rig expensive, so take the
# 128 MiB ceiling (the server bounds concurrent logins, so peak memory is that bound times
# 128 MiB); two passes rather than one, because a single pass gives the weakest
# time-memory trade-off resistance; two lanes so that both cores work on one login and
# the source waits about a quarter of a second instead of a third.
#
# WARNING: these numbers are part of the derivation. Changing any of them changes every
# lookup id and identity seed, which locks out every existing source. Whoever stores the
# instance salt must store the parameters with it; a change needs a migration plan.
DEFAULT_KDF_PARAMS = KdfParams(memory_cost_kib=128 * 1024, iterations=2, lanes=2)

# TEST ONLY: the smallest cost Argon2 accepts (8 KiB, one pass, one lane), so that tests
# which derive keys run in microseconds. It offers no protection against guessing and must
# never be configured for a real instance.
TEST_KDF_PARAMS = KdfParams(memory_cost_kib=8, iterations=1, lanes=1)


@dataclass(frozen=True)
class SourceKeys:
    """The two values derived from a codename; both are secret and kept out of ``repr``."""

    lookup_id: bytes = field(repr=False)
    identity_seed: bytes = field(repr=False)


def _parse_wordlist(text: str) -> tuple[str, ...]:
    """Return the words of a word list file, or raise :class:`WordlistError`."""
    words = tuple(line.strip() for line in text.splitlines() if line.strip())
    malformed = sum(1 for word in words if not _WORD.fullmatch(word))
    if malformed:
        raise WordlistError(f"codename word list has {malformed} malformed entries")
    # A duplicate would make some words likelier than others and quietly cut the entropy.
    unique = len(set(words))
    if unique != len(words):
        raise WordlistError(f"codename word list has {len(words) - unique} duplicate entries")
    if unique < MIN_WORDLIST_SIZE:
        raise WordlistError(
            f"codename word list has {unique} words; at least {MIN_WORDLIST_SIZE} are needed "
            f"for {CODENAME_WORDS}-word codenames of {CODENAME_MIN_ENTROPY_BITS:.1f} bits"
        )
    # No word starts another: a word left unfinished is never another word of the list, so
    # the slip is caught and named. In sorted order a word that starts others comes right
    # before the first of them.
    ordered = sorted(words)
    prefixes = sum(1 for a, b in itertools.pairwise(ordered) if b.startswith(a))
    if prefixes:
        raise WordlistError(f"codename word list has {prefixes} words that start another")
    return words


@functools.cache
def _load_wordlist(name: str) -> tuple[str, ...]:
    resource = resources.files(_WORDLIST_PACKAGE).joinpath(_WORDLIST_FOLDER, name)
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WordlistError(f"cannot read the codename word list {name}: {exc}") from exc
    return _parse_wordlist(text)


def wordlist_language(language: str | None) -> str:
    """Return the language whose list makes codenames for ``language`` ("nl", "nl_NL" or
    "nl-BE" give "nl"; anything without its own list gives DEFAULT_LANGUAGE)."""
    base = re.split(r"[_-]", language or "", maxsplit=1)[0].lower()
    return base if base in WORDLISTS else DEFAULT_LANGUAGE


def codename_wordlist(language: str | None = None) -> tuple[str, ...]:
    """Return the word list new codenames in ``language`` are drawn from (loaded and
    validated once per process)."""
    return _load_wordlist(WORDLISTS[wordlist_language(language)])


@functools.cache
def _word_set() -> frozenset[str]:
    # Every list a codename may have come from: typing need not match the page's language.
    names = (*WORDLISTS.values(), LEGACY_WORDLIST)
    return frozenset(word for name in names for word in _load_wordlist(name))


def generate_codename(*, language: str | None = None) -> str:
    """Return a new random codename in ``language``: CODENAME_WORDS words of that
    language's list, joined by single spaces."""
    words = codename_wordlist(language)
    return " ".join(secrets.choice(words) for _ in range(CODENAME_WORDS))


def typed_words(text: str) -> list[str]:
    """Return the words of a typed codename as typed (case kept), split as
    :func:`normalize_codename` splits them: word N here is the word its errors name."""
    return text.split()


def normalize_codename(text: str) -> str:
    """Return the canonical form of a typed codename, or raise :class:`InvalidCodename`.

    Case and whitespace (extra spaces, tabs, line breaks) are forgiven, so a codename
    copied from a note still works. Hyphens are not separators: they belong to words such
    as "t-shirt".
    """
    words = [word.lower() for word in typed_words(text)]
    if len(words) != CODENAME_WORDS:
        raise InvalidCodename(
            f"A codename has {CODENAME_WORDS} words separated by spaces; this has {len(words)}.",
            word_count=len(words),
        )
    known = _word_set()
    for position, word in enumerate(words, start=1):
        if word not in known:
            # The position, not the word: the message may be logged. A page that shows
            # the word to the person who typed it takes it from typed_words().
            raise InvalidCodename(
                f"Word {position} is not a codename word. Please check its spelling.",
                position=position,
            )
    return " ".join(words)


def derive_source_keys(
    codename: str, *, salt: bytes, params: KdfParams = DEFAULT_KDF_PARAMS
) -> SourceKeys:
    """Return the lookup id and identity seed for a codename under the instance salt.

    Raises :class:`InvalidCodename` if the codename is malformed and ``ValueError`` if the
    salt is shorter than MIN_SALT_BYTES.
    """
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError(f"the codename salt must be at least {MIN_SALT_BYTES} bytes")
    normalized = normalize_codename(codename)
    # One memory-hard call, then cheap domain separation. Argon2id is the only expensive
    # step and a guesser must pay it once per guess either way, so running it twice (once
    # per output) would double every login's cost without costing an attacker more. HKDF-
    # Expand with distinct labels turns the one uniformly random 32-byte key into two
    # outputs that are independent of each other (HKDF is a PRF keyed by that key).
    with _ARGON2_LOCK:
        master = Argon2id(
            salt=salt,
            length=SOURCE_KEY_BYTES,
            iterations=params.iterations,
            lanes=params.lanes,
            memory_cost=params.memory_cost_kib,
        ).derive(normalized.encode("ascii"))
    return SourceKeys(
        lookup_id=_expand(master, _INFO_LOOKUP_ID),
        identity_seed=_expand(master, _INFO_IDENTITY),
    )


def _expand(key: bytes, info: bytes) -> bytes:
    return HKDFExpand(algorithm=hashes.SHA256(), length=SOURCE_KEY_BYTES, info=info).derive(key)


def lookup_id_matches(a: bytes, b: bytes) -> bool:
    """Return whether two lookup ids are equal, in time independent of where they differ."""
    return hmac.compare_digest(a, b)
