"""The operator's tax returns for the point-of-sale schemes (IOSS, UK, AU, NZ, NO, CH, SG).

For a period (a month ``2026-11`` or a quarter ``2026-Q4``) and a scheme: the orders paid in the
period whose quote collected under that scheme (DDP), grouped by destination country and rate,
with the taxable amount (goods + delivery) and the tax collected, less the share of the refunds
made in the period (a refund takes back the order's tax in proportion to the amount refunded).
Amounts are in the scheme's currency; a quote made in another currency (an IOSS parcel to
Poland is taxed in PLN) is converted at the exchange rate in force when the return is made,
which is named on each row (the IOSS return wants the ECB rate of the period's last day: check
it before filing).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

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


def _to_scheme(amount: int, currency: str, target: str, rates) -> tuple[Decimal, str | None]:
    if currency == target:
        return Decimal(amount), None
    rate = rates.rate(currency, target)
    converted = Money(amount, currency).convert(target, rate)
    return Decimal(converted.amount), f"{currency}->{target} {rate}"


def tax_return(scheme: str, period: str, registration: str | None) -> dict:
    scheme = (scheme or "").strip().upper()
    if scheme not in SCHEME_CURRENCY:
        _fail("scheme", f"one of {', '.join(SCHEME_CURRENCY)}")
    start, end = period_bounds(period)
    currency = SCHEME_CURRENCY[scheme]
    rates = fx.current_rates()
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
            taxable = line.get("taxable_local") or line["value"]
            row = row_for(order.shipping_address.get("country", ""), line["vat_rate"])
            amount, note = _to_scheme(taxable["amount"], taxable["currency"], currency, rates)
            tax, _ = _to_scheme(line["vat_local"]["amount"], line["vat_local"]["currency"],
                                currency, rates)
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
            taxable = line.get("taxable_local") or line["value"]
            row = row_for(order.shipping_address.get("country", ""), line["vat_rate"])
            amount, note = _to_scheme(taxable["amount"], taxable["currency"], currency, rates)
            tax, _ = _to_scheme(line["vat_local"]["amount"], line["vat_local"]["currency"],
                                currency, rates)
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
        "total_net_taxable_amount": {"amount": total_taxable, "currency": currency},
        "total_net_tax": {"amount": total_tax, "currency": currency},
    }


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
