"""POST /api/v1/webhooks/stripe: signatures, events stored once and applied by a real worker
(the session's ``payments_worker``), duplicates and late events, refunds and disputes reported
by Stripe."""

from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from marketplace.catalog.models import Product
from marketplace.checkout.models import StripeEvent
from marketplace.checkout.payments import STRIPE_EVENT_RECEIVED
from marketplace.extensions import db
from marketplace.orders.models import OrderEvent, Refund
from marketplace.outbox import OutboxEvent
from tests.checkout.helpers import (
    buyer_with_cart,
    do_checkout,
    fresh,
    paid_order,
    status_of,
    webhook_processed,
)
from tests.factories import auth_headers, make_operator, make_product
from tests.stripe_emulator import (
    WEBHOOK_PATH,
    post_signed,
    stripe_event,
    stripe_signature,
    wait_until,
)


def _secret(app) -> str:
    return app.config["STRIPE_WEBHOOK_SECRET"]


def _transitions(order_id: str, to_status: str) -> int:
    db.session.rollback()
    return len(db.session.execute(db.select(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.to_status == to_status)).scalars().all())


def applied(event_id: str) -> str:
    """Wait until the worker has applied the stored event; its outcome."""
    def processed():
        db.session.rollback()
        return db.session.execute(db.select(StripeEvent.outcome).where(
            StripeEvent.event_id == event_id, StripeEvent.processed_at.is_not(None))).scalar()

    return wait_until(processed, message=f"the worker to apply {event_id}")


def _stored_events() -> int:
    db.session.rollback()
    return db.session.execute(db.select(db.func.count()).select_from(StripeEvent)).scalar_one()


