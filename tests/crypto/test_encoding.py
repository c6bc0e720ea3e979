"""Tests for dissent.crypto._encoding: canonical unpadded base64 and Bech32."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissent.crypto import KeyFormatError
from dissent.crypto._encoding import (
    _hrp_expand,
    _polymod,
    b64decode,
    b64encode,
    bech32_decode,
    bech32_encode,
)

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

# --- base64 -----------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_base64_round_trips(data) -> None:
    text = b64encode(data)
    assert b64decode(text) == data
    assert b64decode(text.encode("ascii")) == data


@given(st.binary(max_size=300))
def test_base64_is_standard_base64_without_padding(data) -> None:
    text = b64encode(data)
    assert "=" not in text
    assert text == base64.b64encode(data).decode("ascii").rstrip("=")


def test_base64_known_answers() -> None:
    assert b64encode(b"") == ""
    assert b64encode(b"\xfb\xff") == "+/8"
    assert b64decode("+/8") == b"\xfb\xff"
    assert b64decode("AAAAAA") == bytes(4)


@pytest.mark.parametrize("text", ["AA==", "AAA=", "AAAA====", "AA=", "=", "QQ=="])
def test_base64_padding_is_rejected(text) -> None:
    with pytest.raises(ValueError):
        b64decode(text)


@pytest.mark.parametrize(
    ("canonical", "non_canonical"),
    [
        ("AA", "AB"),  # one byte: the last character carries 4 unused bits
        ("AA", "AP"),
        ("AAA", "AAB"),  # two bytes: 2 unused bits
        ("AAA", "AAD"),
        ("+/8", "+/9"),
    ],
)
def test_base64_with_unused_bits_set_is_rejected(canonical, non_canonical) -> None:
    assert b64encode(b64decode(canonical)) == canonical
    with pytest.raises(ValueError, match="non-canonical"):
        b64decode(non_canonical)


@given(st.binary(min_size=1, max_size=100), st.integers(min_value=1, max_value=15))
def test_every_encoding_is_the_only_one_of_its_data(data, delta) -> None:
    text = b64encode(data)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[(alphabet.index(text[-1]) + delta) % 64]
    other = text[:-1] + last
    try:
        decoded = b64decode(other)
    except ValueError:
        return
    assert decoded != data


@pytest.mark.parametrize(
    "text",
    ["A", "AAAAA", "AA AA", "AA\nAA", "AA-_", "AA.A", "é"],
    ids=["one char", "five chars", "space", "newline", "url-safe", "dot", "non-ascii"],
)
def test_base64_with_bad_characters_or_length_is_rejected(text) -> None:
    with pytest.raises(ValueError):
        b64decode(text)


# --- Bech32 -----------------------------------------------------------------------------

hrps = st.sampled_from(["age", "age1pq", "age-secret-key-", "age-secret-key-pq-", "a", "x1y"])


@given(hrps, st.binary(max_size=100))
def test_bech32_round_trips(hrp, data) -> None:
    text = bech32_encode(hrp, data)
    assert text == text.lower()
    assert bech32_decode(text) == (hrp, data)
    assert bech32_decode(text.upper()) == (hrp, data)


def test_the_age_specification_recipient_decodes() -> None:
    text = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
    hrp, data = bech32_decode(text)
    assert hrp == "age"
    assert len(data) == 32
    assert bech32_encode(hrp, data) == text


def test_the_age_specification_identity_decodes() -> None:
    text = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
    assert bech32_decode(text) == ("age-secret-key-", b"\x42" * 32)
    assert bech32_encode("AGE-SECRET-KEY-", b"\x42" * 32).upper() == text


# Valid and invalid Bech32 strings from BIP 173's test vectors.
@pytest.mark.parametrize(
    ("text", "hrp", "data"),
    [
        ("A12UEL5L", "a", b""),
        ("a12uel5l", "a", b""),
        (
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcluded"
            "charactersbio1tt5tgs",
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio",
            b"",
        ),
        (
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "abcdef",
            bytes.fromhex("00443214c74254b635cf84653a56d7c675be77df"),
        ),
        ("11" + "q" * 82 + "c8247j", "1", bytes(51)),
        ("?1ezyfcl", "?", b""),
    ],
)
def test_bip173_valid_vectors(text, hrp, data) -> None:
    assert bech32_decode(text) == (hrp, data)


@pytest.mark.parametrize(
    "text",
    [
        "pzry9x0s0muk",  # no separator
        "1pzry9x0s0muk",  # empty human-readable part
        "x1b4n0q5v",  # invalid data character
        "li1dgmt3",  # checksum too short
        "de1lg7wt\xff",  # invalid character in checksum
        "A1G7SGD8",  # checksum computed with an upper-case human-readable part
        "10a06t8",  # empty human-readable part
        "1qzzfhee",  # empty human-readable part
        "\x201nwldj5",  # control-range character in the human-readable part
        "a12UEL5L",  # mixed case
    ],
)
def test_bip173_invalid_vectors(text) -> None:
    with pytest.raises(KeyFormatError):
        bech32_decode(text)


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=40), st.data())
def test_a_single_substitution_is_always_caught(data, draw) -> None:
    text = bech32_encode("age", data)
    position = draw.draw(st.integers(min_value=4, max_value=len(text) - 1))
    replacement = draw.draw(st.sampled_from(CHARSET).filter(lambda c: c != text[position]))
    with pytest.raises(KeyFormatError, match="checksum"):
        bech32_decode(text[:position] + replacement + text[position + 1 :])


def test_bech32_has_no_length_limit() -> None:
    data = bytes(range(256)) * 5
    text = bech32_encode("age1pq", data)
    assert len(text) > 2000
    assert bech32_decode(text) == ("age1pq", data)


@settings(max_examples=30)
@given(st.integers(min_value=0, max_value=2000), st.sampled_from(CHARSET))
def test_a_typo_in_a_long_string_is_caught(position_seed, replacement) -> None:
    text = bech32_encode("age1pq", bytes(range(256)) * 5)
    position = len("age1pq1") + position_seed % (len(text) - len("age1pq1"))
    if text[position] == replacement:
        return
    with pytest.raises(KeyFormatError):
        bech32_decode(text[:position] + replacement + text[position + 1 :])


def test_a_swap_of_two_adjacent_characters_is_caught() -> None:
    text = bech32_encode("age", bytes(range(32)))
    for i in range(4, len(text) - 1):
        if text[i] == text[i + 1]:
            continue
        swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        with pytest.raises(KeyFormatError):
            bech32_decode(swapped)


def test_non_zero_padding_bits_are_rejected() -> None:
    # One byte is two 5-bit groups (10 bits): the last 2 bits must be zero, or the same
    # key would have several spellings.
    assert bech32_decode(_encode_values("age", [31, 28])) == ("age", b"\xff")
    with pytest.raises(KeyFormatError, match="padding"):
        bech32_decode(_encode_values("age", [31, 29]))


def _encode_values(hrp: str, values: list[int]) -> str:
    """Bech32-encode raw 5-bit values with a valid checksum, padding bits and all."""
    polymod = _polymod([*_hrp_expand(hrp), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[v] for v in values + checksum)
