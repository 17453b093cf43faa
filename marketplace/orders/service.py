"""Orders: reading them, the payment ledger, refunds and cancellation.

Status changes are the lifecycle's (``marketplace.orders.lifecycle``); the use cases here own
their transaction (``@use_case``) and lock the order first. Stripe is never called while that
lock is held: a refund is recorded as an intent and committed, then Stripe is asked (with the
refund's id as idempotency key), then the answer is recorded in a second use case. An intent
whose answer never came (Stripe down, the process gone) is submitted again by the beat sweep.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import stripe
from flask import current_app
from sqlalchemy import bindparam, func, select, update

from marketplace import outbox
from marketplace.accounts.models import Role, User
from marketplace.errors import (
    ExternalServiceError,
    Forbidden,
    InvalidTransition,
    NotFound,
    RequestError,
    ValidationFailed,
)
from marketplace.extensions import db
from marketplace.http import decode_cursor, encode_cursor
from marketplace.ids import utcnow
from marketplace.integrations import stripe_client
from marketplace.inventory import reservations
from marketplace.money import Money
from marketplace.orders import alerts, invoices, lifecycle, notify
from marketplace.orders.errors import OrderError
from marketplace.orders.lifecycle import (
    AWAITING_PAYMENT,
    ORDER_REFUND_REVERSED,
    ORDER_REFUNDED,
    REFUNDABLE,
    lock_order,
)
from marketplace.orders.models import (
    LedgerKind,
    Order,
    OrderLine,
    OrderStatus,
    PaymentAttempt,
    PaymentLedgerEntry,
    Refund,
    RefundStatus,
)
from marketplace.transaction import use_case

log = logging.getLogger(__name__)

FOREIGN = "foreign"  # Refund.source: giving back a PaymentIntent Sheber did not create
# Refund intents count against what may still be refunded until Stripe refuses them.
OPEN_REFUND = (RefundStatus.REQUESTED, RefundStatus.PENDING, RefundStatus.SUCCEEDED)
RESUBMIT_AFTER = timedelta(minutes=2)


# --- reading -------------------------------------------------------------------------------

def get_order(order_id: str) -> Order | None:
    return db.session.get(Order, order_id)


def visible_order(order_id: str, user: User) -> Order:
    """The order if ``user`` may see it (its buyer, an artisan with a line in it, an operator),
    else 404: nobody learns that someone else's order exists."""
    order = db.session.get(Order, order_id)
    if order is None or not can_see(order, user):
        raise NotFound("No such order.", code=OrderError.NOT_FOUND)
    return order


def can_see(order: Order, user: User) -> bool:
    if user.role == Role.OPERATOR or order.buyer_id == user.id:
        return True
    return user.role == Role.ARTISAN and any(line.artisan_id == user.id for line in order.lines)


def list_orders(user: User, *, status: str | None = None, limit: int = 24,
                cursor: str | None = None) -> tuple[list[Order], str | None]:
    query = select(Order)
    if user.role == Role.BUYER:
        query = query.where(Order.buyer_id == user.id)
    elif user.role == Role.ARTISAN:
        query = query.where(Order.id.in_(
            select(OrderLine.order_id).where(OrderLine.artisan_id == user.id)))
    if status:
        query = query.where(Order.status == status)
    if cursor:
        values = decode_cursor(cursor)
        try:
            created_at, order_id = datetime.fromisoformat(values[0]), str(values[1])
        except (IndexError, TypeError, ValueError):
            raise ValidationFailed("The cursor is not valid.", code=RequestError.INVALID_CURSOR,
                                   errors={"cursor": ["invalid"]}) from None
        query = query.where((Order.created_at < created_at)
                            | ((Order.created_at == created_at) & (Order.id < order_id)))
    rows = db.session.execute(
        query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
    ).scalars().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), last.id])
    return list(rows), next_cursor


