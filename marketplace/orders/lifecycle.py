"""The order lifecycle: every change of an order's, a fulfilment's and a shipment's status.

"Where does an order become shipped?" Here, in ``mark_shipped``, and nowhere else. Three tables
say which moves exist; each move is one conditional ``UPDATE ... WHERE status = :current``, so
two transactions racing for the same move change the row once. A move to the status the row
already has is a no-op (the action returns False): Stripe, carriers and workers repeat
themselves. A move the table does not list raises ``InvalidTransition`` (409,
``order.invalid_transition``): a caller never ignores it. Where a side exit wins over a late
event (a parcel delivered after the order was refunded), the action says so by name in its
own rule, not by swallowing the error.

Other domains call these actions, or emit an outbox event that orders consumes; nobody else
assigns a status. Actions never commit: the use case that calls them owns the transaction
(``marketplace.transaction.use_case``) and has locked the order (``lock_order``) first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from marketplace import outbox, provenance
from marketplace.catalog.models import ArtisanProfile
from marketplace.errors import InvalidTransition, NotFound
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders import invoices
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    Fulfilment,
    FulfilmentStatus,
    Order,
    OrderEvent,
    OrderStatus,
    Shipment,
    ShipmentStatus,
)

S = OrderStatus
F = FulfilmentStatus
P = ShipmentStatus

# Outbox events other domains react to.
ORDER_PAID = "order.paid"  # {"order_id"}: with the paid move; the order pipeline starts here
ORDER_REFUNDED = "order.refunded"  # {"order_id", "stripe_refund_id"}: with each settled refund
# {"order_id", "refund_id"}: a settled refund the bank failed afterwards, undone
ORDER_REFUND_REVERSED = "order.refund_reversed"

DEFAULT_PROCESSING_DAYS = 5

ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.PAYMENT_FAILED, S.EXPIRED, S.CANCELLED}),
    S.PAYMENT_FAILED: frozenset({S.PAID, S.EXPIRED, S.CANCELLED}),
    # a payment that succeeds after the hold lapsed is re-reserved (paid) or refunded
    S.EXPIRED: frozenset({S.PAID, S.REFUNDED}),
    S.PAID: frozenset({S.FULFILLING, S.CANCELLED, S.REFUNDED, S.DISPUTED}),
    S.FULFILLING: frozenset({S.SHIPPED, S.CANCELLED, S.REFUNDED, S.DISPUTED}),
    # a parcel the carrier brings back undelivered: the order is returned, then refunded
    S.SHIPPED: frozenset({S.DELIVERED, S.RETURNED, S.REFUNDED, S.DISPUTED}),
    S.RETURNED: frozenset({S.REFUNDED, S.DISPUTED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.REFUNDED, S.DISPUTED}),
    S.COMPLETED: frozenset({S.REFUNDED, S.DISPUTED}),
    # a dispute decided for us returns the order to where it was
    S.DISPUTED: frozenset({S.REFUNDED, S.COMPLETED, S.PAID, S.FULFILLING, S.SHIPPED,
                           S.DELIVERED, S.CANCELLED}),
    # card holders can dispute even a refunded charge
    S.CANCELLED: frozenset({S.DISPUTED}),
    # a refund the bank failed reopens the order where it was
    S.REFUNDED: frozenset({S.DISPUTED, S.PAID, S.FULFILLING, S.SHIPPED, S.DELIVERED,
                           S.COMPLETED}),
}

FULFILMENT_TRANSITIONS: dict[FulfilmentStatus, frozenset[FulfilmentStatus]] = {
    F.PENDING: frozenset({F.PACKED, F.CANCELLED}),
    F.PACKED: frozenset({F.SHIPPED, F.CANCELLED}),
    F.SHIPPED: frozenset({F.DELIVERED}),
    F.DELIVERED: frozenset(),
    F.CANCELLED: frozenset(),
}

# A parcel only moves forward; customs and a customs hold are one stage, either way round (a
# hold is released, or customs hold it after all). A refused label may be requested again.
_AFTER_LABEL = {P.HANDED_OVER, P.IN_TRANSIT, P.CUSTOMS, P.CUSTOMS_HOLD, P.OUT_FOR_DELIVERY,
                P.DELIVERED, P.RETURNED}
SHIPMENT_TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    P.REQUESTED: frozenset({P.LABEL_CREATED, P.FAILED, P.CANCELLED}),
    P.HELD_EXPORT: frozenset({P.REQUESTED, P.CANCELLED}),
    P.FAILED: frozenset({P.REQUESTED, P.HELD_EXPORT}),
    P.LABEL_CREATED: frozenset(_AFTER_LABEL),
    P.HANDED_OVER: frozenset(_AFTER_LABEL - {P.HANDED_OVER}),
    P.IN_TRANSIT: frozenset(_AFTER_LABEL - {P.HANDED_OVER, P.IN_TRANSIT}),
    P.CUSTOMS: frozenset({P.CUSTOMS_HOLD, P.OUT_FOR_DELIVERY, P.DELIVERED, P.RETURNED}),
    P.CUSTOMS_HOLD: frozenset({P.CUSTOMS, P.OUT_FOR_DELIVERY, P.DELIVERED, P.RETURNED}),
    P.OUT_FOR_DELIVERY: frozenset({P.DELIVERED, P.RETURNED}),
    P.DELIVERED: frozenset(),
    P.RETURNED: frozenset(),
    P.CANCELLED: frozenset(),
}

AWAITING_PAYMENT = frozenset({S.PENDING_PAYMENT, S.PAYMENT_FAILED})
# A buyer may cancel until a parcel has left.
CANCELLABLE = frozenset({S.PENDING_PAYMENT, S.PAYMENT_FAILED, S.PAID, S.FULFILLING})
# States in which the order's money has been taken and may be refunded.
REFUNDABLE = frozenset({S.PAID, S.FULFILLING, S.SHIPPED, S.DELIVERED, S.COMPLETED, S.DISPUTED,
                        S.RETURNED})
# Paid and not yet handed to the carrier: pieces may be packed and the parcel made.
SHIPPABLE = frozenset({S.PAID, S.FULFILLING})
# Side exits that a late carrier scan does not undo.
SETTLED_ELSEWHERE = frozenset({S.CANCELLED, S.REFUNDED, S.DISPUTED, S.COMPLETED})


# --- the moves -----------------------------------------------------------------------------

_CODES = {
    "order": (OrderError.NOT_FOUND, OrderError.INVALID_TRANSITION),
    "fulfilment": (OrderError.FULFILMENT_NOT_FOUND, OrderError.FULFILMENT_INVALID_TRANSITION),
    "shipment": (OrderError.SHIPMENT_NOT_FOUND, OrderError.SHIPMENT_INVALID_TRANSITION),
}


def _move(model, table: dict, row_id: str, to, *, values: dict | None = None,
          what: str, known=None) -> tuple[bool, object]:
    """Move one row to ``to``; ``(moved, status before)``. Same status: no-op. Not in the
    table: InvalidTransition. ``known``: the status the caller read with the row locked (the
    row is then not read again; a wrong one only costs a second try, the UPDATE is guarded)."""
    status_type = type(next(iter(table)))
    to = status_type(to)
    for attempt in range(3):
        if attempt == 0 and known is not None:
            current = known
        else:
            current = db.session.execute(
                select(model.status).where(model.id == row_id)).scalar_one_or_none()
        if current is None:
            raise NotFound(f"No such {what}.", code=_CODES[what][0])
        current = status_type(current)
        if current is to:
            return False, current
        if to not in table[current]:
            raise InvalidTransition(f"A {what} that is {current} cannot become {to}.",
                                    code=_CODES[what][1],
                                    current=str(current), requested=str(to))
        changes = {"status": to, **(values or {})}
        if hasattr(model, "updated_at"):
            changes.setdefault("updated_at", utcnow())
        # An UPDATE of the table, and the row's entity (if this session holds it) given the new
        # values as its own: what the ORM's synchronize_session="fetch" did, at about a third
        # of its cost. Its pending changes are flushed first, as the ORM's UPDATE would.
        if db.session.autoflush:
            db.session.flush()
        rows = model.__table__
        moved = db.session.execute(
            update(rows).where(rows.c.id == row_id, rows.c.status == current)
            .values(**changes)).rowcount
        if moved == 1:
            held = db.session.identity_map.get(identity_key(model, row_id))
            if held is not None:
                for key, value in changes.items():
                    set_committed_value(held, key, value)
            return True, current
    raise InvalidTransition(f"The {what} changed while it was being moved; try again.",
                            code=OrderError.CONCURRENT_CHANGE)


def move_order(order_id: str, to: OrderStatus | str, *, actor_id: str | None = None,
               data: dict | None = None, known: OrderStatus | str | None = None) -> bool:
    """The one guarded move of an order (with its timeline entry); True if it moved.
    ``known``: its status as read under ``lock_order`` in this transaction (see ``_move``)."""
    to = S(to)
    values: dict = {}
    if to is S.PAID:
        values["paid_at"] = utcnow()
    elif to is S.CANCELLED:
        values["cancelled_at"] = utcnow()
    moved, before = _move(Order, ORDER_TRANSITIONS, order_id, to, values=values, what="order",
                          known=known)
    if moved:
        add_event(order_id, "status", from_status=before, to_status=to, data=data,
                  actor_id=actor_id)
    return moved


def move_fulfilment(fulfilment_id: str, to: FulfilmentStatus | str, *,
                    values: dict | None = None) -> bool:
    return _move(Fulfilment, FULFILMENT_TRANSITIONS, fulfilment_id, to, values=values,
                 what="fulfilment")[0]


def move_shipment(shipment_id: str, to: ShipmentStatus | str, *,
                  values: dict | None = None) -> bool:
    values = {"status_at": utcnow(), **(values or {})}
    return _move(Shipment, SHIPMENT_TRANSITIONS, shipment_id, to, values=values,
                 what="shipment")[0]


def status_of(order_id: str) -> OrderStatus:
    status = db.session.execute(
        select(Order.status).where(Order.id == order_id)).scalar_one_or_none()
    if status is None:
        raise NotFound("No such order.", code=OrderError.NOT_FOUND)
    return S(status)


def add_event(order_id: str, type_: str, *, from_status: str | None = None,
              to_status: str | None = None, data: dict | None = None,
              actor_id: str | None = None) -> None:
    """The order's timeline (append only)."""
    db.session.add(OrderEvent(order_id=order_id, type=type_, from_status=from_status,
                              to_status=to_status, data=data or {}, actor_id=actor_id))


