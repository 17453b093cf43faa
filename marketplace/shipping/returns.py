"""The operator's tax returns for the point-of-sale schemes (IOSS, UK, AU, NZ, NO, CH, SG).

For a period (a month ``2026-11`` or a quarter ``2026-Q4``) and a scheme: the orders paid in the
period whose quote collected under that scheme (DDP), grouped by destination country and rate,
with the taxable amount (goods + delivery) and the tax collected, less the share of the refunds
made in the period (a refund takes back the order's tax in proportion to the amount refunded).
Amounts are in the scheme's currency. What is converted is what the buyer was charged: the
tax and the taxable amount in the order's currency (an order charged in the scheme's currency,
a euro order under IOSS, is not converted at all), at the rate the scheme's rule names
(``data/tax/return_rates.json``): IOSS the ECB rate of the period's last day or the next day of
publication (Directive 2006/112/EC art. 369u), the UK the rate at the time of supply, ... The
dated rates are fx's ``fx_rate_history``; a rule day without a recorded rate (a period not
ended) is a 409 ``fx.rate_not_published``. A refund takes back the tax at the rate that
converted its order (the original supply's), whichever period it was paid in. Each row names
the conversions it made (rate, the day it was published for, source).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.money import Money, round_half_up
from marketplace.orders.models import Order, Refund, RefundStatus
from marketplace.shipping.schemas import PERIOD_PATTERN

SCHEME_CURRENCY = {"IOSS": "EUR", "UK": "GBP", "AU": "AUD", "NZ": "NZD", "NO": "NOK",
                   "CH": "CHF", "SG": "SGD"}
SCHEME_SETTING = {"IOSS": "IOSS_NUMBER", "UK": "UK_VAT_NUMBER", "AU": "AU_ARN",
                  "NZ": "NZ_GST_NUMBER", "NO": "NO_VOEC_NUMBER", "CH": "CH_VAT_NUMBER",
                  "SG": "SG_GST_NUMBER"}
_PERIOD = re.compile(PERIOD_PATTERN)
RATE_RULES_FILE = Path(__file__).resolve().parents[2] / "data" / "tax" / "return_rates.json"


@functools.cache
def rate_rules() -> dict[str, dict]:
    """Per scheme: which day's exchange rate its return converts at (return_rates.json)."""
    return json.loads(RATE_RULES_FILE.read_text(encoding="utf-8"))["schemes"]


def rate_rule(scheme: str, on: date) -> dict:
    rule = rate_rules()[scheme]
    starts = date.fromisoformat(rule["valid_from"])
    ends = date.fromisoformat(rule["valid_to"]) if rule.get("valid_to") else None
    if on < starts or (ends is not None and on >= ends):
        raise ValidationFailed(f"No exchange rate rule of the {scheme} return is in force on "
                               f"{on.isoformat()}.", errors={"period": ["no rate rule"]})
    return rule


