"""The order pipeline on a real ``celery -A workers worker``: a paid order (Stripe emulator) from
two artisans becomes two fulfilments, three mails on a real SMTP server (two artisans, the
buyer's receipt, which links its PDF) and ledger lines to the minor unit; exactly once through
redeliveries, killed processes and a broker outage."""

from __future__ import annotations

import email.message
import io
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
from babel.dates import format_date
from pypdf import PdfReader
from sqlalchemy import select

from marketplace import mail
from marketplace.catalog.models import ArtisanProfile
from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.orders.lifecycle import ORDER_PAID
from marketplace.orders.models import Fulfilment, OrderEvent
from marketplace.outbox import OutboxEvent, ProcessedEvent
from marketplace.payouts.models import LedgerEntry
from marketplace.provenance.models import PieceEvent, ProvenancePiece
from tests.checkout.helpers import (
    buyer_with_cart,
    do_checkout,
    fixed_rates,  # noqa: F401 (a fixture)
    pay,
    status_of,
)
from tests.factories import make_operator, make_product
from tests.mails.helpers import html_of, links
from tests.payouts.helpers import artisan_with_account
from tests.plugins.worker import broker_is_redis
from tests.shipping.flow import verified_product
from tests.stripe_emulator import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fixed_rates")]

PIPELINE_TASKS = ("workers.orders.start_fulfilment_task", "workers.orders.send_receipt_task",
                  "workers.payouts.record_order_ledger_task")


def two_artisan_cart(client):
    """Two bowls (15,000 KZT, with a verified provenance label) by Aigerim, who ships in 3 days,
    and earrings (45,000 KZT) by Nurlan; a buyer in Berlin paying in EUR."""
    aigerim = artisan_with_account("Aigerim Ceramics")
    nurlan = artisan_with_account("Nurlan Silver")
    db.session.get(ArtisanProfile, aigerim.id).processing_days = 3
    db.session.commit()
    bowl = verified_product(client, aigerim, make_operator(), price_amount=1_500_000,
                            title={"en": "Kese bowl", "kk": "Кесе"})
    earrings = make_product(nurlan, craft="jewellery", price_amount=4_500_000,
                            title={"en": "Silver earrings"}, weight_g=30, length_mm=80,
                            width_mm=60, height_mm=30)
    buyer, headers = buyer_with_cart((bowl, 2), (earrings, 1))
    return aigerim, nurlan, buyer, headers


def checkout_and_pay(client, headers, pay_client=None) -> str:
    order_id = do_checkout(client, headers)["order"]["id"]
    result = pay(pay_client or client, headers, order_id)
    assert result["status"] == "succeeded", result
    assert status_of(order_id) == "paid"  # Stripe's word, applied by the server at once
    return order_id


def paid_events(order_id: str | None = None) -> list[OutboxEvent]:
    db.session.rollback()
    rows = db.session.execute(select(OutboxEvent).where(OutboxEvent.type == ORDER_PAID)
                              .order_by(OutboxEvent.created_at)).scalars().all()
    return [row for row in rows if order_id is None or row.payload["order_id"] == order_id]


def deliver_again(app, event: OutboxEvent) -> None:
    """A relay race or a redelivery: every consumer of the event receives it once more."""
    for task in PIPELINE_TASKS:
        app.extensions["celery"].send_task(task, args=[event.id, event.payload])
        time.sleep(0.01)  # the embedded broker orders messages by millisecond


def barrier(smtp_server, count: int) -> list[email.message.EmailMessage]:
    """Queue one more mail and wait for it: the worker got past everything sent before."""
    mail.queue_mail(to="barrier@example.test", subject="Barrier", text="-")
    db.session.commit()
    messages = smtp_server.wait_for(count + 1, timeout=60)
    assert messages[-1]["Subject"] == "Barrier"
    return messages[:-1]


def orders_barrier(app, order_id: str) -> None:
    """Send one more ledger step for the order under a new event id and wait for its marker.
    The test worker runs one task at a time and takes each queue in order, so every task
    queued on ``orders`` before it (the pipeline's three steps) has finished by then; the
    ledger adds nothing for an order it has recorded."""
    sentinel = new_id()
    consumer = "workers.payouts.record_order_ledger_task"
    time.sleep(0.01)  # the embedded broker orders messages by millisecond
    app.extensions["celery"].send_task(consumer, args=[sentinel, {"order_id": order_id}])

    def ran() -> bool:
        db.session.rollback()
        return db.session.get(ProcessedEvent, (sentinel, consumer)) is not None

    wait_until(ran, timeout=60, message="the barrier task on the orders queue")


