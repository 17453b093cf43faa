"""Stripe's whole event lifecycle through the real webhook endpoint, each event type delivered
twice, late and out of order: the objects live in the emulator (``tests/localstripe_plus.py``
adds disputes and bank-failed refunds), the events are built from them as Stripe builds them and
signed as Stripe signs them, and a real worker applies them after re-fetching each object."""

from __future__ import annotations

import time

import pytest

from marketplace.catalog.models import Product
from marketplace.checkout.models import StripeEvent
from marketplace.extensions import db
from marketplace.orders.models import (
    Dispute,
    OperatorAlert,
    Order,
    OrderEvent,
    OrderLine,
    PaymentAttempt,
    PaymentLedgerEntry,
    Refund,
)
from marketplace.payouts import service as payouts
from marketplace.payouts.models import EntryKind, LedgerEntry
from tests.checkout.helpers import (
    buyer_with_cart,
    do_checkout,
    foreign_payment_intent,
    fresh,
    paid_order,
    pay,
    status_of,
    webhook_processed,
)
from tests.factories import auth_headers, make_operator, make_product
from tests.stripe_emulator import WEBHOOK_PATH, post_signed, stripe_event, wait_until


@pytest.fixture
def deliver(app, live_server, stripe_webhooks):
    """deliver(type, obj, times=2, late=0): post the event as Stripe would, ``times`` times
    (``late`` seconds old); returns the worker's outcome."""
    def send(type_: str, obj: dict, *, times: int = 2, late: int = 0) -> str:
        event = stripe_event(type_, obj, created=int(time.time()) - late)
        for _ in range(times):
            response = post_signed(live_server + WEBHOOK_PATH, event,
                                   app.config["STRIPE_WEBHOOK_SECRET"],
                                   timestamp=int(time.time()))
            assert response.status_code == 200, response.text
        return applied(event["id"])

    return send


def applied(event_id: str) -> str:
    def processed():
        db.session.rollback()
        return db.session.execute(db.select(StripeEvent.outcome).where(
            StripeEvent.event_id == event_id, StripeEvent.processed_at.is_not(None))).scalar()

    return wait_until(processed, timeout=20, message=f"the worker to apply {event_id}")


def ledger_lines(order_id: str) -> list[tuple[str, int]]:
    db.session.rollback()
    return sorted((e.kind, e.amount) for e in db.session.execute(
        db.select(PaymentLedgerEntry).where(PaymentLedgerEntry.order_id == order_id)).scalars())


def timeline(order_id: str, type_: str) -> list[OrderEvent]:
    db.session.rollback()
    return list(db.session.execute(db.select(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.type == type_)).scalars())


def alerts_of(order_id: str, kind: str) -> list[OperatorAlert]:
    db.session.rollback()
    return list(db.session.execute(db.select(OperatorAlert).where(
        OperatorAlert.order_id == order_id, OperatorAlert.kind == kind)).scalars())


def payment(client, headers, order_id: str) -> dict:
    return client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()["payment"]


# --- payment_intent.* -----------------------------------------------------------------------

