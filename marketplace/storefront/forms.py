"""Reading HTML form fields into the plain values the services take, and the services' field
errors back onto the form (in the page's language: the services speak English)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from flask import request
from pydantic import BaseModel

from marketplace.errors import ValidationFailed
from marketplace.http import parse_model
from marketplace.money import Money

LANGUAGE_ORDER = ("kk", "ru", "en")
_INDEX = re.compile(r"\.\d+(?=\.|$)")


def text(name: str) -> str:
    return request.form.get(name, "").strip()


def optional_text(name: str) -> str | None:
    return text(name) or None


def translated(prefix: str) -> dict[str, str]:
    """``title_kk``, ``title_ru``, ``title_en`` as the services' ``{"kk": .., "ru": .., "en": ..}``
    (empty languages left out)."""
    return {lang: value for lang in LANGUAGE_ORDER if (value := text(f"{prefix}_{lang}"))}


def tags(name: str) -> list[str]:
    """A comma-separated list as typed ("silver, turquoise")."""
    return [part.strip() for part in text(name).split(",") if part.strip()]


def minor_units(raw: str, currency: str) -> int | None:
    """Major units typed by the visitor ("50", "49.90", "49,90", "15 000") as minor units of
    ``currency``; None for anything unreadable (a word, too many decimals, an exponent past any
    amount)."""
    raw = raw.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        return Money.from_major(raw, currency).amount
    except (ArithmeticError, ValueError):  # decimal's errors, CurrencyError
        return None


def whole_number(name: str, errors: dict[str, str], message: str, *,
                 required: bool = True) -> int | None:
    """An integer typed into ``name``; a wrong or missing one puts ``message`` in ``errors``."""
    raw = text(name).replace(" ", "").replace("\u00a0", "")
    if not raw:
        if required:
            errors[name] = message
        return None
    try:
        return int(raw)
    except ValueError:
        errors[name] = message
        return None


def day(name: str, errors: dict[str, str], message: str) -> date | None:
    raw = text(name)
    if not raw:
        errors[name] = message
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = message
        return None


def general_key(field: str) -> str:
    """A service's error key without its list positions: ``materials.1.origin.country`` ->
    ``materials.origin.country``."""
    return _INDEX.sub("", field)


def form_key(field: str) -> str:
    """Where a service's error key sits on a form: ``makers.0.name`` -> ``makers-0-name``."""
    return field.replace(".", "-")


def place_errors(service_errors: dict | None, messages: Callable[[str], str],
                 where: Callable[[str], str] = form_key) -> dict[str, str]:
    """The service's ``{field: [english messages]}`` as ``{form field: translated message}``;
    ``messages`` translates by the general key, ``where`` says which form field shows it."""
    placed: dict[str, str] = {}
    for field in service_errors or {}:
        placed.setdefault(where(field), messages(general_key(field)))
    return placed


def lenient_query(model: type[BaseModel], data: dict) -> BaseModel | None:
    """``data`` (a page's query string) in the API's input ``model``, leaving out each field the
    model refuses: a hand-edited link loses that filter instead of failing. None when what is
    refused is no one field but their combination."""
    data = {key: value for key, value in data.items() if value is not None}
    while True:
        try:
            return parse_model(model, data)
        except ValidationFailed as exc:
            refused = {field.split(".")[0] for field in exc.errors or {}} & set(data)
            if not refused:
                return None
            for field in refused:
                del data[field]
