"""`dissent init`, `dissent demo` and `dissent serve`: instances made, refused and served."""

from __future__ import annotations

import itertools
import json
import os
import re
import stat

import pytest
from gunicorn.app.base import BaseApplication
from sqlalchemy import select

from dissent.app import create_app
from dissent.cli import instance as instance_cli
from dissent.crypto import KeyKind, generate_identity, identity_from_secret
from dissent.crypto.codename import LEGACY_WORDLIST, _load_wordlist, codename_wordlist
from dissent.crypto.errors import KeyFormatError
from dissent.crypto.shamir import combine_shares, parse_share
from dissent.extensions import db
from dissent.models import Mission, Role, StaffUser
from dissent.services.instance import DEMO_MARKER
from tests.helpers.cli import assert_one_line_error, run
from tests.helpers.health import HOUR, blob_files, downgrade, instance_file_of, part_file
from tests.helpers.instances import SHARE, recovery_recipient
from tests.helpers.staff import StaffLogin, login_staff


@pytest.fixture
def served(monkeypatch):
    """Stand in for gunicorn's arbiter; collect the applications it would have run."""
    started = []

    def run_instead(server: BaseApplication) -> None:
        started.append(server)

    monkeypatch.setattr(BaseApplication, "run", run_instead)
    return started


# --- init -------------------------------------------------------------------------------------


# These commands make their own SQLite instances whatever the test database is, so the
# PostgreSQL run would only repeat them.
@pytest.mark.sqlite_only
def test_init_creates_an_owner_only_instance_file_and_the_recovery_ceremony(tmp_path):
    path = tmp_path / "inst"

    result = run("init", "--instance", str(path))

    assert result.exit_code == 0, result.stderr
    instance_file = path / "dissent.json"
    assert stat.S_IMODE(os.stat(instance_file).st_mode) == 0o600
    settings = json.loads(instance_file.read_text())
    assert settings["recovery_recipient"] == recovery_recipient(result)
    assert recovery_recipient(result).startswith("age1pq1")
    shares = SHARE.findall(result.stdout)
    assert [int(number) for number, _ in shares] == [1, 2, 3, 4, 5]
    assert "any 3 of which recover it" in result.stdout
    # The shares are printed, never stored.
    for _, share in shares:
        for file in path.iterdir():
            if file.is_file():
                assert share.encode() not in file.read_bytes()


@pytest.mark.sqlite_only
def test_any_threshold_of_the_printed_shares_recovers_the_recovery_key(tmp_path):
    result = run("init", "--instance", str(tmp_path / "inst"), "--custodians", "4")
    shares = [parse_share(text) for _, text in SHARE.findall(result.stdout)]
    assert len(shares) == 4

    for chosen in itertools.combinations(shares, 3):
        secret = combine_shares(list(chosen))
        identity = identity_from_secret(secret, kind=KeyKind.HYBRID)
        assert identity.recipient.encode() == recovery_recipient(result)
    with pytest.raises(KeyFormatError):
        combine_shares(shares[:2])


@pytest.mark.sqlite_only
def test_init_with_x25519_keys(tmp_path):
    result = run("init", "--instance", str(tmp_path / "inst"), "--key-kind", "x25519")
    shares = [parse_share(text) for _, text in SHARE.findall(result.stdout)][:3]

    identity = identity_from_secret(combine_shares(shares), kind=KeyKind.X25519)

    assert identity.recipient.encode() == recovery_recipient(result)
    assert re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", recovery_recipient(result))


@pytest.mark.sqlite_only
def test_init_refuses_to_run_twice(tmp_path):
    path = tmp_path / "inst"
    run("init", "--instance", str(path))
    before = (path / "dissent.json").read_bytes()

    message = assert_one_line_error(run("init", "--instance", str(path)))

    assert "exists already" in message
    assert (path / "dissent.json").read_bytes() == before


@pytest.mark.sqlite_only
def test_init_refuses_a_threshold_above_the_custodians(tmp_path):
    path = tmp_path / "inst"

    message = assert_one_line_error(
        run("init", "--instance", str(path), "--threshold", "4", "--custodians", "3")
    )

    assert "--threshold" in message
    assert not (path / "dissent.json").exists()