def test_requires_action_and_processing_wait_then_success_pays_once(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id = created["order"]["id"]
    result = pay(client, headers, order_id,
                 stripe_webhooks.card_payment_method("4000002760003184"))
    assert result["status"] == "requires_action"
    intent_id = result["payment_intent_id"]
    intent = stripe_webhooks.payment_intent(intent_id)
    assert deliver("payment_intent.requires_action", intent) == (
        "no change: PaymentIntent is requires_action")
    assert deliver("payment_intent.processing", {**intent, "status": "processing"}) == (
        "no change: PaymentIntent is requires_action")  # Stripe's current word wins
    assert status_of(order_id) == "pending_payment"
    assert len(timeline(order_id, "payment_requires_action")) == 1

    stripe_webhooks.authenticate(intent_id, intent["client_secret"])
    wait_until(webhook_processed("payment_intent.succeeded", intent_id),
               message="payment_intent.succeeded")
    assert status_of(order_id) == "paid"
    # the 3-D Secure request, delivered late, changes nothing
    assert deliver("payment_intent.requires_action", intent, late=3600) == (
        "no change: payment already recorded")
    assert status_of(order_id) == "paid"
    assert ledger_lines(order_id).count(("captured", created["order"]["totals"]["total"][
        "amount"])) == 1
    db.session.rollback()
    attempt = db.session.execute(db.select(PaymentAttempt).where(
        PaymentAttempt.payment_intent_id == intent_id)).scalar_one()
    assert attempt.stripe_status == "succeeded"


def test_payment_intent_canceled_at_stripe_cancels_the_order_and_releases_the_stock(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 2))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    assert fresh(Product, bowl.id).reserved == 2
    stripe_webhooks.client.v1.payment_intents.cancel(intent_id)  # e.g. in the dashboard
    intent = stripe_webhooks.payment_intent(intent_id)
    assert deliver("payment_intent.canceled", intent) == (
        "cancelled: PaymentIntent cancelled, stock released")
    assert deliver("payment_intent.canceled", intent, late=7200) == (
        "no change: order is cancelled")
    assert status_of(order_id) == "cancelled"
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (2, 0)
    # a "succeeded" event for it, out of order: Stripe says canceled, nothing moves
    assert deliver("payment_intent.succeeded", {**intent, "status": "succeeded"}) == (
        "no change: order is cancelled")
    assert ledger_lines(order_id) == []


