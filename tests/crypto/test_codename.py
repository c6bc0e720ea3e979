"""Tests for dissent.crypto.codename: word list, generation, normalisation, key derivation."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest

from dissent.crypto import codename as cn
from dissent.crypto.codename import (
    CODENAME_MIN_ENTROPY_BITS,
    CODENAME_WORDS,
    DEFAULT_KDF_PARAMS,
    LEGACY_WORDLIST,
    TEST_KDF_PARAMS,
    InvalidCodename,
    KdfParams,
    WordlistError,
    codename_wordlist,
    derive_source_keys,
    generate_codename,
    lookup_id_matches,
    normalize_codename,
    typed_words,
    wordlist_language,
)

ROOT = Path(__file__).resolve().parents[2]
BLOCKLISTS = ROOT / "tools" / "wordlists"

SALT = bytes(range(32))
OTHER_SALT = bytes(range(1, 33))
# Seven list words, two of them hyphenated, so the known answers also pin hyphen handling.
FIXED_CODENAME = "abacus t-shirt zoom yo-yo felt-tip zoology drop-down"


def derive(codename: str, salt: bytes = SALT) -> cn.SourceKeys:
    return derive_source_keys(codename, salt=salt, params=TEST_KDF_PARAMS)


# --- word list -------------------------------------------------------------------------


def dutch() -> tuple[str, ...]:
    return codename_wordlist("nl")


def english() -> tuple[str, ...]:
    return codename_wordlist("en")


def legacy() -> tuple[str, ...]:
    return cn._load_wordlist(LEGACY_WORDLIST)


def blocked(language: str) -> re.Pattern[str]:
    """Return one pattern for every entry of tools/wordlists/blocklist_<language>.txt
    (a word, or a word with * for any letters)."""
    text = (BLOCKLISTS / f"blocklist_{language}.txt").read_text(encoding="utf-8")
    entries = [e for line in text.splitlines() for e in line.split("#", 1)[0].split()]
    assert len(entries) > 100
    return re.compile("|".join(".*".join(map(re.escape, e.split("*"))) for e in entries))


# Spellings a Dutch reader hears or writes as one (tools/wordlists/build.py says why).
DUTCH_FOLDS = [
    ("ij", "ei"), ("y", "ei"), ("au", "ou"), ("dt", "t"), ("d", "t"),
    ("ch", "g"), ("v", "f"), ("z", "s"), ("c", "k"),
]  # fmt: skip


def fold_dutch(word: str) -> str:
    for old, new in DUTCH_FOLDS:
        word = word.replace(old, new)
    return word


def one_edit_apart(a: str, b: str) -> bool:
    """Whether a and b differ by one letter deleted, added, changed, or two swapped."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        i = diffs[0]
        return len(diffs) == 2 and diffs[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def confusable_pairs(words, form=lambda w: w) -> list[tuple[str, str]]:
    """Return the pairs of words one edit apart in ``form``, found through the words
    they become with one letter deleted (every such pair shares one)."""
    by_key: dict[str, set[str]] = {}
    for word in words:
        shape = form(word)
        for key in {shape} | {shape[:i] + shape[i + 1 :] for i in range(len(shape))}:
            by_key.setdefault(key, set()).add(word)
    pairs = set()
    for group in by_key.values():
        for a in group:
            for b in group:
                if a < b and one_edit_apart(form(a), form(b)):
                    pairs.add((a, b))
    return sorted(pairs)


def test_confusable_pairs_finds_what_it_should() -> None:
    assert confusable_pairs(["word", "wordt", "kaart"]) == [("word", "wordt")]  # one added
    assert confusable_pairs(["bakker", "bakket"]) == [("bakker", "bakket")]  # one changed
    assert confusable_pairs(["bakker", "bakekr"]) == [("bakekr", "bakker")]  # two swapped
    assert confusable_pairs(["lijst", "lyst"]) == []
    assert confusable_pairs(["lijst", "lyst"], fold_dutch) == [("lijst", "lyst")]
    assert confusable_pairs(["dak", "tak", "vorm", "form"], fold_dutch) == [
        ("dak", "tak"),
        ("form", "vorm"),
    ]
    assert confusable_pairs(["kaart", "kaarten", "tak"], fold_dutch) == []


@pytest.mark.parametrize("language", ["nl", "en"])
def test_each_list_is_7776_unique_words_none_starting_another(language) -> None:
    words = codename_wordlist(language)
    assert len(words) == len(set(words)) == 7776
    ordered = sorted(words)
    assert not [(a, b) for a, b in itertools.pairwise(ordered) if b.startswith(a)]
    assert CODENAME_WORDS * math.log2(len(set(words))) >= 90


def test_the_entropy_floor_is_at_least_90_bits() -> None:
    assert 90.4 < CODENAME_MIN_ENTROPY_BITS < 90.5


def test_the_dutch_list_is_plain_lowercase_words_of_3_to_9_letters() -> None:
    assert all(re.fullmatch(r"[a-z]{3,9}", w) for w in dutch())
    assert {"fiets", "kaas", "fluit", "vogel", "zomer"} <= set(dutch())


def test_the_dutch_list_has_no_english_word() -> None:
    assert not set(dutch()) & (set(english()) | set(legacy()))


def test_no_two_dutch_words_are_confusable() -> None:
    assert confusable_pairs(dutch()) == []
    # Also after the spellings a Dutch reader writes as one (ij/y/ei, au/ou, d/t/dt, ...).
    assert confusable_pairs(dutch(), fold_dutch) == []


def test_no_english_word_added_to_the_eff_words_is_confusable() -> None:
    added = set(english()) - set(legacy())
    assert len(added) > 1000  # the cleaning took out that many and refilled them
    pairs = confusable_pairs(english())
    assert [pair for pair in pairs if added & set(pair)] == []


@pytest.mark.parametrize("language", ["nl", "en"])
def test_no_blocklisted_word_is_in_a_list(language) -> None:
    pattern = blocked(language)
    assert [w for w in codename_wordlist(language) if pattern.fullmatch(w)] == []


def test_the_english_list_lost_the_eff_words_nobody_wants_in_a_codename() -> None:
    gone = {"obnoxious", "ungodly", "badass", "jockstrap", "impotency", "morphine", "traitor"}
    assert gone <= set(legacy())
    assert not gone & set(english())
    assert {"abacus", "zoom", "t-shirt", "yo-yo"} <= set(english())


def test_the_legacy_eff_list_is_kept_whole() -> None:
    words = legacy()
    assert len(words) == len(set(words)) == 7776
    assert {"abacus", "obnoxious", "zoom", "drop-down"} <= set(words)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda words: words[:-1], "7775 words"),
        (lambda words: [*words[:-1], words[0]], "duplicate"),
        (lambda words: [*words, "two words"], "malformed"),
        (lambda words: [*words, "Capital"], "malformed"),
        (lambda words: [*words[:-1], words[0] + "x"], "start another"),
    ],
)
def test_a_broken_wordlist_is_refused(mutate, problem) -> None:
    text = "\n".join(mutate(list(codename_wordlist())))
    with pytest.raises(WordlistError, match=problem):
        cn._parse_wordlist(text)


