"""The order pipeline's steps called in-process, as the worker calls them (fast checks of the
rules; tests/workers/test_order_pipeline.py runs them on a real worker)."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.mail import MAIL_REQUESTED
from marketplace.orders.models import Fulfilment, Order, OrderEvent, OrderStatus
from marketplace.outbox import OutboxEvent
from tests.payouts.helpers import artisan_with_account, paid_order, piece
from workers.orders import send_receipt_task, start_fulfilment_task
from workers.payouts import record_order_ledger_task


def queued_mails() -> list[dict]:
    db.session.rollback()
    return [event.payload for event in db.session.execute(
        select(OutboxEvent).where(OutboxEvent.type == MAIL_REQUESTED)
        .order_by(OutboxEvent.created_at)).scalars()]


def two_artisan_order(**kw) -> Order:
    aigerim, nurlan = artisan_with_account("Aigerim"), artisan_with_account("Nurlan")
    return paid_order((piece(aigerim, 1_500_000), 2, 2_700), (piece(nurlan, 4_500_000), 1, 8_100),
                      **kw)


def test_each_step_runs_once_per_event_however_often_it_is_delivered():
    order = two_artisan_order()
    payload = {"order_id": order.id}
    assert start_fulfilment_task("evt_paid_1", payload) is True
    assert start_fulfilment_task("evt_paid_1", payload) is False
    assert send_receipt_task("evt_paid_1", payload) is True
    assert send_receipt_task("evt_paid_1", payload) is False
    assert record_order_ledger_task("evt_paid_1", payload) is True

    mails = queued_mails()
    assert len(mails) == 3
    assert [m["attachments"] for m in mails] == [[], [], []]  # nothing rendered to attach
    [receipt] = [m for m in mails if f"/api/v1/orders/{order.id}/receipt.pdf" in m["text"]]
    assert f'href="http://127.0.0.1:5000/api/v1/orders/{order.id}/receipt.pdf"' in receipt["html"]
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.FULFILLING
    assert len(db.session.execute(select(Fulfilment).where(
        Fulfilment.order_id == order.id)).scalars().all()) == 2


def test_an_order_cancelled_before_the_pipeline_ran_is_left_alone():
    order = two_artisan_order(status=OrderStatus.CANCELLED)
    assert start_fulfilment_task("evt_paid_2", {"order_id": order.id}) is True
    assert queued_mails() == []
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.session.execute(select(OrderEvent).where(
        OrderEvent.order_id == order.id)).first() is None


def test_an_order_an_artisan_already_packed_stays_fulfilling_and_artisans_still_hear():
    order = two_artisan_order(status=OrderStatus.FULFILLING)
    start_fulfilment_task("evt_paid_3", {"order_id": order.id})
    assert len(queued_mails()) == 2
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.FULFILLING
