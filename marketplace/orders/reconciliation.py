"""Reconciliation: what Stripe says was captured, refunded and disputed, against the payment
ledger, for every PaymentIntent Sheber created that moved money on a given day, and for every
foreign one (a PaymentIntent Sheber did not create that paid into an order: recorded apart as
``foreign_in`` and refunded as ``foreign_out``), whose row says ``foreign``.

``daily_report(day)`` asks Stripe first (no transaction open, no lock held), then reads the
ledger; each PaymentIntent is one row with both sides and the differences. ``report_csv``
writes it for the operators; the daily beat job (``reconcile_yesterday``) raises one operator
alert per day with differences.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import stripe
from sqlalchemy import func, or_, select

from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.integrations import stripe_client
from marketplace.money import Money
from marketplace.orders import alerts
from marketplace.orders.models import (
    Dispute,
    LedgerKind,
    PaymentAttempt,
    PaymentLedgerEntry,
    Refund,
)
from marketplace.transaction import use_case

MEASURES = ("captured", "refunded", "disputed")
CSV_COLUMNS = ("day", "order_id", "payment_intent_id", "currency",
               *(f"{side}_{m}" for m in MEASURES for side in ("stripe", "ledger")),
               "differences", "error", "foreign")
# the ledger kinds that count as captured and as refunded, ours and foreign PaymentIntents'
CAPTURED_KINDS = (LedgerKind.CAPTURED, LedgerKind.FOREIGN_IN)
REFUND_SIGNS = {LedgerKind.REFUNDED: 1, LedgerKind.REFUND_BACK: -1, LedgerKind.FOREIGN_OUT: 1}


@dataclass
class Row:
    order_id: str
    payment_intent_id: str
    currency: str
    stripe: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))
    ledger: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))
    error: str | None = None  # Stripe could not be asked about this one
    foreign: bool = False  # not Sheber's PaymentIntent: its money was given back

    @property
    def differences(self) -> list[str]:
        if self.error:
            return [f"not checked: {self.error}"]
        return [f"{m}: Stripe {Money(self.stripe[m], self.currency)}, ledger "
                f"{Money(self.ledger[m], self.currency)}"
                for m in MEASURES if self.stripe[m] != self.ledger[m]]


@dataclass
class Report:
    day: date
    rows: list[Row]

    @property
    def differing(self) -> list[Row]:
        return [row for row in self.rows if row.differences]

    def totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per currency, the sum of each measure on each side."""
        sums: dict[str, dict[str, dict[str, int]]] = {}
        for row in self.rows:
            per = sums.setdefault(row.currency, {"stripe": dict.fromkeys(MEASURES, 0),
                                                 "ledger": dict.fromkeys(MEASURES, 0)})
            for measure in MEASURES:
                per["stripe"][measure] += row.stripe[measure]
                per["ledger"][measure] += row.ledger[measure]
        return sums


def yesterday() -> date:
    """The day a report is of unless one is named: the last whole UTC day."""
    return utcnow().date() - timedelta(days=1)


def _window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time())
    return start, start + timedelta(days=1)


def _moved(day: date):
    start, end = _window(day)
    return select(PaymentLedgerEntry.order_id).where(
        PaymentLedgerEntry.created_at >= start, PaymentLedgerEntry.created_at < end)


def _foreign_of_the_day(day: date) -> list[Row]:
    """Foreign PaymentIntents of the orders whose ledger moved that day."""
    return [Row(order_id, reference, currency, foreign=True)
            for order_id, reference, currency in db.session.execute(
                select(PaymentLedgerEntry.order_id, PaymentLedgerEntry.reference,
                       PaymentLedgerEntry.currency)
                .where(PaymentLedgerEntry.kind == LedgerKind.FOREIGN_IN,
                       PaymentLedgerEntry.order_id.in_(_moved(day)))
                .order_by(PaymentLedgerEntry.order_id, PaymentLedgerEntry.reference)).all()]


def _attempts_of_the_day(day: date) -> list[PaymentAttempt]:
    start, end = _window(day)
    moved = _moved(day)
    return list(db.session.execute(
        select(PaymentAttempt).where(
            or_(PaymentAttempt.order_id.in_(moved),
                (PaymentAttempt.created_at >= start) & (PaymentAttempt.created_at < end)))
        .order_by(PaymentAttempt.order_id, PaymentAttempt.attempt)).scalars())


def _stripe_side(row: Row, dispute_ids: list[str]) -> None:
    intent = stripe_client.retrieve_payment_intent(row.payment_intent_id)
    if intent.get("status") == "succeeded":
        row.stripe["captured"] = int(intent.get("amount_received") or intent.get("amount") or 0)
        row.stripe["refunded"] = sum(
            int(r.get("amount") or 0) for r in stripe_client.list_refunds(row.payment_intent_id)
            if r.get("status") in ("succeeded", "pending"))
    for dispute_id in dispute_ids:
        dispute = stripe_client.retrieve_dispute(dispute_id)
        row.stripe["disputed"] -= sum(int(t.get("amount") or 0)
                                      for t in dispute.get("balance_transactions") or [])


