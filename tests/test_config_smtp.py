"""The mail server settings: STARTTLS or TLS unless plain is allowed to a loopback address,
credentials from the environment, and anything malformed refused (fail closed)."""

from __future__ import annotations

import base64

import pytest

from dissent.config import (
    MIN_SECRET_KEY_BYTES,
    ConfigError,
    SmtpSecurity,
    load_settings,
    parse_email,
)
from dissent.crypto.codename import MIN_SALT_BYTES

SENDER = {"DISSENT_SMTP_FROM": "dissent@example.org"}


@pytest.fixture
def base(recovery_identity, tmp_path) -> dict[str, str]:
    return {
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": base64.b64encode(b"k" * MIN_SECRET_KEY_BYTES).decode(),
        "SOURCE_SALT": base64.b64encode(b"s" * MIN_SALT_BYTES).decode(),
        "RECOVERY_RECIPIENT": recovery_identity.recipient.encode(),
    }


def smtp_of(base, environ):
    return load_settings(environ, base).smtp


@pytest.mark.parametrize(
    ("url", "host", "port", "security"),
    [
        ("smtp://mail.example.org", "mail.example.org", 587, SmtpSecurity.STARTTLS),
        ("smtp://mail.example.org:2525", "mail.example.org", 2525, SmtpSecurity.STARTTLS),
        ("smtps://mail.example.org", "mail.example.org", 465, SmtpSecurity.TLS),
        ("smtp://[2001:db8::1]:25", "2001:db8::1", 25, SmtpSecurity.STARTTLS),
        # Loopback without the explicit allowance: still STARTTLS.
        ("smtp://127.0.0.1:25", "127.0.0.1", 25, SmtpSecurity.STARTTLS),
    ],
)
def test_the_url_gives_host_port_and_protection(base, url, host, port, security):
    smtp = smtp_of(base, {"DISSENT_SMTP_URL": url, **SENDER})
    assert (smtp.host, smtp.port, smtp.security) == (host, port, security)
    assert smtp.sender == "dissent@example.org"


@pytest.mark.parametrize(
    ("host", "plain"),
    [("127.0.0.1", True), ("localhost", True), ("[::1]", True), ("mail.example.org", False)],
)
def test_plain_is_allowed_only_when_asked_and_only_to_loopback(base, host, plain):
    smtp = smtp_of(
        base,
        {
            "DISSENT_SMTP_URL": f"smtp://{host}:25",
            "DISSENT_SMTP_ALLOW_PLAIN_LOOPBACK": "yes",
            **SENDER,
        },
    )
    assert (smtp.security is SmtpSecurity.PLAIN) is plain


def test_credentials_come_from_the_environment_and_are_not_shown(base):
    smtp = smtp_of(
        base,
        {
            "DISSENT_SMTP_URL": "smtps://mail.example.org",
            "DISSENT_SMTP_USERNAME": "dissent",
            "DISSENT_SMTP_PASSWORD": "s3cret-pass",
            **SENDER,
        },
    )
    assert (smtp.username, smtp.password) == ("dissent", "s3cret-pass")
    assert "s3cret-pass" not in repr(smtp)


def test_without_a_url_no_mail_is_sent_and_references_are_off(base):
    settings = load_settings({}, base)
    assert settings.smtp is None
    assert settings.notify_references is False
    assert load_settings({"DISSENT_NOTIFY_REFERENCES": "1"}, base).notify_references is True


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"DISSENT_SMTP_URL": "http://mail.example.org", **SENDER}, "smtp://HOST:587"),
        (
            {"DISSENT_SMTP_URL": "smtp://user:pw@mail.example.org", **SENDER},
            "DISSENT_SMTP_PASSWORD",
        ),
        ({"DISSENT_SMTP_URL": "smtp://mail.example.org:99999", **SENDER}, "smtp://HOST:587"),
        ({"DISSENT_SMTP_URL": "smtp://", **SENDER}, "smtp://HOST:587"),
        ({"DISSENT_SMTP_URL": "smtp://mail.example.org/x?y", **SENDER}, "smtp://HOST:587"),
        ({"DISSENT_SMTP_URL": "smtp://mail.example.org"}, "DISSENT_SMTP_FROM"),
        (
            {"DISSENT_SMTP_URL": "smtp://mail.example.org", "DISSENT_SMTP_FROM": "nobody"},
            "DISSENT_SMTP_FROM",
        ),
        (
            {"DISSENT_SMTP_URL": "smtp://mail.example.org", "DISSENT_SMTP_USERNAME": "u", **SENDER},
            "or neither",
        ),
        (
            {
                "DISSENT_SMTP_URL": "smtp://127.0.0.1",
                "DISSENT_SMTP_ALLOW_PLAIN_LOOPBACK": "perhaps",
                **SENDER,
            },
            "yes or no",
        ),
        ({"DISSENT_NOTIFY_REFERENCES": "sometimes"}, "yes or no"),
    ],
)
def test_anything_malformed_is_refused_with_a_way_out(base, environ, says):
    with pytest.raises(ConfigError) as refused:
        load_settings(environ, base)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Name.Surname+tag@Mail.Example.ORG", "Name.Surname+tag@mail.example.org"),
        ("  adviser@demo.invalid ", "adviser@demo.invalid"),
        ("a@b", None),
        ("a@@example.org", None),
        (".a@example.org", None),
        ("a b@example.org", None),
        ("a@example.org>", None),
        ("a@example.org\r\nBcc: b@example.org", None),
        ("ü@example.org", None),
        ("", None),
    ],
)
def test_a_mail_address_is_one_plain_address(text, kept):
    assert parse_email(text) == kept
