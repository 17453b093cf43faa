"""The Harmonized System, 2022 edition: which 6-digit subheadings exist (``data/tax/hs2022.csv``,
from UN Comtrade's HS nomenclature as published by the datasets/harmonized-system project, PDDL).

A product's code is 6 digits (the international subheading every customs declaration and EU
ICS2 needs) and may go on to 10 digits for a destination's own tariff (national lines are not
shipped here: only their first 6 digits are checked).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

HS_FILE = Path(__file__).resolve().parents[1] / "data" / "tax" / "hs2022.csv"
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
