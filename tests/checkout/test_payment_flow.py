"""Paying for an order against the real Stripe emulator, with webhooks over HTTP."""

from __future__ import annotations

from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.inventory.models import Reservation
from marketplace.orders.models import Fulfilment, Order, OrderEvent
from tests.checkout.helpers import (
    buyer_with_cart,
    do_checkout,
    fresh,
    paid_order,
    status_of,
    webhook_processed,
)
from tests.factories import make_artisan, make_product
from tests.stripe_emulator import wait_until


def _paid_transitions(order_id: str) -> int:
    db.session.rollback()
    return len(db.session.execute(db.select(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.to_status == "paid")).scalars().all())


def test_checkout_pay_with_visa_webhook_confirms_paid_and_stock_drops_once(client,
                                                                          stripe_webhooks):
    bowl = make_product(stock=3, price_amount=1_500_000)  # 15,000 KZT
    rug = make_product(make_artisan(), stock=2, price_amount=5_000_000)
    buyer, headers = buyer_with_cart((bowl, 2), (rug, 1))

    created = do_checkout(client, headers)
    order_id = created["order"]["id"]
    payment = created["payment"]
    assert created["order"]["status"] == "pending_payment"
    assert payment["provider"] == "stripe" and payment["client_secret"].startswith(
        payment["payment_intent_id"])
    # 15,000 KZT = 30 USD = 27.00 EUR; 50,000 KZT = 90.00 EUR
    assert created["order"]["totals"]["items"] == {"amount": 2 * 2700 + 9000, "currency": "EUR"}
    total = created["order"]["totals"]["total"]
    intent = stripe_webhooks.payment_intent(payment["payment_intent_id"])
    assert (intent["amount"], intent["currency"]) == (total["amount"], "eur")
    assert intent["metadata"]["order_id"] == order_id
    assert fresh(Product, bowl.id).reserved == 2

    paid = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                       json={"payment_method": "pm_card_visa"})
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["status"] == "succeeded"

    # Stripe's own event comes back over HTTP and changes nothing more.
    event = wait_until(webhook_processed("payment_intent.succeeded",
                                        payment["payment_intent_id"]),
                       message="payment_intent.succeeded webhook")
    assert status_of(order_id) == "paid"
    assert _paid_transitions(order_id) == 1
    assert event.outcome == "no change: payment already recorded"
    bowl_now, rug_now = fresh(Product, bowl.id), fresh(Product, rug.id)
    assert (bowl_now.stock, bowl_now.reserved) == (1, 0)
    assert (rug_now.stock, rug_now.reserved) == (1, 0)
    assert {r.status for r in db.session.execute(db.select(Reservation).where(
        Reservation.order_id == order_id)).scalars()} == {"converted"}
    fulfilments = db.session.execute(db.select(Fulfilment).where(
        Fulfilment.order_id == order_id)).scalars().all()
    assert {f.artisan_id for f in fulfilments} == {bowl.artisan_id, rug.artisan_id}

    body = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()
    assert body["status"] == "paid"
    assert body["payment"]["captured"] == total and body["payment"]["fully_paid"] is True
    assert len(body["fulfilments"]) == 2 and body["shipments"] == []
    assert [e["to_status"] for e in body["events"] if e["type"] == "status"] == ["paid"]


def test_stripe_js_payment_is_made_paid_by_the_webhook_alone(client, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]

    # The browser confirms with the client secret; our server is not involved until Stripe
    # calls the webhook.
    assert stripe_webhooks.confirm_as_browser(intent_id, "pm_card_visa")["status"] == "succeeded"
    assert status_of(order_id) == "pending_payment"

    wait_until(lambda: status_of(order_id) == "paid", message="the order to be paid")
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (0, 0)
    assert fresh(Order, order_id).payment_intent_id == intent_id