# --- payment ledger ------------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentSummary:
    authorised: Money
    captured: Money
    refunded: Money
    total: Money

    @property
    def refundable(self) -> Money:
        return self.captured - self.refunded

    @property
    def fully_paid(self) -> bool:
        return self.captured.amount >= self.total.amount > 0

    @property
    def fully_refunded(self) -> bool:
        return self.captured.amount > 0 and self.refunded.amount >= self.captured.amount

    def to_dict(self) -> dict:
        return {
            "authorised": self.authorised.to_dict(), "captured": self.captured.to_dict(),
            "refunded": self.refunded.to_dict(), "refundable": self.refundable.to_dict(),
            "fully_paid": self.fully_paid, "fully_refunded": self.fully_refunded,
        }


def payment_summary(order: Order) -> PaymentSummary:
    sums = dict(db.session.execute(
        select(PaymentLedgerEntry.kind, func.coalesce(func.sum(PaymentLedgerEntry.amount), 0))
        .where(PaymentLedgerEntry.order_id == order.id,
               PaymentLedgerEntry.currency == order.currency)
        .group_by(PaymentLedgerEntry.kind)).all())
    money = {kind: Money(int(sums.get(kind, 0)), order.currency) for kind in LedgerKind}
    # A refund the bank failed after Stripe accepted it was not refunded after all.
    refunded = money[LedgerKind.REFUNDED] - money[LedgerKind.REFUND_BACK]
    return PaymentSummary(money[LedgerKind.AUTHORISED], money[LedgerKind.CAPTURED],
                          refunded, order.total)


def counter_value(order: Order, amount: int) -> int:
    """``amount`` (order currency, minor units) in the listing currency at the order's rate,
    rounded half-up once: the other side of a ledger line."""
    rate = Decimal(order.fx_rate)
    if order.currency == order.listing_currency or rate <= 0:
        return amount
    return Money(amount, order.currency).convert(order.listing_currency, 1 / rate).amount


def record_ledger(order_id: str, kind: LedgerKind | str, amount: Money, reference: str,
                  *, order: Order | None = None) -> bool:
    """Add a ledger line unless that Stripe object was recorded already (then False). With the
    order, the line also states its value in the listing currency and the rate used."""
    exists = db.session.execute(select(PaymentLedgerEntry.id).where(
        PaymentLedgerEntry.kind == kind, PaymentLedgerEntry.reference == reference)).first()
    if exists:
        return False
    db.session.add(_ledger_entry(order_id, kind, amount, reference, order))
    db.session.flush()
    return True


_CAPTURE_KINDS = (LedgerKind.CAPTURED, LedgerKind.AUTHORISED)
_CAPTURE_RECORDED = select(PaymentLedgerEntry.kind).where(  # built once: every paid order
    PaymentLedgerEntry.kind.in_(_CAPTURE_KINDS),
    PaymentLedgerEntry.reference == bindparam("reference"))


def record_capture(order: Order, amount: Money, reference: str) -> bool:
    """The captured and the authorised line of the PaymentIntent ``reference`` (as two
    ``record_ledger`` calls would add them, in one read and one insert); False, and nothing
    written, if its capture was recorded already."""
    recorded = set(db.session.execute(_CAPTURE_RECORDED, {"reference": reference}).scalars())
    if LedgerKind.CAPTURED in recorded:
        return False
    db.session.add_all([_ledger_entry(order.id, kind, amount, reference, order)
                        for kind in _CAPTURE_KINDS if kind not in recorded])
    db.session.flush()
    return True


def _ledger_entry(order_id: str, kind: LedgerKind | str, amount: Money, reference: str,
                  order: Order | None) -> PaymentLedgerEntry:
    entry = PaymentLedgerEntry(order_id=order_id, kind=kind, amount=amount.amount,
                               currency=amount.currency, reference=reference)
    if order is not None and order.currency == amount.currency:
        entry.counter_amount = counter_value(order, amount.amount)
        entry.counter_currency, entry.fx_rate = order.listing_currency, order.fx_rate
    return entry


# --- payment attempts --------------------------------------------------------------------------

def record_attempt(order_id: str, attempt: int, payment_intent_id: str, amount: int,
                   currency: str) -> None:
    """Sheber created this PaymentIntent for this order (call in the use case that records it)."""
    db.session.add(PaymentAttempt(order_id=order_id, attempt=attempt,
                                  payment_intent_id=payment_intent_id, amount=amount,
                                  currency=currency))
    db.session.flush()


