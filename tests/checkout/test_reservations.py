"""Stock holds: expiry, payments that arrive after expiry, and many buyers racing for the last
pieces."""

from __future__ import annotations

import threading
from datetime import timedelta

import requests

from marketplace.accounts.models import User
from marketplace.catalog.models import Product
from marketplace.checkout import service as checkout_service
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.inventory.models import Reservation
from marketplace.orders.models import Order
from tests.checkout.helpers import (
    buyer_with_cart,
    checkout_body,
    do_checkout,
    fresh,
    quote_option,
    status_of,
    webhook_processed,
)
from tests.factories import auth_headers, make_product
from tests.stripe_emulator import free_port, wait_until


def _reservation_statuses(order_id: str) -> list[str]:
    db.session.rollback()
    return sorted(db.session.execute(db.select(Reservation.status).where(
        Reservation.order_id == order_id)).scalars())


def test_expiry_releases_lapsed_holds_and_cancels_their_payment_intents(client,
                                                                       stripe_webhooks):
    bowl = make_product(stock=3)
    _, first = buyer_with_cart((bowl, 2))
    _, second = buyer_with_cart((bowl, 1))
    lapsed = do_checkout(client, first)
    current = do_checkout(client, second)
    assert fresh(Product, bowl.id).reserved == 3
    fresh(Order, lapsed["order"]["id"]).reservation_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    assert checkout_service.expire_reservations() == 1
    assert checkout_service.expire_reservations() == 0  # nothing twice
    assert status_of(lapsed["order"]["id"]) == "expired"
    assert status_of(current["order"]["id"]) == "pending_payment"
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (3, 1)
    assert _reservation_statuses(lapsed["order"]["id"]) == ["released"]
    intent = stripe_webhooks.payment_intent(lapsed["payment"]["payment_intent_id"])
    assert intent["status"] == "canceled"

    # The sweeper's clock can be passed in: later on, the second hold lapses too.
    later = utcnow() + timedelta(hours=1)
    assert checkout_service.expire_reservations(now=later) == 1
    assert fresh(Product, bowl.id).reserved == 0


def _expire_while_stripe_is_unreachable(app, order_id: str) -> None:
    """Expire the order while Stripe cannot be reached, so its PaymentIntent stays payable."""
    real = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"
    try:
        fresh(Order, order_id).reservation_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert checkout_service.expire_reservations() == 1
    finally:
        app.config["STRIPE_API_BASE"] = real
    assert status_of(order_id) == "expired"


def test_a_payment_after_expiry_re_reserves_when_the_pieces_are_still_free(app, client,
                                                                          stripe_webhooks):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    _expire_while_stripe_is_unreachable(app, order_id)
    assert fresh(Product, bowl.id).reserved == 0

    stripe_webhooks.confirm_as_browser(intent_id, "pm_card_visa")
    event = wait_until(webhook_processed("payment_intent.succeeded", intent_id),
                       message="payment_intent.succeeded webhook")
    assert event.outcome == "paid after expiry"
    assert status_of(order_id) == "paid"
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (1, 0)
    assert stripe_webhooks.refunds(intent_id) == []


def test_a_payment_after_expiry_is_refunded_when_the_pieces_are_gone(app, client,
                                                                    stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    _expire_while_stripe_is_unreachable(app, order_id)
    _, rival = buyer_with_cart((bowl, 1))
    do_checkout(client, rival)  # the freed piece is held by someone else now

    stripe_webhooks.confirm_as_browser(intent_id, "pm_card_visa")
    event = wait_until(webhook_processed("payment_intent.succeeded", intent_id),
                       message="payment_intent.succeeded webhook")
    assert event.outcome == "refunded: paid after expiry, out of stock"
    assert status_of(order_id) == "refunded"
    refunds = stripe_webhooks.refunds(intent_id)
    assert [r["amount"] for r in refunds] == [created["order"]["totals"]["total"]["amount"]]
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (1, 1)
    body = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()
    assert body["payment"]["fully_refunded"] is True
    assert body["refunds"][0]["stripe_refund_id"] == refunds[0]["id"]


def _quick_buyer_with(product) -> dict[str, str]:
    """A buyer with ``product`` in the cart, without paying for a password hash (~1 s each)."""
    buyer = User(email=f"racer-{new_id().lower()}@example.test", password_hash="unusable",
                 role="buyer", name="Racer", country="DE", currency="EUR")
    db.session.add(buyer)
    db.session.commit()
    checkout_service.add_to_cart(buyer, product.id, 1)
    return auth_headers(buyer)


def test_fifty_buyers_race_for_the_last_five_pieces(app, client, live_server, stripe_webhooks):
    bowl = make_product(stock=5)
    buyers = [_quick_buyer_with(bowl) for _ in range(50)]
    option = quote_option(client, buyers[0])  # the same parcel and destination for everyone
    body = checkout_body(option)
    start = threading.Barrier(50)
    results: list[requests.Response] = []
    lock = threading.Lock()

    def buy(headers):
        start.wait()
        response = requests.post(f"{live_server}/api/v1/checkout", json=body, headers=headers,
                                 timeout=60)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=buy, args=(headers,)) for headers in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 5 + [409] * 45, codes
    assert all(r.json()["type"].endswith("out-of-stock") for r in results
               if r.status_code == 409)
    product = fresh(Product, bowl.id)
    assert (product.stock, product.reserved) == (5, 5)
    active = db.session.execute(db.select(db.func.sum(Reservation.qty)).where(
        Reservation.product_id == bowl.id, Reservation.status == "active")).scalar_one()
    assert active == 5
    assert len(stripe_webhooks.payment_intents()) == 5
    assert db.session.execute(db.select(db.func.count()).select_from(Order)).scalar_one() == 5


def test_the_expiry_command_expires_lapsed_orders(runner, client, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id = do_checkout(client, headers)["order"]["id"]
    fresh(Order, order_id).reservation_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    result = runner.invoke(args=["checkout", "expire-reservations"])
    assert result.exit_code == 0, result.output
    # what the command prints; log lines go to stderr
    assert result.stdout.strip() == "1 order(s) expired"
    assert status_of(order_id) == "expired"
