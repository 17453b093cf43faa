"""The lifecycle's three state machines: tables of allowed moves, each a guarded UPDATE."""

from __future__ import annotations

import pytest

from marketplace.errors import InvalidTransition
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.orders import lifecycle
from marketplace.orders.lifecycle import (
    FULFILMENT_TRANSITIONS,
    ORDER_TRANSITIONS,
    SHIPMENT_TRANSITIONS,
)
from marketplace.orders.models import (
    Fulfilment,
    FulfilmentStatus,
    Order,
    OrderEvent,
    OrderStatus,
    Shipment,
    ShipmentStatus,
)
from tests.factories import make_buyer

S = OrderStatus


def _order(status: OrderStatus = S.PENDING_PAYMENT) -> Order:
    order = Order(id=new_id(), buyer_id=make_buyer().id, status=status, currency="EUR",
                  listing_currency="KZT", fx_rate="0.0018", items_amount=2700,
                  shipping_amount=1000, duties_amount=0, total_amount=3700,
                  shipping_address={}, shipping_option={}, duties_mode="DAP",
                  reservation_expires_at=utcnow())
    db.session.add(order)
    db.session.commit()
    return order


def _status_events(order_id: str) -> list[tuple[str, str]]:
    return [(e.from_status, e.to_status) for e in db.session.execute(
        db.select(OrderEvent).where(OrderEvent.order_id == order_id,
                                    OrderEvent.type == "status")
        .order_by(OrderEvent.created_at)).scalars()]


ALLOWED = ORDER_TRANSITIONS


def test_every_status_has_a_row_and_the_happy_path_is_allowed():
    assert set(ALLOWED) == set(OrderStatus)
    assert set(FULFILMENT_TRANSITIONS) == set(FulfilmentStatus)
    assert set(SHIPMENT_TRANSITIONS) == set(ShipmentStatus)
    path = [S.PENDING_PAYMENT, S.PAID, S.FULFILLING, S.SHIPPED, S.DELIVERED, S.COMPLETED]
    for source, target in zip(path, path[1:], strict=False):
        assert target in ALLOWED[source]
    assert S.PAID in ALLOWED[S.PAYMENT_FAILED]  # a retry may still succeed
    assert S.PAYMENT_FAILED not in ALLOWED[S.PAID]  # a late failure changes nothing
    assert S.CANCELLED not in ALLOWED[S.SHIPPED]


def test_a_transition_happens_once_and_a_duplicate_is_a_no_op():
    order = _order()
    assert lifecycle.move_order(order.id, S.PAID) is True
    assert lifecycle.move_order(order.id, S.PAID) is False
    db.session.commit()
    assert db.session.get(Order, order.id).paid_at is not None
    assert _status_events(order.id) == [("pending_payment", "paid")]


@pytest.mark.parametrize(("start", "target"), [
    (S.PAID, S.PAYMENT_FAILED), (S.SHIPPED, S.CANCELLED), (S.PENDING_PAYMENT, S.SHIPPED),
    (S.CANCELLED, S.PAID), (S.EXPIRED, S.PAYMENT_FAILED), (S.COMPLETED, S.PAID),
])
def test_a_move_that_is_not_in_the_table_changes_nothing(start, target):
    order = _order(start)
    with pytest.raises(InvalidTransition) as raised:
        lifecycle.move_order(order.id, target)
    assert raised.value.code == "order.invalid_transition" and raised.value.status == 409
    db.session.commit()
    assert db.session.get(Order, order.id).status == start
    assert _status_events(order.id) == []


@pytest.mark.parametrize("start", list(OrderStatus))
def test_every_order_move_the_table_allows_works_and_every_other_raises(start):
    order = _order(start)
    for target in OrderStatus:
        db.session.execute(db.update(Order).where(Order.id == order.id).values(status=start))
        if target is start:
            assert lifecycle.move_order(order.id, target) is False
        elif target in ORDER_TRANSITIONS[start]:
            assert lifecycle.move_order(order.id, target) is True
            assert db.session.get(Order, order.id).status == target
        else:
            with pytest.raises(InvalidTransition):
                lifecycle.move_order(order.id, target)
            assert db.session.get(Order, order.id).status == start
    db.session.rollback()


