"""The public pages (dissent.public.views): open to anyone, no session, the language cookie."""

from __future__ import annotations

import json
import re

import pytest

from dissent.app import create_app
from tests.helpers.pages import BASE_URL, text_of

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


# --- who runs the channel, protection, other channels (issue 12, item 10) ---------------------


@pytest.mark.parametrize("path", ["/", "/anonymity"])
def test_the_pages_say_who_runs_the_channel_and_that_they_cannot_read(client, path):
    text = text_of(client.get(path, base_url=BASE_URL))

    assert "Who runs this channel" in text
    assert "run for the confidential advisers (vertrouwenspersonen) of the missions" in text
    assert "hold no key to what you write and cannot read it" in text


@pytest.mark.parametrize("path", ["/", "/anonymity"])
def test_an_instance_names_who_runs_it_in_its_own_words(config, path):
    app = create_app({**config, "OPERATED_BY": "The <b>integrity office</b> of the ministry"})

    page = app.test_client().get(path, base_url=BASE_URL).get_data(as_text=True)

    assert "The &lt;b&gt;integrity office&lt;/b&gt; of the ministry" in page  # text, not markup
    assert "run for the confidential advisers" not in page


def test_the_landing_page_states_the_protection_against_retaliation_as_information(client):
    page = client.get("/", base_url=BASE_URL)
    text = text_of(page)

    assert "Protection against retaliation" in text
    assert "Wet bescherming klokkenluiders" in text
    assert "vermoeden van een misstand" in text and "benadeling" in text
    assert "your employer must prove that this was not because of your report" in text
    assert "This is general information, not legal advice." in text
    section = re.search(
        r'<section class="protection".*?</section>', page.get_data(as_text=True), re.S
    )
    assert 'href="/channels"' in section.group(0)  # how to reach the Huis voor Klokkenluiders


BUILT_IN_NUMBERS = {
    "Huis voor Klokkenluiders": ["088 133 10 00"],
    "Centrale Organisatie Integriteit Defensie, COID": ["0800-22 55 733", "+31 70 414 33 00"],
    "Koninklijke Marechaussee": ["0800-1814"],
    "Police: Veiligheid, Integriteit en Klachten (VIK)": [],
}


def listed(page) -> dict[str, str]:
    """Return each channel's entry on /channels, as text, by its name."""
    html = page.get_data(as_text=True)
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.S)
    return {
        " ".join(name.split()): " ".join(re.sub("<[^>]+>", " ", dd).split()) for name, dd in pairs
    }


def test_the_channels_page_lists_defence_marechaussee_and_police_with_numbers(client):
    entries = listed(client.get("/channels", base_url=BASE_URL))

    for name, numbers in BUILT_IN_NUMBERS.items():
        [entry] = [text for title, text in entries.items() if name in title]
        for number in numbers:
            assert f"Phone: {number}" in entry
        if not numbers:
            assert "Phone:" not in entry and "Site: politie.nl" in entry


def test_an_instance_replaces_the_channels_with_its_own_list(config, tmp_path):
    path = tmp_path / "my-channels.json"
    path.write_text(
        json.dumps(
            [
                {
                    "name": {"en": "Integrity desk", "nl": "Integriteitsloket"},
                    "about": {"en": "For integrity reports.", "nl": "Voor integriteitsmeldingen."},
                    "phones": [{"number": "070 000 00 00", "note": {"nl": "werkdagen"}}],
                    "site": "example.org",
                }
            ]
        ),
        encoding="utf-8",
    )
    client = create_app({**config, "CHANNELS_FILE": str(path)}).test_client()

    english = listed(client.get("/channels", base_url=BASE_URL, headers={"Accept-Language": "en"}))
    dutch = listed(client.get("/channels", base_url=BASE_URL, headers={"Accept-Language": "nl"}))

    # A text the file gives in one language only is shown in that language.
    shown = "For integrity reports. Phone: 070 000 00 00 (werkdagen) Site: example.org"
    assert english == {"Integrity desk": shown}
    assert list(dutch) == ["Integriteitsloket"]
    assert "Voor integriteitsmeldingen." in dutch["Integriteitsloket"]


def test_every_public_and_source_page_links_the_channels_in_its_footer(client, adviser):
    paths = ["/", "/anonymity", "/after", "/submit", "/login"]
    for path in paths:
        html = client.get(path, base_url=BASE_URL).get_data(as_text=True)
        footer = re.search(r'<footer class="site">.*?</footer>', html, re.S).group(0)
        assert 'href="/channels"' in footer, path
