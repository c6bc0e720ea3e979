"""What templates get: file sizes for people, the upload limits, the CSRF token, dates."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from flask_babel import force_locale

from dissent.app import create_app
from dissent.services import attachments
from dissent.web.forms import check_csrf_token
from dissent.web.templating import MIB, filesize


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1023, "1,023 bytes"),
        (1024, "1 KB"),
        (1536, "1.5 KB"),
        (1000 * 1024, "1,000 KB"),
        (MIB, "1 MB"),
        (int(2.5 * MIB), "2.5 MB"),
        (1234567890, "1,177.4 MB"),
    ],
)
def test_a_file_size_is_shown_in_bytes_kb_or_mb_in_powers_of_1024(app, size, shown):
    with app.test_request_context():
        assert filesize(size) == shown


def test_a_file_size_uses_the_readers_decimal_comma_in_dutch(app):
    with app.test_request_context(), force_locale("nl"):
        assert filesize(1536) == "1,5 KB"
        assert filesize(1234567890) == "1.177,4 MB"
        assert filesize(5) == "5 bytes"


def test_templates_can_show_the_upload_limits_as_file_sizes(app):
    template = app.jinja_env.from_string(
        "{{ attachment_limits()['file']|filesize }}/{{ attachment_limits()['count'] }}"
        "/{{ attachment_limits()['total']|filesize }}"
    )

    with app.test_request_context():
        shown = template.render()
        expected = (
            f"{filesize(attachments.MAX_ATTACHMENT_BYTES)}"
            f"/{attachments.MAX_ATTACHMENTS_PER_OBSERVATION}"
            f"/{filesize(attachments.MAX_TOTAL_BYTES_PER_OBSERVATION)}"
        )

    assert shown == expected


def test_templates_get_the_sessions_csrf_token(app):
    template = app.jinja_env.from_string("{{ csrf_token() }}")

    with app.test_request_context():
        shown = template.render()
        check_csrf_token(shown)  # raises unless it is this session's token


def test_templates_format_dates_in_the_readers_language(app):
    template = app.jinja_env.from_string("{{ day|format_date('long') }}")

    with app.test_request_context():
        english = template.render(day=date(2024, 3, 5))
        with force_locale("nl"):
            dutch = template.render(day=date(2024, 3, 5))

    assert english == "March 5, 2024"
    assert dutch == "5 maart 2024"


def test_staff_times_are_exact_to_the_minute_and_name_their_time_zone(app):
    template = app.jinja_env.from_string("{{ at|staff_time }}")
    at = datetime(2026, 12, 5, 14, 3, 59)  # stored as naive UTC

    with app.test_request_context():
        english = template.render(at=at)
        with force_locale("nl"):
            dutch = template.render(at=at)

    assert english == "5 Dec 2026 14:03 UTC"
    assert dutch == "5 dec 2026 14:03 UTC"


def test_pages_are_named_neutrally_in_the_readers_language(client):
    english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    dutch = client.get("/", headers={"Accept-Language": "nl"}).get_data(as_text=True)

    assert "<title>Confidential channel</title>" in english
    assert "<title>Vertrouwelijk meldpunt</title>" in dutch
    assert "dissent" not in english.lower() and "dissent" not in dutch.lower()


def test_an_instance_can_give_its_channel_its_own_name(config):
    app = create_app({**config, "SITE_NAME": "  Meldpunt   Missie Noord "})

    page = app.test_client().get("/", headers={"Accept-Language": "nl"}).get_data(as_text=True)

    assert "<title>Meldpunt Missie Noord</title>" in page
    assert '<a class="brand" href="/">Meldpunt Missie Noord</a>' in page