def _fulfilment(order: Order) -> Fulfilment:
    fulfilment = Fulfilment(order_id=order.id, artisan_id=order.buyer_id, ship_by=utcnow())
    db.session.add(fulfilment)
    db.session.commit()
    return fulfilment


@pytest.mark.parametrize("start", list(FulfilmentStatus))
def test_every_fulfilment_move_the_table_allows_works_and_every_other_raises(start):
    fulfilment = _fulfilment(_order(S.PAID))
    for target in FulfilmentStatus:
        db.session.execute(db.update(Fulfilment).where(Fulfilment.id == fulfilment.id)
                           .values(status=start))
        if target is start:
            assert lifecycle.move_fulfilment(fulfilment.id, target) is False
        elif target in FULFILMENT_TRANSITIONS[start]:
            assert lifecycle.move_fulfilment(fulfilment.id, target) is True
        else:
            with pytest.raises(InvalidTransition) as raised:
                lifecycle.move_fulfilment(fulfilment.id, target)
            assert raised.value.code == "order.fulfilment_invalid_transition"
    db.session.rollback()


def _shipment(order: Order) -> Shipment:
    shipment = Shipment(order_id=order.id, carrier="sheber-post", service="ems",
                        duties_mode="DAP", weight_g=500, length_mm=300, width_mm=200,
                        height_mm=100)
    db.session.add(shipment)
    db.session.commit()
    return shipment


@pytest.mark.parametrize("start", list(ShipmentStatus))
def test_every_shipment_move_the_table_allows_works_and_every_other_raises(start):
    shipment = _shipment(_order(S.FULFILLING))
    for target in ShipmentStatus:
        db.session.execute(db.update(Shipment).where(Shipment.id == shipment.id)
                           .values(status=start))
        if target is start:
            assert lifecycle.move_shipment(shipment.id, target) is False
        elif target in SHIPMENT_TRANSITIONS[start]:
            assert lifecycle.move_shipment(shipment.id, target) is True
        else:
            with pytest.raises(InvalidTransition) as raised:
                lifecycle.move_shipment(shipment.id, target)
            assert raised.value.code == "order.shipment_invalid_transition"
    db.session.rollback()


def test_a_parcel_only_moves_forward():
    final = {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.CANCELLED}
    for status in final:
        assert SHIPMENT_TRANSITIONS[status] == frozenset()
    assert ShipmentStatus.IN_TRANSIT not in SHIPMENT_TRANSITIONS[ShipmentStatus.CUSTOMS]
    assert ShipmentStatus.CUSTOMS in SHIPMENT_TRANSITIONS[ShipmentStatus.CUSTOMS_HOLD]
    assert ShipmentStatus.CUSTOMS_HOLD in SHIPMENT_TRANSITIONS[ShipmentStatus.CUSTOMS]


def test_named_actions_move_orders_along_the_fulfilment_path():
    order = _order(S.PAID)
    assert lifecycle.start_fulfilment(order.id) is True
    assert lifecycle.start_fulfilment(order.id) is False  # already fulfilling
    shipment = _shipment(order)
    shipment.tracking_number = "SP1"
    assert lifecycle.mark_shipped(order, shipment, at=utcnow()) is True
    assert lifecycle.mark_shipped(order, shipment, at=utcnow()) is False
    assert lifecycle.mark_delivered(order, shipment, at=utcnow()) is True
    assert lifecycle.complete(order.id) is True
    db.session.commit()
    assert db.session.get(Order, order.id).status == "completed"


def test_a_late_delivery_scan_leaves_a_refunded_order_refunded():
    order = _order(S.SHIPPED)
    lifecycle.move_order(order.id, S.REFUNDED)
    assert lifecycle.mark_delivered(order, _shipment(order), at=utcnow()) is False
    db.session.commit()
    assert db.session.get(Order, order.id).status == "refunded"


def test_cancel_refuses_a_shipped_order_by_its_code():
    order = _order(S.SHIPPED)
    with pytest.raises(InvalidTransition) as raised:
        lifecycle.cancel(order.id, actor_id=order.buyer_id, by="buyer")
    assert raised.value.code == "order.not_cancellable"