# ``lock_order``'s statement, built once: the no-op UPDATE of ``lock_rows`` that returns the row
# it locked, so that locking and reading the order afresh is one round trip instead of two
_LOCK_ORDER = (update(Order).where(Order.id == bindparam("order_id"))
               .values(updated_at=bindparam("now")).returning(Order)
               .execution_options(populate_existing=True, synchronize_session=False))


def lock_order(order_id: str) -> Order:
    """Serialise work on one order until the use case commits or rolls back; the order read
    afresh. Lock the order before its shipment or fulfilments, always in that order."""
    order = db.session.execute(_LOCK_ORDER, {"order_id": order_id, "now": utcnow()}
                               ).scalar_one_or_none()
    if order is None:
        raise NotFound("No such order.", code=OrderError.NOT_FOUND)
    return order


# --- payment -------------------------------------------------------------------------------

def mark_paid(order: Order, *, payment_intent_id: str, after_expiry: bool = False) -> bool:
    """Stripe took the money: the order is paid, one fulfilment per artisan is opened, every
    piece gets its provenance serial, and ``order.paid`` starts the pipeline."""
    data = {"payment_intent": payment_intent_id}
    if after_expiry:
        data["after_expiry"] = True
    # the caller locked and read the order: its status needs no second read
    if not move_order(order.id, S.PAID, data=data, known=order.status):
        return False
    order.payment_intent_id = payment_intent_id
    # the artisans' profiles give the fulfilments their due dates and the invoice its sellers:
    # read once for both (with the buyer's and artisans' accounts the invoice names)
    parties = invoices.parties(order)
    open_fulfilments(order, profiles=parties[1])
    _issue_serials(order)
    # the invoice's number is taken in this transaction: a payment rolled back gives it back;
    # a paper that cannot be issued never stops the payment from being recorded
    invoices.issue_or_alert(invoices.issue_invoice, order, parties)
    outbox.emit(ORDER_PAID, {"order_id": order.id})
    return True


