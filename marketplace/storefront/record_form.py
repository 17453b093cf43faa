"""The provenance record (DESIGN.md, "Provenance labels") as an HTML form and back.

Inputs are named after the record's own paths with dots as dashes (``makers-0-place-city`` is
``makers[0].place.city``), so the provenance service's error keys find their inputs. Lists get
one blank row more than they hold; an artisan who needs more rows saves and gets another.

The form is shown in steps (``STEPS``: who, where, how, materials, evidence). Every step's
inputs are always in the page, the other steps only hidden, so each post carries the whole
record and the one service call (``records.put_record``) validates it as before; moving to
another step without script saves the draft on the way.
"""

from __future__ import annotations

import re

from flask import request
from flask_babel import gettext as _

from marketplace.storefront.forms import tags, text

ROWS = {
    "makers": ("name", "kind", "role", "place-city", "place-country"),
    "materials": ("name", "origin-country", "origin-region", "origin-source", "precious_metal",
                  "fineness", "hallmark"),
    "dyes": ("name", "kind", "source"),
    "lineage": ("master", "apprentice", "since_year"),
    "certifications": ("scheme", "issuer", "reference", "valid_until"),
}
# Inputs that always carry a value (selects, checkboxes, a preset country): they do not make a
# row count as used.
_DEFAULTED = {"kind", "precious_metal", "place-country", "origin-country"}
# Country fields start at Kazakhstan: the marketplace's artisans work in Almaty.
HOME_COUNTRY = "KZ"
# The record's parts, step by step (first segment of a field or error key -> its step).
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("who", ("makers",)),
    ("where", ("place",)),
    ("how", ("craft", "techniques", "when", "hand_work_share", "design", "lineage")),
    ("materials", ("materials", "dyes")),
    ("evidence", ("certifications", "cultural_value")),
)
STEP_NAMES = tuple(name for name, _ in STEPS)
MAKER_KINDS = ("artisan", "workshop_team", "collective", "production_partner")
DYE_KINDS = ("natural", "synthetic")
AVAILABILITY = ("ready", "made_to_order")
DESIGN_ORIGINS = ("traditional", "named", "original")


def _nest(flat: dict[str, str]) -> dict:
    """``{"place-city": "Almaty"}`` -> ``{"place": {"city": "Almaty"}}``, empty values left out."""
    nested: dict = {}
    for key, value in flat.items():
        if value in ("", None):
            continue
        *parents, leaf = key.split("-")
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return nested


def _row_indexes(name: str) -> list[int]:
    pattern = re.compile(rf"^{name}-(\d+)-")
    return sorted({int(match.group(1)) for key in request.form
                   if (match := pattern.match(key))})


def _rows(name: str) -> list[dict]:
    rows = []
    for index in _row_indexes(name):
        flat = {field: text(f"{name}-{index}-{field}") for field in ROWS[name]}
        if not any(value for field, value in flat.items() if field not in _DEFAULTED):
            continue  # a blank row
        if name == "materials":
            flat["precious_metal"] = True if flat["precious_metal"] else ""
        rows.append(_nest(flat))
    return rows


def record_from_form() -> dict:
    """The record as typed, in the shape ``provenance.records.put_record`` takes."""
    record = _nest({
        "place-city": text("place-city"), "place-region": text("place-region"),
        "place-country": text("place-country"), "craft": text("craft"),
        "when-availability": text("when-availability"),
        "when-started_on": text("when-started_on"), "when-finished_on": text("when-finished_on"),
        "when-hours": text("when-hours"), "hand_work_share": text("hand_work_share"),
        "design-origin": text("design-origin"), "design-motif": text("design-motif"),
        "design-designer": text("design-designer"),
    })
    record["techniques"] = tags("techniques")
    for name in ROWS:
        record[name] = _rows(name)
    record["cultural_value"] = bool(text("cultural_value"))
    return record


