"""Malformed input is refused with a 400 and the form's message, or is no page: never a
500 (issue 15, finding 15). Run on SQLite and again on PostgreSQL, which refuses a NUL
in text and an id past its integer range where SQLite does not."""

from __future__ import annotations

import gc
import io
import re

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from dissent.extensions import db
from dissent.models import Attachment, Mission, Role
from dissent.security.policy import Access, rule_for
from tests.helpers.pages import BASE_URL, csrf_from, field_errors
from tests.helpers.routes import build_world, methods_of
from tests.helpers.source import file_observation
from tests.helpers.staff import login_staff

CONTROL_MESSAGE = "Remove the control characters"
# Values past PostgreSQL's integer, and past SQLite's (and PostgreSQL's bigint) range.
HUGE = (2**31, 2**63, 2**64)


@pytest.fixture
def source(app, mission, adviser, new_client):
    browser = new_client()
    file_observation(browser, what="The attendance lists were filled in afterwards.")
    return browser


def test_an_attachment_post_that_is_not_multipart_gets_the_forms_message(app, source):
    inbox = source.get("/inbox", base_url=BASE_URL)
    ref = inbox.data.split(b"/attachments")[0].rsplit(b"/inbox/", 1)[1].decode()

    response = source.post(
        f"/inbox/{ref}/attachments",
        data={"csrf_token": csrf_from(inbox), "file": "not a file"},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert b"Choose a file first." in response.data
    with app.app_context():
        assert db.session.scalars(select(Attachment)).all() == []


@pytest.mark.parametrize(
    "name", ["EU\x00POL", "EU\x07POL", "EU\x1bPOL", "EU\x7fPOL", "EU\u0085POL", "EU\nPOL"]
)
def test_a_mission_name_with_a_control_character_is_refused_next_to_the_field(
    app, new_client, make_staff, name
):
    admin = new_client()
    login_staff(admin, make_staff(Role.ADMIN))
    page = admin.get("/admin/", base_url=BASE_URL)

    # Multipart, as a browser may send any form: the body reaches the form itself.
    response = admin.post(
        "/admin/missions",
        data={"csrf_token": csrf_from(page), "slug": "eupol-nul", "name": name},
        content_type="multipart/form-data",
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert any(CONTROL_MESSAGE in error for error in field_errors(response, "name"))
    with app.app_context():
        assert db.session.scalars(select(Mission)).all() == []


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "application/x-www-form-urlencoded"]
)
def test_a_staff_username_with_a_nul_is_refused_next_to_the_field(
    app, client, adviser, content_type
):
    page = client.get("/staff/login", base_url=BASE_URL)

    response = client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_from(page),
            "username": adviser.username + "\x00",
            "password": adviser.password,
        },
        content_type=content_type,
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert any(CONTROL_MESSAGE in error for error in field_errors(response, "username"))


def test_a_file_sent_under_a_text_fields_name_is_no_text(app, source):
    inbox = source.get("/inbox", base_url=BASE_URL)
    ref = inbox.data.split(b"/reply")[0].rsplit(b"/inbox/", 1)[1].decode()

    response = source.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(inbox), "text": (io.BytesIO(b"a file"), "note.txt")},
        content_type="multipart/form-data",
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert b"Write a message first." in response.data


def test_a_multipart_body_that_breaks_off_inside_a_file_is_refused(client):
    page = client.get("/staff/login", base_url=BASE_URL)
    body = (
        b'--cut\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + csrf_from(page).encode()
        + b'\r\n--cut\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n'
        + b"x" * 1000
    )

    # Werkzeug's own parser would leave a temporary file open (a ResourceWarning, which
    # the suite makes an error); file parts outside the upload routes stay in memory.
    response = client.post(
        "/staff/login",
        data=body,
        content_type="multipart/form-data; boundary=cut",
        base_url=BASE_URL,
    )
    gc.collect()

    assert response.status_code == 400


def test_a_long_text_keeps_its_line_breaks_and_tabs(app, source):
    inbox = source.get("/inbox", base_url=BASE_URL)
    ref = inbox.data.split(b"/reply")[0].rsplit(b"/inbox/", 1)[1].decode()

    response = source.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(inbox), "text": "First line\r\n\tindented second line"},
        base_url=BASE_URL,
    )

    assert response.status_code == 303


@pytest.mark.parametrize(
    "target",
    [
        "/inbox\r\nSet-Cookie: planted=1",
        "/inbox\nLocation: https://elsewhere.example/",
        "/\x7f",
        "/\x1b[31m",
        "/ //elsewhere.example",
        "/\\elsewhere.example",
        "//elsewhere.example/",
        "https://elsewhere.example/",
    ],
)
def test_the_language_switch_returns_only_to_a_safe_path_of_this_site(client, target):
    response = client.get("/lang/nl", query_string={"next": target}, base_url=BASE_URL)

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert "planted" not in str(response.headers)


def test_the_language_switch_returns_to_the_page_it_was_on(client):
    response = client.get(
        "/lang/nl", query_string={"next": "/leadership/report?start=2027-01-01"}, base_url=BASE_URL
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/leadership/report?start=2027-01-01"


# A page of each principal that carries the session's CSRF token.
TOKEN_PAGE = {
    "anonymous": "/submit",
    "source": "/inbox",
    "adviser": "/adviser/",
    "leadership": "/leadership/",
    "oversight": "/oversight/",
    "admin": "/admin/",
}
PRINCIPAL_OF = {
    Access.PUBLIC: "anonymous",
    Access.SOURCE: "source",
    Access.ADVISER: "adviser",
    Access.LEADERSHIP: "leadership",
    Access.OVERSIGHT: "oversight",
    Access.ADMIN: "admin",
}
PLACEHOLDER = re.compile(r"<(?:[^<>]*:)?(\w+)>")


def _int_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values())
    ]


def _url(rule, values) -> str:
    """Return the path of ``rule`` with ``values`` written in as they are (the rule's own
    converter would refuse to build a number past its range)."""
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), rule.rule)


def test_every_integer_in_a_path_past_the_databases_range_is_no_page(
    app, mission, new_client, make_staff
):
    world = build_world(app, new_client, make_staff, mission_id=mission.id)
    rules = _int_rules(app)
    assert len(rules) >= 5  # the review found five; every one is checked

    answers = {}
    for rule in rules:
        principal = PRINCIPAL_OF[rule_for(app.view_functions[rule.endpoint])]
        client = world.clients[principal]
        token = csrf_from(client.get(TOKEN_PAGE[principal], base_url=BASE_URL))
        integers = {name for name, c in rule._converters.items() if isinstance(c, IntegerConverter)}
        for method in methods_of(rule):
            for value in HUGE:
                url = _url(rule, world.values | dict.fromkeys(integers, value))
                if method == "GET":
                    response = client.get(url, base_url=BASE_URL)
                else:
                    response = client.post(url, data={"csrf_token": token}, base_url=BASE_URL)
                answers[(method, rule.rule, value)] = response.status_code

    assert {key: status for key, status in answers.items() if status != 404} == {}