def mark_payment_failed(order_id: str, details: dict) -> bool:
    """A declined card: the buyer may try again while the hold lasts. A failure reported after
    the order moved on (paid by another attempt, expired) changes nothing."""
    if status_of(order_id) is not S.PENDING_PAYMENT:
        return False
    return move_order(order_id, S.PAYMENT_FAILED, data=details)


def expire(order_id: str) -> bool:
    """The hold lapsed before payment."""
    if status_of(order_id) not in AWAITING_PAYMENT:
        return False
    return move_order(order_id, S.EXPIRED)


def abandon(order_id: str, reason: str) -> bool:
    """Checkout could not set up the payment: the order never awaited one."""
    return move_order(order_id, S.CANCELLED, data={"reason": reason})


# --- fulfilment and shipping ---------------------------------------------------------------

_FULFILLED_BY = select(Fulfilment.artisan_id).where(Fulfilment.order_id == bindparam("order_id"))


def open_fulfilments(order: Order, *,
                     profiles: dict[str, ArtisanProfile] | None = None) -> None:
    """One fulfilment per artisan, due after that workshop's processing days. Idempotent.
    ``profiles``: the order's artisans' profiles by user id, when the caller has read them."""
    existing = set(db.session.execute(_FULFILLED_BY, {"order_id": order.id}).scalars())
    now = utcnow()
    artisan_ids = sorted({line.artisan_id for line in order.lines} - existing)
    if profiles is None:
        profiles = {profile.user_id: profile for profile in db.session.execute(
            select(ArtisanProfile).where(ArtisanProfile.user_id.in_(artisan_ids))).scalars()}
    for artisan_id in artisan_ids:
        profile = profiles.get(artisan_id)
        days = profile.processing_days if profile and profile.processing_days else None
        ship_by = now + timedelta(days=days or DEFAULT_PROCESSING_DAYS)
        db.session.add(Fulfilment(order_id=order.id, artisan_id=artisan_id, ship_by=ship_by))
    db.session.flush()


