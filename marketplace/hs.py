"""The Harmonized System, 2022 edition: which 6-digit subheadings exist (``data/tax/hs2022.csv``,
from UN Comtrade's HS nomenclature as published by the datasets/harmonized-system project, PDDL).

A product's code is 6 digits (the international subheading every customs declaration and EU
ICS2 needs) and may go on to 10 digits for a destination's own tariff (national lines are not
shipped here: only their first 6 digits are checked).

National tariffs (``data/tax/tariffs.json``): a product may carry, per tariff (the EU's CN/TARIC
for all 27 members, the US HTS, ...), a code that begins with its HS6 and has one of the
lengths that tariff uses; ``tariff_for_country`` says which tariff a destination's customs use.
"""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

HS_FILE = Path(__file__).resolve().parents[1] / "data" / "tax" / "hs2022.csv"
TARIFFS_FILE = Path(__file__).resolve().parents[1] / "data" / "tax" / "tariffs.json"
DESTINATIONS_FILE = Path(__file__).resolve().parents[1] / "data" / "tax" / "destinations.json"
EDITION = "HS 2022"


@functools.cache
def _codes() -> dict[str, tuple[int, str]]:
    with HS_FILE.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: (int(row["level"]), row["description"])
                for row in csv.DictReader(handle)}


def normalise(code: str) -> str:
    """Digits only: ``5704.90`` and ``5704 90`` are ``570490``."""
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != ".")


def problem(code: str) -> str | None:
    """Why ``code`` is not a usable HS code (None when it is): 6 to 10 digits whose first six
    are an HS 2022 subheading."""
    digits = normalise(code)
    if not digits.isdigit() or not 6 <= len(digits) <= 10:
        return "an HS code is 6 to 10 digits (the HS 2022 subheading, then national digits)"
    entry = _codes().get(digits[:6])
    if entry is None or entry[0] != 6:
        return f"{digits[:6]} is not an {EDITION} subheading"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None


def description(code: str) -> str | None:
    """The HS 2022 text of the code's subheading (or heading, chapter)."""
    digits = normalise(code)
    for size in (6, 4, 2):
        entry = _codes().get(digits[:size])
        if entry is not None:
            return entry[1]
    return None


@functools.cache
def tariffs() -> dict[str, dict]:
    """The national tariffs by id (``EU``, ``US``, ...), each with its ``lengths`` and the
    ``countries`` whose customs use it (a union's members resolved from destinations.json)."""
    raw = json.loads(TARIFFS_FILE.read_text(encoding="utf-8"))["tariffs"]
    destinations = json.loads(DESTINATIONS_FILE.read_text(encoding="utf-8"))["destinations"]
    out = {}
    for tariff_id, entry in raw.items():
        countries = set(entry.get("countries", ()))
        if entry.get("union"):
            countries |= {code for code, row in destinations.items()
                          if row.get("union") == entry["union"]}
        out[tariff_id] = {**entry, "countries": sorted(countries),
                          "lengths": tuple(sorted(entry["lengths"]))}
    return out


@functools.cache
def _tariff_of_country() -> dict[str, str]:
    return {country: tariff_id for tariff_id, entry in tariffs().items()
            for country in entry["countries"]}


def tariff_for_country(country: str | None) -> str | None:
    """The id of the national tariff ``country``'s customs use (None: we know none)."""
    return _tariff_of_country().get((country or "").upper())


def tariff_problem(tariff_id: str, code: str, hs6: str | None = None) -> str | None:
    """Why ``code`` is not a usable code of tariff ``tariff_id`` for a product whose HS code
    begins with ``hs6`` (None when it is)."""
    entry = tariffs().get(tariff_id)
    if entry is None:
        return f"unknown tariff {tariff_id!r}; one of {', '.join(sorted(tariffs()))}"
    digits = normalise(code)
    lengths = entry["lengths"]
    wanted = " or ".join(str(n) for n in lengths)
    if not digits.isdigit():
        return f"a {tariff_id} tariff code is digits only ({wanted} digits)"
    if len(digits) not in lengths:
        return f"a {tariff_id} tariff code has {wanted} digits, not {len(digits)}"
    if hs6 is not None and not digits.startswith(normalise(hs6)[:6]):
        return f"a {tariff_id} tariff code begins with the product's HS code {normalise(hs6)[:6]}"
    problem_ = problem(digits)
    if problem_:
        return problem_
    return None
