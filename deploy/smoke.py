"""The whole production stack on one machine, driven over HTTPS as its users would.

Run by ``make smoke`` (and ``.ci/run``) with the project's Python:

    DISSENT_TEST_DATABASE_URL=postgresql+psycopg://... DISSENT_TEST_REDIS_URL=redis://... \\
        .venv/bin/python deploy/smoke.py

What it does, each step named in its one line of failure:

1. makes a PostgreSQL database of its own on the server ``DISSENT_TEST_DATABASE_URL``
   names, and an instance (``A``) on it, with a mission and an adviser; a second instance
   folder (``B``) gets a copy of A's instance file: two hosts, the same secrets;
2. renders the shipped nginx site (``deploy/nginx/dissent.conf`` through
   ``deploy/render.sh``) for loopback ports and a throwaway certificate, with both hosts
   as its upstream, checks it with ``nginx -t`` and starts nginx; checks the torrc snippet
   with ``tor --verify-config`` and the systemd units with ``systemd-analyze verify`` where
   those programs are installed;
3. with only host A running, a source files an observation and uploads a 150 MiB file
   through nginx; then A stops and B starts, so everything after goes through B: the
   adviser logs in, downloads the file (byte-identical after decryption, by SHA-256) and
   replies; the source logs in with the codename and reads the reply;
4. greps nginx's and both hosts' logs for the client's address, its user agent and the
   content canaries: none may appear.

Prints ``smoke ok`` last and exits 0; on any failure prints one line ``smoke failed at
STEP: WHY`` and exits 1. Everything it made (processes, database, files) is removed.
"""

# ruff: noqa: S603, S607, PLR0915, PLW0603

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
MIB = 1024 * 1024
UPLOAD_MIB = int(os.environ.get("DISSENT_SMOKE_MIB", "150"))
PASSWORD = "smoke test adviser passphrase " + secrets.token_hex(4)
HEADERS_MORE = Path("/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so")


class Failed(Exception):
    """A step failed; the message says why."""


_step = "start"


