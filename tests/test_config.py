"""Settings: where they come from, which wins, and how bad or missing secrets are refused."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from pathlib import Path

import pytest

from dissent.config import (
    DEFAULT_MAX_CONCURRENT_KDF,
    INSTANCE_FILE,
    MIN_FILING_BUDGET_MIB,
    MIN_SECRET_KEY_BYTES,
    ConfigError,
    load_settings,
    read_instance_file,
    write_instance_file,
)
from dissent.crypto import KeyKind, generate_identity
from dissent.crypto.codename import DEFAULT_KDF_PARAMS, MIN_SALT_BYTES


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def secrets(recovery_identity) -> dict[str, str]:
    """The three instance secrets, as ``dissent init`` writes them."""
    return {
        "secret_key": b64(b"k" * MIN_SECRET_KEY_BYTES),
        "source_salt": b64(b"s" * MIN_SALT_BYTES),
        "recovery_recipient": recovery_identity.recipient.encode(),
    }


def load(tmp_path, environ=None, **overrides):
    """Load settings for the instance folder ``tmp_path`` with ``overrides``."""
    return load_settings(environ or {}, {"INSTANCE_PATH": str(tmp_path), **overrides})


def refusal(tmp_path, environ=None, **overrides) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, environ, **overrides)
    return str(caught.value)


# --- where settings come from -----------------------------------------------------------------


def test_without_secrets_nothing_starts_and_the_message_says_to_run_init(tmp_path):
    message = refusal(tmp_path)

    assert "secret_key, source_salt, recovery_recipient" in message
    assert str(tmp_path / INSTANCE_FILE) in message
    assert "dissent init" in message


def test_one_missing_secret_is_named_alone(tmp_path, secrets):
    del secrets["source_salt"]

    message = refusal(tmp_path, **secrets)

    assert "(source_salt)" in message


def test_the_instance_file_supplies_the_secrets_and_sqlite_lives_beside_it(tmp_path, secrets):
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(secrets), encoding="utf-8")

    settings = load(tmp_path)

    assert settings.secret_key == b"k" * MIN_SECRET_KEY_BYTES
    assert settings.source_salt == b"s" * MIN_SALT_BYTES
    assert settings.key_kind is KeyKind.HYBRID
    assert settings.instance_path == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'dissent.sqlite3'}"
    assert settings.redis_url is None and settings.public_url is None


def test_the_environment_beats_the_file_and_the_overrides_beat_both(tmp_path, secrets):
    (tmp_path / INSTANCE_FILE).write_text(
        json.dumps({**secrets, "database_url": "sqlite:///from-file.db"}), encoding="utf-8"
    )
    environ = {
        "DATABASE_URL": "sqlite:///from-env.db",
        "DISSENT_SECRET_KEY": b64(b"e" * MIN_SECRET_KEY_BYTES),
        "DISSENT_PUBLIC_URL": "https://env.example",
    }

    settings = load(tmp_path, environ, DATABASE_URL="sqlite:///from-override.db")

    assert settings.database_url == "sqlite:///from-override.db"
    assert settings.secret_key == b"e" * MIN_SECRET_KEY_BYTES
    assert settings.public_url == "https://env.example"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://dissent.example.org/", "https://dissent.example.org"),
        (" http://127.0.0.1:5000 ", "http://127.0.0.1:5000"),
        ("https://intranet.example/dissent/", "https://intranet.example/dissent"),
        ("http://abcdefghijklmnop.onion", "http://abcdefghijklmnop.onion"),
    ],
)
def test_the_public_address_is_kept_without_a_trailing_slash(tmp_path, secrets, given, kept):
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(secrets), encoding="utf-8")

    assert load(tmp_path, {"DISSENT_PUBLIC_URL": given}).public_url == kept


@pytest.mark.parametrize(
    "given",
    [
        "dissent.example.org",
        "ftp://dissent.example.org",
        "https://",
        "https://user:pw@dissent.example.org",
        "https://dissent.example.org/?next=1",
        "https://dissent.example.org/#top",
        "https://dissent.example.org:99999",
        "https://dissent.example.org/\r\nX: y",
    ],
)
def test_a_public_address_that_is_not_one_is_refused(tmp_path, secrets, given):
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(secrets), encoding="utf-8")

    with pytest.raises(ConfigError, match="public_url"):
        load(tmp_path, {"DISSENT_PUBLIC_URL": given})


def test_an_empty_environment_variable_does_not_replace_the_file(tmp_path, secrets):
    (tmp_path / INSTANCE_FILE).write_text(json.dumps(secrets), encoding="utf-8")

    settings = load(tmp_path, {"DISSENT_SECRET_KEY": "", "REDIS_URL": ""})

    assert settings.secret_key == b"k" * MIN_SECRET_KEY_BYTES
    assert settings.redis_url is None


def test_the_instance_folder_comes_from_the_environment_unless_overridden(
    tmp_path, secrets, monkeypatch
):
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / INSTANCE_FILE).write_text(json.dumps(secrets), encoding="utf-8")

    assert load_settings({"DISSENT_INSTANCE": str(chosen)}).instance_path == chosen.resolve()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / INSTANCE_FILE).write_text(json.dumps(secrets), encoding="utf-8")
    assert load_settings({}).instance_path == (tmp_path / "instance").resolve()
    overridden = load_settings({"DISSENT_INSTANCE": "/nowhere"}, {"INSTANCE_PATH": str(chosen)})
    assert overridden.instance_path == chosen.resolve()


def test_secret_values_never_appear_in_the_settings_repr(tmp_path, secrets):
    settings = load(tmp_path, **secrets)

    text = repr(settings)

    assert "secret_key" not in text and "source_salt" not in text
    assert repr(b"k" * MIN_SECRET_KEY_BYTES) not in text


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["secret_key", "source_salt"])
def test_a_secret_that_is_not_base64_is_refused(tmp_path, secrets, name):
    secrets[name] = "not base64!"

    assert refusal(tmp_path, **secrets) == f"{name} is not valid base64"


@pytest.mark.parametrize(
    ("name", "minimum"), [("secret_key", MIN_SECRET_KEY_BYTES), ("source_salt", MIN_SALT_BYTES)]
)
def test_a_secret_one_byte_short_is_refused_and_the_minimum_is_accepted(
    tmp_path, secrets, name, minimum
):
    secrets[name] = b64(b"x" * (minimum - 1))
    assert refusal(tmp_path, **secrets) == f"{name} must be at least {minimum} bytes"

    secrets[name] = b64(b"x" * minimum)
    assert getattr(load(tmp_path, **secrets), name) == b"x" * minimum


def test_raw_bytes_given_by_a_caller_are_taken_as_they_are(tmp_path, secrets):
    secrets["secret_key"] = b"r" * MIN_SECRET_KEY_BYTES

    assert load(tmp_path, **secrets).secret_key == b"r" * MIN_SECRET_KEY_BYTES


def test_an_unknown_key_kind_is_refused_with_the_choices(tmp_path, secrets):
    message = refusal(tmp_path, **secrets, key_kind="rsa")

    assert message == "key_kind must be one of: x25519, mlkem768x25519"


def test_a_recovery_recipient_that_is_not_an_age_recipient_is_refused(tmp_path, secrets):
    secrets["recovery_recipient"] = "age1notarecipient"

    assert refusal(tmp_path, **secrets).startswith(
        "recovery_recipient is not a valid age recipient"
    )


def test_a_recovery_recipient_of_the_other_key_kind_is_refused(tmp_path, secrets):
    classic = generate_identity(KeyKind.X25519).recipient.encode()
    secrets["recovery_recipient"] = classic

    message = refusal(tmp_path, **secrets)

    assert message == "recovery_recipient is not of the instance's key kind"
    settings = load(tmp_path, **secrets, key_kind=KeyKind.X25519.value)
    assert settings.key_kind is KeyKind.X25519
    assert settings.recovery_recipient.encode() == classic


def test_no_concurrent_key_derivation_at_all_is_refused(tmp_path, secrets):
    assert refusal(tmp_path, **secrets, max_concurrent_kdf=0) == (
        "max_concurrent_kdf must be a whole number from 1 to 1024, not 0"
    )
    assert load(tmp_path, **secrets, max_concurrent_kdf="2").max_concurrent_kdf == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STAFF_IDLE_MINUTES", "fifteen"),
        ("SOURCE_IDLE_MINUTES", "0"),
        ("SOURCE_IDLE_MINUTES", "-5"),
        ("STAFF_IDLE_MINUTES", "100000"),
        ("MAX_CONCURRENT_KDF", "2.5"),
        ("STAFF_WRAP_WORK_FACTOR", "4"),
    ],
)
def test_a_setting_that_is_not_a_sensible_whole_number_is_named_not_a_traceback(
    tmp_path, secrets, name, value
):
    message = refusal(tmp_path, **secrets, **{name: value})

    assert message.startswith(f"{name.lower()} must be a whole number from ")
    assert repr(value) in message


def test_idle_timeouts_can_be_set_and_default_to_fifteen_and_thirty_minutes(tmp_path, secrets):
    defaults = load(tmp_path, **secrets)
    tuned = load(tmp_path, **secrets, STAFF_IDLE_MINUTES="5", SOURCE_IDLE_MINUTES=60)

    assert (defaults.staff_idle_minutes, defaults.source_idle_minutes) == (15, 30)
    assert (tuned.staff_idle_minutes, tuned.source_idle_minutes) == (5, 60)


# --- the instance file ------------------------------------------------------------------------


def test_a_missing_instance_file_reads_as_empty(tmp_path):
    assert read_instance_file(tmp_path / "not-there") == {}


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json", "cannot read"), ('["a", "list"]', "does not hold a JSON object")],
)
def test_a_damaged_instance_file_is_refused(tmp_path, content, expected):
    (tmp_path / INSTANCE_FILE).write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=expected) as caught:
        read_instance_file(tmp_path)
    assert str(tmp_path / INSTANCE_FILE) in str(caught.value)


def test_the_instance_file_is_written_for_its_owner_only_and_reads_back(tmp_path, secrets):
    folder = tmp_path / "new" / "instance"

    path = write_instance_file(folder, secrets)

    assert path == folder / INSTANCE_FILE
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_instance_file(folder) == secrets


def test_an_existing_instance_file_is_never_overwritten(tmp_path, secrets):
    path = write_instance_file(tmp_path, secrets)
    before = path.read_bytes()

    with pytest.raises(FileExistsError):
        write_instance_file(tmp_path, {"secret_key": "other"})

    assert path.read_bytes() == before


def test_the_operations_guide_states_the_key_derivation_defaults_the_code_has():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    stated = re.search(
        r"`max_concurrent_kdf`, default (\d+); each derivation is\s+Argon2id with (\d+) MiB, "
        r"(\d+) passes, (\d+) lanes",
        guide,
    )

    assert stated, "docs/operations.md no longer states the key derivation defaults"
    assert int(stated[1]) == DEFAULT_MAX_CONCURRENT_KDF
    assert (int(stated[2]) * 1024, int(stated[3]), int(stated[4])) == (
        DEFAULT_KDF_PARAMS.memory_cost_kib,
        DEFAULT_KDF_PARAMS.iterations,
        DEFAULT_KDF_PARAMS.lanes,
    )


def test_the_channel_name_comes_from_the_environment_and_is_checked(tmp_path, secrets):
    named = load(tmp_path, {"DISSENT_SITE_NAME": "Meldpunt Missie Noord"}, **secrets)
    unnamed = load(tmp_path, **secrets)

    assert named.site_name == "Meldpunt Missie Noord"
    assert unnamed.site_name is None  # the pages then show the neutral default
    assert "at most 60 characters" in refusal(tmp_path, **secrets, SITE_NAME="x" * 61)
    assert "printable" in refusal(tmp_path, **secrets, SITE_NAME="Meldpunt\x00")


def test_the_filing_budgets_come_from_the_environment_and_are_checked(tmp_path, secrets):
    defaults = load(tmp_path, **secrets)
    tuned = load(
        tmp_path,
        {
            "DISSENT_FILING_BUDGET_OBSERVATIONS": "100",
            "DISSENT_FILING_BUDGET_MISSION_OBSERVATIONS": "20",
            "DISSENT_FILING_BUDGET_MIB": "4096",
            "DISSENT_FILING_BUDGET_MISSION_MIB": "2048",
        },
        **secrets,
    )

    assert (
        defaults.filing_budget_observations,
        defaults.filing_budget_mission_observations,
        defaults.filing_budget_mib,
        defaults.filing_budget_mission_mib,
    ) == (30, 10, 1024, 512)
    assert (
        tuned.filing_budget_observations,
        tuned.filing_budget_mission_observations,
        tuned.filing_budget_mib,
        tuned.filing_budget_mission_mib,
    ) == (100, 20, 4096, 2048)
    # A volume budget smaller than the largest file would refuse that file for ever.
    assert refusal(tmp_path, **secrets, FILING_BUDGET_MISSION_MIB="100") == (
        f"filing_budget_mission_mib must be a whole number from {MIN_FILING_BUDGET_MIB} to "
        f"{1024 * 1024}, not '100'"
    )
    assert "filing_budget_observations" in refusal(
        tmp_path, **secrets, FILING_BUDGET_OBSERVATIONS="0"
    )


# --- who runs the channel, and the other channels it lists ------------------------------------


def test_who_runs_the_channel_comes_from_the_environment_and_is_checked(tmp_path, secrets):
    said = load(tmp_path, {"DISSENT_OPERATED_BY": " The Ministry's   integrity office "}, **secrets)

    assert said.operated_by == "The Ministry's integrity office"
    assert load(tmp_path, **secrets).operated_by is None  # the pages say a neutral sentence
    assert "at most 300 characters" in refusal(tmp_path, **secrets, OPERATED_BY="x" * 301)
    assert "printable" in refusal(tmp_path, **secrets, OPERATED_BY="Office\x07")


CHANNEL = {
    "name": "Meldpunt Integriteit",
    "about": {"en": "Integrity reports.", "nl": "Integriteitsmeldingen."},
    "phones": [
        {"number": "+31 70 000 00 00", "note": {"en": "from abroad", "nl": "vanuit het buitenland"}}
    ],
    "site": "example.org/integrity",
}


def write_channels(folder: Path, content) -> Path:
    path = folder / "channels.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_an_instance_lists_its_own_channels_from_its_folder(tmp_path, secrets):
    assert load(tmp_path, **secrets).external_channels is None  # the built-in list

    write_channels(tmp_path, [CHANNEL, {"name": "Ombudsman", "about": "Complaints."}])
    [own, plain] = load(tmp_path, **secrets).external_channels

    assert own.name == (("", "Meldpunt Integriteit"),)
    assert own.about == (("en", "Integrity reports."), ("nl", "Integriteitsmeldingen."))
    assert own.phones == (
        ("+31 70 000 00 00", (("en", "from abroad"), ("nl", "vanuit het buitenland"))),
    )
    assert own.site == "example.org/integrity"
    assert (plain.phones, plain.site) == ((), "")


def test_the_channels_file_can_be_named_in_the_environment(tmp_path, secrets):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = write_channels(elsewhere, [CHANNEL])

    settings = load(tmp_path, {"DISSENT_CHANNELS_FILE": str(path)}, **secrets)

    assert [c.site for c in settings.external_channels] == ["example.org/integrity"]
    assert "does not exist" in refusal(
        tmp_path, {"DISSENT_CHANNELS_FILE": str(elsewhere / "missing.json")}, **secrets
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[", "cannot read"),
        ({"name": "x"}, "JSON list of 1 to 40 channels"),
        ([], "JSON list of 1 to 40 channels"),
        ([{"name": "x"}], 'at least "name" and "about"'),
        ([{**CHANNEL, "email": "a@b"}], "unknown keys: email"),
        ([{**CHANNEL, "about": ""}], "printable text of 1 to 600 characters"),
        ([{**CHANNEL, "about": {"english": "x"}}], "not a two-letter language code"),
        ([{**CHANNEL, "about": 7}], "must be text, or texts by language"),
        ([{**CHANNEL, "phones": [{"number": "call us"}]}], "phone 1: give a number"),
        ([{**CHANNEL, "phones": "088 133 10 00"}], '"phones" must be a list'),
        ([{**CHANNEL, "site": "javascript:alert(1)"}], "site must be a host name"),
    ],
)
def test_a_channels_file_that_is_wrong_is_refused_with_what_is_wrong(
    tmp_path, secrets, content, expected
):
    write_channels(tmp_path, content)

    message = refusal(tmp_path, **secrets)

    assert expected in message
    assert "channels.json" in message


def test_the_operations_guide_shows_a_channels_file_that_loads(tmp_path, secrets):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    example = re.search(r"\*\*Other channels\.\*\*.*?```json\n(.*?)```", guide, re.S)

    assert example, "docs/operations.md no longer shows a channels.json"
    write_channels(tmp_path, example.group(1))
    [channel] = load(tmp_path, **secrets).external_channels
    assert channel.phones[0][0] == "088 133 10 00"
