"""Steps that several browser tests take (a person's actions, not assertions)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import Translations
from playwright.sync_api import expect

from tests.factories import PASSWORD

TRANSLATIONS = Path(__file__).resolve().parents[2] / "marketplace" / "translations"


@cache
def _catalogue(language: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [language])


def ui(language: str, msgid: str, **values) -> str:
    """The page text for ``msgid`` in ``language``, from the compiled catalogue the app reads."""
    text = _catalogue(language).gettext(msgid)
    return text % values if values else text


def choose_language(page, language: str) -> None:
    page.select_option("#pref-language", language)
    page.locator("form.preferences button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def sign_in(page, user) -> None:
    page.goto("/signin")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()


def sign_out(page) -> None:
    page.locator(".site-nav form button[type=submit]").click()


def enter_card(page, number: str) -> None:
    # The emulator's Stripe.js draws plain inputs named by their placeholders.
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("30")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("10115")