def test_the_cancellation_of_a_replaced_attempt_leaves_the_order_payable(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, first = created["order"]["id"], created["payment"]["payment_intent_id"]
    declined = pay(client, headers, order_id, "pm_card_chargeCustomerFail")
    assert declined["status"] == "failed"
    second = pay(client, headers, order_id)  # a new attempt; the first is cancelled
    assert second["payment_intent_id"] != first
    wait_until(webhook_processed("payment_intent.succeeded", second["payment_intent_id"]),
               message="the second attempt's success")
    old = stripe_webhooks.payment_intent(first)
    assert deliver("payment_intent.canceled", old) == (
        "no change: an earlier attempt was cancelled")
    assert deliver("payment_intent.payment_failed", old, late=600) in (
        "no change: an earlier attempt was cancelled", "no change: failure of an earlier attempt")
    assert status_of(order_id) == "paid"


def test_a_foreign_payment_intent_naming_an_order_is_refunded_and_the_order_flagged(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, ours = created["order"]["id"], created["payment"]["payment_intent_id"]
    total = created["order"]["totals"]["total"]
    foreign = foreign_payment_intent(stripe_webhooks, created)
    intent = stripe_webhooks.payment_intent(foreign)
    assert deliver("payment_intent.succeeded", intent) == (
        "no change: foreign payment already recorded")

    order = fresh(Order, order_id)
    assert order.status == "pending_payment" and order.payment_intent_id == ours
    assert [r["amount"] for r in stripe_webhooks.refunds(foreign)] == [total["amount"]]
    assert len(alerts_of(order_id, "foreign_payment")) == 1
    assert len(timeline(order_id, "foreign_payment")) == 1
    assert payment(client, headers, order_id)["captured"]["amount"] == 0
    assert fresh(Product, bowl.id).reserved == 1
    # the buyer still pays with our own PaymentIntent
    assert pay(client, headers, order_id)["status"] == "succeeded"
    wait_until(webhook_processed("payment_intent.succeeded", ours), message="our payment")
    assert status_of(order_id) == "paid"
    assert payment(client, headers, order_id)["captured"]["amount"] == total["amount"]


# --- refunds ----------------------------------------------------------------------------------

def test_a_refund_the_bank_fails_reopens_the_order_alerts_and_takes_back_the_artisans_line(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    payouts.record_order(order_id)
    operator = auth_headers(make_operator())
    line_id = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()[
        "lines"][0]["id"]
    made = client.post(f"/api/v1/operator/orders/{order_id}/refunds", headers=operator,
                       json={"lines": [{"line_id": line_id, "quantity": 1}],
                             "reason": "broken in transit"})
    assert made.status_code == 201, made.get_json()
    refund_id = made.get_json()["refunds"][0]["stripe_refund_id"]
    charge_id = stripe_webhooks.payment_intent(intent_id)["latest_charge"]["id"]
    assert deliver("refund.created", stripe_webhooks.refund(refund_id)) == "recorded 0 refund(s)"
    assert deliver("charge.refunded", stripe_webhooks.charge(charge_id)) == (
        "recorded 0 refund(s)")
    before = payment(client, headers, order_id)["refunded"]["amount"]
    assert before > 0
    payouts.record_order(order_id)
    artisan = fresh(OrderLine, line_id).artisan_id
    refunded_balance = payouts_balance(artisan)

    stripe_webhooks.fail_refund(refund_id)
    failed = stripe_webhooks.refund(refund_id)
    # refund.updated arrives before refund.failed, each twice, then charge.refund.updated late
    assert deliver("refund.updated", failed) == "recorded 0 refund(s), 1 failed at the bank"
    assert deliver("refund.failed", failed) == "recorded 0 refund(s)"
    assert deliver("charge.refund.updated", failed, late=3600) == "recorded 0 refund(s)"
    assert deliver("refund.created", {**failed, "status": "succeeded"}, late=7200) == (
        "recorded 0 refund(s)")

    assert payment(client, headers, order_id)["refunded"]["amount"] == 0
    assert fresh(OrderLine, line_id).refunded_quantity == 0
    assert ("refund_back", before) in ledger_lines(order_id)
    assert fresh(Refund, made.get_json()["refunds"][0]["id"]).status == "failed"
    assert len(alerts_of(order_id, "refund_failed")) == 1
    assert len(timeline(order_id, "refund_reversed")) == 1
    payouts.record_order(order_id)
    payouts.record_order(order_id)
    assert payouts_balance(artisan) > refunded_balance
    db.session.rollback()
    reversals = db.session.execute(db.select(LedgerEntry).where(
        LedgerEntry.order_id == order_id,
        LedgerEntry.kind == EntryKind.REFUND_REVERSAL)).scalars().all()
    assert reversals and sum(e.amount for e in reversals) == payouts_balance(
        artisan) - refunded_balance


def test_a_fully_refunded_order_whose_refund_fails_returns_to_paid(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    operator = auth_headers(make_operator())
    made = client.post(f"/api/v1/operator/orders/{order_id}/refunds", headers=operator,
                       json={"reason": "the buyer changed their mind"})
    assert made.status_code == 201 and status_of(order_id) == "refunded"
    refund_id = made.get_json()["refunds"][0]["stripe_refund_id"]
    stripe_webhooks.fail_refund(refund_id)
    assert deliver("refund.failed", stripe_webhooks.refund(refund_id)) == (
        "recorded 0 refund(s), 1 failed at the bank")
    assert status_of(order_id) == "paid"
    assert payment(client, headers, order_id)["fully_refunded"] is False


def test_refunds_reported_beyond_what_was_captured_are_not_booked(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    total = payment(client, headers, order_id)["captured"]["amount"]
    for _ in range(3):  # the emulator, unlike Stripe, does not stop at the captured amount
        stripe_webhooks.client.v1.refunds.create(
            params={"payment_intent": intent_id, "amount": total // 2 + 1})
    charge_id = stripe_webhooks.payment_intent(intent_id)["latest_charge"]["id"]
    assert deliver("charge.refunded", stripe_webhooks.charge(charge_id)) == (
        "recorded 1 refund(s)")
    assert payment(client, headers, order_id)["refunded"]["amount"] == total // 2 + 1
    assert len(alerts_of(order_id, "refund_over_capture")) == 2
    assert status_of(order_id) == "paid"


# --- disputes ---------------------------------------------------------------------------------

def _open(stripe_webhooks, intent_id: str, reason: str) -> dict:
    charge_id = stripe_webhooks.payment_intent(intent_id)["latest_charge"]["id"]
    return stripe_webhooks.open_dispute(charge_id, reason=reason)


def test_a_won_dispute_returns_the_order_to_where_it_was_and_payouts_resume(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    dispute = _open(stripe_webhooks, intent_id, "fraudulent")
    amount = dispute["amount"]
    # funds_withdrawn overtakes created; each twice
    assert deliver("charge.dispute.funds_withdrawn", dispute) == "disputed, funds withdrawn"
    assert deliver("charge.dispute.created", dispute, late=60) == (
        "no change: dispute already recorded")
    assert status_of(order_id) == "disputed"
    assert len(alerts_of(order_id, "dispute")) == 1
    assert ledger_lines(order_id).count(("dispute_out", amount)) == 1
    assert _payout_blocked(order_id)

    won = stripe_webhooks.decide_dispute(dispute["id"], "won")
    assert deliver("charge.dispute.closed", won) == (
        "dispute won, funds reinstated, dispute won: order paid")
    assert deliver("charge.dispute.funds_reinstated", won) == (
        "no change: dispute already recorded")
    assert deliver("charge.dispute.updated", dispute, late=3600) == (
        "no change: dispute already recorded")  # the stale payload names needs_response
    assert status_of(order_id) == "paid"
    assert ledger_lines(order_id).count(("dispute_in", amount)) == 1
    assert fresh(Dispute, _dispute_row(dispute["id"]).id).status == "won"
    assert not _payout_blocked(order_id)


def test_a_lost_dispute_books_the_loss_and_claws_back_per_policy(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    payouts.record_order(order_id)
    artisan = fresh(Order, order_id).lines[0].artisan_id
    earned = payouts_balance(artisan)
    assert earned > 0
    dispute = _open(stripe_webhooks, intent_id, "product_not_received")
    lost = stripe_webhooks.decide_dispute(dispute["id"], "lost")
    # closed arrives first, created late
    assert deliver("charge.dispute.closed", lost) == "disputed, funds withdrawn, dispute lost"
    assert deliver("charge.dispute.created", dispute, late=600) == (
        "no change: dispute already recorded")
    assert status_of(order_id) == "disputed"
    assert ledger_lines(order_id).count(("dispute_loss", dispute["amount"])) == 1
    payouts.record_order(order_id)
    payouts.record_order(order_id)
    assert payouts_balance(artisan) == 0  # the whole sale clawed back, commission given back
    assert not _payout_blocked(order_id)  # closed: nothing is held any more


def test_a_lost_fraud_dispute_is_borne_by_the_marketplace(client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    payouts.record_order(order_id)
    artisan = fresh(Order, order_id).lines[0].artisan_id
    earned = payouts_balance(artisan)
    dispute = _open(stripe_webhooks, intent_id, "fraudulent")
    deliver("charge.dispute.closed", stripe_webhooks.decide_dispute(dispute["id"], "lost"))
    payouts.record_order(order_id)
    assert payouts_balance(artisan) == earned


def payouts_balance(artisan_id: str) -> int:
    db.session.rollback()
    return sum(e.amount for e in db.session.execute(
        db.select(LedgerEntry).where(LedgerEntry.artisan_id == artisan_id)).scalars())


def _dispute_row(stripe_id: str) -> Dispute:
    db.session.rollback()
    return db.session.execute(db.select(Dispute).where(
        Dispute.stripe_dispute_id == stripe_id)).scalar_one()


def _payout_blocked(order_id: str) -> bool:
    """Would the next payout run hold this order's sale back? Its boxes are made delivered
    long ago, so only a dispute can hold it."""
    from datetime import timedelta

    from marketplace.ids import utcnow
    from marketplace.orders.models import Fulfilment

    db.session.rollback()
    payouts.record_order(order_id)
    for fulfilment in db.session.execute(db.select(Fulfilment).where(
            Fulfilment.order_id == order_id)).scalars():
        fulfilment.delivered_at = utcnow() - timedelta(days=60)
    db.session.commit()
    artisan = fresh(Order, order_id).lines[0].artisan_id
    [balance] = payouts.balances(artisan)
    return balance.payable.amount == 0 and balance.pending.amount > 0


def test_signatures_are_accepted_within_the_tolerance_either_side_and_refused_beyond(app):
    import json

    from marketplace.checkout.payments import (
        SIGNATURE_TOLERANCE_SECONDS,
        InvalidWebhook,
        verify_signature,
    )
    from tests.stripe_emulator import stripe_signature

    body = json.dumps(stripe_event("customer.created", {"id": "cus_1"})).encode()
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    now = int(time.time())
    for offset in (-SIGNATURE_TOLERANCE_SECONDS + 5, 0, SIGNATURE_TOLERANCE_SECONDS - 5):
        verify_signature(body, stripe_signature(body, secret, now + offset), now=now)
    for offset in (-SIGNATURE_TOLERANCE_SECONDS - 5, SIGNATURE_TOLERANCE_SECONDS + 5):
        with pytest.raises(InvalidWebhook):
            verify_signature(body, stripe_signature(body, secret, now + offset), now=now)


# --- reconciliation ---------------------------------------------------------------------------

def test_the_daily_reconciliation_lists_what_stripe_and_the_ledger_disagree_on(
        client, stripe_webhooks):
    import csv
    import io

    from marketplace.ids import utcnow
    from marketplace.orders import reconciliation

    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    today = utcnow().date()
    clean = reconciliation.daily_report(today)
    [row] = [r for r in clean.rows if r.order_id == order_id]
    assert row.stripe == row.ledger and row.stripe["captured"] > 0 and not row.differences

    # a refund made in the dashboard whose event never reached us
    stripe_webhooks.client.v1.refunds.create(params={"payment_intent": intent_id,
                                                     "amount": 700})
    report = reconciliation.reconcile(today)
    [row] = [r for r in report.differing if r.order_id == order_id]
    assert row.stripe["refunded"] == 700 and row.ledger["refunded"] == 0
    assert row.differences == [row.differences[0]] and row.differences[0].startswith(
        "refunded: Stripe")
    reconciliation.reconcile(today)  # once a day is one alert
    db.session.rollback()
    assert len(db.session.execute(db.select(OperatorAlert).where(
        OperatorAlert.kind == "reconciliation",
        OperatorAlert.key == today.isoformat())).scalars().all()) == 1

    from tests.storefront.helpers import sign_in

    sign_in(client, make_operator())
    page = client.get(f"/console/reconciliation?day={today.isoformat()}")
    assert page.status_code == 200 and intent_id in page.get_data(as_text=True)
    download = client.get(f"/console/reconciliation.csv?day={today.isoformat()}")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    [mine] = [r for r in rows if r["payment_intent_id"] == intent_id]
    assert (mine["stripe_refunded"], mine["ledger_refunded"]) == ("700", "0")
    assert mine["differences"].startswith("refunded: Stripe")


def test_an_operator_submits_dispute_evidence_through_stripes_dispute_api(
        client, stripe_webhooks, deliver):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    dispute = _open(stripe_webhooks, intent_id, "product_not_received")
    deliver("charge.dispute.created", dispute, times=1)
    operator = auth_headers(make_operator())
    [listed] = [d for d in client.get("/api/v1/operator/disputes", headers=operator)
                .get_json()["items"] if d["stripe_dispute_id"] == dispute["id"]]
    url = f"/api/v1/operator/disputes/{listed['id']}/evidence"
    bad = client.post(url, headers=operator, json={"evidence": {"not_a_field": "x"}})
    assert bad.status_code == 422 and bad.get_json()["code"] == "order.dispute_evidence_invalid"
    assert client.post(url, headers=headers, json={"evidence": {}}).status_code == 403
    sent = client.post(url, headers=operator, json={"evidence": {
        "shipping_tracking_number": "RR123456785KZ", "shipping_carrier": "Kazpost",
        "uncategorized_text": "Delivered to the buyer's address, signed for."}, "submit": True})
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["status"] == "under_review"
    assert sent.get_json()["evidence_submitted_at"] is not None
    at_stripe = stripe_webhooks.dispute(dispute["id"])
    assert at_stripe["evidence"]["shipping_tracking_number"] == "RR123456785KZ"
    assert at_stripe["evidence_details"]["submission_count"] == 1
    again = client.post(url, headers=operator, json={"evidence": {"uncategorized_text": "x"}})
    assert again.status_code == 409
    assert len(timeline(order_id, "dispute_evidence")) == 1
