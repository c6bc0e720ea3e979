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
import enum
import ipaddress
import json
import os
import re
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


class SmtpSecurity(enum.StrEnum):
    """How the connection to the mail server is protected."""

    STARTTLS = "starttls"  # smtp://: plain connection upgraded with STARTTLS, required
    TLS = "tls"  # smtps://: TLS from the first byte
    PLAIN = "plain"  # smtp:// to a loopback address, only when explicitly allowed


# The ports each scheme of DISSENT_SMTP_URL uses when the address names none.
SMTP_DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpSettings:
    """Where notification mails go out (``DISSENT_SMTP_*``), validated."""

    host: str
    port: int
    security: SmtpSecurity
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


# A text in several languages: (language code, text) pairs; the code "" is any language.
Localized = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ExternalChannel:
    """One of the other places to report, as an instance lists it in its channels.json."""

    name: Localized
    about: Localized
    # Each number with what it is for (may be empty).
    phones: tuple[tuple[str, Localized], ...]
    # Where to read more, as text to copy: a host name with an optional path.
    site: str


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
    # Who runs the channel, in the operator's words, shown on the landing and anonymity
    # pages. None: a neutral sentence in the reader's language.
    operated_by: str | None = None
    # The other places to report that /channels lists, from the instance's channels.json
    # (CHANNELS_FILE). None: the built-in list (dissent/web/channels.py).
    external_channels: tuple[ExternalChannel, ...] | None = None
    # The seed of the instance's Ed25519 report key, which signs evaluators' copies of
    # the periodic report (services/evaluator.py). None: an instance made before it
    # existed; `dissent report key --create` adds one.
    report_key: bytes | None = field(default=None, repr=False)
    # The mail server notifications go out through; None: no mail is sent.
    smtp: SmtpSettings | None = None
    # Whether notification mails name each case by its random mail reference
    # (``Observation.mail_ref``); off, they give counts only.
    notify_references: bool = False


SITE_NAME_MAX = 60
OPERATED_BY_MAX = 300
PUBLIC_URL_SCHEMES = ("https", "http")
# The list of other channels: a JSON list in the instance folder, or at the path
# DISSENT_CHANNELS_FILE (``channels_file``) names.
CHANNELS_FILE = "channels.json"
CHANNELS_MAX = 40
CHANNEL_TEXT_MAX = 600
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{2,24}")
_SITE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+(/[A-Za-z0-9._~/?=&%#-]*)?")
_LANGUAGE = re.compile(r"[a-z]{2}")


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


def _operated_by(values: Mapping[str, Any]) -> str | None:
    raw = values.get("operated_by")
    if raw is None or str(raw).strip() == "":
        return None
    text = " ".join(str(raw).split())
    if len(text) > OPERATED_BY_MAX or not text.isprintable():
        raise ConfigError(
            f"operated_by must be printable text of at most {OPERATED_BY_MAX} characters"
        )
    return text


def _localized(raw: Any, *, what: str) -> Localized:
    """Return a text given as a string or as an object of texts by language code."""
    texts = {"": raw} if isinstance(raw, str) else raw
    if not isinstance(texts, dict) or not texts:
        raise ConfigError(f'{what} must be text, or texts by language: {{"en": …, "nl": …}}')
    out = []
    for language, text in texts.items():
        clean = " ".join(text.split()) if isinstance(text, str) else ""
        if language and not _LANGUAGE.fullmatch(str(language)):
            raise ConfigError(f"{what}: {language!r} is not a two-letter language code")
        if not clean or len(clean) > CHANNEL_TEXT_MAX or not clean.isprintable():
            raise ConfigError(
                f"{what} must be printable text of 1 to {CHANNEL_TEXT_MAX} characters"
            )
        out.append((str(language), clean))
    return tuple(out)


def _channel(raw: Any, *, what: str) -> ExternalChannel:
    if not isinstance(raw, dict) or not {"name", "about"} <= set(raw):
        raise ConfigError(f'{what} must be an object with at least "name" and "about"')
    unknown = set(raw) - {"name", "about", "phones", "site"}
    if unknown:
        raise ConfigError(f"{what} has unknown keys: {', '.join(sorted(unknown))}")
    listed = raw.get("phones") or []
    if not isinstance(listed, list):
        raise ConfigError(f'{what}: "phones" must be a list')
    phones = []
    for position, phone in enumerate(listed, start=1):
        number = phone.get("number") if isinstance(phone, dict) else None
        if not isinstance(number, str) or not _PHONE.fullmatch(number.strip()):
            raise ConfigError(
                f"{what}, phone {position}: give a number of digits, spaces, hyphens and "
                'an optional leading +, as {"number": "088 133 10 00", "note": …}'
            )
        note = phone.get("note")
        phones.append(
            (number.strip(), _localized(note, what=f"{what}, phone {position}") if note else ())
        )
    site = str(raw.get("site") or "").strip()
    if site and (len(site) > 200 or not _SITE.fullmatch(site)):
        raise ConfigError(f"{what}: site must be a host name with an optional path, not {site!r}")
    return ExternalChannel(
        name=_localized(raw["name"], what=f"{what}, name"),
        about=_localized(raw["about"], what=f"{what}, about"),
        phones=tuple(phones),
        site=site,
    )


def _external_channels(
    values: Mapping[str, Any], instance_path: Path
) -> tuple[ExternalChannel, ...] | None:
    """Return the instance's list of other channels, or None to use the built-in one."""
    named = values.get("channels_file")
    path = Path(str(named)) if named else instance_path / CHANNELS_FILE
    if not path.exists():
        if named:
            raise ConfigError(f"channels_file {path} does not exist")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, list) or not 1 <= len(data) <= CHANNELS_MAX:
        raise ConfigError(f"{path} must hold a JSON list of 1 to {CHANNELS_MAX} channels")
    return tuple(
        _channel(entry, what=f"{path}, channel {number}")
        for number, entry in enumerate(data, start=1)
    )


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _flag(values: Mapping[str, Any], name: str) -> bool:
    """Return the yes/no setting ``name`` (no when absent), or raise :class:`ConfigError`."""
    raw = values.get(name, False)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f"{name} must be yes or no (1 or 0), not {raw!r}")