@pytest.mark.sqlite_only
def test_init_with_a_recovery_recipient_made_offline_prints_no_shares(tmp_path):
    offline = generate_identity(KeyKind.HYBRID).recipient.encode()
    path = tmp_path / "inst"

    result = run("init", "--instance", str(path), "--recovery-recipient", offline)

    assert result.exit_code == 0, result.stderr
    assert recovery_recipient(result) == offline
    assert json.loads((path / "dissent.json").read_text())["recovery_recipient"] == offline
    assert not SHARE.findall(result.stdout)
    assert "Recovery key:" not in result.stdout


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        (generate_identity(KeyKind.X25519).recipient.encode(), "key kind"),
        ("age1notarecipient", "Bech32"),
    ],
    ids=["other-kind", "malformed"],
)
def test_init_refuses_an_unusable_recovery_recipient_and_creates_nothing(
    tmp_path, recipient, expected
):
    path = tmp_path / "inst"

    message = assert_one_line_error(
        run("init", "--instance", str(path), "--recovery-recipient", recipient)
    )

    assert expected in message
    assert not (path / "dissent.json").exists()


@pytest.mark.sqlite_only
def test_init_keeps_the_database_url_it_was_given(tmp_path):
    path, database = tmp_path / "inst", tmp_path / "elsewhere.sqlite3"

    result = run("init", "--instance", str(path), "--database-url", f"sqlite:///{database}")

    assert result.exit_code == 0, result.stderr
    assert json.loads((path / "dissent.json").read_text())["database_url"] == (
        f"sqlite:///{database}"
    )
    assert database.is_file()  # migrated there, not in the instance folder
    assert not (path / "dissent.sqlite3").exists()


def test_init_refuses_a_threshold_below_two(tmp_path):
    result = run("init", "--instance", str(tmp_path / "inst"), "--threshold", "1")

    assert result.exit_code == 2
    assert "--threshold" in result.stderr
    assert not (tmp_path / "inst").exists()


# --- demo -------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_demo_writes_logins_that_work(tmp_path):
    path, credentials = tmp_path / "demo", tmp_path / "logins.json"

    result = run(
        "demo", "--no-serve", "--instance", str(path), "--credentials-file", str(credentials)
    )

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    logins = json.loads(credentials.read_text())
    assert set(logins) == {"adviser", "leadership", "oversight", "admin"}
    for login in logins.values():
        assert set(login) == {"username", "password", "totp_secret"}
        assert login["password"] in result.stdout
    app = create_app({"INSTANCE_PATH": str(path)})
    try:
        homes = {}
        for role, login in logins.items():
            page = login_staff(
                app.test_client(),
                StaffLogin(id=0, role=Role(role), **login),
            )
            homes[role] = page.status_code
        assert homes == {"adviser": 200, "leadership": 200, "oversight": 200, "admin": 200}
    finally:
        db.engine(app).dispose()


@pytest.mark.sqlite_only
def test_demo_refuses_to_wipe_a_real_instance(tmp_path):
    path = tmp_path / "inst"
    run("init", "--instance", str(path))
    before = {f.name: f.read_bytes() for f in path.iterdir() if f.is_file()}

    message = assert_one_line_error(run("demo", "--no-serve", "--instance", str(path)))

    assert "real instance" in message
    assert {f.name: f.read_bytes() for f in path.iterdir() if f.is_file()} == before


@pytest.mark.sqlite_only
def test_demo_replaces_an_earlier_demo_and_serves_it(tmp_path, monkeypatch):
    path = tmp_path / "demo"
    path.mkdir()
    (path / DEMO_MARKER).write_text("an earlier demo\n")
    (path / "leftover.txt").write_text("from the earlier demo")
    monkeypatch.setattr(instance_cli, "_seed_demo", lambda app: {})
    calls = []
    monkeypatch.setattr(instance_cli, "run_server", lambda app, **kw: calls.append(kw))

    result = run("demo", "--instance", str(path), "--port", "8123")

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert not (path / "leftover.txt").exists()
    assert (path / DEMO_MARKER).is_file()
    shares = (path / "recovery-shares.txt").read_text().split("\n")[:-1]
    assert len(shares) == 3
    assert stat.S_IMODE((path / "recovery-shares.txt").stat().st_mode) == 0o600
    assert calls == [{"host": "127.0.0.1", "port": 8123, "workers": 2}]
    assert "http://127.0.0.1:8123/staff/login" in result.stdout


