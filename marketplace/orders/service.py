"""Orders: the state machine, the timeline, the payment ledger, cancellations and refunds.

Every status change goes through ``transition``: a conditional ``UPDATE ... WHERE status =
:expected``, so a duplicate or late event that asks for the same move changes nothing twice.
Functions that also call Stripe first take ``lock_order`` so that two of them never refund the
same money.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import stripe
from sqlalchemy import func, select, update

from marketplace import outbox
from marketplace.accounts.models import Role, User
from marketplace.catalog.models import ArtisanProfile
from marketplace.checkout import reservations, stripe_client
from marketplace.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.http import decode_cursor, encode_cursor
from marketplace.ids import new_id, utcnow
from marketplace.money import Money
from marketplace.orders.models import (
    ALLOWED,
    AWAITING_PAYMENT,
    CANCELLABLE,
    REFUNDABLE,
    Fulfilment,
    FulfilmentStatus,
    LedgerKind,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentLedgerEntry,
    Refund,
)
from marketplace.provenance import service as provenance

DEFAULT_PROCESSING_DAYS = 5

# Outbox events: the order pipeline (workers/handlers.py) starts from these.
ORDER_PAID = "order.paid"  # {"order_id"}: emitted with the paid transition
ORDER_REFUNDED = "order.refunded"  # {"order_id", "stripe_refund_id"}: with each refund


def rollback_on_error(function: Callable) -> Callable:
    """Leave no half-done transaction (or held row lock) behind when a service raises."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise

    return wrapper


# --- state machine -------------------------------------------------------------------------

def add_event(order_id: str, type_: str, *, from_status: str | None = None,
              to_status: str | None = None, data: dict | None = None,
              actor_id: str | None = None) -> None:
    db.session.add(OrderEvent(order_id=order_id, type=type_, from_status=from_status,
                              to_status=to_status, data=data or {}, actor_id=actor_id))


def transition(order_id: str, to: OrderStatus | str, *,
               expected: Iterable[OrderStatus | str] | None = None,
               actor_id: str | None = None, data: dict | None = None) -> OrderStatus | None:
    """Move the order to ``to`` if ALLOWED from its status (and that status is in ``expected``).

    Returns the status it left, or None when nothing changed (already there, not allowed, or
    another transaction moved it first). Does not commit.
    """
    to = OrderStatus(to)
    wanted = {OrderStatus(s) for s in expected} if expected is not None else None
    for _ in range(3):
        current = db.session.execute(
            select(Order.status).where(Order.id == order_id)).scalar_one_or_none()
        if current is None:
            raise NotFound("No such order.")
        current = OrderStatus(current)
        if to not in ALLOWED[current] or (wanted is not None and current not in wanted):
            return None
        values: dict = {"status": to, "updated_at": utcnow()}
        if to is OrderStatus.PAID:
            values["paid_at"] = utcnow()
        elif to is OrderStatus.CANCELLED:
            values["cancelled_at"] = utcnow()
        moved = db.session.execute(
            update(Order).where(Order.id == order_id, Order.status == current).values(**values)
            .execution_options(synchronize_session="fetch")).rowcount
        if moved == 1:
            add_event(order_id, "status", from_status=current, to_status=to, data=data,
                      actor_id=actor_id)
            return current
    return None


@rollback_on_error
def transition_order(order_id: str, to: OrderStatus | str, *, actor_id: str | None = None,
                     data: dict | None = None, commit: bool = True) -> bool:
    """For other domains (shipping: fulfilling, shipped, delivered): True if the order moved."""
    moved = transition(order_id, to, actor_id=actor_id, data=data) is not None
    if commit:
        db.session.commit()
    return moved