# An address as mail servers take it: a dot-atom local part and a domain of labels.
# Deliberately narrower than RFC 5322 (no quoted local parts, no comments, no address
# literals), so that nothing typed can add a header or a second recipient.
EMAIL_MAX = 254
_EMAIL = re.compile(
    r"\A[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z"
)


def parse_email(text: str) -> str | None:
    """Return ``text`` as a mail address (domain in lower case), or ``None`` when it is
    not one: a dot-atom local part of at most 64 characters, ``@``, a domain name."""
    text = text.strip()
    local, _, domain = text.rpartition("@")
    if len(text) > EMAIL_MAX or len(local) > 64 or not text.isascii() or not _EMAIL.match(text):
        return None
    return f"{local}@{domain.lower()}"


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _smtp(values: Mapping[str, Any]) -> SmtpSettings | None:
    """Return the mail server settings, or ``None`` when no ``smtp_url`` is set; raise
    :class:`ConfigError` for anything malformed (no mail is better than mail sent
    somewhere else, or in clear)."""
    raw = values.get("smtp_url")
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in SMTP_DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not text.isprintable()
    ):
        raise ConfigError(
            "smtp_url must be smtp://HOST:587 (STARTTLS) or smtps://HOST:465 (TLS), without "
            "user name or password (those go in DISSENT_SMTP_USERNAME and "
            f"DISSENT_SMTP_PASSWORD), not {text!r}"
        )
    host = parts.hostname
    if parts.scheme == "smtps":
        security = SmtpSecurity.TLS
    elif _flag(values, "smtp_allow_plain_loopback") and _loopback(host):
        security = SmtpSecurity.PLAIN
    else:
        security = SmtpSecurity.STARTTLS
    sender = parse_email(str(values.get("smtp_from") or ""))
    if sender is None:
        raise ConfigError(
            "smtp_from (DISSENT_SMTP_FROM) must be the address notification mails are sent "
            "from, such as dissent@example.org"
        )
    username = str(values.get("smtp_username") or "").strip() or None
    password = str(values.get("smtp_password") or "") or None
    if (username is None) != (password is None):
        raise ConfigError("give both DISSENT_SMTP_USERNAME and DISSENT_SMTP_PASSWORD, or neither")
    return SmtpSettings(
        host=host,
        port=port or SMTP_DEFAULT_PORTS[parts.scheme],
        security=security,
        sender=sender,
        username=username,
        password=password,
    )


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
        "DISSENT_OPERATED_BY": "operated_by",
        "DISSENT_CHANNELS_FILE": "channels_file",
        "DISSENT_REPORT_KEY": "report_key",
        "DISSENT_FILING_BUDGET_OBSERVATIONS": "filing_budget_observations",
        "DISSENT_FILING_BUDGET_MISSION_OBSERVATIONS": "filing_budget_mission_observations",
        "DISSENT_FILING_BUDGET_MIB": "filing_budget_mib",
        "DISSENT_FILING_BUDGET_MISSION_MIB": "filing_budget_mission_mib",
        "DISSENT_SMTP_URL": "smtp_url",
        "DISSENT_SMTP_FROM": "smtp_from",
        "DISSENT_SMTP_USERNAME": "smtp_username",
        "DISSENT_SMTP_PASSWORD": "smtp_password",
        "DISSENT_SMTP_ALLOW_PLAIN_LOOPBACK": "smtp_allow_plain_loopback",
        "DISSENT_NOTIFY_REFERENCES": "notify_references",
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
        operated_by=_operated_by(values),
        external_channels=_external_channels(values, instance_path),
        report_key=_report_key(values),
        smtp=_smtp(values),
        notify_references=_flag(values, "notify_references"),
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
