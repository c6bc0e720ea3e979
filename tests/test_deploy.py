"""The files of deploy/ stay true to the code they install.

Every ``dissent`` command the files and guides name exists with the options they give it;
the nginx site buffers every route but the attachment routes (and those exactly), with
dissent's own body limits, and lets nothing about the visitor through; the systemd units
keep their sandbox; the PostgreSQL script and the Redis file give dissent what it needs
and no more. Where nginx, tor, systemd-analyze, psql or redis-server are installed (make
system-deps installs them), the files are also checked by the programs themselves.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dissent.app import MAX_FORM_BYTES
from dissent.cli import cli
from dissent.locations import static_dir
from dissent.security.policy import Access, rule_for
from dissent.services.attachments import max_request_bytes
from tests.helpers.deploy import (
    DEPLOY,
    ROOT,
    Node,
    choose_location,
    effective,
    invocations,
    parse_nginx,
    render,
    size_in_bytes,
    unit_settings,
    write_self_signed,
)
from tests.helpers.served import free_port
from tests.helpers.stores import POSTGRES_URL

NGINX_SITE = DEPLOY / "nginx" / "dissent.conf"
TORRC = DEPLOY / "tor" / "torrc.dissent"
REDIS_CONF = DEPLOY / "redis" / "dissent.conf"
SETUP_SQL = DEPLOY / "postgresql" / "setup.sql"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTANCE_FOLDER = "/var/lib/dissent/instance"
# Commands the files may name before they exist, each with the issue that brings it.
NOT_YET: dict[tuple[str, ...], str] = {}
# The attachment routes stream; every other route is buffered.
UPLOADS = {"attachments.source_upload", "attachments.adviser_upload"}
DOWNLOADS = {"attachments.source_download", "attachments.adviser_download"}
# Blocked on the onion address (every route only staff reach is under one of them).
STAFF_PREFIXES = ("/staff", "/adviser", "/leadership", "/oversight", "/admin")


# --- the commands the files name --------------------------------------------------------------


def _files_naming_commands() -> list[Path]:
    return sorted(
        path
        for path in DEPLOY.rglob("*")
        if path.is_file() and path.suffix not in (".sql",) and path.name != "render.sh"
    )


def _command(words: list[str]) -> tuple[click.Command, list[str]]:
    """Return the command ``words`` name and the words that name it; fail if there is none."""
    command: click.Command = cli
    path: list[str] = []
    for word in words:
        if not isinstance(command, click.Group):
            break  # an argument of the command
        sub = command.commands.get(word)
        assert sub is not None, f"dissent {' '.join([*path, word])}: no such command"
        command, path = sub, [*path, word]
    return command, path


def test_the_files_name_commands():
    named = [i for path in _files_naming_commands() for i in invocations(path)]
    assert len(named) > 20, "the parser found too few commands: the files or it changed"
    assert {("serve",), ("purge",), ("doctor",), ("init",)} <= {tuple(i.words[:1]) for i in named}


@pytest.mark.parametrize(
    "invocation",
    [i for path in _files_naming_commands() for i in invocations(path)],
    ids=lambda i: i.where[:80],
)
def test_every_command_and_option_named_exists(invocation):
    if tuple(invocation.words) in NOT_YET and invocation.words[0] not in cli.commands:
        return  # named as a future step (NOT_YET); checked once it exists
    command, path = _command(invocation.words)
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, f"{invocation.where}: {result.output}"
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
    unknown = [option for option in invocation.options if option not in known]
    assert unknown == [], f"{invocation.where}: dissent {' '.join(path)} has no {unknown}"


# --- nginx ------------------------------------------------------------------------------------


def _rendered_site(tmp_path: Path) -> str:
    write_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem")
    return render(
        NGINX_SITE,
        SERVER_NAME="localhost",
        CERT=str(tmp_path / "cert.pem"),
        KEY=str(tmp_path / "key.pem"),
        APP_HOSTS="127.0.0.1:8001 127.0.0.1:8002",
        HTTPS_LISTEN="127.0.0.1:18443",
        HTTP_LISTEN="127.0.0.1:18080",
        ONION_LISTEN="127.0.0.1:18081",
        STATIC_ROOT=str(static_dir()),
        ACME_ROOT=str(tmp_path),
    )


@pytest.fixture
def site(tmp_path) -> Node:
    return parse_nginx(_rendered_site(tmp_path))


def _servers(site: Node) -> dict[str, Node]:
    """Return the servers by role: tls, redirect, onion."""
    found: dict[str, Node] = {}
    for server in site.blocks("server"):
        listens = [" ".join(d.args) for d in server.all("listen")]
        if any("ssl" in listen for listen in listens):
            found["tls"] = server
        elif any(listen.startswith("127.0.0.1:18081") for listen in listens):
            found["onion"] = server
        else:
            found["redirect"] = server
    assert set(found) == {"tls", "redirect", "onion"}
    return found


def _sample_urls(app) -> dict[str, str]:
    """Return one URL for each route of the application, by endpoint."""
    adapter = app.url_map.bind("localhost")
    urls = {}
    for rule in app.url_map.iter_rules():
        values: dict[str, object] = {}
        for name, converter in rule._converters.items():
            kind = type(converter).__name__
            if "Int" in kind:
                values[name] = 123456789 if "Big" in kind else 12
            else:
                values[name] = "a/b" if "Path" in kind else "ABCD2345"
        urls[rule.endpoint] = adapter.build(rule.endpoint, values, method=sorted(rule.methods)[0])
    return urls


def test_there_is_no_address_in_the_nginx_site():
    raw = NGINX_SITE.read_text(encoding="utf-8")
    for variable in ("$remote_addr", "$realip_remote_addr", "$proxy_add_x_forwarded_for"):
        assert variable not in raw
    site = parse_nginx(raw)
    everything = _walk(site)
    assert not [d for d in everything if d.name in ("log_format", "set_real_ip_from")]
    assert not [d for d in everything if d.name == "real_ip_header"]
    assert {tuple(d.args) for d in everything if d.name == "access_log"} == {("off",)}
    for server in site.blocks("server"):
        assert server.value("access_log") == ["off"]
        assert server.value("server_tokens") == ["off"]
        assert server.value("more_clear_headers") == ["Server"]
        # Every line nginx logs about a request holds the client's address.
        assert server.value("error_log")[-1] == "emerg"


def _walk(block: Node) -> list[Node]:
    found = []
    for child in block.children or []:
        found.append(child)
        found.extend(_walk(child))
    return found


def test_dissent_is_told_nothing_about_the_visitor(site):
    for role in ("tls", "onion"):
        server = _servers(site)[role]
        headers = {d.args[0].lower(): d.args[1] for d in server.all("proxy_set_header")}
        for name in ("x-forwarded-for", "x-real-ip", "forwarded", "via", "user-agent"):
            assert headers.get(name) == "", f"{role}: {name} is passed on"
        assert server.value("gzip") == ["off"]
        for location in server.blocks("location"):
            assert location.value("proxy_set_header") is None  # it would drop the above


def test_every_route_only_staff_reach_is_kept_off_the_onion_address(app):
    urls = _sample_urls(app)
    staff_only = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if rule_for(view) not in (None, Access.PUBLIC, Access.SOURCE)
    }

    assert {"oversight.index", "admin.set_ladder"} <= staff_only
    assert {e for e in staff_only if not urls[e].startswith(STAFF_PREFIXES)} == set()


def test_only_the_attachment_routes_stream(app, site):
    urls = _sample_urls(app)
    assert set(urls) >= UPLOADS | DOWNLOADS
    for role in ("tls", "onion"):
        server = _servers(site)[role]
        blocked = set()
        for endpoint, url in urls.items():
            location = choose_location(server, url)
            if endpoint == "static":
                assert location is not None
                assert location.value("alias") == [f"{static_dir()}/"]
                continue
            assert location is not None, f"{role}: nothing answers {url}"
            if location.value("return") is not None:
                blocked.add(endpoint)
                continue
            assert location.value("proxy_pass") == ["http://dissent_app"], url
            request_streams = effective(server, location, "proxy_request_buffering", "on") == "off"
            answer_streams = effective(server, location, "proxy_buffering", "on") == "off"
            body = size_in_bytes(effective(server, location, "client_max_body_size", "1m"))
            assert request_streams == (endpoint in UPLOADS), f"{role}: {url}"
            assert answer_streams == (endpoint in UPLOADS | DOWNLOADS), f"{role}: {url}"
            if endpoint in UPLOADS:
                assert body == max_request_bytes(), f"{role}: {url}"
            else:
                assert body == MAX_FORM_BYTES, f"{role}: {url}"
                # The whole body in memory, never in a file: a form holds what was written.
                memory = size_in_bytes(
                    effective(server, location, "client_body_buffer_size", "16k")
                )
                assert memory >= body, f"{role}: {url}"
            assert effective(server, location, "proxy_max_temp_file_size", "1024m") == "0"
        staff_routes = {e for e, url in urls.items() if url.startswith(STAFF_PREFIXES)}
        assert blocked == (staff_routes if role == "onion" else set())


def test_the_site_speaks_modern_tls_to_several_app_hosts(site):
    tls = _servers(site)["tls"]
    assert tls.value("ssl_protocols") == ["TLSv1.2", "TLSv1.3"]
    assert tls.value("ssl_session_tickets") == ["off"]
    for cipher in tls.value("ssl_ciphers")[0].split(":"):
        assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
    hsts = [d.args for d in tls.all("add_header") if d.args[0] == "Strict-Transport-Security"]
    assert hsts and "max-age=63072000" in hsts[0][1]
    (upstream,) = site.blocks("upstream")
    assert [d.args[0] for d in upstream.all("server")] == ["127.0.0.1:8001", "127.0.0.1:8002"]
    onion = _servers(site)["onion"]
    assert [d.args for d in onion.all("listen")] == [["127.0.0.1:18081"]]


def test_nginx_accepts_the_rendered_site(tmp_path):
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (make system-deps installs it)")
    modules = Path("/etc/nginx/modules-enabled")
    if not list(modules.glob("*headers-more*")):
        pytest.skip("nginx's headers-more module is not installed (make system-deps)")
    (tmp_path / "site.conf").write_text(_rendered_site(tmp_path), encoding="utf-8")
    temp = tmp_path / "temp"
    temp.mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"include {modules}/*.conf;\n"
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    client_body_temp_path {temp}/body;\n"
        f"    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n"
        f"    uwsgi_temp_path {temp}/uwsgi;\n"
        f"    scgi_temp_path {temp}/scgi;\n"
        f"    include {tmp_path}/site.conf;\n"
        "}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [nginx, "-t", "-q", "-c", str(main)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# --- render.sh ------------------------------------------------------------------------------


def test_render_refuses_a_missing_or_dangerous_value(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as missing:
        render(NGINX_SITE, SERVER_NAME="localhost", CERT="/c", KEY="/k")
    assert "no value for APP_HOSTS" in missing.value.stderr
    with pytest.raises(subprocess.CalledProcessError) as dangerous:
        render(NGINX_SITE, SERVER_NAME="x; include /etc/passwd", CERT="/c", KEY="/k")
    assert "SERVER_NAME" in dangerous.value.stderr
    rendered = render(TORRC, HIDDEN_SERVICE_DIR=str(tmp_path))
    assert "@" not in rendered
    assert f"HiddenServiceDir {tmp_path}\n" in rendered


# --- Tor ------------------------------------------------------------------------------------


def test_the_onion_service_forwards_to_the_onion_server():
    site = parse_nginx(render(NGINX_SITE, SERVER_NAME="x", CERT="/c", KEY="/k", APP_HOSTS="a:1"))
    (onion_listen,) = [
        d.args[0]
        for server in site.blocks("server")
        for d in server.all("listen")
        if d.args[0].startswith("127.0.0.1:")
    ]
    torrc = render(TORRC).splitlines()
    assert "HiddenServiceVersion 3" in torrc
    assert f"HiddenServicePort 80 {onion_listen}" in torrc


def test_tor_accepts_the_snippet(tmp_path):
    tor = shutil.which("tor") or ("/usr/sbin/tor" if Path("/usr/sbin/tor").exists() else None)
    if tor is None:
        pytest.skip("tor is not installed (make system-deps installs it)")
    service = tmp_path / "onion"
    service.mkdir(mode=0o700)
    (tmp_path / "data").mkdir(mode=0o700)
    (tmp_path / "dissent.conf").write_text(
        render(TORRC, HIDDEN_SERVICE_DIR=str(service)), encoding="utf-8"
    )
    (tmp_path / "torrc").write_text(
        f"DataDirectory {tmp_path / 'data'}\nSocksPort 0\n%include {tmp_path / 'dissent.conf'}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [tor, "--verify-config", "-f", str(tmp_path / "torrc")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration was valid" in done.stdout


# --- systemd --------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_units_keep_their_sandbox(unit):
    settings = unit_settings(unit)

    def one(key: str) -> str:
        assert key in settings, f"{unit.name}: no {key}="
        return settings[key][-1]

    assert one("User") == "dissent"
    assert one("NoNewPrivileges") == "yes"
    assert one("CapabilityBoundingSet") == ""  # empty: no capability at all
    assert one("AmbientCapabilities") == ""
    assert one("ProtectSystem") == "strict"
    assert one("ProtectHome") == "yes"
    assert one("PrivateTmp") == "yes"
    assert one("PrivateDevices") == "yes"
    assert one("MemoryDenyWriteExecute") == "yes"
    assert one("RestrictAddressFamilies").split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    assert one("SystemCallArchitectures") == "native"
    allow, deny = settings["SystemCallFilter"]
    assert allow == "@system-service"
    assert deny.startswith("~") and "@privileged" in deny[1:].split()
    assert one("ReadWritePaths") == INSTANCE_FOLDER
    assert f"DISSENT_INSTANCE={INSTANCE_FOLDER}" in settings["Environment"]
    assert one("EnvironmentFile") == "/etc/dissent/dissent.env"
    assert one("UMask") == "0077"


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd is not installed here")
    dissent = Path(sys.executable).parent / "dissent"
    units = sorted((DEPLOY / "systemd").iterdir())
    for unit in units:
        # The installed program's path, as INSTALL.md puts it, is not on this machine.
        text_ = unit.read_text(encoding="utf-8").replace(
            "/opt/dissent/venv/bin/dissent", str(dissent)
        )
        (tmp_path / unit.name).write_text(text_, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / u.name) for u in units)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.skipif(not POSTGRES_URL, reason="needs DISSENT_TEST_DATABASE_URL (PostgreSQL)")
def test_the_database_script_gives_least_privilege():
    from dissent.database import make_engine
    from dissent.migrate import upgrade

    psql = shutil.which("psql")
    assert psql is not None, "psql is not installed (make system-deps installs it)"
    admin_url = make_url(POSTGRES_URL)
    tag = f"{os.getpid()}_{secrets.token_hex(3)}"
    role, other, database = f"dissent_deploy_{tag}", f"dissent_other_{tag}", f"dissent_db_{tag}"
    password = secrets.token_hex(16)
    libpq = {
        "PGHOST": admin_url.host or "",
        "PGPORT": str(admin_url.port or 5432),
        "PGUSER": admin_url.username or "",
        "PGPASSWORD": admin_url.password or "",
        "PGDATABASE": admin_url.database or "",
    }
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        for _ in range(2):  # a second run keeps what is there
            subprocess.run(
                [
                    psql,
                    "-X",
                    "-q",
                    "-v",
                    f"role={role}",
                    "-v",
                    f"db={database}",
                    "-f",
                    str(SETUP_SQL),
                ],
                env={**os.environ, **libpq},
                capture_output=True,
                text=True,
                check=True,
            )
        with admin.connect() as connection:
            connection.execute(text(f"ALTER ROLE {role} PASSWORD '{password}'"))
            connection.execute(text(f"CREATE ROLE {other} LOGIN PASSWORD '{password}'"))
            flags = connection.execute(
                text(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
                    " FROM pg_roles WHERE rolname = :r"
                ),
                {"r": role},
            ).one()
            assert not any(flags)
        as_role = admin_url.set(username=role, password=password, database=database)
        engine = make_engine(as_role.render_as_string(hide_password=False))
        try:
            upgrade(engine)  # the role creates and changes every table
            with engine.connect() as connection:
                assert connection.scalar(text("SHOW synchronous_commit")) == "on"
                owners = connection.scalars(
                    text(
                        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'public'"
                    )
                ).all()
                assert owners == [role]
        finally:
            engine.dispose()
        as_other = admin_url.set(username=other, password=password, database=database)
        stranger = create_engine(as_other.render_as_string(hide_password=False))
        try:
            with pytest.raises(OperationalError, match="CONNECT"), stranger.connect():
                pass
        finally:
            stranger.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{other}"'))
        admin.dispose()


# --- Redis ----------------------------------------------------------------------------------


def test_redis_keeps_nothing_and_evicts_nothing():
    rendered = render(REDIS_CONF, REDIS_PASSWORD="x").splitlines()
    lines = {line.split(None, 1)[0]: line for line in rendered if line and line[0] != "#"}
    assert lines["save"] == 'save ""'
    assert lines["appendonly"] == "appendonly no"
    assert lines["maxmemory-policy"] == "maxmemory-policy noeviction"
    assert lines["bind"] == "bind 127.0.0.1 -::1"
    assert lines["protected-mode"] == "protected-mode yes"


def test_dissent_works_as_the_redis_user(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("Redis is not installed")
    from dissent.security.ratelimit import RedisRateLimiter
    from dissent.security.session_store import RedisSessionStore

    password, port = secrets.token_hex(16), free_port()
    (tmp_path / "dissent.conf").write_text(render(REDIS_CONF, REDIS_PASSWORD=password))
    (tmp_path / "redis.conf").write_text(
        f"include {tmp_path / 'dissent.conf'}\nport {port}\ndir {tmp_path}\nbind 127.0.0.1\n"
    )
    process = subprocess.Popen(
        [server, str(tmp_path / "redis.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"redis://dissent:{password}@127.0.0.1:{port}/0"
        import redis

        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        store = RedisSessionStore(url)
        until = datetime.now(UTC) + timedelta(minutes=5)
        assert store.save(b"\x01" * 32, b"sealed", expires_at=until, new=True)
        assert store.save(b"\x01" * 32, b"sealed again", expires_at=until, new=False)
        assert store.load(b"\x01" * 32)[0] == b"sealed again"
        store.delete(b"\x01" * 32)
        assert store.load(b"\x01" * 32) is None
        limiter = RedisRateLimiter(url)
        assert [limiter.hit("probe", limit=1, window_seconds=60) for _ in range(2)] == [True, False]
        # ... and nothing beyond its own keys and commands.
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("elsewhere", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).ping()  # the default user is off
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_makefile_installs_what_these_tests_use():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile[makefile.index("system-deps:") :].split("\n\n", 1)[0]
    for package in ("nginx", "libnginx-mod-http-headers-more-filter", "tor"):
        assert package in target