def _issue_serials(order: Order) -> None:
    """Give every sold piece its provenance serial (pieces without a valid label get none).
    One read finds which of the order's products have a valid label; only those are numbered
    (``issue_piece_serials`` locks the label and looks again)."""
    lines = [line for line in order.lines if not line.serials]
    if not lines:
        return
    labelled = provenance.label_codes_for_products(line.product_id for line in lines)
    for line in lines:
        if labelled[line.product_id] is None:
            line.serials = []
        else:
            line.serials = provenance.issue_piece_serials(line.product_id, line.quantity,
                                                          order_id=order.id)


_ACTIVE_FULFILMENTS = (select(Fulfilment)
                       .where(Fulfilment.order_id == bindparam("order_id"),
                              Fulfilment.status != F.CANCELLED)
                       .order_by(Fulfilment.artisan_id))


def active_fulfilments(order_id: str) -> list[Fulfilment]:
    return list(db.session.execute(_ACTIVE_FULFILMENTS, {"order_id": order_id}).scalars())


def start_fulfilment(order_id: str, *, actor_id: str | None = None,
                     data: dict | None = None, known: OrderStatus | None = None) -> bool:
    """The artisans are at work: ``paid → fulfilling`` (already fulfilling: nothing to do, as
    for any move to the status a row has). ``known``: see ``move_order``."""
    return move_order(order_id, S.FULFILLING, actor_id=actor_id, data=data, known=known)


