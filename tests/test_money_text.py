"""Does every page and mail write an amount with the same sign, whatever the language?"""

from __future__ import annotations

import pytest

from marketplace.i18n import currency_sign, money_text
from marketplace.money import Money


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_tenge_reads_with_its_sign_in_every_language(language):
    text = money_text(Money(6_000_000, "KZT"), language)
    assert "₸" in text and "KZT" not in text
    assert "60" in text and "000" in text


def test_the_language_keeps_its_own_pattern_and_symbols():
    assert money_text(Money(6_000_000, "KZT"), "en") == "₸60,000.00"
    assert money_text(Money(6_000_000, "KZT"), "ru") == "60\xa0000,00\xa0₸"
    assert money_text(Money(1999, "USD"), "en") == "$19.99"
    assert money_text({"amount": 1999, "currency": "EUR"}, "ru") == "19,99\xa0€"
    assert money_text(Money(3019, "JPY"), "en") == "¥3,019"


def test_a_currency_of_several_countries_keeps_what_the_language_says():
    assert currency_sign("CHF", "en") == "CHF"  # Switzerland and Liechtenstein
    assert currency_sign("EUR", "kk") == "€"


def test_nothing_to_write_is_empty():
    assert money_text(None, "en") == ""
