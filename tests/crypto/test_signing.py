"""Tests for dissent.crypto.signing: Ed25519 signatures bound to a purpose."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from dissent.crypto import KeyFormatError, SignatureError, SigningKey, VerifyKey

KEY = SigningKey(bytes(range(32)))
OTHER_KEY = SigningKey(bytes(range(1, 33)))
PURPOSE = "escalated-summary"
MESSAGE = b"summary of observation 42"
SIGNATURE = KEY.sign(MESSAGE, purpose=PURPOSE)


def test_a_signature_verifies_for_its_message_key_and_purpose() -> None:
    assert len(SIGNATURE) == 64
    KEY.verify_key.verify(MESSAGE, SIGNATURE, purpose=PURPOSE)


@settings(max_examples=50)
@given(
    st.binary(max_size=2000),
    st.text(
        st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1, max_size=40
    ),
)
def test_any_message_and_purpose_round_trip(message, purpose) -> None:
    KEY.verify_key.verify(message, KEY.sign(message, purpose=purpose), purpose=purpose)


def test_signing_is_deterministic_for_a_seed() -> None:
    again = SigningKey(bytes(range(32)))
    assert again.verify_key == KEY.verify_key
    assert again.sign(MESSAGE, purpose=PURPOSE) == SIGNATURE


def test_a_generated_key_signs() -> None:
    key = SigningKey.generate()
    assert key.seed_bytes() != SigningKey.generate().seed_bytes()
    key.verify_key.verify(b"m", key.sign(b"m", purpose="p"), purpose="p")


@pytest.mark.parametrize(
    "message", [b"", b"summary of observation 43", MESSAGE + b"\x00", MESSAGE[:-1]]
)
def test_a_different_message_is_refused(message) -> None:
    with pytest.raises(SignatureError):
        KEY.verify_key.verify(message, SIGNATURE, purpose=PURPOSE)


def test_another_key_is_refused() -> None:
    with pytest.raises(SignatureError):
        OTHER_KEY.verify_key.verify(MESSAGE, SIGNATURE, purpose=PURPOSE)


@pytest.mark.parametrize("purpose", ["escalated-summar", "escalated-summary2", "Escalated-summary"])
def test_a_signature_for_another_purpose_is_refused(purpose) -> None:
    with pytest.raises(SignatureError):
        KEY.verify_key.verify(MESSAGE, SIGNATURE, purpose=purpose)


def test_purpose_and_message_cannot_trade_bytes() -> None:
    # "ab" + "c" and "a" + "bc" must be different signed statements.
    signature = KEY.sign(b"c", purpose="ab")
    with pytest.raises(SignatureError):
        KEY.verify_key.verify(b"bc", signature, purpose="a")


def test_a_plain_ed25519_signature_of_the_message_is_refused() -> None:
    raw = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))).sign(MESSAGE)
    with pytest.raises(SignatureError):
        KEY.verify_key.verify(MESSAGE, raw, purpose=PURPOSE)


@pytest.mark.parametrize(
    "purpose", ["", "a\x00b", "lone \ud800 surrogate"], ids=["empty", "nul", "surrogate"]
)
def test_an_empty_or_nul_purpose_is_a_usage_error(purpose) -> None:
    with pytest.raises(ValueError):
        KEY.sign(MESSAGE, purpose=purpose)
    with pytest.raises(ValueError):
        KEY.verify_key.verify(MESSAGE, SIGNATURE, purpose=purpose)


@given(st.integers(min_value=0, max_value=63), st.integers(min_value=0, max_value=7))
def test_a_signature_with_a_flipped_bit_is_refused(position, bit) -> None:
    modified = bytearray(SIGNATURE)
    modified[position] ^= 1 << bit
    with pytest.raises(SignatureError):
        KEY.verify_key.verify(MESSAGE, bytes(modified), purpose=PURPOSE)


@pytest.mark.parametrize(
    "signature",
    [b"", SIGNATURE[:-1], SIGNATURE + b"\x00", bytes(64)],
    ids=["empty", "short", "long", "zeros"],
)
def test_a_malformed_signature_is_refused(signature) -> None:
    with pytest.raises(SignatureError):
        KEY.verify_key.verify(MESSAGE, signature, purpose=PURPOSE)


def test_a_verify_key_text_round_trips() -> None:
    text = KEY.verify_key.to_text()
    assert "=" not in text
    parsed = VerifyKey.from_text(f" {text}\n")
    assert parsed == KEY.verify_key
    assert hash(parsed) == hash(KEY.verify_key)
    parsed.verify(MESSAGE, SIGNATURE, purpose=PURPOSE)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        base64.b64encode(bytes(32)).decode(),  # padded
        base64.b64encode(bytes(31)).decode().rstrip("="),
        base64.b64encode(bytes(33)).decode().rstrip("="),
    ],
    ids=["empty", "garbage", "padded", "31 bytes", "33 bytes"],
)
def test_a_malformed_verify_key_text_is_refused(text) -> None:
    with pytest.raises(KeyFormatError):
        VerifyKey.from_text(text)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_keys_of_the_wrong_length_are_refused(size) -> None:
    with pytest.raises(KeyFormatError):
        VerifyKey(bytes(size))
    with pytest.raises(KeyFormatError):
        SigningKey(bytes(size))


def test_a_signing_key_never_shows_its_seed() -> None:
    seed = KEY.seed_bytes()
    for shown in (repr(KEY), str(KEY), repr([KEY])):
        assert seed.hex() not in shown
        assert base64.b64encode(seed).decode().rstrip("=")[:16] not in shown
        assert repr(seed) not in shown


def test_a_purpose_that_is_not_valid_text_is_refused() -> None:
    with pytest.raises(ValueError, match="valid text"):
        KEY.sign(MESSAGE, purpose="\ud800")
