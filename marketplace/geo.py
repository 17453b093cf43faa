"""ISO 3166-1 countries (from Babel's CLDR data) and which of them use postal codes."""

from __future__ import annotations

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