def test_the_demo_seed_makes_one_mission_and_four_logins(app):
    logins = instance_cli._seed_demo(app)

    assert {role: login["username"] for role, login in logins.items()} == {
        "adviser": "adviser",
        "leadership": "leader",
        "oversight": "oversight",
        "admin": "admin",
    }
    assert len({login["password"] for login in logins.values()}) == 4
    with app.app_context():
        oversight = db.session.scalar(select(StaffUser).where(StaffUser.username == "oversight"))
        assert (oversight.role, oversight.email) == (Role.OVERSIGHT, "oversight@demo.invalid")
    with app.app_context():
        missions = db.session.query(Mission).all()
    assert [(m.slug, m.name) for m in missions] == [("demo", "Demo mission")]
    page = login_staff(app.test_client(), StaffLogin(id=0, role=Role.ADVISER, **logins["adviser"]))
    assert page.status_code == 200


# --- serve ------------------------------------------------------------------------------------


def test_the_server_keeps_no_access_log_and_serves_the_application(app, served):
    instance_cli.run_server(app, host="0.0.0.0", port=8080, workers=3)

    [server] = served
    assert server.cfg.accesslog is None
    assert server.cfg.bind == ["0.0.0.0:8080"]
    assert server.cfg.workers == 3
    assert server.cfg.forwarded_allow_ips == []
    assert server.load() is app


def test_serve_without_an_instance_says_to_run_init(tmp_path, served):
    message = assert_one_line_error(run("serve", instance=tmp_path / "nothing-here"))

    assert "dissent init" in message
    assert served == []


def test_serve_refuses_a_worker_count_out_of_range(tmp_path, served):
    result = run("serve", "--workers", "0", instance=tmp_path / "nothing-here")

    assert result.exit_code == 2
    assert "--workers" in result.stderr
    assert served == []


@pytest.mark.parametrize("revision", ["-1", "base"], ids=["behind", "empty"])
def test_serve_refuses_a_database_without_the_latest_schema(app, config, served, revision):
    instance = instance_file_of(config).parent
    downgrade(db.engine(app), revision)

    message = assert_one_line_error(run("serve", instance=instance))

    assert message.startswith("error: not serving: the database ")
    assert message.endswith("; fix: dissent db upgrade")
    assert served == []


def test_serve_refuses_a_database_it_cannot_reach(config, served):
    config = {**config, "DATABASE_URL": "postgresql+psycopg://dissent:pw-secret@127.0.0.1:1/x"}
    instance = instance_file_of(config).parent

    message = assert_one_line_error(run("serve", instance=instance))

    assert "not serving: cannot reach the database" in message
    assert "pw-secret" not in message
    assert served == []


def test_serve_at_the_latest_schema_removes_stale_parts_and_starts(app, config, served):
    instance = instance_file_of(config).parent
    settings = app.extensions["dissent.settings"]
    stale = [part_file(settings, age_seconds=2 * HOUR) for _ in range(2)]
    fresh = part_file(settings, age_seconds=0)  # an upload arriving right now

    result = run("serve", "--port", "8124", instance=instance)

    assert result.exit_code == 0, (result.stderr, result.exception)
    [server] = served
    assert server.cfg.bind == ["127.0.0.1:8124"]
    assert blob_files(settings) == {fresh.name}
    assert result.stdout == (
        "Removed 2 partial upload file(s) left by uploads that did not finish.\n"
    )
    assert not any(path.name in result.stdout for path in stale)


def test_demo_passwords_are_words_of_the_cleaned_english_list():
    english, old = set(codename_wordlist("en")), set(_load_wordlist(LEGACY_WORDLIST))
    # A password joins its words with hyphens, and a few words have one ("t-shirt").
    pieces = {piece for word in english for piece in word.split("-")}
    for _ in range(50):
        words, number = instance_cli._demo_password().rsplit("-", 1)
        assert 0 <= int(number) < 100
        assert set(words.split("-")) <= pieces
    # The words the cleaning took out ("badass", "jockstrap", ...) are not among them.
    assert "jockstrap" in old and "jockstrap" not in pieces
