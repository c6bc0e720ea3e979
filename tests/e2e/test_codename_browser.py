"""Codenames in the source's language, and typos at login, in Chromium with JavaScript off,
on a 390 px phone and a desktop, in English and Dutch (issue 12, item 4).

* A codename made on a Dutch page is seven Dutch words, on an English page seven English
  ones; it opens the inbox from another browser; the page says nothing about printing.
* A typo on /login keeps what was typed and names the word that is in no list, by its
  place; the field is left alone by phone keyboards and spell checkers.
"""

from __future__ import annotations

from playwright.sync_api import expect

from dissent.crypto.codename import codename_wordlist, generate_codename
from tests.helpers.browser import BROWSER_MARKS

pytestmark = BROWSER_MARKS

OTHER = {"nl": "en", "en": "nl"}


def file_an_observation(page) -> None:
    page.goto("/submit")
    page.locator("textarea[name=what]").fill("The range log was signed before the shoot.")
    page.locator("input[name=category]").first.check()
    page.locator("input[name=contradicts][value=no]").check()
    page.locator("input[name=consent][value=ask_first]").check()
    page.locator("form button[type=submit]").last.click()


def test_the_codename_is_in_the_words_of_the_page_s_language(
    localized_page, fresh_context, language, view, shot
):
    page = localized_page
    file_an_observation(page)

    codename = page.locator("#codename").inner_text().strip()
    words = codename.split(" ")
    shot(page, f"{language}-{view}-codename")
    assert len(words) == 7
    assert set(words) <= set(codename_wordlist(language)), codename
    assert not set(words) & set(codename_wordlist(OTHER[language])), codename
    shown = page.locator("main").inner_text().lower()
    assert "print" not in shown and "afdruk" not in shown
    # The words open the inbox from another browser, typed in capitals.
    other = fresh_context().new_page()
    other.goto("/login")
    other.locator("input[name=codename]").fill(codename.upper())
    other.locator("form button[type=submit]").last.click()
    other.wait_for_url("**/inbox")


def test_a_typo_at_login_keeps_the_text_and_names_the_word(localized_page, language, view, shot):
    page = localized_page
    words = generate_codename(language=language).split(" ")
    words[2] = "Zzyzxq"
    typed = " ".join(words)
    page.goto("/login")
    field = page.locator("input[name=codename]")
    for name, value in {
        "autocomplete": "off",
        "autocapitalize": "none",
        "autocorrect": "off",
        "spellcheck": "false",
    }.items():
        assert field.get_attribute(name) == value, name

    field.fill(typed)
    page.locator("form button[type=submit]").last.click()

    expect(field).to_have_value(typed)
    errors = page.locator("#codename-errors")
    expect(errors).to_contain_text("3")
    expect(errors).to_contain_text("“Zzyzxq”")
    shot(page, f"{language}-{view}-login-typo")
