"""Stripe's word on payments: signed webhook events, stored once, and the PaymentIntents they
point at.

``receive_event`` verifies and stores an event and, in the same transaction, emits the outbox
event ``stripe.event_received``; the ``workers.payments`` task then calls ``apply_stripe_event``
with the event id, which acts on it. Events can arrive twice, late or out of order, so the
handlers re-fetch the PaymentIntent from Stripe and act on its current state, and every change
is a guarded transition or a ledger line keyed by Stripe's object id.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

import stripe
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from marketplace import outbox
from marketplace.checkout.errors import CheckoutError
from marketplace.checkout.models import StripeEvent
from marketplace.edge import load_json
from marketplace.errors import DomainError, ExternalServiceError, NotFound
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.integrations import stripe_client
from marketplace.inventory import reservations
from marketplace.metrics import PAYMENTS
from marketplace.money import EXPONENTS, Money
from marketplace.orders import alerts, disputes, lifecycle, notify
from marketplace.orders import service as orders
from marketplace.orders.models import (
    LedgerKind,
    Order,
    OrderStatus,
    PaymentAttempt,
    Refund,
    RefundStatus,
)
from marketplace.transaction import use_case

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
# Outbox event {"event_id"}: a stored Stripe event for ``workers.payments`` to apply.
STRIPE_EVENT_RECEIVED = "stripe.event_received"

PAYMENT_INTENT_EVENTS = frozenset({
    "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
    "payment_intent.requires_action", "payment_intent.processing", "payment_intent.created",
    "payment_intent.amount_capturable_updated", "payment_intent.partially_funded",
})
REFUND_EVENTS = frozenset({
    "charge.refunded", "charge.refund.updated", "refund.created", "refund.updated",
    "refund.failed",
})
DISPUTE_EVENTS = frozenset({
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
})


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


def _signed_at(signature_header: str) -> list[int]:
    stamps = []
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                stamps.append(int(value))
            except ValueError:
                continue
    return stamps


def verify_signature(payload: bytes, signature_header: str | None,
                     now: float | None = None) -> None:
    """Stripe's scheme (HMAC-SHA256 of ``t.body``) through the stripe library, which refuses a
    timestamp older than the tolerance; one more than the tolerance in the future (a clock
    gone wrong, or a signature made to be replayed later) is refused too."""
    header = signature_header or ""
    try:
        # the signature alone: the library's own event parsing fails on a signed JSON array
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header,
                                              stripe_client.webhook_secret(),
                                              tolerance=SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise InvalidWebhook("The Stripe-Signature header does not match the body, or its "
                             "timestamp is outside the tolerance.",
                             code=CheckoutError.WEBHOOK_SIGNATURE_INVALID) from None
    except UnicodeDecodeError:
        raise InvalidWebhook("The body is not a Stripe event.",
                             code=CheckoutError.WEBHOOK_MALFORMED) from None
    now = time.time() if now is None else now
    if any(stamp > now + SIGNATURE_TOLERANCE_SECONDS for stamp in _signed_at(header)):
        raise InvalidWebhook("The Stripe-Signature timestamp is in the future.",
                             code=CheckoutError.WEBHOOK_SIGNATURE_INVALID)


def receive_event(payload: bytes, signature_header: str | None) -> ReceivedEvent:
    """Verify ``Stripe-Signature`` over the raw body and store the event once."""
    verify_signature(payload, signature_header)
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
    object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    if type_ in PAYMENT_INTENT_EVENTS:
        if not object_id:
            return "ignored: no PaymentIntent id"
        intent = _fetch(stripe_client.retrieve_payment_intent, object_id)
        return apply_payment_intent(intent) if intent else f"ignored: Stripe has no {object_id}"
    if type_ in REFUND_EVENTS:
        payment_intent_id = _payment_intent_of(obj)
        if payment_intent_id is None:
            return "ignored: Stripe names no PaymentIntent for it"
        return sync_refunds(payment_intent_id)
    if type_ in DISPUTE_EVENTS:
        if not object_id:
            return "ignored: no dispute id"
        dispute = _fetch(stripe_client.retrieve_dispute, object_id)
        return apply_dispute(dispute) if dispute else f"ignored: Stripe has no {object_id}"
    return f"ignored {type_}"


def _fetch(retrieve, object_id: str) -> dict | None:
    """The object as Stripe holds it now; None if Stripe does not know it (a forged or foreign
    event); an outage raises, and the task retries."""
    try:
        return retrieve(object_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise stripe_client.upstream_error(exc) from exc
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc


def _id(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _payment_intent_of(obj: dict) -> str | None:
    """The PaymentIntent of a refund or charge event's object, as Stripe states it now."""
    kind, object_id = obj.get("object"), _id(obj)
    if not object_id:
        return None
    if kind == "refund" or object_id.startswith("re_"):
        refund = _fetch(stripe_client.retrieve_refund, object_id)
        if refund is None:
            return None
        if _id(refund.get("payment_intent")):
            return _id(refund["payment_intent"])
        charge_id = _id(refund.get("charge"))
        charge = _fetch(stripe_client.retrieve_charge, charge_id) if charge_id else None
        return _id(charge.get("payment_intent")) if charge else None
    charge = _fetch(stripe_client.retrieve_charge, object_id)
    return _id(charge.get("payment_intent")) if charge else None


