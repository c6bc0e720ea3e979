"""Tests for dissent.crypto.codename: word list, generation, normalisation, key derivation."""

from __future__ import annotations

import re

import pytest

from dissent.crypto import codename as cn
from dissent.crypto.codename import (
    CODENAME_MIN_ENTROPY_BITS,
    CODENAME_WORDS,
    DEFAULT_KDF_PARAMS,
    TEST_KDF_PARAMS,
    InvalidCodename,
    KdfParams,
    WordlistError,
    codename_wordlist,
    derive_source_keys,
    generate_codename,
    lookup_id_matches,
    normalize_codename,
)

SALT = bytes(range(32))
OTHER_SALT = bytes(range(1, 33))
# Seven list words, two of them hyphenated, so the known answers also pin hyphen handling.
FIXED_CODENAME = "abacus t-shirt zoom yo-yo felt-tip zoology drop-down"


def derive(codename: str, salt: bytes = SALT) -> cn.SourceKeys:
    return derive_source_keys(codename, salt=salt, params=TEST_KDF_PARAMS)


# --- word list -------------------------------------------------------------------------


def test_wordlist_is_the_full_eff_large_list() -> None:
    words = codename_wordlist()
    assert len(words) == 7776
    assert len(set(words)) == 7776
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", w) for w in words)
    assert {"abacus", "zoom", "t-shirt", "yo-yo"} <= set(words)


def test_entropy_floor_is_at_least_90_bits() -> None:
    assert 90.4 < CODENAME_MIN_ENTROPY_BITS < 90.5


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda words: words[:-1], "7775 words"),
        (lambda words: [*words[:-1], words[0]], "duplicate"),
        (lambda words: [*words, "two words"], "malformed"),
        (lambda words: [*words, "Capital"], "malformed"),
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
    assert set(words) <= set(codename_wordlist())
    assert normalize_codename(codename) == codename


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