def mark_fulfilment_packed(fulfilment: Fulfilment, *, weight_g: int,
                           dimensions: tuple[int, int, int], actor_id: str) -> None:
    """The artisan's box is packed. Repeating it corrects the figures until the parcel is
    made; the order is then fulfilling."""
    move_fulfilment(fulfilment.id, F.PACKED)
    db.session.refresh(fulfilment)
    fulfilment.packed_weight_g = weight_g
    (fulfilment.packed_length_mm, fulfilment.packed_width_mm,
     fulfilment.packed_height_mm) = dimensions
    fulfilment.packed_at = utcnow()
    start_fulfilment(fulfilment.order_id, actor_id=actor_id)


def request_shipment(shipment: Shipment, *, held_for_export: bool, actor_id: str) -> None:
    """The operator made the parcel: it waits for its label, or for an export permit."""
    target = P.HELD_EXPORT if held_for_export else P.REQUESTED
    if shipment.status is None:  # a new parcel starts where it should be
        shipment.status, shipment.status_at = target, utcnow()
        db.session.flush()
    else:
        move_shipment(shipment.id, target)
        db.session.refresh(shipment)
    start_fulfilment(shipment.order_id, actor_id=actor_id)


def release_shipment(shipment: Shipment) -> None:
    """An export permit was recorded: the held parcel may get its label."""
    move_shipment(shipment.id, P.REQUESTED)
    db.session.refresh(shipment)


def fail_shipment(shipment_id: str, reason: str) -> bool:
    """The carrier refused the label; the operator may request it again."""
    return move_shipment(shipment_id, P.FAILED, values={"last_error": reason[:2000]})


def cancel_shipment(shipment: Shipment, reason: str) -> None:
    """The order left the shippable states before the label was bought."""
    move_shipment(shipment.id, P.CANCELLED, values={"last_error": reason[:2000]})
    db.session.refresh(shipment)


def record_scan(shipment: Shipment, status: ShipmentStatus | str, occurred_at: datetime,
                *, values: dict | None = None) -> bool:
    """The carrier moved the parcel on (label created, in transit, customs, delivered...)."""
    moved = move_shipment(shipment.id, status, values={"status_at": occurred_at,
                                                       **(values or {})})
    db.session.refresh(shipment)
    return moved


def mark_shipped(order: Order, shipment: Shipment, *, at: datetime) -> bool:
    """The carrier has the parcel (its first scan after the label): the order is shipped and so
    is every box in the parcel. A label alone ships nothing."""
    status = status_of(order.id)
    if status not in SHIPPABLE:
        return False
    if status is S.PAID:
        start_fulfilment(order.id)
    for fulfilment in active_fulfilments(order.id):
        move_fulfilment(fulfilment.id, F.SHIPPED, values={"shipped_at": at})
    return move_order(order.id, S.SHIPPED, data={
        "shipment_id": shipment.id, "tracking_number": shipment.tracking_number})


def mark_delivered(order: Order, shipment: Shipment, *, at: datetime) -> bool:
    """The carrier delivered the parcel. An order refunded, disputed or cancelled meanwhile
    keeps that status; its boxes are delivered all the same."""
    for fulfilment in active_fulfilments(order.id):
        if fulfilment.status == F.SHIPPED:
            move_fulfilment(fulfilment.id, F.DELIVERED, values={"delivered_at": at})
    if status_of(order.id) in SETTLED_ELSEWHERE:
        return False
    return move_order(order.id, S.DELIVERED, data={"shipment_id": shipment.id})


def mark_returned(order: Order, shipment: Shipment) -> bool:
    """The carrier brought the parcel back undelivered: the order is ``returned`` until an
    operator refunds it (``mark_refunded``). An order settled elsewhere keeps its status."""
    if status_of(order.id) is not S.SHIPPED:
        return False
    return move_order(order.id, S.RETURNED, data={"shipment_id": shipment.id})


def complete(order_id: str) -> bool:
    """The return window after delivery has passed: the sale is final."""
    return move_order(order_id, S.COMPLETED)


def completable(now: datetime, return_window: timedelta, limit: int) -> list[str]:
    """Delivered orders whose last parcel arrived more than ``return_window`` ago."""
    return list(db.session.execute(
        select(Order.id).join(Shipment, Shipment.order_id == Order.id)
        .where(Order.status == S.DELIVERED, Shipment.delivered_at <= now - return_window)
        .order_by(Shipment.delivered_at, Order.id).limit(limit)).scalars())