def _attempt_order(payment_intent_id: str | None) -> str | None:
    attempt = orders.attempt_for(payment_intent_id)
    return attempt.order_id if attempt else None


def apply_payment_intent(intent: dict) -> str:
    """Bring the order in line with the PaymentIntent as Stripe reports it now. Only a
    PaymentIntent Sheber created for an order (a recorded attempt) acts on that order; one that
    merely names an order in its metadata is refunded and the order flagged."""
    order_id = _attempt_order(intent["id"])
    if order_id is None:
        return _foreign_payment_intent(intent)
    _note_stripe_status(intent["id"], intent["status"])
    status = intent["status"]
    if status == "succeeded":
        outcome = _payment_succeeded(order_id, intent)
    elif status == "requires_payment_method" and intent.get("last_payment_error"):
        outcome = _payment_failed(order_id, intent)
    elif status == "canceled":
        outcome = _payment_canceled(order_id, intent)
    elif status in ("requires_action", "processing"):
        return _payment_pending(order_id, intent)
    else:
        return f"no change: PaymentIntent is {status}"
    # committed by now; the label is the outcome's fixed head ("paid", "no change", ...)
    PAYMENTS.labels(outcome=outcome.split(":")[0]).inc()
    return outcome


_NOTE_STATUS = (update(PaymentAttempt)
                .where(PaymentAttempt.payment_intent_id == bindparam("intent"))
                .values(stripe_status=bindparam("status"), updated_at=bindparam("now"))
                .execution_options(synchronize_session=False))  # built once: every event


@use_case
def _note_stripe_status(payment_intent_id: str, status: str) -> None:
    db.session.execute(_NOTE_STATUS, {"intent": payment_intent_id, "status": status[:40],
                                      "now": utcnow()})


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
    if not orders.record_capture(order, charged, intent["id"]):  # with its authorised line
        return "no change: payment already recorded", []

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
        notify.mail_payment_failed(order, error.get("message"))
    return "payment_failed" if moved else f"no change: order is {order.status}"


@use_case
def _payment_canceled(order_id: str, intent: dict) -> str:
    """The order's current PaymentIntent was cancelled (at Stripe, in the dashboard, or by an
    expiry we did not finish): the order can no longer be paid, so it is cancelled and its
    stock released. A cancelled earlier attempt (replaced by a new one) changes nothing."""
    order = lifecycle.lock_order(order_id)
    attempt = orders.attempt_for(intent["id"])
    if attempt.superseded or intent["id"] != order.payment_intent_id:
        return "no change: an earlier attempt was cancelled"
    if OrderStatus(order.status) not in lifecycle.AWAITING_PAYMENT:
        return f"no change: order is {order.status}"
    lifecycle.payment_canceled(order.id, {
        "payment_intent": intent["id"], "by": "stripe",
        "cancellation_reason": intent.get("cancellation_reason")})
    reservations.release(order.id)
    return "cancelled: PaymentIntent cancelled, stock released"


@use_case
def _payment_pending(order_id: str, intent: dict) -> str:
    """3-D Secure asked (requires_action) or the bank is still deciding (processing): the order
    waits for the next event; the timeline says so once per attempt and state."""
    order = lifecycle.lock_order(order_id)
    kind = f"payment_{intent['status']}"
    if intent["id"] == order.payment_intent_id and OrderStatus(
            order.status) in lifecycle.AWAITING_PAYMENT and not any(
            e.type == kind and e.data.get("payment_intent") == intent["id"]
            for e in order.events):
        lifecycle.add_event(order.id, kind, data={"payment_intent": intent["id"]})
    return f"no change: PaymentIntent is {intent['status']}"


# --- PaymentIntents Sheber did not create ------------------------------------------------------

def _foreign_payment_intent(intent: dict) -> str:
    order_id = (intent.get("metadata") or {}).get("order_id")
    order = db.session.get(Order, order_id) if isinstance(order_id, str) else None
    if order is None:
        return "ignored: not a PaymentIntent of Sheber"
    if intent.get("status") != "succeeded":
        return f"ignored: foreign PaymentIntent is {intent.get('status')}"
    outcome, refund_ids = _flag_foreign_payment(order.id, intent)
    if refund_ids:
        with contextlib.suppress(ExternalServiceError):  # the sweep asks Stripe again
            orders.submit_refunds(refund_ids)
    return outcome


