"""Languages and presentment currency for HTML pages (Flask-Babel).

Each visitor's choice is kept in the signed session cookie; a signed-in user's saved
preference and the browser's Accept-Language fill in until they choose.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache

from babel import Locale
from babel.core import get_global
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import get_timezone_gmt
from babel.numbers import format_currency, get_currency_symbol, get_territory_currencies
from flask import Flask, current_app, request, session
from flask_babel import Babel, format_date, format_datetime, get_locale, refresh

from marketplace.money import PRESENTMENT_CURRENCIES, Money

LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")
# Each language names itself, so a visitor finds theirs whatever the page language is.
LANGUAGE_NAMES: dict[str, str] = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
DEFAULT_LANGUAGE = "en"
DEFAULT_CURRENCY = "USD"

babel = Babel()


def _session_user():
    # Only the session: a bearer-token API caller never sees pages.
    user_id = session.get("user_id")
    return current_app.extensions["sheber.get_user"](user_id) if user_id else None


def select_locale() -> str:
    # ?lang= names one page's language (the hreflang links point there); it is not remembered
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    chosen = session.get("locale")
    if chosen in LANGUAGES:
        return chosen
    user = _session_user()
    if user is not None and user.locale in LANGUAGES:
        return user.locale
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def currency_for_country(country: str | None) -> str:
    """The currency buyers in ``country`` pay in, if we offer it (CLDR), else USD."""
    if country:
        for code in get_territory_currencies(country.upper(), tender=True):
            if code in PRESENTMENT_CURRENCIES:
                return code
    return DEFAULT_CURRENCY


def currency_from_accept_language() -> str | None:
    """A first visitor's currency from the region of their browser's best language
    (``de-DE`` → EUR, ``ja-JP`` → JPY); None when no region is given or we do not offer it."""
    for value, _quality in request.accept_languages:
        parts = value.replace("_", "-").split("-")
        region = next((part for part in parts[1:] if len(part) == 2 and part.isalpha()), None)
        if region:
            currency = currency_for_country(region)
            return currency if currency != DEFAULT_CURRENCY or region.upper() == "US" else None
    return None


def current_currency() -> str:
    chosen = session.get("currency")
    if chosen in PRESENTMENT_CURRENCIES:
        return chosen
    user = _session_user()
    if user is not None and user.currency in PRESENTMENT_CURRENCIES:
        return user.currency
    return currency_from_accept_language() or DEFAULT_CURRENCY


def remember_preferences(*, language: str | None = None, currency: str | None = None) -> None:
    """Store the visitor's choice; unknown values are ignored rather than trusted."""
    if language in LANGUAGES:
        session["locale"] = language
    if currency in PRESENTMENT_CURRENCIES:
        session["currency"] = currency
    session.permanent = True  # survive a browser restart (PERMANENT_SESSION_LIFETIME)
    refresh()


@cache
def currency_sign(currency: str, language: str) -> str:
    """The sign a reader of ``language`` sees for ``currency``: the language's own symbol, or,
    where the language knows only the ISO code (tenge and rouble in English, tenge in Russian),
    the symbol people use in the currency's home country (CLDR, through Babel). So a tenge
    amount reads "₸" on every page and in every mail, whatever the language."""
    symbol = get_currency_symbol(currency, locale=language)
    if symbol != currency:
        return symbol
    homes = [territory for territory, currencies in get_global("territory_currencies").items()
             if any(entry[0] == currency and entry[2] is None and entry[3]
                    for entry in currencies)]
    if len(homes) != 1:  # the euro and other shared currencies keep what the language says
        return symbol
    return get_currency_symbol(currency, locale=Locale.parse(f"und_{homes[0]}"))


def money_text(money: Money | dict | None, language: str) -> str:
    """Money written the reader's way (Babel's pattern for ``language``, ``currency_sign``):
    the one formatting of amounts for pages and mails."""
    if money is None:
        return ""
    if isinstance(money, dict):
        money = Money(money["amount"], money["currency"])
    text = format_currency(money.major, money.currency, locale=language)
    sign = currency_sign(money.currency, language)
    symbol = get_currency_symbol(money.currency, locale=language)
    return text if sign == symbol else text.replace(symbol, sign)


def format_money(money: Money | dict | None) -> str:
    """``money_text`` in the page's language (the templates' ``money`` filter)."""
    return money_text(money, str(get_locale() or DEFAULT_LANGUAGE))


def localized(text: dict | str | None, language: str | None = None) -> str:
    """Pick a translated field ({"en": .., "ru": .., "kk": ..}) for the page language."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    language = language or current_language()
    for candidate in (language, "en", "ru", "kk"):
        if text.get(candidate):
            return text[candidate]
    return next((value for value in text.values() if value), "")


def country_name(code: str | None, language: str | None = None) -> str:
    """The country's name in ``language`` (default: the current one); the code where CLDR has
    no name for it."""
    if not code:
        return ""
    return Locale.parse(language or current_language()).territories.get(code.upper(), code)


def _as_datetime(value):
    if isinstance(value, str):
        value = value.removesuffix("Z")
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    return value


def local_time(value) -> str:
    """An aware moment (or ISO text with its offset) in its own zone's clock, the page's way,
    with the zone's short name: "01.12.2026, 15:00 (GMT+05:00)"."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return format_datetime(moment, "short") + " UTC"
    locale = str(get_locale() or DEFAULT_LANGUAGE)
    text = babel_format_datetime(moment, "short", tzinfo=moment.tzinfo, locale=locale)
    return f"{text} ({get_timezone_gmt(moment, 'long', locale=locale)})"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)

    @app.before_request
    def _fresh_locale():
        # Flask-Babel caches the locale on ``g``, which can outlive one request (tests share
        # an app context across requests); every request chooses again.
        refresh()

    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["localized"] = localized
    app.jinja_env.filters["date"] = lambda value, fmt="medium": (
        format_date(_as_datetime(value), fmt) if value else "")
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": (
        format_datetime(_as_datetime(value), fmt) if value else "")
    app.jinja_env.filters["local_time"] = local_time

    @app.context_processor
    def _i18n_globals():
        return {
            "LANGUAGES": LANGUAGES,
            "LANGUAGE_NAMES": LANGUAGE_NAMES,
            "CURRENCIES": PRESENTMENT_CURRENCIES,
            "current_language": current_language,
            "current_currency": current_currency,
            "country_name": country_name,
        }
