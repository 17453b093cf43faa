"""Disputes (chargebacks): an order's charge contested by the card holder, from Stripe's
dispute object as Stripe reports it now.

``record_dispute`` brings the order, its ledger and its timeline in line with one dispute, and
is safe to call any number of times in any order (``charge.dispute.created``, ``updated``,
``funds_withdrawn``, ``funds_reinstated`` and ``closed`` all end here with the re-fetched
object):

- an open dispute moves the order to ``disputed`` (remembering the status it had) and alerts
  the operators; payouts of the order wait while any of its disputes is open;
- each of the dispute's balance transactions is a ledger line, keyed by its id: a withdrawal
  ``dispute_out``, a reinstatement ``dispute_in``;
- closed and **won** (or a warning closed, or prevented): the order returns to the status it had
  and its payouts resume;
- closed and **lost**: a ``dispute_loss`` ledger line and ``order.dispute_closed``, on which the
  artisans' ledger claws back their share where the policy (``DISPUTE_CLAWBACK_REASONS``) says
  the artisan answers for that reason; the order stays ``disputed``.

``submit_evidence`` sends the operator's evidence through Stripe's dispute API (no lock held
during the call) and records when and by whom.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import stripe
from sqlalchemy import select

from marketplace import outbox
from marketplace.accounts.models import Role, User
from marketplace.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.integrations import stripe_client
from marketplace.money import Money
from marketplace.orders import alerts, lifecycle
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    DISPUTE_CLOSED,
    Dispute,
    DisputeStatus,
    LedgerKind,
    Order,
    OrderStatus,
    PaymentLedgerEntry,
)
from marketplace.transaction import use_case

log = logging.getLogger(__name__)

# Outbox event {"order_id", "dispute_id"}: a dispute was closed (won or lost).
ORDER_DISPUTE_CLOSED = "order.dispute_closed"
WON = frozenset({DisputeStatus.WON, DisputeStatus.WARNING_CLOSED, DisputeStatus.PREVENTED})

# The evidence fields an operator may fill in (Stripe's ``evidence`` hash, text fields only).
EVIDENCE_TEXT_FIELDS = (
    "product_description", "customer_name", "customer_email_address", "billing_address",
    "shipping_address", "shipping_carrier", "shipping_tracking_number", "shipping_date",
    "customer_communication", "refund_policy_disclosure", "refund_refusal_explanation",
    "uncategorized_text",
)
EVIDENCE_MAX_CHARS = 20_000  # Stripe: 150,000 characters over all text fields


def _timestamp(value) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    return None


def disputes_of(order_id: str) -> list[Dispute]:
    return list(db.session.execute(
        select(Dispute).where(Dispute.order_id == order_id)
        .order_by(Dispute.created_at)).scalars())


def open_disputes(limit: int = 200) -> list[Dispute]:
    return list(db.session.execute(
        select(Dispute).where(Dispute.closed_at.is_(None))
        .order_by(Dispute.evidence_due_by, Dispute.created_at).limit(limit)).scalars())


def get_dispute(dispute_id: str) -> Dispute:
    dispute = db.session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound("No such dispute.", code=OrderError.DISPUTE_NOT_FOUND)
    return dispute


@use_case
def record_dispute(order_id: str, dispute: dict) -> str:
    """Apply Stripe's current view of ``dispute`` (already known to belong to one of the order's
    PaymentIntents) to the order; returns what changed."""
    order = lifecycle.lock_order(order_id)
    currency = str(dispute.get("currency") or "").upper()
    if currency != order.currency or not isinstance(dispute.get("amount"), int):
        return "ignored: dispute amount or currency does not fit the order"
    status = DisputeStatus(dispute["status"]) if dispute.get("status") in set(
        DisputeStatus) else None
    if status is None:
        return f"ignored: unknown dispute status {dispute.get('status')!r}"
    row = db.session.execute(select(Dispute).where(
        Dispute.stripe_dispute_id == dispute["id"])).scalar_one_or_none()
    details = {"dispute": dispute["id"], "amount": dispute["amount"], "currency": currency,
               "reason": dispute.get("reason"), "status": status.value,
               "charge": dispute.get("charge")}
    changes: list[str] = []
    if row is None:
        before = OrderStatus(order.status)
        if before is OrderStatus.DISPUTED:
            before = lifecycle.status_before(order.id, OrderStatus.DISPUTED) or before
        row = Dispute(stripe_dispute_id=dispute["id"], order_id=order.id,
                      payment_intent_id=dispute.get("payment_intent") or "",
                      charge_id=dispute.get("charge"), amount=dispute["amount"],
                      currency=currency, reason=dispute.get("reason"), status=status,
                      order_status_before=before)
        db.session.add(row)
        if status not in WON:
            moved = lifecycle.dispute_opened(order.id, details)
            changes.append("disputed" if moved else "dispute noted")
        else:
            lifecycle.add_event(order.id, "dispute", data=details)
            changes.append("dispute noted")
        alerts.raise_alert(alerts.DISPUTE, dispute["id"],
                           f"The buyer disputes {Money(dispute['amount'], currency)} "
                           f"({dispute.get('reason')}); answer before the due date.",
                           order_id=order.id, data=details)
    elif row.status != status:
        lifecycle.add_event(order.id, "dispute_updated", data={**details, "was": row.status})
        changes.append(f"dispute {status}")
    row.status, row.amount, row.reason = status, dispute["amount"], dispute.get("reason")
    row.evidence_due_by = _timestamp((dispute.get("evidence_details") or {}).get("due_by"))

    for txn in dispute.get("balance_transactions") or []:
        amount = txn.get("amount")
        if not isinstance(amount, int) or not amount or not txn.get("id"):
            continue
        if str(txn.get("currency") or currency).upper() != currency:
            continue
        kind = LedgerKind.DISPUTE_OUT if amount < 0 else LedgerKind.DISPUTE_IN
        if _ledger(order, kind, abs(amount), txn["id"]):
            changes.append("funds withdrawn" if amount < 0 else "funds reinstated")

    if status in DISPUTE_CLOSED and row.closed_at is None:
        row.closed_at = utcnow()
        db.session.flush()
        if status is DisputeStatus.LOST:
            _ledger(order, LedgerKind.DISPUTE_LOSS, row.amount, dispute["id"])
            if lifecycle.status_of(order.id) is not OrderStatus.DISPUTED:
                lifecycle.dispute_opened(order.id, details)
            lifecycle.add_event(order.id, "dispute_closed", data=details)
            changes.append("dispute lost")
        else:
            still_open = any(d.closed_at is None for d in disputes_of(order.id)
                             if d.id != row.id)
            back_to = None if still_open else row.order_status_before
            moved = lifecycle.dispute_decided(order.id, back_to, details)
            changes.append(f"dispute won: order {row.order_status_before}" if moved
                           else "dispute won")
        outbox.emit(ORDER_DISPUTE_CLOSED, {"order_id": order.id, "dispute_id": row.id})
    db.session.flush()
    return ", ".join(changes) or "no change: dispute already recorded"


def _ledger(order: Order, kind: LedgerKind, amount: int, reference: str) -> bool:
    exists = db.session.execute(select(PaymentLedgerEntry.id).where(
        PaymentLedgerEntry.kind == kind, PaymentLedgerEntry.reference == reference)).first()
    if exists:
        return False
    db.session.add(PaymentLedgerEntry(order_id=order.id, kind=kind, amount=amount,
                                      currency=order.currency, reference=reference))
    db.session.flush()
    return True


def lost_disputes(order_id: str) -> list[Dispute]:
    return [d for d in disputes_of(order_id) if d.status == DisputeStatus.LOST]


# --- evidence ------------------------------------------------------------------------------

def submit_evidence(dispute_id: str, operator: User, evidence: dict[str, str], *,
                    submit: bool) -> Dispute:
    """Send evidence for an open dispute through Stripe (``POST /v1/disputes/{id}``); with
    ``submit`` Stripe forwards it to the bank and no more can be sent."""
    if operator.role != Role.OPERATOR:
        raise Forbidden("Only operators answer disputes.", code=OrderError.DISPUTE_OPERATOR_ONLY)
    dispute = get_dispute(dispute_id)
    if dispute.closed_at is not None or dispute.status not in (
            DisputeStatus.NEEDS_RESPONSE, DisputeStatus.WARNING_NEEDS_RESPONSE):
        raise InvalidTransition(f"A dispute that is {dispute.status} takes no more evidence.",
                                code=OrderError.DISPUTE_CLOSED)
    fields = {key: value.strip() for key, value in evidence.items()
              if key in EVIDENCE_TEXT_FIELDS and value and value.strip()}
    unknown = sorted(set(evidence) - set(EVIDENCE_TEXT_FIELDS))
    if unknown or not fields or sum(len(v) for v in fields.values()) > EVIDENCE_MAX_CHARS:
        errors = {f"evidence.{key}": ["not an evidence field"] for key in unknown}
        if not fields:
            errors["evidence"] = ["give at least one field"]
        elif not unknown:
            errors["evidence"] = [f"at most {EVIDENCE_MAX_CHARS} characters in all"]
        raise ValidationFailed("The evidence is not valid.", errors=errors,
                               code=OrderError.DISPUTE_EVIDENCE_INVALID)
    stripe_id = dispute.stripe_dispute_id
    count = 1 + int(bool(dispute.evidence_submitted_at))
    db.session.rollback()  # no transaction (and no lock) across the call
    try:
        answer = stripe_client.submit_dispute_evidence(
            stripe_id, fields, submit=submit,
            idempotency_key=f"sheber-dispute-{dispute_id}-{count}-{int(submit)}")
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc
    return _evidence_sent(dispute_id, operator.id, answer, sorted(fields), submit)


@use_case
def _evidence_sent(dispute_id: str, operator_id: str, answer: dict, fields: list[str],
                   submitted: bool) -> Dispute:
    dispute = db.session.get(Dispute, dispute_id)
    lifecycle.lock_order(dispute.order_id)
    db.session.refresh(dispute)
    if submitted:
        dispute.evidence_submitted_at, dispute.evidence_submitted_by = utcnow(), operator_id
    if answer.get("status") in set(DisputeStatus) and dispute.closed_at is None:
        dispute.status = answer["status"]
    lifecycle.add_event(dispute.order_id, "dispute_evidence", actor_id=operator_id, data={
        "dispute": dispute.stripe_dispute_id, "fields": fields, "submitted": submitted})
    return dispute