# --- cancellation, refunds, disputes --------------------------------------------------------

def cancel(order_id: str, *, actor_id: str, by: str) -> OrderStatus:
    """Cancel before a parcel has left; every box is cancelled with it. Returns the status the
    order had (the caller frees or restocks the pieces accordingly)."""
    before = status_of(order_id)
    if before not in CANCELLABLE:
        raise InvalidTransition(f"An order that is {before} can no longer be cancelled.",
                                code=OrderError.NOT_CANCELLABLE)
    move_order(order_id, S.CANCELLED, actor_id=actor_id, data={"by": by})
    for fulfilment in active_fulfilments(order_id):
        move_fulfilment(fulfilment.id, F.CANCELLED)
    return before


def mark_refunded(order_id: str, *, actor_id: str | None = None) -> bool:
    """Everything captured has been refunded. An order cancelled before it was refunded keeps
    ``cancelled`` (the refund is on its timeline)."""
    if status_of(order_id) in (S.REFUNDED, S.CANCELLED):
        return False
    return move_order(order_id, S.REFUNDED, actor_id=actor_id)  # a returned parcel's path too


def dispute_opened(order_id: str, details: dict) -> bool:
    """The card holder disputes the charge; a second dispute is noted on the timeline."""
    status = status_of(order_id)
    if status is S.DISPUTED or S.DISPUTED not in ORDER_TRANSITIONS[status]:
        add_event(order_id, "dispute", data=details)
        return False
    return move_order(order_id, S.DISPUTED, data=details)


def dispute_decided(order_id: str, back_to: OrderStatus | str | None, details: dict) -> bool:
    """A dispute closed in our favour: the order goes back to the status it had when the dispute
    opened (payouts resume). A dispute that never moved the order is only noted."""
    add_event(order_id, "dispute_closed", data=details)
    if status_of(order_id) is not S.DISPUTED or back_to is None:
        return False
    back_to = S(back_to)
    if back_to is S.DISPUTED or back_to not in ORDER_TRANSITIONS[S.DISPUTED]:
        return False
    return move_order(order_id, back_to, data=details)


def refund_reversed(order_id: str, details: dict) -> bool:
    """A refund the bank failed after Stripe had accepted it: the order is no longer refunded,
    it returns to the status it had before (an order that was not refunded only notes it)."""
    add_event(order_id, "refund_reversed", data=details)
    if status_of(order_id) is not S.REFUNDED:
        return False
    before = status_before(order_id, S.REFUNDED)
    if before is None or before not in ORDER_TRANSITIONS[S.REFUNDED]:
        return False
    return move_order(order_id, before, data=details)


def payment_canceled(order_id: str, details: dict) -> bool:
    """The order's current PaymentIntent was cancelled at Stripe before it was paid: the order
    cannot be paid any more and is cancelled (the caller releases the hold)."""
    if status_of(order_id) not in AWAITING_PAYMENT:
        return False
    return move_order(order_id, S.CANCELLED, data=details)


def status_before(order_id: str, status: OrderStatus) -> OrderStatus | None:
    """The status the order had when it last moved to ``status`` (from its timeline)."""
    from_status = db.session.execute(
        select(OrderEvent.from_status).where(OrderEvent.order_id == order_id,
                                             OrderEvent.type == "status",
                                             OrderEvent.to_status == status)
        .order_by(OrderEvent.created_at.desc(), OrderEvent.id.desc()).limit(1)).scalar()
    return S(from_status) if from_status else None


def refund_after_late_payment(order_id: str, why: str) -> bool:
    """A payment arrived after the hold lapsed and the pieces were sold meanwhile."""
    return move_order(order_id, S.REFUNDED, data={"reason": why})


def sources_of(target: OrderStatus) -> frozenset[OrderStatus]:
    return frozenset(source for source, targets in ORDER_TRANSITIONS.items()
                     if target in targets)