def test_the_same_signed_event_five_times_and_a_late_failure_change_the_order_once(
        app, client, live_server, stripe_webhooks):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    stripe_webhooks.confirm_as_browser(intent_id, "pm_card_visa")

    # The very event the emulator is about to deliver, delivered 5 more times at once.
    event = stripe_webhooks.events("payment_intent.succeeded")[0]
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(
            lambda _: post_signed(live_server + WEBHOOK_PATH, event, _secret(app),
                                  timestamp=event["created"]), range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert sum(not r.json()["duplicate"] for r in responses) == 1

    def delivered_six_times():
        db.session.rollback()
        row = db.session.execute(db.select(StripeEvent).where(
            StripeEvent.event_id == event["id"])).scalar_one()
        return row.deliveries == 6 and row.processed_at is not None and row

    wait_until(delivered_six_times, message="the emulator's own delivery, applied")
    assert status_of(order_id) == "paid"
    assert _transitions(order_id, "paid") == 1
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (1, 0)

    # payment_failed arriving after succeeded (Stripe does not promise order): nothing changes.
    failed_view = {**stripe_webhooks.payment_intent(intent_id), "status": "requires_payment_method",
                   "last_payment_error": {"code": "card_declined",
                                          "message": "Your card was declined."}}
    late = post_signed(live_server + WEBHOOK_PATH,
                       stripe_event("payment_intent.payment_failed", failed_view), _secret(app))
    assert late.status_code == 200
    assert late.json()["outcome"] == "queued"
    assert applied(late.json()["event_id"]) == "no change: payment already recorded"
    assert status_of(order_id) == "paid"
    assert _transitions(order_id, "paid") == 1 and _transitions(order_id, "payment_failed") == 0
    assert fresh(Product, bowl.id).stock == 1


def test_forged_signature_stale_timestamp_or_missing_header_is_400_and_changes_nothing(
        app, client, live_server, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    intent = {**stripe_webhooks.payment_intent(intent_id), "status": "succeeded"}
    event = stripe_event("payment_intent.succeeded", intent)
    url = live_server + WEBHOOK_PATH
    body = json.dumps(event).encode()

    forged = post_signed(url, event, "whsec_not_ours")
    stale = post_signed(url, event, _secret(app), timestamp=int(time.time()) - 600)
    future = post_signed(url, event, _secret(app), timestamp=int(time.time()) + 3600)
    just_ahead = post_signed(url, event, _secret(app), timestamp=int(time.time()) + 310)
    tampered = post_signed(url, event, _secret(app),
                           signature=stripe_signature(body + b" ", _secret(app)))
    missing = client.post(WEBHOOK_PATH, data=body, content_type="application/json")
    garbage = client.post(WEBHOOK_PATH, data=body, content_type="application/json",
                          headers={"Stripe-Signature": "nonsense"})
    not_json = client.post(WEBHOOK_PATH, data=b"not json", content_type="application/json",
                           headers={"Stripe-Signature": stripe_signature(b"not json",
                                                                         _secret(app))})

    for response in (forged, stale, future, just_ahead, tampered):
        assert response.status_code == 400
        assert response.headers["Content-Type"] == "application/problem+json"
    for response in (missing, garbage, not_json):
        assert response.status_code == 400
    assert _stored_events() == 0
    assert status_of(order_id) == "pending_payment"
    assert fresh(Product, bowl.id).reserved == 1


def test_an_unhandled_event_type_is_stored_and_acknowledged(app, live_server, stripe_webhooks):
    event = stripe_event("customer.created", {"id": "cus_123", "object": "customer"})
    response = post_signed(live_server + WEBHOOK_PATH, event, _secret(app))
    assert response.status_code == 200
    assert response.json() == {"received": True, "event_id": event["id"], "duplicate": False,
                               "outcome": "queued"}
    assert applied(event["id"]) == "ignored customer.created"
    assert _stored_events() == 1

    again = post_signed(live_server + WEBHOOK_PATH, event, _secret(app))
    assert again.json() == {"received": True, "event_id": event["id"], "duplicate": True,
                            "outcome": "ignored customer.created"}


def test_the_endpoint_stores_and_queues_the_event_even_while_the_broker_is_down(
        app, dead_broker_app):
    # Applying it here and now would ask Stripe for pi_unknown and fail: it must only be stored.
    event = stripe_event("payment_intent.succeeded", {"id": "pi_unknown",
                                                      "object": "payment_intent"})
    body = json.dumps(event).encode()
    with dead_broker_app.app_context():
        response = dead_broker_app.test_client().post(
            WEBHOOK_PATH, data=body, content_type="application/json",
            headers={"Stripe-Signature": stripe_signature(body, _secret(app))})
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "queued"
    db.session.rollback()
    row = db.session.execute(db.select(StripeEvent)).scalar_one()
    assert row.event_id == event["id"] and row.processed_at is None
    [queued] = db.session.execute(db.select(OutboxEvent).where(
        OutboxEvent.type == STRIPE_EVENT_RECEIVED)).scalars().all()
    # "_trace" is the request's log context, not part of the event
    assert {k: v for k, v in queued.payload.items() if k != "_trace"} == {"event_id": event["id"]}
    assert queued.published_at is None


def test_charge_refunded_records_dashboard_refunds_once_alongside_ours(
        app, client, live_server, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    total = client.get(f"/api/v1/orders/{order_id}",
                       headers=headers).get_json()["totals"]["total"]["amount"]
    operator = auth_headers(make_operator())
    ours = client.post(f"/api/v1/operator/orders/{order_id}/refunds", headers=operator,
                       json={"amount": {"amount": 1000, "currency": "EUR"},
                             "reason": "chipped rim"})
    assert ours.status_code == 201, ours.get_json()

    # Someone refunds in the Stripe dashboard; Stripe reports it with charge.refunded.
    dashboard = stripe_webhooks.client.v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 500}).to_dict()
    charge_id = stripe_webhooks.payment_intent(intent_id)["latest_charge"]["id"]
    charge = stripe_webhooks.charge(charge_id)
    event = stripe_event("charge.refunded", charge)
    for _ in range(2):
        response = post_signed(live_server + WEBHOOK_PATH, event, _secret(app))
        assert response.status_code == 200
    assert applied(event["id"]) == "recorded 1 refund(s)"
    db.session.rollback()
    refunds = {r.stripe_refund_id: r for r in db.session.execute(
        db.select(Refund).where(Refund.order_id == order_id)).scalars()}
    assert set(refunds) == {ours.get_json()["refunds"][0]["stripe_refund_id"], dashboard["id"]}
    assert refunds[dashboard["id"]].source == "stripe" and refunds[dashboard["id"]].amount == 500
    assert status_of(order_id) == "paid"
    payment = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()["payment"]
    assert payment["refunded"]["amount"] == 1500

    # The rest refunded in the dashboard too: the order is refunded.
    stripe_webhooks.client.v1.refunds.create(
        params={"payment_intent": intent_id, "amount": total - 1500})
    charge = stripe_webhooks.charge(charge["id"])
    response = post_signed(live_server + WEBHOOK_PATH, stripe_event("charge.refunded", charge),
                           _secret(app))
    assert response.status_code == 200
    applied(response.json()["event_id"])
    assert status_of(order_id) == "refunded"
    payment = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()["payment"]
    assert payment["refunded"]["amount"] == total and payment["fully_refunded"] is True


def test_a_signed_dispute_event_that_stripe_does_not_know_changes_nothing(
        app, client, live_server, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    charge_id = stripe_webhooks.payment_intent(intent_id)["latest_charge"]["id"]
    dispute = {"id": f"dp_{secrets.token_hex(8)}", "object": "dispute", "amount": 2790,
               "currency": "eur", "charge": charge_id, "payment_intent": intent_id,
               "reason": "fraudulent", "status": "needs_response", "livemode": False}
    event = stripe_event("charge.dispute.created", dispute)
    for _ in range(3):
        assert post_signed(live_server + WEBHOOK_PATH, event, _secret(app)).status_code == 200
    assert applied(event["id"]) == f"ignored: Stripe has no {dispute['id']}"
    assert status_of(order_id) == "paid"
    assert _transitions(order_id, "disputed") == 0


def test_a_failed_payment_event_for_the_current_attempt_marks_payment_failed(
        client, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    with pytest.raises(stripe.CardError):  # the browser sees the decline; we hear by webhook
        stripe_webhooks.confirm_as_browser(intent_id, "pm_card_chargeCustomerFail")
    wait_until(webhook_processed("payment_intent.payment_failed", intent_id),
               message="payment_intent.payment_failed webhook")
    assert status_of(order_id) == "payment_failed"
    assert fresh(Product, bowl.id).reserved == 1