def _ledger_side(rows: dict[str, Row]) -> None:
    if not rows:
        return
    ids = list(rows)
    for reference, amount in db.session.execute(
            select(PaymentLedgerEntry.reference, func.sum(PaymentLedgerEntry.amount))
            .where(PaymentLedgerEntry.kind.in_(CAPTURED_KINDS),
                   PaymentLedgerEntry.reference.in_(ids))
            .group_by(PaymentLedgerEntry.reference)).all():
        rows[reference].ledger["captured"] += int(amount)
    refund_lines = defaultdict(int)
    for payment_intent_id, kind, amount in db.session.execute(
            select(Refund.payment_intent_id, PaymentLedgerEntry.kind,
                   func.sum(PaymentLedgerEntry.amount))
            .join(Refund, Refund.stripe_refund_id == PaymentLedgerEntry.reference)
            .where(PaymentLedgerEntry.kind.in_(list(REFUND_SIGNS)),
                   Refund.payment_intent_id.in_(ids))
            .group_by(Refund.payment_intent_id, PaymentLedgerEntry.kind)).all():
        refund_lines[payment_intent_id] += REFUND_SIGNS[LedgerKind(kind)] * int(amount)
    for payment_intent_id, amount in refund_lines.items():
        rows[payment_intent_id].ledger["refunded"] += amount
    disputes = db.session.execute(select(Dispute.payment_intent_id, Dispute.order_id)
                                  .where(Dispute.payment_intent_id.in_(ids))).all()
    orders_of = {order_id: pi for pi, order_id in disputes}
    if orders_of:
        for order_id, kind, amount in db.session.execute(
                select(PaymentLedgerEntry.order_id, PaymentLedgerEntry.kind,
                       func.sum(PaymentLedgerEntry.amount))
                .where(PaymentLedgerEntry.order_id.in_(list(orders_of)),
                       PaymentLedgerEntry.kind.in_([LedgerKind.DISPUTE_OUT,
                                                    LedgerKind.DISPUTE_IN]))
                .group_by(PaymentLedgerEntry.order_id, PaymentLedgerEntry.kind)).all():
            sign = 1 if kind == LedgerKind.DISPUTE_OUT else -1
            rows[orders_of[order_id]].ledger["disputed"] += sign * int(amount)


def daily_report(day: date) -> Report:
    attempts = _attempts_of_the_day(day)
    rows = {a.payment_intent_id: Row(a.order_id, a.payment_intent_id, a.currency)
            for a in attempts}
    for row in _foreign_of_the_day(day):
        rows.setdefault(row.payment_intent_id, row)
    disputes = defaultdict(list)
    for payment_intent_id, stripe_id in db.session.execute(
            select(Dispute.payment_intent_id, Dispute.stripe_dispute_id)
            .where(Dispute.payment_intent_id.in_(list(rows) or [""]))).all():
        disputes[payment_intent_id].append(stripe_id)
    db.session.rollback()  # no transaction open while Stripe answers
    for payment_intent_id, row in rows.items():
        try:
            _stripe_side(row, disputes[payment_intent_id])
        except stripe.StripeError as exc:
            row.error = str(getattr(exc, "user_message", None) or exc)[:200]
    _ledger_side(rows)
    db.session.rollback()
    return Report(day, list(rows.values()))


def csv_filename(report: Report) -> str:
    return f"reconciliation-{report.day.isoformat()}.csv"


def report_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow([report.day.isoformat(), row.order_id, row.payment_intent_id,
                         row.currency,
                         *(value for m in MEASURES for value in (row.stripe[m], row.ledger[m])),
                         "; ".join(row.differences), row.error or "",
                         "yes" if row.foreign else ""])
    return out.getvalue().encode("utf-8")


def reconcile(day: date) -> Report:
    """The beat job's work: the report, and one operator alert for the day if anything
    differs."""
    report = daily_report(day)
    if report.differing:
        _alert(report)
    return report


def reconcile_yesterday() -> int:
    return len(reconcile(yesterday()).differing)


@use_case
def _alert(report: Report) -> None:
    lines = [f"{row.order_id} {row.payment_intent_id}: {', '.join(row.differences)}"
             for row in report.differing[:50]]
    alerts.raise_alert(
        alerts.RECONCILIATION, report.day.isoformat(),
        f"Reconciliation of {report.day.isoformat()}: {len(report.differing)} PaymentIntent(s) "
        "differ between Stripe and the ledger.\n" + "\n".join(lines),
        data={"day": report.day.isoformat(), "differing": len(report.differing)})