# --- generation ------------------------------------------------------------------------


def test_generated_codename_is_seven_list_words_separated_by_spaces() -> None:
    codename = generate_codename()
    words = codename.split(" ")
    assert len(words) == CODENAME_WORDS == 7
    assert set(words) <= set(english())
    assert normalize_codename(codename) == codename


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nl", "nl"), ("nl_NL", "nl"), ("nl-BE", "nl"), ("NL", "nl"),
        ("en", "en"), ("en_GB", "en"), (None, "en"), ("", "en"), ("de", "en"), ("fr_FR", "en"),
    ],
)  # fmt: skip
def test_a_codename_is_drawn_from_its_language_s_list(language, expected) -> None:
    assert wordlist_language(language) == expected
    own, other = (dutch(), english()) if expected == "nl" else (english(), dutch())
    for _ in range(5):
        words = generate_codename(language=language).split(" ")
        assert len(words) == CODENAME_WORDS
        assert set(words) <= set(own)
        assert not set(words) & set(other)


def test_generated_codenames_differ() -> None:
    # Two equal draws of ~90 bits would mean the randomness is broken, not bad luck.
    assert generate_codename() != generate_codename()


# --- normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "  Abacus  T-SHIRT zoom\tyo-yo\nfelt-tip\r\nzoology   drop-down \n",
        "ABACUS T-Shirt ZOOM YO-YO FELT-TIP ZOOLOGY DROP-DOWN",
        "abacus\u00a0t-shirt zoom yo-yo felt-tip zoology drop-down",  # no-break space, pasted
    ],
)
def test_normalize_forgives_case_and_whitespace(typed) -> None:
    assert normalize_codename(typed) == FIXED_CODENAME


