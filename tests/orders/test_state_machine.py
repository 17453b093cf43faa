"""The order state machine: a table of allowed moves, each a guarded UPDATE."""

from __future__ import annotations

import pytest

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.orders import service as orders
from marketplace.orders.models import ALLOWED, Order, OrderEvent, OrderStatus
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


def test_every_status_has_a_row_and_the_happy_path_is_allowed():
    assert set(ALLOWED) == set(OrderStatus)
    path = [S.PENDING_PAYMENT, S.PAID, S.FULFILLING, S.SHIPPED, S.DELIVERED, S.COMPLETED]
    for source, target in zip(path, path[1:], strict=False):
        assert target in ALLOWED[source]
    assert S.PAID in ALLOWED[S.PAYMENT_FAILED]  # a retry may still succeed
    assert S.PAYMENT_FAILED not in ALLOWED[S.PAID]  # a late failure changes nothing
    assert S.CANCELLED not in ALLOWED[S.SHIPPED]


def test_a_transition_happens_once_and_a_duplicate_is_a_no_op():
    order = _order()
    assert orders.transition(order.id, S.PAID) == S.PENDING_PAYMENT
    assert orders.transition(order.id, S.PAID) is None
    db.session.commit()
    assert db.session.get(Order, order.id).paid_at is not None
    assert _status_events(order.id) == [("pending_payment", "paid")]


@pytest.mark.parametrize(("start", "target"), [
    (S.PAID, S.PAYMENT_FAILED), (S.SHIPPED, S.CANCELLED), (S.PENDING_PAYMENT, S.SHIPPED),
    (S.CANCELLED, S.PAID), (S.EXPIRED, S.PAYMENT_FAILED), (S.COMPLETED, S.PAID),
])
def test_a_move_that_is_not_in_the_table_changes_nothing(start, target):
    order = _order(start)
    assert orders.transition(order.id, target) is None
    db.session.commit()
    assert db.session.get(Order, order.id).status == start
    assert _status_events(order.id) == []


def test_expected_states_guard_the_move():
    order = _order(S.PAYMENT_FAILED)
    assert orders.transition(order.id, S.PAID, expected=[S.PENDING_PAYMENT]) is None
    assert orders.transition(order.id, S.PAID, expected=[S.PAYMENT_FAILED]) == S.PAYMENT_FAILED


def test_other_domains_move_orders_along_the_fulfilment_path():
    order = _order(S.PAID)
    assert orders.transition_order(order.id, "fulfilling") is True
    assert orders.transition_order(order.id, "shipped") is True
    assert orders.transition_order(order.id, "shipped") is False
    assert db.session.get(Order, order.id).status == "shipped"
