"""A source's side in tests: filing observations, logging in, replying."""

from __future__ import annotations

import re

from tests.helpers.pages import BASE_URL, csrf_from, hidden


def mission_choices(page) -> list[str]:
    """Return the mission ids the form offers (hidden input or select options)."""
    hidden_input = re.search(rb'<input type="hidden" name="mission" value="(\d+)">', page.data)
    if hidden_input:
        return [hidden_input.group(1).decode()]
    select_html = re.search(rb'<select[^>]*name="mission"[^>]*>(.*?)</select>', page.data, re.S)
    assert select_html, "the form offers no mission"
    return [v.decode() for v in re.findall(rb'<option[^>]*value="(\d+)"', select_html.group(1))]


def form_data(page, **overrides) -> dict[str, str]:
    """Return a complete, valid submission for the form in ``page``."""
    data = {
        "csrf_token": csrf_from(page),
        "submit_token": hidden(page, "submit_token"),
        "mission": mission_choices(page)[0],
        "category": "reporting_accuracy",
        "what": "The training attendance figures were inflated.",
        "when": "last_month",
        "where": "",
        "contradicts": "yes",
        "official_report": "Q3 progress report",
        "consent": "ask_first",
    }
    data.update(overrides)
    return data


def post_submission(client, **overrides):
    """Open the form in ``client`` and send it with ``overrides``; return the response."""
    page = client.get("/submit", base_url=BASE_URL)
    return client.post("/submit", data=form_data(page, **overrides), base_url=BASE_URL)


def shown_codename(page) -> str:
    """Return the codename on the codename page."""
    match = re.search(rb'id="codename"[^>]*>([^<]*)<', page.data)
    assert match, "no codename on the page"
    return match.group(1).decode()


def submit_observation(client, *, what: str, confirm: bool = True, **fields) -> str:
    """File an observation through the form; return the codename shown.

    ``fields`` override the form's other answers (``mission`` picks one of several);
    with ``confirm`` the source also says the codename is saved and reaches the inbox.
    """
    page = post_submission(client, what=what, **fields)
    assert page.status_code == 200, page.data.decode()[:2000]
    codename = shown_codename(page)
    if confirm:
        response = client.post(
            "/submit/codename",
            data={"csrf_token": csrf_from(page), "saved": "y"},
            base_url=BASE_URL,
        )
        assert response.status_code == 303
    return codename


def file_observation(client, *, what: str, mission_id: int | None = None, **fields) -> str:
    """File an observation that names no official report, to ``mission_id`` if given."""
    fields.setdefault("official_report", "")
    if mission_id is not None:
        fields["mission"] = str(mission_id)
    return submit_observation(client, what=what, **fields)


def file_to_mission(client, mission_id: int, *, what: str) -> str:
    """File an observation to one mission (the form may show a selector); return the codename."""
    return submit_observation(client, what=what, mission=str(mission_id))


ACK_TEXT = (
    b"Your observation has been received and read by a confidential adviser. You will hear "
    b"from us here; within three months you will hear what has been done with it."
)


def source_login(client, codename: str):
    """Send the codename login form; return the response."""
    page = client.get("/login", base_url=BASE_URL)
    return client.post(
        "/login", data={"csrf_token": csrf_from(page), "codename": codename}, base_url=BASE_URL
    )


def source_reply(client, ref: str, text: str):
    """Send a message from the inbox; return the response."""
    page = client.get("/inbox", base_url=BASE_URL)
    return client.post(
        f"/inbox/{ref}/reply", data={"csrf_token": csrf_from(page), "text": text}, base_url=BASE_URL
    )