@pytest.mark.parametrize("count", [0, 1, 6, 8, 14])
def test_normalize_rejects_the_wrong_number_of_words(count) -> None:
    typed = " ".join(["zoom"] * count)
    with pytest.raises(InvalidCodename, match=f"has 7 words.*this has {count}"):
        normalize_codename(typed)


@pytest.mark.parametrize(
    "words",
    [
        lambda: dutch()[:7],
        lambda: english()[-7:],
        lambda: ("obnoxious", "ungodly", "abacus", "zoom", "badass", "yo-yo", "t-shirt"),
        lambda: (dutch()[0], english()[1], "obnoxious", dutch()[3], "zoom", "t-shirt", "fiets"),
    ],
    ids=["dutch", "english", "old-eff-words", "mixed"],
)
def test_normalize_accepts_the_words_of_every_list(words) -> None:
    typed = " ".join(w.upper() for w in words())
    assert normalize_codename(typed) == typed.lower()


def test_typed_words_keeps_what_was_typed() -> None:
    assert typed_words("  Abacus\tT-SHIRT\nzoom ") == ["Abacus", "T-SHIRT", "zoom"]


def test_normalize_rejects_an_unknown_word_without_repeating_it() -> None:
    typed = "abacus t-shirt zoom yo-yo feltip zoology drop-down"
    with pytest.raises(InvalidCodename, match="Word 5 ") as caught:
        normalize_codename(typed)
    # The message may reach a log; it must carry no part of what the source typed.
    assert "feltip" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_hyphen_does_not_split_or_join_words() -> None:
    with pytest.raises(InvalidCodename):
        normalize_codename("abacus t shirt zoom yo-yo felt-tip zoology")
    with pytest.raises(InvalidCodename, match="Word 1 "):
        normalize_codename("abacus-zoom t-shirt zoom yo-yo felt-tip zoology drop-down")


# --- derivation ------------------------------------------------------------------------


def test_derivation_is_deterministic_and_32_bytes() -> None:
    first, second = derive(FIXED_CODENAME), derive(FIXED_CODENAME)
    assert first == second
    assert len(first.lookup_id) == len(first.identity_seed) == 32


def test_lookup_id_and_identity_seed_are_separate_values() -> None:
    keys = derive(FIXED_CODENAME)
    assert keys.lookup_id != keys.identity_seed


def test_a_different_salt_gives_different_keys() -> None:
    a, b = derive(FIXED_CODENAME), derive(FIXED_CODENAME, OTHER_SALT)
    assert a.lookup_id != b.lookup_id
    assert a.identity_seed != b.identity_seed


def test_a_different_codename_gives_different_keys() -> None:
    other = FIXED_CODENAME.replace("zoom", "zoologist")
    a, b = derive(FIXED_CODENAME), derive(other)
    assert a.lookup_id != b.lookup_id
    assert a.identity_seed != b.identity_seed


