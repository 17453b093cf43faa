"""An issued invoice or credit note as a PDF, from its stored data alone (``TaxDocument.data``)
and the template ``templates/pdf/invoice.xml``, in the document's language: the labels are
translated (Flask-Babel), money, percentages and dates written that language's way (Babel),
country names in it. The layout is the receipt's (``orders.receipt.render_layout``), whose
text blocks print every script a buyer writes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_percent
from flask import render_template
from flask_babel import force_locale

from marketplace import i18n
from marketplace.money import Money
from marketplace.orders.models import TaxDocument
from marketplace.orders.receipt import render_layout

TEMPLATE = "pdf/invoice.xml"


def _money(amount: int, currency: str, locale: str) -> str:
    return i18n.money_text(Money(amount, currency), locale)


def _date(value: str | None, locale: str) -> str:
    if not value:
        return ""
    return format_date(date.fromisoformat(value[:10]), "long", locale=locale)


def _rate(value: str | None, locale: str) -> str:
    if value is None:
        return ""
    return format_percent(Decimal(value), "#,##0.##%", locale=locale)


def invoice_context(data: dict) -> dict:
    """What the template prints, every value already written in the document's language."""
    locale = data["locale"]
    currency = data["currency"]

    def money(amount: int, in_currency: str | None = None) -> str:
        return _money(amount, in_currency or currency, locale)

    def country(code: str | None) -> str:
        return i18n.country_name(code, locale)

    sellers = [{**seller, "country_name": country(seller["country"])}
               for seller in data["sellers"]]
    lines = [{**line, "unit_text": money(line["unit"]), "amount_text": money(line["amount"]),
              "rate_text": _rate(line.get("vat_rate"), locale),
              "seller_name": sellers[line["seller"]]["legal_name"]}
             for line in data["lines"]]
    taxes = [{**row, "rate_text": _rate(row["rate"], locale),
              "tax_text": money(row["tax"]),
              "taxable_local_text": money(row["taxable_local"], row["local_currency"]),
              "tax_local_text": money(row["tax_local"], row["local_currency"]),
              "other_currency": row["local_currency"] not in (None, currency)}
             for row in data["taxes"]]
    totals = {key: money(value) for key, value in data["totals"].items()}
    fx = data.get("fx")
    return {
        "doc": data, "credit_note": data["kind"] == "credit_note",
        "issued_on": _date(data["issued_at"], locale),
        "supplied_on": _date(data["supply_date"], locale),
        "invoice_on": _date((data.get("invoice") or {}).get("issued_at"), locale),
        "issuer": data["issuer"], "issuer_country": country(data["issuer"]["country"]),
        "registration": (data.get("supplier") or {}).get("registration"),
        "buyer": data["buyer"], "buyer_country": country(data["buyer"]["country"]),
        "sellers": sellers, "lines": lines, "taxes": taxes, "totals": totals,
        "adjustment": money(data["adjustment"]) if data.get("adjustment") else None,
        "fx": fx, "fx_on": _date(fx["date"], locale) if fx else "",
        "currency": currency,
    }


def document_pdf(document: TaxDocument) -> bytes:
    data = document.data
    with force_locale(data["locale"]):
        layout = render_template(TEMPLATE, **invoice_context(data))
    return render_layout(layout, title=f"Sheber {document.number}")