def starting_record(product: dict, profile: dict, maker_name: str,
                    last: dict | None = None) -> dict:
    """What a new record's form shows: what the listing and the workshop already say, and the
    artisan's answers on their last record (``last``) that hold for the workshop rather than
    for one piece: who makes, where, how much by hand, the lineage, the certifications, and
    where each material usually comes from. Nothing is saved until the artisan saves."""
    last = last or {}
    home = {"city": profile["city"], "country": profile["country"] or HOME_COUNTRY}
    origins = {(material.get("name") or "").casefold(): material["origin"]
               for material in last.get("materials") or [] if material.get("origin")}
    record = {
        "makers": last.get("makers") or [
            {"name": maker_name, "kind": "artisan", "role": "", "place": home}],
        "place": last.get("place") or home,
        "craft": product["craft"],
        "techniques": list(product["techniques"]),
        "materials": [{"name": name, "origin": origins.get(name.casefold(),
                                                           {"country": home["country"]})}
                      for name in product["materials"]],
    }
    for carried in ("hand_work_share", "lineage", "certifications"):
        if last.get(carried) not in (None, [], ""):
            record[carried] = last[carried]
    if (last.get("when") or {}).get("availability"):
        record["when"] = {"availability": last["when"]["availability"]}
    return record


def step_of(field: str) -> str:
    """The step that shows a field or error key (``materials-0-name``, ``when.hours``)."""
    first = re.split(r"[.\-]", field, maxsplit=1)[0]
    return next((name for name, parts in STEPS if first in parts), STEP_NAMES[0])


def current_step(requested: str | None, errors: dict) -> str:
    """The step to show: the first one with an error, else the one asked for, else the first."""
    if errors:
        failing = {step_of(field) for field in errors}
        return next(name for name in STEP_NAMES if name in failing)
    return requested if requested in STEP_NAMES else STEP_NAMES[0]


def with_blank_rows(record: dict) -> dict[str, list[dict]]:
    """Each list of the record plus one blank row, for the form."""
    return {name: list(record.get(name) or []) + [{}] for name in ROWS}


def error_message(field: str) -> str:
    """The page-language message for a provenance error key (list positions removed)."""
    messages = {
        "makers": _("Name at least one maker."),
        "makers.name": _("Enter the maker's name."),
        "makers.kind": _("Choose who the maker is."),
        "makers.role": _("Check this field."),
        "makers.place": _("A production partner needs a city and a country."),
        "makers.place.country": _("Choose a country."),
        "place": _("Enter the city and the country where the piece was made."),
        "place.city": _("Enter the city where the piece was made."),
        "place.country": _("Choose a country."),
        "craft": _("Choose the craft of this piece (the same as the listing's)."),
        "techniques": _("Name at least one technique."),
        "materials": _("Name at least one material."),
        "materials.name": _("Enter the material."),
        "materials.origin.country": _("Choose the country the material comes from."),
        "materials.fineness": _("Precious metal needs its fineness (parts per thousand, "
                                "e.g. 925) or its hallmark."),
        "when.availability": _("Say whether the piece is ready or made to order."),
        "when.started_on": _("Enter a date."),
        "when.finished_on": _("The piece cannot be finished before it was started."),
        "when.hours": _("Enter whole hours."),
        "hand_work_share": _("Enter the share of hand work, a whole number from 0 to 100."),
        "design.origin": _("Choose where the design comes from."),
        "design.motif": _("Name the traditional motif."),
        "design.designer": _("Name the designer."),
        "dyes.name": _("Enter the dye."),
        "dyes.kind": _("Choose natural or synthetic."),
        "lineage.master": _("Enter the master's name."),
        "lineage.apprentice": _("Enter the apprentice's name."),
        "lineage.since_year": _("Enter a year such as 2012."),
        "certifications.scheme": _("Enter the scheme, the issuer and the reference."),
        "certifications.issuer": _("Enter the scheme, the issuer and the reference."),
        "certifications.reference": _("Enter the scheme, the issuer and the reference."),
        "certifications.valid_until": _("This certification has expired or the date is "
                                        "not valid."),
    }
    return messages.get(field, _("Check this field."))
