"""The public pages (dissent.public.views): open to anyone, no session, the language cookie."""

from __future__ import annotations

import pytest

from tests.helpers.pages import BASE_URL

PAGES = {
    "/": "Report what official reporting leaves out",
    "/anonymity": "How anonymity works, and its limits",
    "/after": "What happens after you report",
    "/channels": "External reporting channels",
}
ONE_YEAR = 365 * 24 * 3600


@pytest.mark.parametrize(("path", "headline"), PAGES.items())
def test_a_public_page_is_open_to_anyone_and_starts_no_session(client, path, headline):
    response = client.get(path, base_url=BASE_URL)

    assert response.status_code == 200
    assert f"<h1>{headline}</h1>" in response.get_data(as_text=True)
    assert response.headers.getlist("Set-Cookie") == []


def test_the_landing_page_leads_to_filing_logging_in_and_the_other_pages(client):
    html = client.get("/", base_url=BASE_URL).get_data(as_text=True)

    for target in ("/submit", "/login", "/anonymity", "/after", "/channels"):
        assert f'href="{target}"' in html, target


def test_the_health_check_says_ok_and_nothing_else(client):
    response = client.get("/healthz", base_url=BASE_URL)

    assert response.status_code == 200
    assert response.data == b"ok\n"
    assert response.mimetype == "text/plain"
    assert response.headers.getlist("Set-Cookie") == []


def test_the_language_cookie_is_kept_a_year_and_only_sent_back_to_this_site(client):
    response = client.get("/lang/nl", base_url=BASE_URL)

    [cookie] = response.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=", 1)[0].lower(): part for part in cookie.split(";")}
    assert cookie.startswith("lang=nl;")
    assert f"Max-Age={ONE_YEAR}" in attributes["max-age"]
    assert {"secure", "httponly", "path"} <= set(attributes)
    assert attributes["path"].strip() == "Path=/"
    assert attributes["samesite"].strip() == "SameSite=Strict"


def test_switching_without_a_page_to_return_to_goes_to_the_landing_page(client):
    response = client.get("/lang/nl", base_url=BASE_URL)

    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_switching_returns_to_the_page_with_its_query(client):
    response = client.get("/lang/en", query_string={"next": "/login?expired=1"}, base_url=BASE_URL)

    assert response.headers["Location"] == "/login?expired=1"