@use_case
def _flag_foreign_payment(order_id: str, intent: dict) -> tuple[str, list[str]]:
    """Money from a PaymentIntent that only claims the order: recorded apart (it never counts as
    the order's payment), refunded in full, the order flagged for the operators."""
    order = lifecycle.lock_order(order_id)
    charged = _charged(intent)
    details = {"payment_intent": intent["id"]}
    if charged is not None:
        details["charged"] = charged.to_dict()
    alerts.raise_alert(alerts.FOREIGN_PAYMENT, intent["id"],
                       f"PaymentIntent {intent['id']} was not created by Sheber but names this "
                       "order; it was not accepted as payment and is being refunded.",
                       order_id=order.id, data=details)
    if charged is None or charged.currency != order.currency:
        if not any(e.type == "foreign_payment" and e.data.get("payment_intent") == intent["id"]
                   for e in order.events):
            lifecycle.add_event(order.id, "foreign_payment", data=details)
        return "flagged: foreign PaymentIntent in another currency (refund it by hand)", []
    if not orders.record_ledger(order.id, LedgerKind.FOREIGN_IN, charged, intent["id"],
                                order=order):
        return "no change: foreign payment already recorded", []
    lifecycle.add_event(order.id, "foreign_payment", data=details)
    refund = Refund(order_id=order.id, payment_intent_id=intent["id"], amount=charged.amount,
                    currency=charged.currency, reason="not a PaymentIntent Sheber created",
                    lines=[], source=orders.FOREIGN, status=RefundStatus.REQUESTED)
    db.session.add(refund)
    db.session.flush()
    return "flagged: foreign PaymentIntent refunded", [refund.id]


# --- refunds ---------------------------------------------------------------------------------

def sync_refunds(payment_intent_id: str | None) -> str:
    """Bring the order's refunds in line with the PaymentIntent's refunds as Stripe lists them:
    new ones (the dashboard's, ours answered late) are booked, failed ones undone."""
    order_id = _attempt_order(payment_intent_id) or _foreign_refund_order(payment_intent_id)
    if order_id is None:
        return "ignored: not a PaymentIntent of Sheber"
    try:
        stripe_refunds = stripe_client.list_refunds(payment_intent_id)
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc
    return _record_reported_refunds(order_id, payment_intent_id, stripe_refunds)


def _foreign_refund_order(payment_intent_id: str | None) -> str | None:
    if not payment_intent_id:
        return None
    return db.session.execute(
        select(Refund.order_id).where(Refund.payment_intent_id == payment_intent_id,
                                      Refund.source == orders.FOREIGN).limit(1)).scalar()


@use_case
def _record_reported_refunds(order_id: str, payment_intent_id: str,
                             stripe_refunds: list[dict]) -> str:
    order = lifecycle.lock_order(order_id)
    added = failed = 0
    for stripe_refund in sorted(stripe_refunds, key=lambda r: (r.get("created") or 0, r["id"])):
        if str(stripe_refund.get("currency", "")).upper() != order.currency:
            continue
        ours = _our_refund(order, stripe_refund)
        if stripe_refund.get("status") in ("failed", "canceled"):
            if ours is not None and orders.refund_failed_at_bank(order, ours, stripe_refund):
                failed += 1
            continue
        if ours is not None and ours.stripe_refund_id is not None:
            if ours.status == RefundStatus.PENDING and stripe_refund.get("status") == "succeeded":
                ours.status = RefundStatus.SUCCEEDED
            continue
        if ours is not None and ours.source == orders.FOREIGN:
            continue  # answered late: ``settle_refund`` books it with the intent's answer
        if orders.record_stripe_refund(order, stripe_refund, payment_intent_id):
            added += 1
    outcome = f"recorded {added} refund(s)"
    return outcome + (f", {failed} failed at the bank" if failed else "")


def _our_refund(order: Order, stripe_refund: dict) -> Refund | None:
    refund = db.session.execute(select(Refund).where(
        Refund.stripe_refund_id == stripe_refund["id"])).scalar_one_or_none()
    if refund is not None:
        return refund if refund.order_id == order.id else None
    ours = (stripe_refund.get("metadata") or {}).get("refund_id")
    refund = db.session.get(Refund, ours) if isinstance(ours, str) else None
    return refund if refund is not None and refund.order_id == order.id else None


# --- disputes --------------------------------------------------------------------------------

def apply_dispute(dispute: dict) -> str:
    """A dispute as Stripe reports it now, applied to its order if its charge belongs to a
    PaymentIntent Sheber created."""
    payment_intent_id = _id(dispute.get("payment_intent"))
    if payment_intent_id is None and _id(dispute.get("charge")):
        charge = _fetch(stripe_client.retrieve_charge, _id(dispute["charge"]))
        payment_intent_id = _id(charge.get("payment_intent")) if charge else None
    order_id = _attempt_order(payment_intent_id)
    if order_id is None:
        return "ignored: dispute of a PaymentIntent Sheber did not create"
    return disputes.record_dispute(order_id, {**dispute, "payment_intent": payment_intent_id})