def test_case_and_spacing_do_not_change_the_keys() -> None:
    typed = "\n ABACUS  t-shirt\tZoom yo-yo   felt-tip zoology\r\nDrop-Down  "
    assert derive(typed) == derive(FIXED_CODENAME)


def test_derivation_rejects_a_malformed_codename() -> None:
    with pytest.raises(InvalidCodename):
        derive("abacus zoom")


def test_a_short_salt_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        derive(FIXED_CODENAME, salt=bytes(15))
    assert len(derive(FIXED_CODENAME, salt=bytes(16)).lookup_id) == 32


def test_derived_secrets_stay_out_of_repr() -> None:
    keys = derive(FIXED_CODENAME)
    assert keys.lookup_id.hex() not in repr(keys)
    assert repr(keys.identity_seed) not in repr(keys)


def test_lookup_id_matches_compares_values() -> None:
    keys = derive(FIXED_CODENAME)
    assert lookup_id_matches(keys.lookup_id, bytes(keys.lookup_id))
    assert not lookup_id_matches(keys.lookup_id, keys.identity_seed)


@pytest.mark.parametrize(
    ("memory_cost_kib", "iterations", "lanes"), [(7, 1, 1), (8, 0, 1), (8, 1, 0), (8, 1, 2)]
)
def test_impossible_kdf_params_are_refused(memory_cost_kib, iterations, lanes) -> None:
    with pytest.raises(ValueError, match="Argon2id needs"):
        KdfParams(memory_cost_kib=memory_cost_kib, iterations=iterations, lanes=lanes)


# Known answers. The lookup id is what finds a source's records and the identity seed is
# what opens their replies, so ANY change to the derivation (normalisation, Argon2id
# inputs, HKDF labels, the order of outputs, the parameters) locks every existing source
# out for good. If one of these fails, the change is a breaking migration, not a test fix.
# Computed once with this module and cross-checked with an independent implementation
# (argon2-cffi's Argon2id and HKDF-Expand written out with hmac).
KAT_TEST_LOOKUP_ID = "9545ef9062cee8fde6aa25aef8bd772984a650bd626a8ed32f02de6407ff841f"
KAT_TEST_IDENTITY_SEED = "d7ab26b1ca00ac1e90f7f19d4b1522664839c3cb6dcce58d6df142d4c6abfd6c"
KAT_DEFAULT_LOOKUP_ID = "b8d217a2469a4904b988ab6b78cbe42b9edc981d2abac9b5b511958125d2d82b"
KAT_DEFAULT_IDENTITY_SEED = "8dfd8bd0078d267d505a2ba3be407a8c4c82926f59735a11bf51a02be3b3fd15"


def test_known_answer_with_test_params() -> None:
    keys = derive(FIXED_CODENAME)
    assert keys.lookup_id.hex() == KAT_TEST_LOOKUP_ID
    assert keys.identity_seed.hex() == KAT_TEST_IDENTITY_SEED


def test_known_answer_with_default_params() -> None:
    # The one test at production cost (about a quarter of a second): it also pins
    # DEFAULT_KDF_PARAMS, whose change would lock sources out just the same.
    keys = derive_source_keys(FIXED_CODENAME, salt=SALT, params=DEFAULT_KDF_PARAMS)
    assert keys.lookup_id.hex() == KAT_DEFAULT_LOOKUP_ID
    assert keys.identity_seed.hex() == KAT_DEFAULT_IDENTITY_SEED


def test_concurrent_derivations_with_two_lanes_all_finish():
    """Two lanes on a thread pool capped at the CPU count once deadlocked two threads."""
    import threading

    params = KdfParams(memory_cost_kib=8 * 1024, iterations=1, lanes=2)
    results: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                derive_source_keys(generate_codename(), salt=bytes(16), params=params).lookup_id
            )
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a derivation never returned"
    assert len(results) == 4