_ATTEMPT = select(PaymentAttempt).where(  # built once: every Stripe event of a payment
    PaymentAttempt.payment_intent_id == bindparam("payment_intent_id"))


def attempt_for(payment_intent_id: str | None) -> PaymentAttempt | None:
    if not payment_intent_id:
        return None
    return db.session.execute(_ATTEMPT, {"payment_intent_id": payment_intent_id}
                              ).scalar_one_or_none()


def supersede_attempt(payment_intent_id: str) -> None:
    """A newer attempt replaces this PaymentIntent: its cancellation must not cancel the order.
    Commits (it must hold before Stripe is asked to cancel it)."""
    db.session.execute(update(PaymentAttempt)
                       .where(PaymentAttempt.payment_intent_id == payment_intent_id)
                       .values(superseded=True, updated_at=utcnow())
                       .execution_options(synchronize_session=False))
    db.session.commit()


def captured_on(order: Order, payment_intent_id: str) -> int:
    return int(db.session.execute(
        select(func.coalesce(func.sum(PaymentLedgerEntry.amount), 0))
        .where(PaymentLedgerEntry.order_id == order.id,
               PaymentLedgerEntry.kind == LedgerKind.CAPTURED,
               PaymentLedgerEntry.reference == payment_intent_id)).scalar_one())


def refunded_on(payment_intent_id: str) -> int:
    """Refunds Stripe accepted on this PaymentIntent and the bank has not failed."""
    return int(db.session.execute(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .where(Refund.payment_intent_id == payment_intent_id,
               Refund.stripe_refund_id.is_not(None),
               Refund.status.in_([RefundStatus.PENDING, RefundStatus.SUCCEEDED]))).scalar_one())


def captured_intents(order: Order) -> list[tuple[str, int]]:
    """(PaymentIntent id, amount still refundable) for every capture on the order."""
    captured = db.session.execute(
        select(PaymentLedgerEntry.reference, PaymentLedgerEntry.amount)
        .where(PaymentLedgerEntry.order_id == order.id,
               PaymentLedgerEntry.kind == LedgerKind.CAPTURED)
        .order_by(PaymentLedgerEntry.created_at)).all()
    refunded = dict(db.session.execute(
        select(Refund.payment_intent_id, func.sum(Refund.amount))
        .where(Refund.order_id == order.id, Refund.status.in_(OPEN_REFUND))
        .group_by(Refund.payment_intent_id)).all())
    return [(pi, amount - int(refunded.get(pi, 0))) for pi, amount in captured]


def refundable_left(order: Order) -> int:
    """Captured money not yet refunded nor promised to a refund in flight (minor units)."""
    return sum(max(left, 0) for _, left in captured_intents(order))


# --- refunds: intent, Stripe, result -----------------------------------------------------------

def request_refunds(order: Order, amount: int | None, *, reason: str, source: str,
                    lines: list[dict] | None = None, actor_id: str | None = None,
                    payment_intent_id: str | None = None) -> list[Refund]:
    """Record refund intents for ``amount`` (None: everything left) over the order's captures,
    oldest first, or over the one ``payment_intent_id``. Call under ``lock_order``; Stripe is
    asked after the commit by ``submit_refunds``."""
    captures = [(intent_id, left) for intent_id, left in captured_intents(order)
                if payment_intent_id is None or intent_id == payment_intent_id]
    remaining = sum(max(left, 0) for _, left in captures) if amount is None else amount
    made: list[Refund] = []
    for intent_id, refundable in captures:
        if remaining <= 0:
            break
        part = min(remaining, refundable)
        if part <= 0:
            continue
        refund = Refund(order_id=order.id, payment_intent_id=intent_id, amount=part,
                        currency=order.currency, reason=reason, lines=lines if not made else [],
                        source=source, status=RefundStatus.REQUESTED, created_by=actor_id)
        db.session.add(refund)
        made.append(refund)
        remaining -= part
    if remaining > 0:
        raise InvalidTransition("There is not enough captured money left to refund.",
                                code=OrderError.REFUND_EXCEEDS_CAPTURED)
    db.session.flush()
    return made


