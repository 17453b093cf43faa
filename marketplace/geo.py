"""ISO 3166-1 countries (from Babel's CLDR data) and which of them use postal codes."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import phonenumbers
from babel import Locale

COUNTRIES: dict[str, str] = {
    code: name
    for code, name in Locale("en").territories.items()
    if len(code) == 2 and code.isalpha() and code not in {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}
}

# Countries without a postal code system (UPU); everywhere else a postal code is required.
NO_POSTAL_CODE = frozenset({
    "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF", "CG", "CI",
    "CK", "CM", "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ", "GY", "HK", "KI", "KM",
    "KN", "KP", "LC", "ML", "MO", "MR", "MW", "NR", "NU", "QA", "RW", "SB", "SC", "SL", "SR",
    "ST", "SY", "TD", "TF", "TG", "TK", "TL", "TO", "TV", "UG", "VU", "YE", "ZW",
})


def is_country(code: str) -> bool:
    return code.upper() in COUNTRIES


def needs_postal_code(code: str) -> bool:
    return code.upper() not in NO_POSTAL_CODE


# --- postal address rules per country (data/geo/addresses.json) ------------------------------

_ADDRESS_RULES = Path(__file__).resolve().parents[1] / "data" / "geo" / "addresses.json"
_GENERIC_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{1,11}")


@functools.lru_cache(maxsize=1)
def address_rules() -> dict[str, dict]:
    return json.loads(_ADDRESS_RULES.read_text(encoding="utf-8"))["countries"]


def postal_code_problem(country: str, postal_code: str | None) -> str | None:
    """Why ``postal_code`` (upper-cased, spaces collapsed) is not one of ``country``'s, or None."""
    country = country.upper()
    if not postal_code:
        return f"required for {country}" if needs_postal_code(country) else None
    pattern = address_rules().get(country, {}).get("postal_code")
    if pattern is not None:
        if not re.fullmatch(f"(?:{pattern})", postal_code):
            return f"not a postal code of {country}"
    elif not _GENERIC_POSTAL_CODE.fullmatch(postal_code):
        return "not a valid postal code"
    return None


def required_fields(country: str) -> tuple[str, ...]:
    """Fields an address in ``country`` needs besides name, street, city and country."""
    return tuple(address_rules().get(country.upper(), {}).get("require", ()))


def normalise_phone(raw: str, country: str | None) -> str:
    """A phone number in E.164 form, valid for its country (``phonenumbers``, Google's
    libphonenumber); a number without +country code is read as ``country``'s. ValueError else."""
    try:
        number = phonenumbers.parse(raw, (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number; give it with the country code, "
                         "e.g. +49 30 1234567") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
