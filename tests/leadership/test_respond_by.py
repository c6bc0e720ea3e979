"""Leadership sees by when to respond, and gets the period's escalations as a table
for a spreadsheet (issue 12, item 9)."""

from __future__ import annotations

import csv
import io

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import update

from dissent.extensions import db
from dissent.models import Observation, today
from dissent.services.deadlines import add_months
from tests.helpers.casework import file_and_escalate
from tests.helpers.pages import BASE_URL, text_of
from tests.helpers.staff import login_staff


def leader_browser(new_client, leader):
    browser = new_client()
    login_staff(browser, leader)
    return browser


def test_the_list_and_the_escalation_say_by_when_to_respond(app, new_client, adviser, leader):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    browser = leader_browser(new_client, leader)
    due = add_months(today(), 3)  # acknowledged today: the source hears within 3 months

    listing = text_of(browser.get("/leadership/", base_url=BASE_URL))
    page = text_of(browser.get(sent.url, base_url=BASE_URL))

    assert "Respond by" in listing
    assert due.strftime("%b %-d, %Y") in listing
    assert "Respond by" in page
    assert due.strftime("%B %-d, %Y") in page
    assert "overdue" not in page


def test_a_late_response_is_marked_overdue(app, new_client, adviser, leader):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    with app.app_context(), db.unit():
        db.session.execute(update(Observation).values(acknowledged_on=add_months(today(), -4)))
    browser = leader_browser(new_client, leader)

    page = browser.get(sent.url, base_url=BASE_URL)
    listing = browser.get("/leadership/", base_url=BASE_URL)

    assert b'class="overdue"' in page.data and "(overdue)" in text_of(page)
    assert "(overdue)" in text_of(listing)


def test_the_report_offers_the_escalations_as_a_dutch_spreadsheet(app, new_client, adviser, leader):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    browser = leader_browser(new_client, leader)
    browser.get("/lang/nl", base_url=BASE_URL)
    period = {"start": today().replace(day=1).isoformat(), "end": today().isoformat()}

    report = browser.get("/leadership/report", query_string=period, base_url=BASE_URL)
    assert b"/leadership/report/escalations.csv" in report.data
    response = browser.get(
        "/leadership/report/escalations.csv", query_string=period, base_url=BASE_URL
    )

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    with app.test_request_context(), force_locale("nl"):
        header = _("Ledger number")
    assert rows[0][0] == header
    assert [row[0] for row in rows[1:]] == [sent.label]