def submit_refunds(refund_ids: list[str]) -> list[Refund]:
    """Ask Stripe for each requested refund (no lock held), then record its answer. A refusal
    fails that refund; an outage leaves it requested for the sweep and raises 502."""
    outage: ExternalServiceError | None = None
    for refund_id in refund_ids:
        try:
            submit_refund(refund_id)
        except ExternalServiceError as exc:
            outage = outage or exc
    if outage is not None:
        raise outage
    return [db.session.get(Refund, refund_id) for refund_id in refund_ids]


def submit_refund(refund_id: str) -> None:
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.status != RefundStatus.REQUESTED:
        return
    request = {"payment_intent_id": refund.payment_intent_id, "amount": refund.amount,
               "metadata": {"order_id": refund.order_id, "refund_id": refund.id,
                            "reason": refund.reason[:500], "source": refund.source}}
    db.session.rollback()  # no transaction (and no lock) stays open across the call
    try:
        answer = stripe_client.create_refund(
            **request, idempotency_key=f"sheber-refund-{refund_id}")
    except (stripe.InvalidRequestError, stripe.CardError) as exc:
        _refund_refused(refund_id, str(getattr(exc, "user_message", None) or exc))
        raise stripe_client.upstream_error(exc) from exc
    except stripe.StripeError as exc:
        log.warning("refund %s: Stripe unavailable, the sweep retries: %s", refund_id, exc)
        raise stripe_client.upstream_error(exc) from exc
    settle_refund(refund_id, answer["id"], answer.get("status") or "succeeded")


@use_case
def _refund_refused(refund_id: str, why: str) -> None:
    refund = db.session.get(Refund, refund_id)
    lock_order(refund.order_id)
    db.session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.REQUESTED)
        .values(status=RefundStatus.FAILED, failure_reason=why[:2000])
        .execution_options(synchronize_session="fetch"))
    lifecycle.add_event(refund.order_id, "refund_failed", data={
        "refund": refund_id, "amount": refund.amount, "currency": refund.currency,
        "reason": why[:500]})
    notify.alert_operators("refund_failed", db.session.get(Order, refund.order_id),
                           detail=f"{Money(refund.amount, refund.currency)}: {why[:500]}")


@use_case
def settle_refund(refund_id: str, stripe_refund_id: str, stripe_status: str) -> Refund:
    """Stripe accepted the refund: its id, the ledger line, the timeline and ``order.refunded``
    (once: a second answer for the same refund changes nothing)."""
    refund = db.session.get(Refund, refund_id)
    order = lock_order(refund.order_id)
    db.session.refresh(refund)
    if refund.stripe_refund_id is not None:
        return refund
    status = RefundStatus(stripe_status) if stripe_status in set(RefundStatus) else (
        RefundStatus.PENDING)
    refund.stripe_refund_id, refund.status = stripe_refund_id, status
    if status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        refund.failure_reason = f"Stripe answered {status}"
        lifecycle.add_event(order.id, "refund_failed", data={
            "refund": refund.id, "amount": refund.amount, "currency": refund.currency,
            "reason": refund.failure_reason})
        return refund
    _book_refund(order, refund)
    return refund


