"""Staff password hashing at the configured cost, its checks, and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from dissent.config import DEFAULT_PASSWORD_PARAMS, load_settings
from dissent.crypto.codename import TEST_KDF_PARAMS, KdfParams
from dissent.extensions import current_context, db
from dissent.models import Role, StaffUser
from dissent.services.errors import WeakPassword
from dissent.services.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PasswordHashing,
    check_password_policy,
)
from tests.helpers.staff import PASSWORD


def cost_of(password_hash: str) -> str:
    """Return the ``m=..,t=..,p=..`` part of an encoded Argon2id hash."""
    assert password_hash.startswith("$argon2id$")
    return password_hash.split("$")[3]


# --- hashing at the configured cost --------------------------------------------------------


def test_a_hash_carries_the_configured_parameters():
    password_hash = PasswordHashing(TEST_KDF_PARAMS).hash(PASSWORD)

    assert cost_of(password_hash) == "m=8,t=1,p=1"


def test_the_application_hashes_staff_passwords_at_its_password_params(app, mission, make_staff):
    login = make_staff(Role.ADVISER)

    with app.app_context():
        stored = db.session.scalar(select(StaffUser.password_hash).where(StaffUser.id == login.id))
        assert cost_of(stored) == "m=8,t=1,p=1"
        assert current_context().settings.password_params == TEST_KDF_PARAMS


def test_without_a_setting_the_production_cost_is_used(config):
    unset = {key: value for key, value in config.items() if key != "PASSWORD_PARAMS"}
    settings = load_settings({}, unset)

    assert settings.password_params == DEFAULT_PASSWORD_PARAMS
    password_hash = PasswordHashing(settings.password_params).hash(PASSWORD)
    expected = DEFAULT_PASSWORD_PARAMS
    assert cost_of(password_hash) == (
        f"m={expected.memory_cost_kib},t={expected.iterations},p={expected.lanes}"
    )
    # At least argon2-cffi's own defaults (RFC 9106's low-memory profile), never less.
    assert expected.memory_cost_kib >= PasswordHasher().memory_cost
    assert expected.iterations >= PasswordHasher().time_cost


# --- verification ---------------------------------------------------------------------------


def test_the_right_password_verifies_and_a_wrong_one_does_not():
    hashing = PasswordHashing(TEST_KDF_PARAMS)
    password_hash = hashing.hash(PASSWORD)

    assert hashing.verify(password_hash, PASSWORD) is True
    assert hashing.verify(password_hash, PASSWORD + " ") is False
    assert hashing.verify(password_hash, PASSWORD.upper()) is False
    assert hashing.verify(password_hash, "") is False


def test_a_hash_made_at_an_earlier_cost_still_verifies():
    # A hash records its own parameters: changing the setting affects new passwords only.
    old = PasswordHashing(KdfParams(memory_cost_kib=16, iterations=2, lanes=2)).hash(PASSWORD)

    assert PasswordHashing(TEST_KDF_PARAMS).verify(old, PASSWORD) is True


def test_no_account_never_verifies_whatever_the_password():
    hashing = PasswordHashing(TEST_KDF_PARAMS)

    assert hashing.verify(None, PASSWORD) is False
    # Not even the text the stand-in hash for missing accounts was made from.
    assert hashing.verify(None, "dissent dummy password for constant-time misses") is False


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$broken"])
def test_a_damaged_stored_hash_fails_the_check_instead_of_raising(stored):
    assert PasswordHashing(TEST_KDF_PARAMS).verify(stored, PASSWORD) is False


# --- policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Zq8#vLp2!mR", WeakPassword.TOO_SHORT),  # 11 characters, however random
        ("Zq8#vLp2!mRt" * 30, WeakPassword.TOO_LONG),  # 360 characters
        ("password1234", WeakPassword.TOO_GUESSABLE),
        ("qwertyuiop123", WeakPassword.TOO_GUESSABLE),
    ],
)
def test_weak_passwords_are_refused_with_their_reason(password, reason):
    with pytest.raises(WeakPassword) as refused:
        check_password_policy(password, username="jdoe")

    assert refused.value.reason == reason


def test_a_strong_password_of_the_minimum_length_is_accepted():
    password = "Zq8#vLp2!mRt"
    assert len(password) == MIN_PASSWORD_LENGTH

    check_password_policy(password, username="jdoe")


@pytest.mark.parametrize("length", [73, 100, MAX_PASSWORD_LENGTH])
def test_a_long_passphrase_up_to_the_maximum_is_accepted(length):
    # The strength checker itself refuses more than 72 characters; that must not
    # turn a long passphrase into an error page.
    passphrase = ("harbour lantern quietly orbits the tidal meadow " * 6)[:length]

    check_password_policy(passphrase, username="jdoe")


def test_one_character_over_the_maximum_is_too_long_however_strong():
    with pytest.raises(WeakPassword) as refused:
        check_password_policy("Zq8#vLp2!mRt" * 21 + "x" * 5, username="jdoe")

    assert len("Zq8#vLp2!mRt" * 21 + "x" * 5) == MAX_PASSWORD_LENGTH + 1
    assert refused.value.reason == WeakPassword.TOO_LONG


def test_the_username_and_the_product_name_count_as_guessable():
    # Both are strong enough for someone else.
    check_password_policy("okafor-marguerite-77", username="jdoe")
    check_password_policy("rosewoodrosewood2024", username="jdoe")

    with pytest.raises(WeakPassword) as own_name:
        check_password_policy("okafor-marguerite-77", username="okafor-marguerite-77")
    with pytest.raises(WeakPassword) as product:
        check_password_policy("dissentdissent2024", username="jdoe")

    assert own_name.value.reason == WeakPassword.TOO_GUESSABLE
    assert product.value.reason == WeakPassword.TOO_GUESSABLE
