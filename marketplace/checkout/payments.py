"""Stripe's word on payments: signed webhook events, stored once, and the PaymentIntents they
point at.

``receive_event`` verifies and stores an event and, in the same transaction, emits the outbox
event ``stripe.event_received``; the ``workers.payments`` task then calls ``apply_stripe_event``
with the event id, which acts on it. Events can arrive twice, late or out of order, so the
handlers re-fetch the PaymentIntent from Stripe and act on its current state, and every change
is a guarded transition or a ledger line keyed by Stripe's object id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marketplace import outbox
from marketplace.checkout.errors import CheckoutError
from marketplace.checkout.models import StripeEvent
from marketplace.edge import load_json
from marketplace.errors import DomainError, NotFound
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.integrations import stripe_client
from marketplace.inventory import reservations
from marketplace.metrics import PAYMENTS
from marketplace.money import EXPONENTS, Money
from marketplace.orders import lifecycle
from marketplace.orders import service as orders
from marketplace.orders.models import LedgerKind, Order, OrderStatus, PaymentLedgerEntry
from marketplace.transaction import use_case

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
# Outbox event {"event_id"}: a stored Stripe event for ``workers.payments`` to apply.
STRIPE_EVENT_RECEIVED = "stripe.event_received"


class InvalidWebhook(DomainError):
    status = 400
    type = "invalid-webhook"
    title = "Invalid webhook"
    code = CheckoutError.WEBHOOK_MALFORMED


@dataclass(frozen=True)
class ReceivedEvent:
    event_id: str
    type: str
    duplicate: bool
    outcome: str | None = None  # set when a duplicate's first delivery was applied already


def receive_event(payload: bytes, signature_header: str | None) -> ReceivedEvent:
    """Verify ``Stripe-Signature`` over the raw body and store the event once."""
    try:
        text = payload.decode("utf-8")
        # the signature alone: the library's own event parsing fails on a signed JSON array
        stripe.WebhookSignature.verify_header(text, signature_header or "",
                                              stripe_client.webhook_secret(),
                                              tolerance=SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise InvalidWebhook("The Stripe-Signature header does not match the body, or its "
                             "timestamp is too old.",
                             code=CheckoutError.WEBHOOK_SIGNATURE_INVALID) from None
    except UnicodeDecodeError:
        raise InvalidWebhook("The body is not a Stripe event.",
                             code=CheckoutError.WEBHOOK_MALFORMED) from None
    data = load_json(payload, lenient=True)
    if not isinstance(data, dict):  # signed, yet not an event: an array, a string, not JSON
        raise InvalidWebhook("The body is not a Stripe event.",
                             code=CheckoutError.WEBHOOK_MALFORMED)
    event_id, type_ = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not isinstance(type_, str):
        raise InvalidWebhook("The event has no id or type.", code=CheckoutError.WEBHOOK_MALFORMED)
    db.session.add(StripeEvent(event_id=event_id, type=type_, payload=data))
    outbox.emit(STRIPE_EVENT_RECEIVED, {"event_id": event_id})
    try:
        db.session.commit()
        return ReceivedEvent(event_id, type_, duplicate=False)
    except IntegrityError:
        db.session.rollback()
    db.session.execute(update(StripeEvent).where(StripeEvent.event_id == event_id)
                       .values(deliveries=StripeEvent.deliveries + 1))
    row = db.session.execute(select(StripeEvent.processed_at, StripeEvent.outcome)
                             .where(StripeEvent.event_id == event_id)).one()
    if row.processed_at is None:
        # Stripe sends again what it thinks we missed: hand it to the task again (applying an
        # event is idempotent), in case the first attempt is stuck.
        outbox.emit(STRIPE_EVENT_RECEIVED, {"event_id": event_id})
    db.session.commit()
    return ReceivedEvent(event_id, type_, duplicate=True, outcome=row.outcome)


def apply_stripe_event(event_id: str) -> str:
    """Act on a stored event once; returns what happened. Safe to call again (and concurrently):
    a processed event is skipped and every effect is guarded."""
    row = db.session.execute(
        select(StripeEvent).where(StripeEvent.event_id == event_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No stored Stripe event {event_id}.",
                       code=CheckoutError.STRIPE_EVENT_NOT_FOUND)
    if row.processed_at is not None:
        return row.outcome or "already processed"
    type_, payload = row.type, row.payload
    db.session.rollback()
    try:
        outcome = _dispatch(type_, payload)
    except IntegrityError:
        # A concurrent delivery recorded the same Stripe object first; the second pass sees it.
        outcome = _dispatch(type_, payload)
    _mark_processed(event_id, outcome)
    return outcome


@use_case
def _mark_processed(event_id: str, outcome: str) -> None:
    db.session.execute(
        update(StripeEvent)
        .where(StripeEvent.event_id == event_id, StripeEvent.processed_at.is_(None))
        .values(processed_at=utcnow(), outcome=outcome[:200]))


def _dispatch(type_: str, payload: dict) -> str:
    obj = (payload.get("data") or {}).get("object") or {}
    if type_.startswith("payment_intent."):
        if not obj.get("id"):
            return "ignored: no PaymentIntent id"
        return apply_payment_intent(_fetch_intent(obj["id"]))
    if type_ == "charge.refunded":
        return sync_refunds(obj.get("payment_intent"))
    if type_ == "charge.dispute.created":
        return record_dispute(obj)
    return f"ignored {type_}"


def _fetch_intent(payment_intent_id: str) -> dict:
    try:
        return stripe_client.retrieve_payment_intent(payment_intent_id)
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc


def _order_for_intent(payment_intent_id: str | None, order_id: str | None = None) -> Order | None:
    if order_id:
        order = db.session.get(Order, order_id)
        if order is not None:
            return order
    if not payment_intent_id:
        return None
    order = db.session.execute(
        select(Order).where(Order.payment_intent_id == payment_intent_id)).scalar_one_or_none()
    if order is None:
        order = db.session.execute(
            select(Order).join(PaymentLedgerEntry, PaymentLedgerEntry.order_id == Order.id)
            .where(PaymentLedgerEntry.reference == payment_intent_id).limit(1)
        ).scalar_one_or_none()
    return order


def apply_payment_intent(intent: dict) -> str:
    """Bring the order in line with the PaymentIntent as Stripe reports it now."""
    order = _order_for_intent(intent["id"], (intent.get("metadata") or {}).get("order_id"))
    if order is None:
        return "no matching order"
    if intent["status"] == "succeeded":
        outcome = _payment_succeeded(order.id, intent)
    elif intent["status"] == "requires_payment_method" and intent.get("last_payment_error"):
        outcome = _payment_failed(order.id, intent)
    else:
        return f"no change: PaymentIntent is {intent['status']}"
    # committed by now; the label is the outcome's fixed head ("paid", "no change", ...)
    PAYMENTS.labels(outcome=outcome.split(":")[0]).inc()
    return outcome


def _charged(intent: dict) -> Money | None:
    currency = str(intent.get("currency") or "").upper()
    amount = intent.get("amount_received") or intent.get("amount")
    if currency not in EXPONENTS or not isinstance(amount, int):
        return None
    return Money(amount, currency)


def _payment_succeeded(order_id: str, intent: dict) -> str:
    outcome, refund_ids = _record_payment(order_id, intent)
    if refund_ids:  # after the commit: Stripe is never called under the order's lock
        orders.submit_refunds(refund_ids)
    return outcome


@use_case
def _record_payment(order_id: str, intent: dict) -> tuple[str, list[str]]:
    order = lifecycle.lock_order(order_id)
    charged = _charged(intent)
    if charged is None:
        return "ignored: PaymentIntent without a usable amount or currency", []
    if not orders.record_ledger(order.id, LedgerKind.CAPTURED, charged, intent["id"]):
        return "no change: payment already recorded", []
    orders.record_ledger(order.id, LedgerKind.AUTHORISED, charged, intent["id"])

    if charged != order.total:
        reason = (f"Stripe charged {charged} for PaymentIntent {intent['id']}, the order "
                  f"total is {order.total}")
        order.flagged_reason = reason
        lifecycle.add_event(order.id, "payment_mismatch", data={
            "payment_intent": intent["id"], "charged": charged.to_dict(),
            "expected": order.total.to_dict()})
        log.warning("order %s flagged: %s", order.id, reason)
        return "flagged: amount or currency mismatch", []

    status = OrderStatus(order.status)
    if status in lifecycle.AWAITING_PAYMENT:
        reservations.convert(order.id)
        lifecycle.mark_paid(order, payment_intent_id=intent["id"])
        return "paid", []

    if status is OrderStatus.EXPIRED:
        items = [(line.product_id, line.quantity) for line in order.lines]
        if reservations.sell_without_hold(order.id, items):
            lifecycle.mark_paid(order, payment_intent_id=intent["id"], after_expiry=True)
            return "paid after expiry", []
        why = "the hold expired and the pieces were sold"
        refunds = _refund_late_payment(order, intent["id"], why)
        lifecycle.refund_after_late_payment(order.id, why)
        return "refunded: paid after expiry, out of stock", refunds

    # Paid already through another PaymentIntent, or cancelled meanwhile: give the money back.
    refunds = _refund_late_payment(order, intent["id"],
                                   f"payment arrived for an order that is {status}")
    return "refunded: duplicate or late payment", refunds


def _refund_late_payment(order: Order, payment_intent_id: str, why: str) -> list[str]:
    made = orders.request_refunds(order, None, reason=why, source="automatic",
                                  payment_intent_id=payment_intent_id)
    return [refund.id for refund in made]


@use_case
def _payment_failed(order_id: str, intent: dict) -> str:
    order = lifecycle.lock_order(order_id)
    if intent["id"] != order.payment_intent_id:
        return "no change: failure of an earlier attempt"
    error = intent.get("last_payment_error") or {}
    details = {"payment_intent": intent["id"], "code": error.get("code"),
               "decline_code": error.get("decline_code"), "message": error.get("message")}
    moved = lifecycle.mark_payment_failed(order.id, details)
    already_noted = any(e.type == "payment_failed" and e.data.get("payment_intent") == intent["id"]
                        for e in order.events)
    if not already_noted and (moved or order.status == OrderStatus.PAYMENT_FAILED):
        lifecycle.add_event(order.id, "payment_failed", data=details)
    return "payment_failed" if moved else f"no change: order is {order.status}"


def sync_refunds(payment_intent_id: str | None) -> str:
    """Record refunds made outside our API (Stripe dashboard) that Stripe reports."""
    order = _order_for_intent(payment_intent_id)
    if order is None:
        return "no matching order"
    try:
        stripe_refunds = stripe_client.list_refunds(payment_intent_id)
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc
    return _record_reported_refunds(order.id, payment_intent_id, stripe_refunds)


@use_case
def _record_reported_refunds(order_id: str, payment_intent_id: str,
                             stripe_refunds: list[dict]) -> str:
    order = lifecycle.lock_order(order_id)
    added = 0
    for refund in stripe_refunds:
        if refund.get("status") in ("failed", "canceled"):
            continue
        if str(refund.get("currency", "")).upper() != order.currency:
            continue
        if orders.record_stripe_refund(order, refund, payment_intent_id):
            added += 1
    return f"recorded {added} refund(s)"


@use_case
def record_dispute(dispute: dict) -> str:
    order = _order_for_intent(dispute.get("payment_intent"))
    if order is None:
        return "no matching order"
    lifecycle.lock_order(order.id)
    details = {"dispute": dispute.get("id"), "amount": dispute.get("amount"),
               "currency": str(dispute.get("currency", "")).upper(),
               "reason": dispute.get("reason"), "status": dispute.get("status"),
               "charge": dispute.get("charge")}
    moved = lifecycle.dispute_opened(order.id, details)
    return "disputed" if moved else "dispute noted"