def record_stripe_refund(order: Order, stripe_refund: dict, payment_intent_id: str) -> bool:
    """A refund Stripe reports (made in its dashboard, or ours answered late): record it once.
    Call under ``lock_order``."""
    if db.session.execute(select(Refund.id).where(
            Refund.stripe_refund_id == stripe_refund["id"])).first():
        return False
    ours = (stripe_refund.get("metadata") or {}).get("refund_id")
    refund = db.session.get(Refund, ours) if ours else None
    if refund is not None and refund.order_id == order.id and refund.stripe_refund_id is None:
        refund.stripe_refund_id = stripe_refund["id"]
        refund.status = RefundStatus.SUCCEEDED if stripe_refund.get(
            "status") == "succeeded" else RefundStatus.PENDING
        _book_refund(order, refund)
        return True
    amount = int(stripe_refund["amount"])
    left = captured_on(order, payment_intent_id) - refunded_on(payment_intent_id)
    if amount > left:
        alerts.raise_alert(
            alerts.REFUND_OVER_CAPTURE, stripe_refund["id"],
            f"Stripe reports refund {stripe_refund['id']} of {Money(amount, order.currency)} "
            f"on {payment_intent_id}, but only {Money(max(left, 0), order.currency)} captured "
            "there is not refunded: it is not booked.", order_id=order.id,
            data={"refund": stripe_refund["id"], "amount": amount, "left": left})
        return False
    reason = (stripe_refund.get("metadata") or {}).get("reason") or "refunded in Stripe"
    refund = Refund(order_id=order.id, stripe_refund_id=stripe_refund["id"],
                    payment_intent_id=payment_intent_id, amount=amount,
                    currency=order.currency, reason=reason, lines=[], source="stripe",
                    status=stripe_refund.get("status") or RefundStatus.SUCCEEDED)
    db.session.add(refund)
    _book_refund(order, refund)
    return True


def _book_refund(order: Order, refund: Refund) -> None:
    if refund.source == FOREIGN:
        # Money a PaymentIntent we did not create paid in, given back: not the order's.
        record_ledger(order.id, LedgerKind.FOREIGN_OUT, Money(refund.amount, order.currency),
                      refund.stripe_refund_id, order=order)
        lifecycle.add_event(order.id, "foreign_payment_refunded", data={
            "refund_id": refund.stripe_refund_id, "amount": refund.amount,
            "payment_intent": refund.payment_intent_id})
        return
    record_ledger(order.id, LedgerKind.REFUNDED, Money(refund.amount, order.currency),
                  refund.stripe_refund_id, order=order)
    invoices.issue_or_alert(invoices.issue_credit_note, order, refund)
    outbox.emit(ORDER_REFUNDED, {"order_id": order.id,
                                 "stripe_refund_id": refund.stripe_refund_id})
    lifecycle.add_event(order.id, "refund", actor_id=refund.created_by, data={
        "refund_id": refund.stripe_refund_id, "amount": refund.amount,
        "currency": order.currency, "reason": refund.reason, "source": refund.source,
        "lines": refund.lines or []})
    db.session.flush()
    fully = payment_summary(order).fully_refunded
    notify.mail_refund(order, Money(refund.amount, order.currency),
                       None if refund.source in ("stripe", "cancellation") else refund.reason,
                       fully_refunded=fully)
    if fully:
        lifecycle.mark_refunded(order.id, actor_id=refund.created_by)


def refund_failed_at_bank(order: Order, refund: Refund, stripe_refund: dict) -> bool:
    """Stripe accepted ``refund`` and the bank failed it (``refund.failed``): the buyer was not
    repaid. The ledger line is taken back, refunded lines are open again, the order leaves
    ``refunded``, the operators are told, and ``order.refund_reversed`` makes the artisans'
    ledger take back their refund line. Once (False if already done). Call under lock_order."""
    if refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        return False
    booked = refund.stripe_refund_id is not None
    reason = str(stripe_refund.get("failure_reason") or stripe_refund.get("status") or "failed")
    refund.status = (RefundStatus.CANCELED if stripe_refund.get("status") == "canceled"
                     else RefundStatus.FAILED)
    refund.failure_reason = reason[:2000]
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = stripe_refund["id"]
    if not booked:
        lifecycle.add_event(order.id, "refund_failed", data={
            "refund": refund.id, "amount": refund.amount, "currency": refund.currency,
            "reason": reason[:500]})
        return True
    details = {"refund": refund.id, "refund_id": refund.stripe_refund_id,
               "amount": refund.amount, "currency": refund.currency, "reason": reason[:500]}
    alerts.raise_alert(
        alerts.REFUND_FAILED, refund.stripe_refund_id,
        f"The bank failed refund {refund.stripe_refund_id} of {refund.money} ({reason}): the "
        "money has not been returned. Refund again or contact the card holder.",
        order_id=order.id, data=details)
    if refund.source == FOREIGN:
        lifecycle.add_event(order.id, "refund_failed", data=details)
        return True
    record_ledger(order.id, LedgerKind.REFUND_BACK, Money(refund.amount, order.currency),
                  refund.stripe_refund_id, order=order)
    by_id = {line.id: line for line in order.lines}
    for item in refund.lines or []:
        line = by_id.get(item.get("line_id"))
        if line is not None:
            line.refunded_quantity = max(0, line.refunded_quantity - int(item.get("quantity")
                                                                         or 0))
    lifecycle.refund_reversed(order.id, details)
    outbox.emit(ORDER_REFUND_REVERSED, {"order_id": order.id, "refund_id": refund.id})
    return True


