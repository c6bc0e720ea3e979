"""Configuration: loaded by one pure function, validated, failing closed.

Sources, later ones winning: the instance file written by ``dissent init``
(``<instance>/dissent.json``, holding the instance secrets), the environment
(``DISSENT_*``, ``DATABASE_URL``, ``REDIS_URL``), and the mapping given to
``create_app``. There is no built-in secret: without an instance file or explicit
secrets the application refuses to start and says how to fix it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .crypto import KeyFormatError, KeyKind, PublicKeyRecipient, parse_recipient
from .crypto.codename import DEFAULT_KDF_PARAMS, MIN_SALT_BYTES, KdfParams
from .crypto.keys import MAX_SCRYPT_WORK_FACTOR

INSTANCE_FILE = "dissent.json"
MIN_SECRET_KEY_BYTES = 32
# Codename derivations are memory-hard (128 MiB each) and use every core: at most this
# many run at once per process, so a burst of logins queues instead of exhausting memory.
# (dissent.crypto.codename serialises them in any case; see _ARGON2_LOCK there.)
DEFAULT_MAX_CONCURRENT_KDF = 1
# Argon2id for checking staff passwords at login: argon2-cffi's defaults (RFC 9106's
# "low memory" profile), about half a second on the development machine. A hash records
# its own parameters, so changing these affects new passwords only.
DEFAULT_PASSWORD_PARAMS = KdfParams(memory_cost_kib=64 * 1024, iterations=3, lanes=4)
STAFF_IDLE_MINUTES = 15
SOURCE_IDLE_MINUTES = 30
# Hourly filing budgets (dissent/services/budget.py): what anonymous visitors may add in
# one clock hour, for the whole instance and for each mission. Far above what a mission's
# staff file in an hour, far below what fills a disk: at the defaults the sources of the
# instance add at most 24 GiB a day.
FILING_BUDGET_OBSERVATIONS = 30
FILING_BUDGET_MISSION_OBSERVATIONS = 10
FILING_BUDGET_MIB = 1024
FILING_BUDGET_MISSION_MIB = 512
# A volume budget must hold the largest attachment as stored (200 MiB, padded by up to
# 12 %: dissent/services/attachments.py), or that file could never be attached.
MIN_FILING_BUDGET_MIB = 256
MAX_FILING_BUDGET_MIB = 1024 * 1024
MAX_FILING_BUDGET_OBSERVATIONS = 1_000_000


class ConfigError(Exception):
    """The configuration is missing or invalid; the message says how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Validated settings of one dissent instance."""

    instance_path: Path
    secret_key: bytes = field(repr=False)
    source_salt: bytes = field(repr=False)
    key_kind: KeyKind
    recovery_recipient: PublicKeyRecipient
    database_url: str
    redis_url: str | None = None
    kdf_params: KdfParams = DEFAULT_KDF_PARAMS
    password_params: KdfParams = DEFAULT_PASSWORD_PARAMS
    staff_wrap_work_factor: int = 16
    max_concurrent_kdf: int = DEFAULT_MAX_CONCURRENT_KDF
    staff_idle_minutes: int = STAFF_IDLE_MINUTES
    source_idle_minutes: int = SOURCE_IDLE_MINUTES
    # New observations and stored KiB per clock hour: for the instance, and per mission.
    filing_budget_observations: int = FILING_BUDGET_OBSERVATIONS
    filing_budget_mission_observations: int = FILING_BUDGET_MISSION_OBSERVATIONS
    filing_budget_mib: int = FILING_BUDGET_MIB
    filing_budget_mission_mib: int = FILING_BUDGET_MISSION_MIB
    testing: bool = False
    # Cookies are always Secure and __Host- prefixed; browsers accept Secure cookies
    # from http://127.0.0.1 and localhost, so the demo works without TLS.
    # The address staff reach the instance at: links that leave the site (enrolment)
    # are built from it, never from a request's Host header. Required to serve.
    public_url: str | None = None
    # The name pages show in their title and header. None: the neutral default in the
    # reader's language ("Confidential channel"), never a product name a passer-by could
    # look up.
    site_name: str | None = None
    # The seed of the instance's Ed25519 report key, which signs evaluators' copies of
    # the periodic report (services/evaluator.py). None: an instance made before it
    # existed; `dissent report key --create` adds one.
    report_key: bytes | None = field(default=None, repr=False)


SITE_NAME_MAX = 60
PUBLIC_URL_SCHEMES = ("https", "http")


def parse_public_url(text: str) -> str:
    """Return ``text`` as the instance's public address (no trailing slash), or raise
    :class:`ConfigError` if it is not an http(s) address: scheme, host, optional port
    and path, nothing else."""
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in PUBLIC_URL_SCHEMES
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or not text.isprintable()
    ):
        raise ConfigError(
            f"public_url must be the address staff reach the instance at, such as "
            f"https://dissent.example.org, not {text!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _public_url(values: Mapping[str, Any]) -> str | None:
    raw = values.get("public_url")
    return None if raw is None or str(raw).strip() == "" else parse_public_url(str(raw))


def _site_name(values: Mapping[str, Any]) -> str | None:
    raw = values.get("site_name")
    if raw is None or str(raw).strip() == "":
        return None
    name = " ".join(str(raw).split())
    if len(name) > SITE_NAME_MAX or not name.isprintable():
        raise ConfigError(f"site_name must be printable text of at most {SITE_NAME_MAX} characters")
    return name


def _whole(values: Mapping[str, Any], name: str, default: int, *, low: int, high: int) -> int:
    """Return the whole-number setting ``name`` (``default`` when absent), or raise
    :class:`ConfigError` naming it when it is not a whole number from ``low`` to ``high``."""
    raw = values.get(name, default)
    try:
        number = int(raw) if not isinstance(raw, bool) and str(raw).strip().isdigit() else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return number


def _filing_budgets(values: Mapping[str, Any]) -> dict[str, int]:
    """Return the four filing budgets, each validated (see ``FILING_BUDGET_*``)."""
    counts = {"low": 1, "high": MAX_FILING_BUDGET_OBSERVATIONS}
    sizes = {"low": MIN_FILING_BUDGET_MIB, "high": MAX_FILING_BUDGET_MIB}
    return {
        "filing_budget_observations": _whole(
            values, "filing_budget_observations", FILING_BUDGET_OBSERVATIONS, **counts
        ),
        "filing_budget_mission_observations": _whole(
            values,
            "filing_budget_mission_observations",
            FILING_BUDGET_MISSION_OBSERVATIONS,
            **counts,
        ),
        "filing_budget_mib": _whole(values, "filing_budget_mib", FILING_BUDGET_MIB, **sizes),
        "filing_budget_mission_mib": _whole(
            values, "filing_budget_mission_mib", FILING_BUDGET_MISSION_MIB, **sizes
        ),
    }


def _b64(value: Any, *, name: str, min_bytes: int) -> bytes:
    if isinstance(value, bytes):
        raw = value
    else:
        try:
            raw = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError(f"{name} is not valid base64") from exc
    if len(raw) < min_bytes:
        raise ConfigError(f"{name} must be at least {min_bytes} bytes")
    return raw


REPORT_KEY_BYTES = 32


def _report_key(values: Mapping[str, Any]) -> bytes | None:
    raw = values.get("report_key")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    key = _b64(raw, name="report_key", min_bytes=REPORT_KEY_BYTES)
    if len(key) != REPORT_KEY_BYTES:
        raise ConfigError(f"report_key must be {REPORT_KEY_BYTES} bytes (base64)")
    return key


def read_instance_file(instance_path: Path) -> dict[str, Any]:
    """Return the contents of the instance file, or an empty mapping if there is none."""
    path = instance_path / INSTANCE_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object")
    return data


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Return validated settings from the instance file, environment and overrides."""
    overrides = dict(overrides or {})
    instance_path = Path(
        overrides.pop("INSTANCE_PATH", None) or environ.get("DISSENT_INSTANCE") or "instance"
    ).resolve()
    values: dict[str, Any] = read_instance_file(instance_path)
    env_map = {
        "DISSENT_SECRET_KEY": "secret_key",
        "DISSENT_SOURCE_SALT": "source_salt",
        "DISSENT_KEY_KIND": "key_kind",
        "DISSENT_RECOVERY_RECIPIENT": "recovery_recipient",
        "DATABASE_URL": "database_url",
        "REDIS_URL": "redis_url",
        "DISSENT_PUBLIC_URL": "public_url",
        "DISSENT_SITE_NAME": "site_name",
        "DISSENT_REPORT_KEY": "report_key",
        "DISSENT_FILING_BUDGET_OBSERVATIONS": "filing_budget_observations",
        "DISSENT_FILING_BUDGET_MISSION_OBSERVATIONS": "filing_budget_mission_observations",
        "DISSENT_FILING_BUDGET_MIB": "filing_budget_mib",
        "DISSENT_FILING_BUDGET_MISSION_MIB": "filing_budget_mission_mib",
    }
    for env_name, key in env_map.items():
        if environ.get(env_name):
            values[key] = environ[env_name]
    for key, value in overrides.items():
        values[key.lower()] = value

    missing = [k for k in ("secret_key", "source_salt", "recovery_recipient") if k not in values]
    if missing:
        raise ConfigError(
            f"no instance secrets ({', '.join(missing)}) in {instance_path / INSTANCE_FILE}: "
            "run `dissent init` to create them"
        )
    try:
        key_kind = KeyKind(values.get("key_kind", KeyKind.HYBRID.value))
    except ValueError as exc:
        kinds = ", ".join(k.value for k in KeyKind)
        raise ConfigError(f"key_kind must be one of: {kinds}") from exc
    try:
        recovery = parse_recipient(str(values["recovery_recipient"]))
    except KeyFormatError as exc:
        raise ConfigError(f"recovery_recipient is not a valid age recipient: {exc}") from exc
    if recovery.kind is not key_kind:
        raise ConfigError("recovery_recipient is not of the instance's key kind")

    database_url = str(
        values.get("database_url") or f"sqlite:///{instance_path / 'dissent.sqlite3'}"
    )
    settings = Settings(
        instance_path=instance_path,
        secret_key=_b64(values["secret_key"], name="secret_key", min_bytes=MIN_SECRET_KEY_BYTES),
        source_salt=_b64(values["source_salt"], name="source_salt", min_bytes=MIN_SALT_BYTES),
        key_kind=key_kind,
        recovery_recipient=recovery,
        database_url=database_url,
        redis_url=values.get("redis_url") or None,
        kdf_params=values.get("kdf_params", DEFAULT_KDF_PARAMS),
        password_params=values.get("password_params", DEFAULT_PASSWORD_PARAMS),
        staff_wrap_work_factor=_whole(
            values, "staff_wrap_work_factor", 16, low=10, high=MAX_SCRYPT_WORK_FACTOR
        ),
        max_concurrent_kdf=_whole(
            values, "max_concurrent_kdf", DEFAULT_MAX_CONCURRENT_KDF, low=1, high=1024
        ),
        staff_idle_minutes=_whole(
            values, "staff_idle_minutes", STAFF_IDLE_MINUTES, low=1, high=1440
        ),
        source_idle_minutes=_whole(
            values, "source_idle_minutes", SOURCE_IDLE_MINUTES, low=1, high=1440
        ),
        **_filing_budgets(values),
        testing=values.get("testing", False) is True,
        public_url=_public_url(values),
        site_name=_site_name(values),
        report_key=_report_key(values),
    )
    return settings


def add_to_instance_file(instance_path: Path, name: str, value: str) -> Path:
    """Add one setting to an existing instance file, which keeps every other value and
    its owner-only mode; refuse if the file is missing or has the setting already."""
    path = instance_path / INSTANCE_FILE
    values = read_instance_file(instance_path)
    if not values:
        raise ConfigError(f"no instance file at {path}")
    if name in values:
        raise ConfigError(f"{path} has a {name} already; refusing to replace it")
    values[name] = value
    # Written beside it and renamed over it: a crash leaves the old file or the new one.
    fresh = path.with_name(f".{INSTANCE_FILE}.new")
    fresh.unlink(missing_ok=True)
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    fresh.replace(path)
    return path


def write_instance_file(instance_path: Path, values: Mapping[str, Any]) -> Path:
    """Write the instance file readable by its owner only; refuse to overwrite one."""
    instance_path.mkdir(parents=True, exist_ok=True)
    instance_path.chmod(0o700)  # secrets, the database and the blobs: the owner's only
    path = instance_path / INSTANCE_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(dict(values), handle, indent=2)
        handle.write("\n")
    return path