def test_declined_card_marks_payment_failed_keeps_the_hold_and_a_retry_succeeds(
        client, stripe_webhooks):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, first_intent = created["order"]["id"], created["payment"]["payment_intent_id"]

    declined = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                           json={"payment_method": "pm_card_chargeCustomerFail"})
    assert declined.status_code == 200
    body = declined.get_json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "card_declined" and body["error"]["message"]
    assert status_of(order_id) == "payment_failed"
    wait_until(webhook_processed("payment_intent.payment_failed", first_intent),
               message="payment_intent.payment_failed webhook")
    assert status_of(order_id) == "payment_failed"
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (2, 1)

    retried = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                          json={"payment_method": "pm_card_visa"})
    assert retried.status_code == 200, retried.get_json()
    retry = retried.get_json()
    assert retry["status"] == "succeeded"
    assert retry["payment_intent_id"] != first_intent  # a new attempt, its own idempotency key
    assert stripe_webhooks.payment_intent(first_intent)["status"] == "canceled"
    wait_until(webhook_processed("payment_intent.succeeded", retry["payment_intent_id"]),
               message="payment_intent.succeeded webhook")
    assert status_of(order_id) == "paid"
    assert _paid_transitions(order_id) == 1
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (1, 0)
    order = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()
    assert [e["to_status"] for e in order["events"] if e["type"] == "status"] == [
        "payment_failed", "paid"]
    assert order["payment"]["captured"]["amount"] == order["totals"]["total"]["amount"]


def test_3d_secure_card_requires_action_then_authentication_makes_it_paid(client,
                                                                         stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id = created["order"]["id"]
    method = stripe_webhooks.card_payment_method("4000002760003184")

    response = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                           json={"payment_method": method})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "requires_action"
    assert body["next_action"]["type"] == "use_stripe_sdk"
    assert status_of(order_id) == "pending_payment"
    assert fresh(Product, bowl.id).reserved == 1

    # The browser (Stripe.js) finishes 3-D Secure with the client secret; the webhook decides.
    stripe_webhooks.authenticate(body["payment_intent_id"], body["client_secret"])
    wait_until(lambda: status_of(order_id) == "paid", message="the order to be paid")
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (0, 0)


def test_a_payment_for_another_amount_is_flagged_not_paid(client, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    charged = created["order"]["totals"]["total"]["amount"]
    # The order and its PaymentIntent disagree (as after a bug or a tampered intent).
    db.session.execute(db.update(Order).where(Order.id == order_id)
                       .values(total_amount=charged + 1))
    db.session.commit()

    stripe_webhooks.confirm_as_browser(intent_id, "pm_card_visa")
    wait_until(lambda: fresh(Order, order_id).flagged_reason, message="the order to be flagged")
    order = fresh(Order, order_id)
    assert order.status == "pending_payment"
    assert intent_id in order.flagged_reason
    assert fresh(Product, bowl.id).stock == 1 and fresh(Product, bowl.id).reserved == 1
    # The buyer cannot pay it again; an operator sorts it out.
    again = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                        json={"payment_method": "pm_card_visa"})
    assert again.status_code == 409


def test_paid_pieces_with_a_verified_label_get_their_own_serials(app, client, stripe_webhooks,
                                                                 tmp_path, monkeypatch):
    from tests.provenance.helpers import Actors, verified_label

    monkeypatch.setitem(app.config, "PROVENANCE_KEY_FILE", str(tmp_path / "signing_key"))
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", None)
    actors = Actors()
    code = verified_label(client, actors)
    plain = make_product(stock=1)
    product = fresh(Product, actors.product.id)
    product.stock = 2
    db.session.commit()
    _, headers = buyer_with_cart((product, 2), (plain, 1))

    order_id, _ = paid_order(client, headers)
    lines = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()["lines"]
    serials = {line["product_id"]: line["serials"] for line in lines}
    assert len(serials[product.id]) == 2
    assert all(serial.startswith(code) for serial in serials[product.id])
    assert serials[plain.id] == []
