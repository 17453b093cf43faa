"""When does a pending balance fall due? PAYOUT_HOLD_DAYS after the artisan's parcel is
delivered: not a second before, and then the payout run pays exactly what was "due now"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.extensions import db
from marketplace.orders.models import Fulfilment, OrderStatus
from marketplace.payouts import service
from tests.payouts.helpers import artisan_with_account, deliver, paid_order, piece

BOWL_KZT, EARRINGS_KZT = 1_500_000, 4_500_000
NET_BOWLS = 2_640_000  # 2 x 15,000.00 KZT less 12 % commission
NET_EARRINGS = 3_960_000


@pytest.fixture
def hold(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAYOUT_HOLD_DAYS", 14)
    return timedelta(days=14)


@pytest.fixture
def sold(hold):
    """Aigerim sold 2 bowls (her parcel delivered) and a pair of earrings in a second order
    (not delivered yet); returns (artisan, the delivered order, the moment of delivery)."""
    aigerim = artisan_with_account("Aigerim Ceramics")
    first = paid_order((piece(aigerim, BOWL_KZT), 2, 2_700))
    second = paid_order((piece(aigerim, EARRINGS_KZT), 1, 8_100))
    for order in (first, second):
        service.record_order(order.id)
    deliver(first, days_ago=3)
    delivered_at = db.session.execute(db.select(Fulfilment.delivered_at).where(
        Fulfilment.order_id == first.id)).scalar_one()
    return aigerim, first, delivered_at


def only(artisan_id, now):
    [balance] = service.pending_balances(artisan_id, now=now)
    return balance


def test_just_before_the_hold_ends_the_sale_falls_due_at_delivery_plus_the_hold(sold, hold):
    aigerim, _, delivered_at = sold
    balance = only(aigerim.id, delivered_at + hold - timedelta(seconds=1))
    assert balance.pending.amount == NET_BOWLS + NET_EARRINGS
    assert balance.due_now.amount == 0
    assert [(due.due_at, due.amount.amount) for due in balance.later] == [
        (delivered_at + hold, NET_BOWLS)]
    assert balance.awaiting_delivery.amount == NET_EARRINGS  # no date until it is delivered
    assert service.run_payouts(now=delivered_at + hold - timedelta(seconds=1)).batch is None


def test_at_the_end_of_the_hold_the_sale_is_due_now_and_the_run_pays_it(sold, hold):
    aigerim, _, delivered_at = sold
    at = delivered_at + hold
    balance = only(aigerim.id, at)
    assert balance.due_now.amount == NET_BOWLS
    assert balance.later == ()
    assert balance.awaiting_delivery.amount == NET_EARRINGS
    [payout] = service.run_payouts(now=at).batch.payouts
    assert payout.amount == balance.due_now.amount


def test_just_after_the_hold_it_stays_due_now_and_the_balances_agree(sold, hold):
    aigerim, _, delivered_at = sold
    after = delivered_at + hold + timedelta(seconds=1)
    balance = only(aigerim.id, after)
    assert (balance.due_now.amount, balance.later) == (NET_BOWLS, ())
    [summary] = service.balances(aigerim.id, now=after)
    assert (summary.pending, summary.payable) == (balance.pending, balance.due_now)


def test_a_disputed_order_has_no_due_date_while_the_dispute_is_open(sold, hold):
    aigerim, first, delivered_at = sold
    first = db.session.merge(first)
    first.status = OrderStatus.DISPUTED
    db.session.commit()
    balance = only(aigerim.id, delivered_at + hold * 2)
    assert (balance.due_now.amount, balance.later) == (0, ())
    assert balance.disputed.amount == NET_BOWLS


def test_every_artisan_is_listed_by_workshop_name_and_paid_balances_leave_the_list(sold, hold):
    aigerim, _, delivered_at = sold
    nurlan = artisan_with_account("Bolat Silver")
    service.record_order(paid_order((piece(nurlan, EARRINGS_KZT), 1, 8_100)).id)
    names = [b.workshop_name for b in service.pending_balances(now=delivered_at)]
    assert names == ["Aigerim Ceramics", "Bolat Silver"]
    service.run_payouts(now=delivered_at + hold)
    [left] = [b for b in service.pending_balances(now=delivered_at + hold)
              if b.artisan_id == aigerim.id]
    assert (left.pending.amount, left.due_now.amount) == (NET_EARRINGS, 0)