def requested_refund_ids(older_than: timedelta = RESUBMIT_AFTER,
                         now: datetime | None = None) -> list[str]:
    """Intents Stripe has not answered for a while (an outage, a lost process): to resubmit."""
    cutoff = (now or utcnow()) - older_than
    return list(db.session.execute(
        select(Refund.id).where(Refund.status == RefundStatus.REQUESTED,
                                Refund.created_at <= cutoff)
        .order_by(Refund.created_at)).scalars())


def resubmit_requested_refunds(now: datetime | None = None) -> int:
    """The beat sweep: ask Stripe again for every stale intent (same idempotency key)."""
    ids = requested_refund_ids(now=now)
    db.session.rollback()
    done = 0
    for refund_id in ids:
        try:
            submit_refund(refund_id)
            done += 1
        except ExternalServiceError:
            continue
    return done


@dataclass(frozen=True)
class RefundRequest:
    amount: Money | None
    lines: list[tuple[str, int]] | None
    reason: str


def refund_order(order_id: str, operator: User, request: RefundRequest) -> list[Refund]:
    """An operator refunds an amount, some lines, or (neither given) everything left."""
    return submit_refunds(_request_operator_refund(order_id, operator, request))


def refund_refusal(order: Order) -> tuple[OrderError, str] | None:
    """Why nothing can be refunded on this order now, or None: the rule pages show too."""
    if OrderStatus(order.status) not in REFUNDABLE:
        return (OrderError.NOT_REFUNDABLE,
                f"An order that is {order.status} has no payment to refund.")
    if refundable_left(order) <= 0:
        return (OrderError.FULLY_REFUNDED,
                "Everything paid for this order has been refunded already.")
    return None


@use_case
def _request_operator_refund(order_id: str, operator: User, request: RefundRequest) -> list[str]:
    if operator.role != Role.OPERATOR:
        raise Forbidden("Only operators issue refunds.", code=OrderError.REFUND_OPERATOR_ONLY)
    order = lock_order(order_id)
    refusal = refund_refusal(order)
    if refusal is not None:
        raise InvalidTransition(refusal[1], code=refusal[0])
    left = refundable_left(order)
    lines_out: list[dict] = []
    if request.amount is not None and request.lines:
        raise ValidationFailed("Give an amount or lines, not both.",
                               code=OrderError.REFUND_AMOUNT_OR_LINES,
                               errors={"amount": ["give an amount or lines, not both"]})
    if request.lines:
        by_id = {line.id: line for line in order.lines}
        amount = 0
        errors: dict[str, list[str]] = {}
        for index, (line_id, quantity) in enumerate(request.lines):
            line = by_id.get(line_id)
            if line is None:
                errors[f"lines.{index}.line_id"] = ["not a line of this order"]
                continue
            if quantity > line.quantity - line.refunded_quantity:
                errors[f"lines.{index}.quantity"] = [
                    f"at most {line.quantity - line.refunded_quantity} left to refund"]
                continue
            amount += line.unit_presentment_amount * quantity
            lines_out.append({"line_id": line_id, "quantity": quantity})
        if errors:
            raise ValidationFailed("Some lines cannot be refunded.",
                                   code=OrderError.REFUND_LINES_INVALID, errors=errors)
    elif request.amount is not None:
        if request.amount.currency != order.currency:
            raise ValidationFailed(f"The order was paid in {order.currency}.",
                                   code=OrderError.REFUND_CURRENCY_MISMATCH,
                                   errors={"amount.currency": [f"must be {order.currency}"]})
        amount = request.amount.amount
    else:
        amount = left
    if amount > left:
        raise ValidationFailed(
            f"At most {Money(left, order.currency)} is left to refund.",
            code=OrderError.REFUND_TOO_LARGE,
            errors={"amount": [f"at most {left} (minor units) left to refund"]})
    made = request_refunds(order, amount, reason=request.reason, source="operator",
                           lines=lines_out, actor_id=operator.id)
    for item in lines_out:
        db.session.execute(
            update(OrderLine).where(OrderLine.id == item["line_id"])
            .values(refunded_quantity=OrderLine.refunded_quantity + item["quantity"])
            .execution_options(synchronize_session="fetch"))
    return [refund.id for refund in made]


