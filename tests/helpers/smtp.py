"""A real SMTP server in the test process (aiosmtpd), recording every mail it accepts.

It can speak plain SMTP, STARTTLS or TLS from the first byte (with a throw-away
certificate authority the client is told to trust), ask for a password, answer every
message with a refusal, or take its time over each one (to make two runs overlap).

Loaded as a plugin (``tests/conftest.py``), it gives every test the fixtures
``mail_servers`` (start servers with options) and ``mail_server`` (one plain server);
a module whose app mails through it overrides ``config`` with :func:`mail_config`.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers.served import free_port

USERNAME = "dissent-mailer"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Received:
    """One mail the server accepted."""

    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    message: EmailMessage

    @property
    def text(self) -> str:
        """Return the decoded plain-text body."""
        return str(self.message.get_content())


@dataclass
class _Handler:
    server: MailServer

    async def handle_DATA(self, _server, _session, envelope) -> str:
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        if self.server.refuse is not None:
            return self.server.refuse
        if set(envelope.rcpt_tos) & self.server.unknown:
            return "550 5.1.1 no such mailbox"
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), raw, parsed)
            )
        return "250 OK"


def _authenticator(_server, _session, _envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        mechanism in ("LOGIN", "PLAIN")
        and isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # Not "handled": aiosmtpd then answers 535 itself (a handled failure gets no answer).
    return AuthResult(success=ok, handled=False)


@dataclass
class MailServer:
    """An SMTP server on 127.0.0.1 (or ``localhost`` when it speaks TLS)."""

    mode: str = "plain"  # "plain", "starttls" or "tls"
    certificates: Path | None = None  # where the throw-away authority's files go
    password: bool = False  # ask for USERNAME and PASSWORD
    delay: float = 0.0
    refuse: str | None = None  # e.g. "451 4.3.0 try again later"
    unknown: set[str] = field(default_factory=set)  # addresses whose mail is refused
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = field(default_factory=free_port)
    client_tls: ssl.SSLContext | None = None
    _controller: Controller | None = None

    @property
    def host(self) -> str:
        """Return the host name clients use (the certificate's name when TLS is on)."""
        return "127.0.0.1" if self.mode == "plain" else "localhost"

    @property
    def url(self) -> str:
        """Return the DISSENT_SMTP_URL that reaches this server."""
        scheme = "smtps" if self.mode == "tls" else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> MailServer:
        """Start listening (in a thread of its own)."""
        server_tls = None
        if self.mode != "plain":
            assert self.certificates is not None, "TLS needs a folder for the certificates"
            server_tls, self.client_tls = _tls_pair(self.certificates)
        kwargs = {}
        if self.mode == "starttls":
            kwargs = {"tls_context": server_tls, "require_starttls": True}
        elif self.mode == "tls":
            kwargs = {"ssl_context": server_tls}
        if self.password:
            kwargs |= {"authenticator": _authenticator}
            if self.mode == "starttls":
                kwargs["auth_required"] = True
            else:
                # Offered (and checked) without TLS: aiosmtpd counts only STARTTLS as
                # TLS, and warns, in every connection, when AUTH is required without it.
                kwargs["auth_require_tls"] = False
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname=self.host,
            ready_timeout=10,
            **kwargs,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused from now on."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        """Return the mails accepted for ``address``."""
        with self.lock:
            return [mail for mail in self.received if address in mail.recipients]

    def all(self) -> list[Received]:
        """Return every mail accepted so far."""
        with self.lock:
            return list(self.received)


def _tls_pair(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Return a server context with a certificate for localhost and 127.0.0.1, and a
    client context that trusts it (and nothing else)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def mail_config(server: MailServer, **more) -> dict[str, object]:
    """Return the settings that send an app's mail to ``server``."""
    settings: dict[str, object] = {"SMTP_URL": server.url, "SMTP_FROM": "dissent@example.org"}
    if server.mode == "plain":
        settings["SMTP_ALLOW_PLAIN_LOOPBACK"] = True
    if server.password:
        settings |= {"SMTP_USERNAME": USERNAME, "SMTP_PASSWORD": PASSWORD}
    return settings | more


@pytest.fixture
def mail_servers(tmp_path) -> Iterator[Callable[..., MailServer]]:
    """Start SMTP servers for one test (options as :class:`MailServer`'s); each stops
    at the test's end."""
    started: list[MailServer] = []

    def start(**options) -> MailServer:
        server = MailServer(certificates=tmp_path / "tls", **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def mail_server(mail_servers) -> MailServer:
    """A plain SMTP server on 127.0.0.1 for one test."""
    return mail_servers()