def lock_order(order_id: str) -> Order:
    """Serialise work on one order until commit or rollback.

    A no-op UPDATE rather than SELECT ... FOR UPDATE: it locks the row on PostgreSQL and takes
    the write lock on SQLite, where FOR UPDATE does not exist.
    """
    locked = db.session.execute(
        update(Order).where(Order.id == order_id).values(updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if locked != 1:
        raise NotFound("No such order.")
    return db.session.execute(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    ).scalar_one()


# --- reading -------------------------------------------------------------------------------

def get_order(order_id: str) -> Order | None:
    return db.session.get(Order, order_id)


def visible_order(order_id: str, user: User) -> Order:
    """The order if ``user`` may see it (its buyer, an artisan with a line in it, an operator),
    else 404: nobody learns that someone else's order exists."""
    order = db.session.get(Order, order_id)
    if order is None or not can_see(order, user):
        raise NotFound("No such order.")
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
            raise ValidationFailed("The cursor is not valid.",
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
    return PaymentSummary(money[LedgerKind.AUTHORISED], money[LedgerKind.CAPTURED],
                          money[LedgerKind.REFUNDED], order.total)


def record_ledger(order_id: str, kind: LedgerKind, amount: Money, reference: str) -> bool:
    """Add a ledger line unless that Stripe object was recorded already (then False)."""
    exists = db.session.execute(select(PaymentLedgerEntry.id).where(
        PaymentLedgerEntry.kind == kind, PaymentLedgerEntry.reference == reference)).first()
    if exists:
        return False
    db.session.add(PaymentLedgerEntry(order_id=order_id, kind=kind, amount=amount.amount,
                                      currency=amount.currency, reference=reference))
    db.session.flush()
    return True


def captured_intents(order: Order) -> list[tuple[str, int]]:
    """(PaymentIntent id, amount still refundable) for every capture on the order."""
    captured = db.session.execute(
        select(PaymentLedgerEntry.reference, PaymentLedgerEntry.amount)
        .where(PaymentLedgerEntry.order_id == order.id,
               PaymentLedgerEntry.kind == LedgerKind.CAPTURED)
        .order_by(PaymentLedgerEntry.created_at)).all()
    refunded = dict(db.session.execute(
        select(Refund.payment_intent_id, func.sum(Refund.amount))
        .where(Refund.order_id == order.id).group_by(Refund.payment_intent_id)).all())
    return [(pi, amount - int(refunded.get(pi, 0))) for pi, amount in captured]


# --- fulfilment ----------------------------------------------------------------------------

def open_fulfilments(order: Order) -> None:
    """One fulfilment per artisan, due after that workshop's processing days. Idempotent."""
    existing = {f.artisan_id for f in db.session.execute(
        select(Fulfilment).where(Fulfilment.order_id == order.id)).scalars()}
    now = utcnow()
    for artisan_id in sorted({line.artisan_id for line in order.lines} - existing):
        profile = db.session.get(ArtisanProfile, artisan_id)
        days = profile.processing_days if profile and profile.processing_days else None
        ship_by = now + timedelta(days=days or DEFAULT_PROCESSING_DAYS)
        db.session.add(Fulfilment(order_id=order.id, artisan_id=artisan_id, ship_by=ship_by))
    db.session.flush()


def issue_serials(order: Order) -> None:
    """Give every sold piece its provenance serial (pieces without a valid label get none)."""
    for line in order.lines:
        if not line.serials:
            line.serials = provenance.issue_piece_serials(line.product_id, line.quantity,
                                                          order_id=order.id, commit=False)


# --- refunds -------------------------------------------------------------------------------

def _refund_through_stripe(order: Order, amount: int, *, reason: str, source: str,
                           key: str, lines: list[dict] | None = None,
                           actor_id: str | None = None) -> list[Refund]:
    """Refund ``amount`` over the order's captures (oldest first); records each Stripe refund.

    The idempotency key makes a retried request return Stripe's first refund instead of paying
    twice (Stripe honours it; the emulator ignores it, so callers also hold ``lock_order``).
    """
    remaining = amount
    made: list[Refund] = []
    for payment_intent_id, refundable in captured_intents(order):
        if remaining <= 0:
            break
        part = min(remaining, refundable)
        if part <= 0:
            continue
        try:
            stripe_refund = stripe_client.create_refund(
                payment_intent_id=payment_intent_id, amount=part,
                idempotency_key=f"{key}-{payment_intent_id}",
                metadata={"order_id": order.id, "reason": reason[:500], "source": source})
        except stripe.StripeError as exc:
            raise stripe_client.upstream_error(exc) from exc
        made.append(record_refund(order, stripe_refund["id"], payment_intent_id, part,
                                  reason=reason, source=source,
                                  status=stripe_refund.get("status"),
                                  lines=lines if not made else [], actor_id=actor_id))
        remaining -= part
    if remaining > 0:
        raise Conflict("There is not enough captured money left to refund.")
    return made


def record_refund(order: Order, stripe_refund_id: str, payment_intent_id: str, amount: int, *,
                  reason: str, source: str, status: str | None, lines: list[dict] | None = None,
                  actor_id: str | None = None) -> Refund:
    refund = Refund(order_id=order.id, stripe_refund_id=stripe_refund_id,
                    payment_intent_id=payment_intent_id, amount=amount, currency=order.currency,
                    reason=reason, lines=lines or [], source=source,
                    status=status or "succeeded", created_by=actor_id)
    db.session.add(refund)
    record_ledger(order.id, LedgerKind.REFUNDED, Money(amount, order.currency), stripe_refund_id)
    outbox.emit(ORDER_REFUNDED, {"order_id": order.id, "stripe_refund_id": stripe_refund_id})
    add_event(order.id, "refund", actor_id=actor_id, data={
        "refund_id": stripe_refund_id, "amount": amount, "currency": order.currency,
        "reason": reason, "source": source, "lines": lines or []})
    return refund


def refund_everything(order: Order, *, reason: str, source: str, key: str,
                      actor_id: str | None = None) -> list[Refund]:
    """Refund whatever is still captured (used for cancellations and late payments)."""
    left = payment_summary(order).refundable.amount
    if left <= 0:
        return []
    return _refund_through_stripe(order, left, reason=reason, source=source, key=key,
                                  actor_id=actor_id)


def mark_refunded_if_complete(order: Order, actor_id: str | None = None) -> None:
    db.session.flush()
    if payment_summary(order).fully_refunded:
        transition(order.id, OrderStatus.REFUNDED, actor_id=actor_id)


@dataclass(frozen=True)
class RefundRequest:
    amount: Money | None
    lines: list[tuple[str, int]] | None
    reason: str


@rollback_on_error
def refund_order(order_id: str, operator: User, request: RefundRequest) -> list[Refund]:
    """An operator refunds an amount, some lines, or (neither given) everything left."""
    if operator.role != Role.OPERATOR:
        raise Forbidden("Only operators issue refunds.")
    order = lock_order(order_id)
    if OrderStatus(order.status) not in REFUNDABLE:
        raise InvalidTransition(f"An order that is {order.status} has no payment to refund.")
    left = payment_summary(order).refundable.amount
    if left <= 0:
        raise InvalidTransition("Everything paid for this order has been refunded already.")
    lines_out: list[dict] = []
    if request.amount is not None and request.lines:
        raise ValidationFailed("Give an amount or lines, not both.",
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
            raise ValidationFailed("Some lines cannot be refunded.", errors=errors)
    elif request.amount is not None:
        if request.amount.currency != order.currency:
            raise ValidationFailed(f"The order was paid in {order.currency}.",
                                   errors={"amount.currency": [f"must be {order.currency}"]})
        amount = request.amount.amount
    else:
        amount = left
    if amount > left:
        raise ValidationFailed(
            f"At most {Money(left, order.currency)} is left to refund.",
            errors={"amount": [f"at most {left} (minor units) left to refund"]})
    made = _refund_through_stripe(order, amount, reason=request.reason, source="operator",
                                  key=f"sheber-refund-{new_id()}", lines=lines_out,
                                  actor_id=operator.id)
    for item in lines_out:
        db.session.execute(
            update(OrderLine).where(OrderLine.id == item["line_id"])
            .values(refunded_quantity=OrderLine.refunded_quantity + item["quantity"])
            .execution_options(synchronize_session="fetch"))
    mark_refunded_if_complete(order, actor_id=operator.id)
    db.session.commit()
    return made


# --- cancellation --------------------------------------------------------------------------

@rollback_on_error
def cancel_order(order_id: str, user: User) -> Order:
    """The buyer (before shipment) or an operator cancels: what was paid is refunded through
    Stripe and the pieces go back into stock; an unpaid order's PaymentIntent is cancelled."""
    order = visible_order(order_id, user)
    if user.role not in (Role.OPERATOR, Role.BUYER):
        raise Forbidden("Only the buyer or an operator can cancel an order.")
    order = lock_order(order_id)
    status = OrderStatus(order.status)
    if status not in CANCELLABLE:
        raise InvalidTransition(f"An order that is {status} can no longer be cancelled.")
    summary = payment_summary(order)
    if status in AWAITING_PAYMENT and summary.captured.amount == 0 and order.payment_intent_id:
        _stop_payment_intent(order.payment_intent_id)
    refund_everything(order, reason="cancelled", source="cancellation",
                      key=f"sheber-order-{order.id}-cancel", actor_id=user.id)
    transition(order.id, OrderStatus.CANCELLED, expected=[status], actor_id=user.id,
               data={"by": user.role})
    if status in AWAITING_PAYMENT:
        reservations.release(order.id)
    else:
        reservations.restock(order.id)
    db.session.execute(
        update(Fulfilment).where(Fulfilment.order_id == order.id)
        .values(status=FulfilmentStatus.CANCELLED).execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(order)
    return order


def _stop_payment_intent(payment_intent_id: str) -> None:
    """Cancel an unpaid PaymentIntent; if Stripe has already taken the money, say so (409)."""
    try:
        stripe_client.cancel_payment_intent(payment_intent_id)
        return
    except stripe.InvalidRequestError:
        pass  # not cancellable: already cancelled, or it has just succeeded
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc
    try:
        intent = stripe_client.retrieve_payment_intent(payment_intent_id)
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc
    if intent["status"] in ("succeeded", "processing", "requires_capture"):
        raise Conflict("The payment has just gone through. Cancel again in a moment to get a "
                       "refund.")