# --- cancellation --------------------------------------------------------------------------

def cancel_order(order_id: str, user: User) -> Order:
    """The buyer (before shipment) or an operator cancels: the pieces go back into stock, what
    was paid is refunded through Stripe, an unpaid order's PaymentIntent is cancelled."""
    payment_intent_id, refund_ids = _cancel(order_id, user)
    if payment_intent_id:
        _stop_payment_intent(payment_intent_id)
    # The order is cancelled whatever Stripe says; a refund it could not take stays requested
    # and the sweep asks again.
    with contextlib.suppress(ExternalServiceError):
        submit_refunds(refund_ids)
    order = db.session.get(Order, order_id)
    db.session.refresh(order)
    return order


@use_case
def _cancel(order_id: str, user: User) -> tuple[str | None, list[str]]:
    order = visible_order(order_id, user)
    if user.role not in (Role.OPERATOR, Role.BUYER):
        raise Forbidden("Only the buyer or an operator can cancel an order.",
                        code=OrderError.CANCEL_FORBIDDEN)
    order = lock_order(order_id)
    summary = payment_summary(order)
    before = lifecycle.cancel(order.id, actor_id=user.id, by=user.role)
    unpaid = before in AWAITING_PAYMENT and summary.captured.amount == 0
    left = refundable_left(order)
    refunds = request_refunds(order, left, reason="cancelled", source="cancellation",
                              actor_id=user.id) if left > 0 else []
    if before in AWAITING_PAYMENT:
        reservations.release(order.id)
    else:
        reservations.restock([(line.product_id, line.quantity) for line in order.lines])
    return (order.payment_intent_id if unpaid else None), [refund.id for refund in refunds]


def _stop_payment_intent(payment_intent_id: str) -> None:
    """Cancel an unpaid PaymentIntent. If Stripe took the money meanwhile, its event finds the
    order cancelled and refunds the payment (``checkout.payments``)."""
    try:
        stripe_client.cancel_payment_intent(payment_intent_id)
    except stripe.InvalidRequestError:
        pass  # not cancellable: already cancelled, or it has just succeeded
    except stripe.StripeError as exc:
        log.warning("PaymentIntent %s not cancelled: %s", payment_intent_id, exc)


# --- completion ------------------------------------------------------------------------------

COMPLETION_BATCH = 500


def complete_delivered_orders(now: datetime | None = None) -> int:
    """The beat job: delivered orders whose return window (``RETURN_WINDOW_DAYS`` after the
    parcel arrived) has passed become ``completed``; returns how many did."""
    window = timedelta(days=int(current_app.config["RETURN_WINDOW_DAYS"]))
    due = lifecycle.completable(now or utcnow(), window, COMPLETION_BATCH)
    db.session.rollback()
    return sum(1 for order_id in due if _complete(order_id))


@use_case
def _complete(order_id: str) -> bool:
    lock_order(order_id)
    if lifecycle.status_of(order_id) is not OrderStatus.DELIVERED:
        return False  # refunded or disputed since the sweep read it
    return lifecycle.complete(order_id)
