"""How many SQL statements one paid order costs from the paid move to its three mails sent: the
steps called in-process as the worker calls them (``bench.order_steps`` prints the same count
per step). A bound, not a speed: a change that adds a read per line or per artisan shows here."""

from __future__ import annotations

from sqlalchemy import event, select

from marketplace import mail
from marketplace.checkout import payments
from marketplace.extensions import db
from marketplace.orders.models import Order, OrderStatus
from marketplace.outbox import OutboxEvent
from marketplace.payouts.models import LedgerEntry
from workers.orders import send_receipt_task, start_fulfilment_task
from workers.payouts import record_order_ledger_task

# 52 on SQLite and PostgreSQL when this was written (61 before the paid move and the move to
# fulfilling stopped reading the order's status again and the payment's two ledger lines were
# checked in one read, 57 before the ledger asked in one read whether the order has refunds or
# disputes instead of reading both, 56 before an order was locked and read in one statement and
# the paid move read the artisans' profiles once for the fulfilments and the invoice)
BOUND = 52


def _pay_and_run(order_id: str) -> None:
    assert payments.apply_payment_intent({
        "id": f"pi_bench_{order_id}", "status": "succeeded", "amount_received": 12_300,
        "currency": "eur", "metadata": {"order_id": order_id}}) == "paid"
    paid = db.session.execute(select(OutboxEvent.id).where(
        OutboxEvent.type == "order.paid",
        OutboxEvent.payload["order_id"].as_string() == order_id)).scalar_one()
    db.session.rollback()
    payload = {"order_id": order_id}
    since = db.session.execute(select(OutboxEvent.created_at).where(
        OutboxEvent.id == paid)).scalar_one()
    db.session.rollback()
    for task in (start_fulfilment_task, send_receipt_task, record_order_ledger_task):
        assert task(paid, payload) is True
        db.session.remove()
    mails = db.session.execute(select(OutboxEvent.id, OutboxEvent.payload).where(
        OutboxEvent.type == mail.MAIL_REQUESTED, OutboxEvent.created_at >= since)).all()
    db.session.rollback()
    assert len(mails) == 3
    for key, message in mails:
        assert mail.send_mail_payload(key, message) is True
        db.session.remove()


def test_a_paid_two_artisan_order_stays_within_its_statements(app):
    from bench.order_pipeline import _orders  # unpaid two-artisan orders, built as checkout does

    _, (warm, counted) = _orders(2)
    _pay_and_run(warm)  # the first order of a run creates what later ones find (counters)
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        _pay_and_run(counted)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    order = db.session.get(Order, counted)
    assert order.status == OrderStatus.FULFILLING
    assert db.session.execute(select(db.func.count()).select_from(LedgerEntry).where(
        LedgerEntry.order_id == counted)).scalar_one() == 4
    # the test's own reads of the outbox (two per order) are not the pipeline's
    pipeline = [s for s in statements if not s.lstrip().upper().startswith("SELECT OUTBOX_EVENT")]
    assert len(pipeline) <= BOUND, "\n".join(" ".join(s.split())[:120] for s in pipeline)