def ledger(order_id: str) -> Counter:
    db.session.rollback()
    return Counter((e.artisan_id, e.kind, e.amount) for e in db.session.execute(
        select(LedgerEntry).where(LedgerEntry.order_id == order_id)).scalars())


def fulfilling_transitions(order_id: str) -> int:
    db.session.rollback()
    return len(db.session.execute(select(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.to_status == "fulfilling")).scalars().all())


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def expected_ledger(aigerim, nurlan) -> Counter:
    return Counter({(aigerim.id, "sale", 3_000_000): 1, (aigerim.id, "commission", -360_000): 1,
                    (nurlan.id, "sale", 4_500_000): 1, (nurlan.id, "commission", -540_000): 1})


def settled(order_id: str, expected: Counter):
    def done():
        return status_of(order_id) == "fulfilling" and ledger(order_id) == expected
    return done


def test_a_paid_order_from_two_artisans_flows_through_the_pipeline(
        app, client, smtp_server, start_worker, stripe_webhooks):
    aigerim, nurlan, buyer, headers = two_artisan_cart(client)
    worker = start_worker()
    order_id = checkout_and_pay(client, headers)

    messages = smtp_server.wait_for(3, timeout=60)
    wait_until(settled(order_id, expected_ledger(aigerim, nurlan)), timeout=30,
               message=f"the order to be fulfilling with its ledger\n{worker.log()[-3000:]}")
    by_recipient = {message["To"]: message for message in messages}
    assert set(by_recipient) == {aigerim.email, nurlan.email, buyer.email}

    db.session.rollback()
    fulfilments = {f.artisan_id: f for f in db.session.execute(
        select(Fulfilment).where(Fulfilment.order_id == order_id)).scalars()}
    assert set(fulfilments) == {aigerim.id, nurlan.id}
    assert (fulfilments[nurlan.id].ship_by - fulfilments[aigerim.id].ship_by).days == 2

    to_aigerim = by_recipient[aigerim.email]
    ship_by = format_date(fulfilments[aigerim.id].ship_by.date(), "medium", locale="en")
    assert to_aigerim["Subject"] == f"Order {order_id[-8:]}: pack 2 pieces by {ship_by}"
    text = to_aigerim.get_body(("plain",)).get_content()
    assert "2 x Kese bowl" in text and "Silver earrings" not in text
    db.session.rollback()
    serials = sorted(db.session.execute(select(ProvenancePiece.serial)).scalars())
    assert len(serials) == 2 and all(serial in text for serial in serials)
    assert "1 x Silver earrings" in by_recipient[nurlan.email].get_body(("plain",)).get_content()

    receipt = by_recipient[buyer.email]
    assert list(receipt.iter_attachments()) == []  # the receipt is linked
    [link] = [url for url in links(html_of(receipt)) if url.endswith("/receipt.pdf")]
    pdf = client.get(urlsplit(link).path, headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert f"sheber-receipt-{order_id}.pdf" in pdf.headers["Content-Disposition"]
    order = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()
    text = pdf_text(pdf.data)
    total = order["totals"]["total"]["amount"]
    assert order_id in text and buyer.name in text
    # the buyer reads English: amounts as Babel writes them in it
    assert f"Total paid (EUR) €{total // 100:,}.{total % 100:02d}" in text
    assert "€27.00" in text and "€81.00" in text and "₸15,000.00" in text
    assert "1 KZT = 0.0018 EUR" in text
    label_code = serials[0].rsplit("-", 1)[0]
    assert f"Provenance label {label_code}" in text and serials[0] in text

    # Stripe's sold events were written at payment; the pipeline adds none.
    sold = db.session.execute(select(PieceEvent).where(PieceEvent.event_type == "sold")).scalars()
    assert sorted(event.serial for event in sold) == serials
    assert order["status"] == "fulfilling" and fulfilling_transitions(order_id) == 1


def test_every_step_runs_once_when_the_event_is_delivered_again(
        app, client, smtp_server, start_worker, stripe_webhooks):
    aigerim, nurlan, _, headers = two_artisan_cart(client)
    start_worker()
    order_id = checkout_and_pay(client, headers)
    smtp_server.wait_for(3, timeout=60)
    wait_until(settled(order_id, expected_ledger(aigerim, nurlan)), timeout=30,
               message="the pipeline")

    [event] = paid_events(order_id)
    deliver_again(app, event)
    deliver_again(app, event)
    orders_barrier(app, order_id)  # the duplicates on the orders queue have run,
    assert len(barrier(smtp_server, 3)) == 3  # then any mail one of them queued
    assert ledger(order_id) == expected_ledger(aigerim, nurlan)
    assert fulfilling_transitions(order_id) == 1
    assert smtp_server.rcpt_count == 4  # three mails and the barrier, each once


def test_a_pool_process_killed_mid_pipeline_leaves_the_order_right_exactly_once(
        app, client, smtp_server, start_worker, stripe_webhooks):
    aigerim, nurlan, _, headers = two_artisan_cart(client)
    worker = start_worker()
    smtp_server.stall_next_rcpt(60)
    order_id = checkout_and_pay(client, headers)
    assert smtp_server.rcpt_started.wait(30), worker.log()
    worker.kill_pool_process()  # SIGKILL while the first mail is being handed over

    messages = smtp_server.wait_for(3, timeout=90)
    wait_until(settled(order_id, expected_ledger(aigerim, nurlan)), timeout=30,
               message=f"the pipeline after the kill\n{worker.log()[-3000:]}")
    assert len(barrier(smtp_server, 3)) == 3
    assert len({m["Message-ID"] for m in messages}) == 3
    assert smtp_server.rcpt_count == 5  # the killed attempt, three mails, the barrier
    assert fulfilling_transitions(order_id) == 1


@pytest.mark.redis
def test_a_worker_killed_outright_mid_pipeline_then_restarted_finishes_exactly_once(
        app, client, smtp_server, start_worker, stripe_webhooks):
    if not broker_is_redis(app):
        pytest.skip("the embedded broker drops a message whose whole worker is SIGKILLed; "
                    "Redis keeps it unacknowledged and redelivers it")
    aigerim, nurlan, _, headers = two_artisan_cart(client)
    worker = start_worker(CELERY_VISIBILITY_TIMEOUT=3)
    smtp_server.stall_next_rcpt(120)
    order_id = checkout_and_pay(client, headers)
    assert smtp_server.rcpt_started.wait(30), worker.log()
    worker.kill()

    replacement = start_worker(CELERY_VISIBILITY_TIMEOUT=3)
    messages = smtp_server.wait_for(3, timeout=120)
    wait_until(settled(order_id, expected_ledger(aigerim, nurlan)), timeout=30,
               message=f"the pipeline after the restart\n{replacement.log()[-3000:]}")
    assert len(barrier(smtp_server, 3)) == 3
    assert len({m["Message-ID"] for m in messages}) == 3
    assert fulfilling_transitions(order_id) == 1


def test_orders_paid_while_the_broker_is_down_wait_then_flow_once(
        app, client, smtp_server, start_worker, stripe_webhooks, dead_broker_app):
    dead_broker_app.config["STRIPE_API_BASE"] = app.config["STRIPE_API_BASE"]
    carts = [two_artisan_cart(client) for _ in range(2)]
    with dead_broker_app.app_context():
        offline = dead_broker_app.test_client()
        order_ids = [checkout_and_pay(client, headers, pay_client=offline)
                     for _, _, _, headers in carts]

    events = paid_events()
    assert [e.payload["order_id"] for e in events] == order_ids
    assert all(e.published_at is None and e.attempts == 1 and e.last_error for e in events)
    assert smtp_server.messages == []
    assert all(status_of(order_id) == "paid" for order_id in order_ids)

    start_worker(beat=True)  # the broker is back: beat's relay sweep publishes them
    smtp_server.wait_for(6, timeout=90)
    for order_id, (aigerim, nurlan, _, _) in zip(order_ids, carts, strict=True):
        wait_until(settled(order_id, expected_ledger(aigerim, nurlan)), timeout=30,
                   message="the pipeline after the outage")
    assert all(e.published_at is not None for e in paid_events())

    for event in paid_events():
        deliver_again(app, event)
    orders_barrier(app, order_ids[-1])
    assert len(barrier(smtp_server, 6)) == 6
    for order_id, (aigerim, nurlan, _, _) in zip(order_ids, carts, strict=True):
        assert ledger(order_id) == expected_ledger(aigerim, nurlan)
        assert fulfilling_transitions(order_id) == 1