def step(name: str) -> None:
    global _step
    _step = name
    print(f"- {name}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failed(f"{what} exited with {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise Failed(f"{what} did not listen on port {port} within 60 s")


def wait_closed(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
        except OSError:
            return
        time.sleep(0.2)
    raise Failed(f"port {port} still answers after its host stopped")


# --- the database, the instances ------------------------------------------------------------


@contextlib.contextmanager
def own_database(admin_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"dissent_smoke_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_instances(work: Path, database_url: str, public_url: str) -> tuple[Path, Path, str]:
    """Create instance A with a mission and an adviser, and B with A's secrets."""
    from dissent.app import create_app
    from dissent.crypto import KeyKind
    from dissent.extensions import current_context, db
    from dissent.models import Role
    from dissent.services import accounts
    from dissent.services.instance import initialise_instance

    host_a, host_b = work / "host-a", work / "host-b"
    initialise_instance(
        host_a,
        kind=KeyKind.HYBRID,
        threshold=2,
        custodians=3,
        database_url=database_url,
        public_url=public_url,
    )
    totp_secret = accounts.new_totp_secret()
    app = create_app({"INSTANCE_PATH": str(host_a)})
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="smoke", name="Smoke mission")
        user, _ = accounts.create_account(
            db.session, username="adviser", role=Role.ADVISER, mission_slugs=["smoke"]
        )
        accounts.enrol_directly(
            db.session, current_context(), user=user, password=PASSWORD, totp_secret=totp_secret
        )
    db.engine(app).dispose()
    host_b.mkdir(mode=0o700)
    shutil.copy2(host_a / "dissent.json", host_b / "dissent.json")
    return host_a, host_b, totp_secret


class Host:
    """One ``dissent serve`` process on its own port and instance folder."""

    def __init__(self, name: str, instance: Path, port: int, redis_url: str, logs: Path) -> None:
        self.name, self.instance, self.port = name, instance, port
        self.log = logs / f"{name}.log"
        self.redis_url = redis_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DISSENT_INSTANCE": str(self.instance),
            "REDIS_URL": self.redis_url,
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(VENV_BIN / "dissent"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, self.process, f"host {self.name}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        wait_closed(self.port)


# --- nginx, tor, systemd ---------------------------------------------------------------------


def render(template: Path, target: Path, **values: str) -> None:
    args = [str(DEPLOY / "render.sh"), str(template), *(f"{k}={v}" for k, v in values.items())]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Failed(f"render.sh {template.name}: {done.stderr.strip()}")
    target.write_text(done.stdout)


def certificate(work: Path) -> tuple[Path, Path]:
    cert, key = work / "tls.crt", work / "tls.key"
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise Failed("openssl could not make a throwaway certificate")
    return cert, key


def nginx_config(work: Path, ports: dict[str, int], cert: Path, key: Path) -> Path:
    import dissent

    site = work / "nginx" / "site.conf"
    site.parent.mkdir()
    (work / "acme").mkdir()
    render(
        DEPLOY / "nginx" / "dissent.conf",
        site,
        APP_HOSTS=f"127.0.0.1:{ports['a']} 127.0.0.1:{ports['b']}",
        HTTPS_LISTEN=f"127.0.0.1:{ports['https']}",
        HTTP_LISTEN=f"127.0.0.1:{ports['http']}",
        ONION_LISTEN=f"127.0.0.1:{ports['onion']}",
        SERVER_NAME="127.0.0.1",
        CERT=str(cert),
        KEY=str(key),
        STATIC_ROOT=str(Path(dissent.__file__).parent / "static"),
        ACME_ROOT=str(work / "acme"),
    )
    main = work / "nginx" / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    main.write_text(
        f"load_module {HEADERS_MORE};\n{user}"
        "worker_processes 1;\n"
        f"pid {work / 'nginx' / 'nginx.pid'};\n"
        f"error_log {work / 'logs' / 'nginx-error.log'} info;\n"
        "daemon off;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        f"    client_body_temp_path {work / 'nginx' / 'body'};\n"
        f"    proxy_temp_path {work / 'nginx' / 'proxy'};\n"
        f"    fastcgi_temp_path {work / 'nginx' / 'fastcgi'};\n"
        f"    uwsgi_temp_path {work / 'nginx' / 'uwsgi'};\n"
        f"    scgi_temp_path {work / 'nginx' / 'scgi'};\n"
        f"    access_log {work / 'logs' / 'nginx-access.log'};\n"
        f"    include {site};\n"
        "}\n"
    )
    return main


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None or not HEADERS_MORE.exists():
        raise Failed(
            "nginx with its headers-more module is not installed "
            "(make system-deps, or apt-get install nginx libnginx-mod-http-headers-more-filter)"
        )
    return found


def check_tor_and_systemd(work: Path) -> None:
    tor = shutil.which("tor") or ("/usr/sbin/tor" if Path("/usr/sbin/tor").exists() else None)
    if tor is not None:
        torrc = work / "torrc"
        render(DEPLOY / "tor" / "torrc.dissent", torrc, HIDDEN_SERVICE_DIR=str(work / "onion"))
        (work / "onion").mkdir(mode=0o700)
        done = subprocess.run(
            [tor, "--verify-config", "-f", str(torrc), "--DataDirectory", str(work / "tor-data")],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise Failed("tor --verify-config refused deploy/tor/torrc.dissent")
        print("  tor --verify-config: ok", flush=True)
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        units = work / "units"
        units.mkdir()
        for unit in sorted((DEPLOY / "systemd").glob("dissent*")):
            # The installed program's path, as INSTALL.md puts it, is this venv's here.
            text = unit.read_text().replace(
                "/opt/dissent/venv/bin/dissent", str(VENV_BIN / "dissent")
            )
            (units / unit.name).write_text(text)
        done = subprocess.run(
            [analyze, "verify", "--man=no", *map(str, sorted(units.iterdir()))],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
        )
        if done.returncode != 0:
            first = (done.stderr or done.stdout).strip().splitlines()[:1]
            raise Failed(f"systemd-analyze verify refused the units: {first}")
        print("  systemd-analyze verify: ok", flush=True)


# --- the browser -------------------------------------------------------------------------


class Browser:
    """One person's cookies, speaking HTTPS to nginx only."""

    def __init__(self, port: int, cafile: Path, agent: str) -> None:
        self.port, self.agent = port, agent
        self.tls = ssl.create_default_context(cafile=str(cafile))
        self.cookies: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=600)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"User-Agent": self.agent, **(extra or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _keep_cookies(self, response: http.client.HTTPResponse) -> None:
        for cookie in response.headers.get_all("Set-Cookie") or []:
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower().replace(" ", "") or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> bytes:
        connection = self._connection()
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        extra = {"Content-Type": "application/x-www-form-urlencoded"} if form else None
        connection.request(method, path, body=body, headers=self._headers(extra))
        response = connection.getresponse()
        data = response.read()
        self._keep_cookies(response)
        connection.close()
        if response.status not in (200, 303):
            raise Failed(f"{method} {path} answered HTTP {response.status}")
        return data

    def upload(self, path: str, csrf_token: str, size: int, seed: bytes) -> str:
        """Stream ``size`` pseudo-random bytes as a multipart upload; return their SHA-256."""
        boundary = "----dissent-smoke-" + secrets.token_hex(8)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{csrf_token}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="smoke.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        digest = hashlib.sha256()

        def body() -> Iterator[bytes]:
            yield head
            block = hashlib.sha256(seed).digest() * (MIB // 32)
            left = size
            counter = 0
            while left:
                piece = block[: min(MIB, left)]
                piece = counter.to_bytes(8, "big") + piece[8:] if len(piece) >= 8 else piece
                digest.update(piece)
                left -= len(piece)
                counter += 1
                yield piece
            yield tail

        headers = self._headers(
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
            }
        )
        connection = self._connection()
        connection.request("POST", path, body=body(), headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 303:
            raise Failed(f"the upload answered HTTP {response.status}")
        return digest.hexdigest()

    def download(self, path: str) -> tuple[int, str]:
        connection = self._connection()
        connection.request("GET", path, headers=self._headers())
        response = connection.getresponse()
        if response.status != 200:
            raise Failed(f"the download answered HTTP {response.status}")
        digest, length = hashlib.sha256(), 0
        while block := response.read(MIB):
            digest.update(block)
            length += len(block)
        connection.close()
        return length, digest.hexdigest()


def wait_for_nginx(port: int, cafile: Path, agent: str) -> None:
    """Wait until nginx answers /healthz from an app host again (at most 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            Browser(port, cafile, agent).request("GET", "/healthz")
            return
        except Failed:
            if time.monotonic() > deadline:
                raise Failed("nginx did not reach host B within 30 s") from None
            time.sleep(0.5)


def find(pattern: bytes, page: bytes, what: str) -> str:
    match = re.search(pattern, page)
    if match is None:
        raise Failed(f"no {what} on the page")
    return match.group(1).decode()


TOKEN = rb'name="csrf_token" type="hidden" value="([^"]+)"'


# --- the run ---------------------------------------------------------------------------------


def run(work: Path, database_url: str, redis_url: str) -> None:
    for folder in ("logs",):
        (work / folder).mkdir()
    ports = {name: free_port() for name in ("a", "b", "https", "http", "onion")}
    public_url = f"https://127.0.0.1:{ports['https']}"
    canaries = {
        "what": f"SMOKE-WHAT-{secrets.token_hex(6)}",
        "reply": f"SMOKE-REPLY-{secrets.token_hex(6)}",
    }
    agent = f"SmokeAgent/{secrets.token_hex(6)}"

    step("instances on PostgreSQL: host A, and host B with A's secrets")
    host_a_dir, host_b_dir, totp_secret = make_instances(work, database_url, public_url)
    hosts = {
        "a": Host("host-a", host_a_dir, ports["a"], redis_url, work / "logs"),
        "b": Host("host-b", host_b_dir, ports["b"], redis_url, work / "logs"),
    }

    step("nginx site rendered for loopback, checked with nginx -t")
    nginx = nginx_binary()
    cert, key = certificate(work)
    main = nginx_config(work, ports, cert, key)
    checked = subprocess.run(
        [nginx, "-t", "-q", "-p", str(work / "nginx"), "-c", str(main)],
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0:
        raise Failed(f"nginx -t refused the rendered site: {checked.stderr.strip()[:300]}")
    step("tor --verify-config and systemd-analyze verify where installed")
    check_tor_and_systemd(work)

    processes: list[subprocess.Popen[bytes]] = []
    try:
        step("nginx and host A start")
        proxy = subprocess.Popen(
            [nginx, "-p", str(work / "nginx"), "-c", str(main)],
            stdout=subprocess.DEVNULL,
            stderr=(work / "logs" / "nginx-stderr.log").open("wb"),
            start_new_session=True,
        )
        processes.append(proxy)
        wait_for_port(ports["https"], proxy, "nginx")
        hosts["a"].start()

        step(f"a source files an observation and uploads {UPLOAD_MIB} MiB through host A")
        source = Browser(ports["https"], cert, agent)
        page = source.request("GET", "/submit")
        source.request(
            "POST",
            "/submit",
            {
                "csrf_token": find(TOKEN, page, "form token"),
                "submit_token": find(
                    rb'name="submit_token" type="hidden" value="([^"]+)"', page, "submit token"
                ),
                "mission": find(rb'name="mission" value="(\d+)"', page, "mission"),
                "category": "reporting_accuracy",
                "what": canaries["what"],
                "when": "last_month",
                "where": "",
                "contradicts": "yes",
                "official_report": "",
                "consent": "ask_first",
            },
        )
        page = source.request("GET", "/submit/codename")
        codename = extract_codename(page)
        source.request(
            "POST",
            "/submit/codename",
            {"csrf_token": find(TOKEN, page, "form token"), "saved": "y"},
        )
        inbox = source.request("GET", "/inbox")
        ref = find(rb'action="/inbox/([A-Z0-9-]+)/reply"', inbox, "reply form")
        sent = source.upload(
            f"/inbox/{ref}/attachments",
            find(TOKEN, inbox, "form token"),
            UPLOAD_MIB * MIB,
            seed=secrets.token_bytes(16),
        )

        step("host A stops, host B starts: everything after goes through B")
        hosts["a"].stop()
        hosts["b"].start()
        # nginx marked B failed while it was down (max_fails=1, fail_timeout=10s in the
        # shipped site); it routes to B again once that has passed.
        wait_for_nginx(ports["https"], cert, agent)

        step("the adviser logs in through host B")
        import pyotp

        adviser = Browser(ports["https"], cert, agent)
        page = adviser.request("GET", "/staff/login")
        adviser.request(
            "POST",
            "/staff/login",
            {"username": "adviser", "password": PASSWORD, "csrf_token": find(TOKEN, page, "token")},
        )
        page = adviser.request("GET", "/staff/2fa")
        adviser.request(
            "POST",
            "/staff/2fa",
            {"code": pyotp.TOTP(totp_secret).now(), "csrf_token": find(TOKEN, page, "token")},
        )

        step("the adviser downloads the file through host B, byte-identical")
        case = adviser.request("GET", f"/adviser/o/{ref}")
        attachment = find(rb'href="/adviser/attachments/(\d+)"', case, "attachment link")
        length, received = adviser.download(f"/adviser/attachments/{attachment}")
        if (length, received) != (UPLOAD_MIB * MIB, sent):
            raise Failed(f"the download differs: {length} bytes, SHA-256 {received[:12]}…")

        step("the adviser replies; the source logs in with the codename and reads it")
        adviser.request(
            "POST",
            f"/adviser/o/{ref}/reply",
            {"text": canaries["reply"], "csrf_token": find(TOKEN, case, "token")},
        )
        again = Browser(ports["https"], cert, agent)
        page = again.request("GET", "/login")
        again.request(
            "POST", "/login", {"codename": codename, "csrf_token": find(TOKEN, page, "token")}
        )
        if canaries["reply"].encode() not in again.request("GET", "/inbox"):
            raise Failed("the source's inbox does not show the adviser's reply")
    finally:
        for host in hosts.values():
            with contextlib.suppress(Exception):
                host.stop()
        for process in processes:
            with contextlib.suppress(Exception):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)

    step("no address, user agent or content in nginx's or the hosts' logs")
    forbidden = ["127.0.0.1", agent, canaries["what"], canaries["reply"], codename]
    for log in sorted((work / "logs").iterdir()):
        text = log.read_text(errors="replace")
        for word in forbidden:
            if word and word in text:
                shown = "the client address" if word == "127.0.0.1" else "a canary"
                raise Failed(f"{log.name} holds {shown}")


def extract_codename(page: bytes) -> str:
    """Return the codename the page shows (its words, space-separated)."""
    text = page.decode(errors="replace")
    match = re.search(r'data-codename="([^"]+)"', text) or re.search(
        r'<p[^>]*class="[^"]*codename[^"]*"[^>]*>\s*([^<]+?)\s*</p>', text
    )
    if match is None:
        raise Failed("no codename on the codename page")
    return " ".join(match.group(1).split())


def main() -> int:
    database = os.environ.get("DISSENT_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("DISSENT_TEST_REDIS_URL", "")
    if not database.startswith("postgresql") or not redis_url.startswith("redis"):
        print(
            "smoke failed at start: set DISSENT_TEST_DATABASE_URL (PostgreSQL) and "
            "DISSENT_TEST_REDIS_URL (Redis); the smoke test runs the production stack"
        )
        return 1
    work = Path(tempfile.mkdtemp(prefix="dissent-smoke-"))
    try:
        with own_database(database) as database_url:
            run(work, database_url, redis_url)
    except Failed as exc:
        print(f"smoke failed at {_step}: {exc}")
        return 1
    except Exception as exc:  # an unexpected error is a failure of the step too
        print(f"smoke failed at {_step}: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if os.environ.get("DISSENT_SMOKE_KEEP"):
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("smoke ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