def _fail(field: str, message: str):
    raise ValidationFailed(message, errors={field: [message]})


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of ``YYYY-MM`` or ``YYYY-Qn`` (UTC, naive as the database keeps it), for a
    period ``schemas.TaxReturnQuery`` accepts."""
    match = _PERIOD.fullmatch((period or "").strip())
    if not match:
        _fail("period", "a month (2026-11) or a quarter (2026-Q4)")
    year = int(match.group(1))
    if match.group(2):
        first, months = int(match.group(2)), 1
    else:
        first, months = (int(match.group(3)) - 1) * 3 + 1, 3
    start = datetime(year, first, 1)
    end_month = first + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end


@dataclass
class ReturnRow:
    country: str
    vat_rate: Decimal
    currency: str
    taxable: Decimal  # exact, rounded once when reported
    tax: Decimal
    orders: int = 0
    refunded_taxable: Decimal = Decimal(0)
    refunded_tax: Decimal = Decimal(0)
    fx_rates: set[str] | None = None

    def to_dict(self) -> dict:
        net_taxable = Money(round_half_up(self.taxable - self.refunded_taxable), self.currency)
        net_tax = Money(round_half_up(self.tax - self.refunded_tax), self.currency)
        return {
            "country": self.country, "vat_rate": str(self.vat_rate),
            "orders": self.orders,
            "taxable_amount": Money(round_half_up(self.taxable), self.currency).to_dict(),
            "tax_collected": Money(round_half_up(self.tax), self.currency).to_dict(),
            "refunded_taxable_amount": Money(round_half_up(self.refunded_taxable),
                                             self.currency).to_dict(),
            "refunded_tax": Money(round_half_up(self.refunded_tax), self.currency).to_dict(),
            "net_taxable_amount": net_taxable.to_dict(),
            "net_tax": net_tax.to_dict(),
            "fx_rates": sorted(self.fx_rates or ()),
        }


def _lines(order: Order, scheme: str) -> list[dict]:
    breakdown = (order.shipping_option or {}).get("duty_breakdown") or {}
    if breakdown.get("regime") != scheme or order.duties_mode != "DDP":
        return []
    return breakdown.get("lines") or []


def _charged(line: dict) -> tuple[dict, dict]:
    """The line's taxable amount and tax as the buyer was charged them (the order's
    currency); a quote made before ``taxable`` was kept gives its local amount."""
    taxable = line.get("taxable") or line.get("taxable_local") or line["value"]
    tax = line.get("vat") if line.get("taxable") else line["vat_local"]
    return taxable, tax


class _Converter:
    """Amounts into the scheme's currency at the rate of the day the scheme's rule names for
    an order (one look-up per currency and day)."""

    def __init__(self, scheme: str, period: str, target: str):
        self.scheme, self.target = scheme, target
        self.monthly = "Q" not in period
        self._rates: dict[tuple[str, date], fx.DatedRate] = {}

    def rule_day(self, order: Order) -> tuple[dict, date]:
        paid = order.paid_at.date()
        rule = rate_rule(self.scheme, paid)
        if rule["rate_date"] == "supply_date":
            return rule, paid
        # period_end: the last day of the return period (month or quarter) of the supply
        first_month = paid.month if self.monthly else (paid.month - 1) // 3 * 3 + 1
        months = 1 if self.monthly else 3
        after = first_month + months
        end = date(paid.year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
        return rule, end - timedelta(days=1)

    def __call__(self, amount: int, currency: str, order: Order) -> tuple[Decimal, str | None]:
        if currency == self.target:
            return Decimal(amount), None
        rule, day = self.rule_day(order)
        key = (currency, day)
        if key not in self._rates:
            self._rates[key] = fx.rate_published(
                currency, self.target, day, if_unpublished=rule["if_unpublished"],
                max_days_before=int(rule.get("max_days_before", 7)))
        dated = self._rates[key]
        return Decimal(dated.convert(Money(amount, currency)).amount), dated.describe()


def tax_return(scheme: str, period: str, registration: str | None) -> dict:
    scheme = (scheme or "").strip().upper()
    if scheme not in SCHEME_CURRENCY:
        _fail("scheme", f"one of {', '.join(SCHEME_CURRENCY)}")
    start, end = period_bounds(period)
    currency = SCHEME_CURRENCY[scheme]
    convert = _Converter(scheme, period.strip(), currency)
    rows: dict[tuple[str, str], ReturnRow] = {}

    def row_for(country: str, rate: str) -> ReturnRow:
        key = (country, rate)
        if key not in rows:
            rows[key] = ReturnRow(country, Decimal(rate), currency, Decimal(0), Decimal(0),
                                  fx_rates=set())
        return rows[key]

    paid = db.session.execute(select(Order).where(
        Order.paid_at >= start, Order.paid_at < end).order_by(Order.paid_at)).scalars()
    for order in paid:
        lines = _lines(order, scheme)
        seen: set[tuple[str, str]] = set()
        for line in lines:
            taxable, charged_tax = _charged(line)
            row = row_for(order.shipping_address.get("country", ""), line["vat_rate"])
            amount, note = convert(taxable["amount"], taxable["currency"], order)
            tax, _ = convert(charged_tax["amount"], charged_tax["currency"], order)
            row.taxable += amount
            row.tax += tax
            if note:
                row.fx_rates.add(note)
            if (row.country, line["vat_rate"]) not in seen:
                row.orders += 1
                seen.add((row.country, line["vat_rate"]))

    refunds = db.session.execute(select(Refund).where(
        Refund.created_at >= start, Refund.created_at < end,
        Refund.status == RefundStatus.SUCCEEDED)).scalars()
    for refund in refunds:
        order = db.session.get(Order, refund.order_id)
        lines = _lines(order, scheme) if order is not None else []
        if not lines or order.total_amount <= 0:
            continue
        share = Decimal(min(refund.amount, order.total_amount)) / Decimal(order.total_amount)
        for line in lines:
            taxable, charged_tax = _charged(line)
            row = row_for(order.shipping_address.get("country", ""), line["vat_rate"])
            # at the rate that converted the order: the refund undoes that supply
            amount, note = convert(taxable["amount"], taxable["currency"], order)
            tax, _ = convert(charged_tax["amount"], charged_tax["currency"], order)
            row.refunded_taxable += amount * share
            row.refunded_tax += tax * share
            if note:
                row.fx_rates.add(note)

    out_rows = [rows[key].to_dict() for key in sorted(rows)]
    total_taxable = sum((r["net_taxable_amount"]["amount"] for r in out_rows), 0)
    total_tax = sum((r["net_tax"]["amount"] for r in out_rows), 0)
    return {
        "scheme": scheme, "period": period.strip(), "registration_number": registration,
        "start": start.date().isoformat(), "end": end.date().isoformat(),
        "currency": currency, "rows": out_rows,
        "fx_rule": _rule_out(scheme, start.date()),
        "total_net_taxable_amount": {"amount": total_taxable, "currency": currency},
        "total_net_tax": {"amount": total_tax, "currency": currency},
    }


def _rule_out(scheme: str, on: date) -> dict:
    rule = rate_rules()[scheme]
    return {key: rule.get(key) for key in (
        "rate_date", "if_unpublished", "publisher", "source", "legal_reference", "valid_from",
        "valid_to", "confirmed", "note")}


CSV_COLUMNS = ("scheme", "period", "country", "vat_rate", "orders", "currency",
               "taxable_amount", "tax_collected", "refunded_taxable_amount", "refunded_tax",
               "net_taxable_amount", "net_tax", "fx_rates")


def _major(money: dict) -> str:
    return format(Money(money["amount"], money["currency"]).major, "f")


def to_csv(report: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["rows"]:
        writer.writerow([
            report["scheme"], report["period"], row["country"], row["vat_rate"], row["orders"],
            report["currency"], _major(row["taxable_amount"]), _major(row["tax_collected"]),
            _major(row["refunded_taxable_amount"]), _major(row["refunded_tax"]),
            _major(row["net_taxable_amount"]), _major(row["net_tax"]),
            "; ".join(row["fx_rates"])])
    return buffer.getvalue()
