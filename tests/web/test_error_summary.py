"""The error summary of a refused form (issue 12, item 7): at the top of the content,
focused when the page loads, each error a link to its field, and "Error:" in the title."""

from __future__ import annotations

import html
import re

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from wtforms import Form, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from dissent.models import Role
from dissent.web.error_summary import FORM_EXPIRED, PageError, form_errors
from dissent.web.forms import CheckboxesField
from tests.helpers.casework import file_and_escalate
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import post_submission
from tests.helpers.staff import login_staff


def summary(response) -> str:
    """Return the error summary's HTML (the page must have one)."""
    found = re.search(rb'<section class="error-summary"[^>]*>.*?</section>', response.data, re.S)
    assert found, "no error summary on the page"
    return found.group(0).decode()


def links(response) -> list[tuple[str, str]]:
    """Return the summary's links as (target id, text)."""
    return [
        (target, html.unescape(text))
        for target, text in re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary(response))
    ]


def title(response) -> str:
    found = re.search(rb"<title>(.*?)</title>", response.data, re.S)
    assert found
    return html.unescape(found.group(1).decode()).strip()


def ids(response) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', response.data.decode())


# --- the form's errors ------------------------------------------------------------------------


class _Form(Form):
    name = StringField("Name", validators=[DataRequired("Give a name.")])
    choice = RadioField("Choice", choices=[SelectChoice("a", "A"), SelectChoice("b", "B")])
    boxes = CheckboxesField("Boxes", choices=[SelectChoice("a", "A"), SelectChoice("b", "B")])


def test_each_field_error_names_the_control_that_takes_focus(app):
    with app.test_request_context():
        form = _Form(data={})
        form.validate()
        form.choice.errors = ["Choose one."]
        form.boxes.errors = ["Tick one."]

        assert form_errors(form) == [
            PageError("Give a name.", "name"),
            PageError("Choose one.", "choice-0"),  # the group's first option, not the group
            PageError("Tick one.", "boxes-0"),  # ... and so for a list of checkboxes
        ]


def test_a_form_without_errors_has_none(app):
    with app.test_request_context():
        assert form_errors(_Form(data={"name": "x"})) == []


# --- a refused submission ------------------------------------------------------------------------


def test_a_refused_submission_starts_with_a_focused_summary_linking_each_field(client, adviser):
    blank = client.get("/submit", base_url=BASE_URL)
    response = post_submission(client, what="", consent="")

    assert b"error-summary" not in blank.data and not title(blank).startswith("Error")

    assert response.status_code == 400
    page = summary(response)
    assert 'tabindex="-1"' in page and " autofocus" in page
    # First in the content: nothing of the form before it.
    main = response.data.decode().split('<main id="main">', 1)[1]
    assert main.lstrip().startswith('<section class="error-summary"')
    targets = [target for target, _text in links(response)]
    assert targets == ["what", "consent-0"]
    for target in targets:
        assert target in ids(response), f"#{target} leads nowhere"
    assert title(response).startswith("Error: ")


def test_a_radio_groups_error_is_tied_to_its_fieldset(client, adviser):
    response = post_submission(client, consent="")

    fieldset = re.search(rb'<fieldset[^>]*id="consent-group"[^>]*>', response.data)
    assert fieldset, "the consent group has no fieldset of its own"
    described = re.search(rb'aria-describedby="([^"]+)"', fieldset.group(0))
    assert described and b"consent-errors" in described.group(1).split()
    assert b'id="consent-errors"' in response.data
    assert re.search(rb'<input[^>]*aria-invalid="true"[^>]*id="consent-0"', response.data) or (
        re.search(rb'<input[^>]*id="consent-0"[^>]*aria-invalid="true"', response.data)
    )


def test_dutch_titles_start_with_the_dutch_word_for_error(app, client, adviser):
    client.get("/lang/nl", base_url=BASE_URL)
    response = post_submission(client, what="")

    with app.test_request_context(), force_locale("nl"):
        prefix = _("Error:")
    assert title(response).startswith(prefix + " ")
    assert b'lang="nl"' in response.data
    assert summary(response)


def test_an_expired_form_is_explained_in_the_summary(client, adviser):
    page = client.get("/submit", base_url=BASE_URL)
    response = client.post(
        "/submit", data={"csrf_token": "stale", "what": "kept"}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert str(FORM_EXPIRED) in html.unescape(summary(response))
    assert csrf_from(page)


# --- staff forms ---------------------------------------------------------------------------------


def test_a_refused_leadership_response_starts_with_the_summary(app, new_client, adviser, leader):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    browser = new_client()
    login_staff(browser, leader)
    page = browser.get(sent.url, base_url=BASE_URL)
    response = browser.post(
        f"{sent.url}/respond",
        data={"csrf_token": csrf_from(page), "text": "Something was done."},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert links(response) == [("kind-0", "Choose what you decided.")]
    assert title(response).startswith("Error: ")


def test_the_admin_missions_list_is_labelled_and_its_id_unique(new_client, mission, make_staff):
    browser = new_client()
    login_staff(browser, make_staff(Role.ADMIN))
    response = browser.get("/admin/", base_url=BASE_URL)

    assert ids(response).count("missions") <= 1  # the section, or the select: not both
    select = re.search(rb'<select[^>]*name="missions"[^>]*>', response.data)
    assert select
    select_id = re.search(rb'id="([^"]+)"', select.group(0)).group(1)
    assert f'<label for="{select_id.decode()}">Missions</label>'.encode() in response.data


@pytest.mark.parametrize("path", ["/login"])
def test_the_codename_login_lists_its_error(client, adviser, path):
    page = client.get(path, base_url=BASE_URL)
    response = client.post(
        path, data={"csrf_token": csrf_from(page), "codename": ""}, base_url=BASE_URL
    )

    assert response.status_code in (400, 401)
    assert [target for target, _text in links(response)] == ["codename"]
