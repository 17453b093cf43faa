"""Builders shared by the checkout and orders tests: fixed exchange rates, a buyer with a cart,
a real shipping quote, a checkout through the API, and reading rows afresh."""

from __future__ import annotations

import pytest

from marketplace.catalog.models import Product
from marketplace.checkout import service as checkout_service
from marketplace.extensions import db
from marketplace.fx.models import FxRate
from marketplace.ids import utcnow
from marketplace.orders.models import Order
from tests.factories import auth_headers, make_buyer

PER_USD = {
    "USD": "1", "KZT": "500", "EUR": "0.9", "GBP": "0.8", "JPY": "150", "CAD": "1.4",
    "CHF": "0.8", "CNY": "7.2", "AUD": "1.5", "KRW": "1400", "TRY": "40", "AED": "3.6725",
    "RUB": "80",
}

BERLIN = {"name": "Anna Schmidt", "line1": "Invalidenstrasse 1", "city": "Berlin",
          "postal_code": "10115", "country": "DE", "phone": "+49301234567"}


@pytest.fixture
def fixed_rates():
    """1 USD = 500 KZT = 0.9 EUR ...: every amount in these tests can be worked out by hand."""
    for currency, rate in PER_USD.items():
        db.session.add(FxRate(currency=currency, rate=rate, source="tests", as_of=utcnow()))
    db.session.commit()


def fresh(model, id_):
    """The row as committed now (other threads, the live server, may have changed it)."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, id_)


def status_of(order_id: str) -> str:
    return fresh(Order, order_id).status


def buyer_with_cart(*items: tuple[Product, int], currency: str = "EUR"):
    """A buyer whose cart holds ``items``; returns (buyer, auth headers)."""
    buyer = make_buyer(currency=currency)
    for product, quantity in items:
        checkout_service.add_to_cart(buyer, product.id, quantity)
    return buyer, auth_headers(buyer)


def quote_option(client, headers, *, address=BERLIN, currency="EUR") -> str:
    """The cheapest option of a real quote for the buyer's cart."""
    response = client.post("/api/v1/shipping/quotes", headers=headers, json={
        "destination": {"country": address["country"], "postal_code": address.get("postal_code")},
        "currency": currency})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["options"][0]["id"]


def checkout_body(option: str, *, address=BERLIN, currency="EUR", duties_mode="DDP") -> dict:
    return {"shipping_address": address, "shipping_option": option, "currency": currency,
            "duties_mode": duties_mode}


def do_checkout(client, headers, *, address=BERLIN, currency="EUR", duties_mode="DDP") -> dict:
    option = quote_option(client, headers, address=address, currency=currency)
    response = client.post("/api/v1/checkout", headers=headers,
                           json=checkout_body(option, address=address, currency=currency,
                                              duties_mode=duties_mode))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def webhook_processed(type_: str, payment_intent_id: str):
    """A predicate: the stored, processed event of ``type_`` about that PaymentIntent."""
    from marketplace.checkout.models import StripeEvent

    def find():
        db.session.rollback()
        for row in db.session.execute(db.select(StripeEvent).where(
                StripeEvent.type == type_, StripeEvent.processed_at.is_not(None))).scalars():
            if row.payload["data"]["object"].get("id") == payment_intent_id:
                return row
        return None

    return find


def foreign_payment_intent(stripe_webhooks, created: dict) -> str:
    """A PaymentIntent Sheber did not create that names the order of ``created`` (a checkout's
    answer) and pays its total with pm_card_visa, as someone else's integration would; waits
    until the emulator's own succeeded event is processed. Returns its id."""
    from tests.stripe_emulator import wait_until

    total = created["order"]["totals"]["total"]
    foreign = stripe_webhooks.client.v1.payment_intents.create(params={
        "amount": total["amount"], "currency": total["currency"].lower(),
        "payment_method_types": ["card"], "payment_method": "pm_card_visa",
        "metadata": {"order_id": created["order"]["id"], "attempt": "1"}}).id
    stripe_webhooks.client.v1.payment_intents.confirm(foreign)
    wait_until(webhook_processed("payment_intent.succeeded", foreign),
               message="the emulator's own succeeded event")
    return foreign


def pay(client, headers, order_id: str, payment_method: str = "pm_card_visa") -> dict:
    response = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                           json={"payment_method": payment_method})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def paid_order(client, headers) -> tuple[str, str]:
    """Check out the buyer's cart and pay with pm_card_visa; waits for Stripe's own webhook.
    Returns (order id, PaymentIntent id)."""
    from tests.stripe_emulator import wait_until

    created = do_checkout(client, headers)
    order_id = created["order"]["id"]
    result = pay(client, headers, order_id)
    assert result["status"] == "succeeded"
    wait_until(webhook_processed("payment_intent.succeeded", result["payment_intent_id"]),
               message="payment_intent.succeeded webhook")
    assert status_of(order_id) == "paid"
    return order_id, result["payment_intent_id"]
