"""Delivered orders become completed once the return window (RETURN_WINDOW_DAYS) has passed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.orders import lifecycle
from marketplace.orders import service as orders
from marketplace.orders.models import Order, OrderStatus, Shipment
from tests.factories import make_buyer

S = OrderStatus


def _delivered(days_ago: float, status: OrderStatus = S.DELIVERED) -> Order:
    order = Order(id=new_id(), buyer_id=make_buyer().id, status=status, currency="EUR",
                  listing_currency="KZT", fx_rate="0.0018", items_amount=2700,
                  shipping_amount=1000, duties_amount=0, total_amount=3700,
                  shipping_address={}, shipping_option={}, duties_mode="DAP")
    db.session.add(order)
    db.session.flush()
    db.session.add(Shipment(order_id=order.id, carrier="sheber-post", service="ems",
                            duties_mode="DAP", weight_g=500, length_mm=300, width_mm=200,
                            height_mm=100, status="delivered",
                            delivered_at=utcnow() - timedelta(days=days_ago)))
    db.session.commit()
    return order


def _status(order: Order) -> str:
    db.session.expire_all()
    return db.session.get(Order, order.id).status


@pytest.mark.parametrize(("days_ago", "completed"), [
    (13.99, False),  # just inside the window: the buyer may still return it
    (14.01, True),  # just past it
    (30, True),
])
def test_the_return_window_decides_when_a_sale_is_final(app, days_ago, completed):
    assert app.config["RETURN_WINDOW_DAYS"] == 14
    order = _delivered(days_ago)
    assert orders.complete_delivered_orders() == int(completed)
    assert _status(order) == ("completed" if completed else "delivered")


def test_a_window_of_zero_days_completes_at_delivery(app):
    order = _delivered(0.001)
    app.config["RETURN_WINDOW_DAYS"] = 0
    try:
        assert orders.complete_delivered_orders() == 1
    finally:
        app.config["RETURN_WINDOW_DAYS"] = 14
    assert _status(order) == "completed"


def test_refunded_and_disputed_orders_are_not_completed_and_a_rerun_changes_nothing():
    done = _delivered(20)
    refunded = _delivered(20, S.REFUNDED)
    assert orders.complete_delivered_orders() == 1
    assert orders.complete_delivered_orders() == 0
    assert _status(done) == "completed" and _status(refunded) == "refunded"
    assert [(e.from_status, e.to_status) for e in db.session.get(Order, done.id).events] == [
        ("delivered", "completed")]


def test_completion_is_an_allowed_move_and_only_from_delivered_or_disputed():
    # (refunded: a completed order's refund that the bank failed returns it to completed)
    assert lifecycle.sources_of(S.COMPLETED) == {S.DELIVERED, S.DISPUTED, S.REFUNDED}
