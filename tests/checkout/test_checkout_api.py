"""POST /checkout and POST /orders/{id}/payment with bad input: clear errors, and none of them
creates a PaymentIntent or holds stock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.catalog.models import Product
from marketplace.checkout import service as checkout_service
from marketplace.checkout.models import CartItem
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.money import Money
from marketplace.orders.models import Order
from tests.checkout.helpers import (
    BERLIN,
    buyer_with_cart,
    checkout_body,
    do_checkout,
    fresh,
    paid_order,
    quote_option,
    status_of,
)
from tests.factories import auth_headers, make_artisan, make_buyer, make_product


def _nothing_held_or_charged(emulator, *products) -> None:
    assert emulator.payment_intents() == []
    for product in products:
        assert fresh(Product, product.id).reserved == 0
    assert db.session.execute(db.select(Order)).first() is None


def test_empty_cart_is_409(client, stripe_webhooks):
    headers = auth_headers(make_buyer())
    bowl = make_product()
    _, other = buyer_with_cart((bowl, 1))
    option = quote_option(client, other)
    response = client.post("/api/v1/checkout", headers=headers, json=checkout_body(option))
    assert response.status_code == 409
    assert "empty" in response.get_json()["detail"]
    _nothing_held_or_charged(stripe_webhooks, bowl)


@pytest.mark.parametrize(("change", "field"), [
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "KWD"}, "currency"),  # a real currency we do not present
    ({"duties_mode": "DDU"}, "duties_mode"),
    ({"shipping_address": {**BERLIN, "country": "ZZ"}}, "shipping_address.country"),
    ({"shipping_address": {**BERLIN, "postal_code": None}}, "shipping_address.postal_code"),
    ({"shipping_address": {**BERLIN, "postal_code": "10115!"}}, "shipping_address.postal_code"),
    ({"shipping_address": {**BERLIN, "phone": "+49 30 12"}}, "shipping_address.phone"),
    ({"shipping_address": {**BERLIN, "name": ""}}, "shipping_address.name"),
    ({"shipping_address": {k: v for k, v in BERLIN.items() if k != "line1"}},
     "shipping_address.line1"),
])
def test_invalid_fields_are_422_per_field(client, stripe_webhooks, change, field):
    bowl = make_product()
    _, headers = buyer_with_cart((bowl, 1))
    body = {**checkout_body(quote_option(client, headers)), **change}
    response = client.post("/api/v1/checkout", headers=headers, json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    _nothing_held_or_charged(stripe_webhooks, bowl)


def test_an_option_quoted_elsewhere_or_tampered_with_is_409(client, stripe_webhooks):
    bowl = make_product()
    _, headers = buyer_with_cart((bowl, 1))
    paris = {**BERLIN, "city": "Paris", "postal_code": "75001", "country": "FR",
             "phone": "+33142000000"}
    french = quote_option(client, headers, address=paris)
    in_berlin = client.post("/api/v1/checkout", headers=headers, json=checkout_body(french))
    in_dollars = client.post("/api/v1/checkout", headers=headers,
                             json=checkout_body(quote_option(client, headers), currency="USD"))
    tampered = client.post("/api/v1/checkout", headers=headers,
                           json=checkout_body(quote_option(client, headers) + "x"))
    for response in (in_berlin, in_dollars, tampered):
        assert response.status_code == 409, response.get_json()
    _nothing_held_or_charged(stripe_webhooks, bowl)


def test_stock_gone_since_the_cart_is_409_and_the_cart_is_kept(client, stripe_webhooks):
    bowl = make_product(stock=2)
    vase = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 2), (vase, 1))
    option = quote_option(client, headers)
    fresh(Product, vase.id).stock = 0  # sold elsewhere meanwhile
    db.session.commit()

    response = client.post("/api/v1/checkout", headers=headers, json=checkout_body(option))
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("out-of-stock")
    _nothing_held_or_charged(stripe_webhooks, bowl, vase)
    assert len(db.session.execute(db.select(CartItem)).scalars().all()) == 2


def test_checkout_holds_stock_with_the_configured_ttl_and_empties_the_cart(app, client,
                                                                          stripe_webhooks):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 2))
    before = utcnow()
    created = do_checkout(client, headers)
    order = fresh(Order, created["order"]["id"])
    ttl = timedelta(seconds=app.config["RESERVATION_TTL_SECONDS"])
    assert before + ttl <= order.reservation_expires_at <= utcnow() + ttl
    assert created["reservation_expires_at"].startswith(
        order.reservation_expires_at.isoformat(timespec="seconds"))
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (2, 2)
    assert client.get("/api/v1/cart", headers=headers).get_json()["items"] == []
    assert [i["id"] for i in stripe_webhooks.payment_intents()] == [order.payment_intent_id]
    assert order.fx_rate == "0.0018" and order.listing_currency == "KZT"
    again = client.post("/api/v1/checkout", headers=headers,
                        json=checkout_body(created["order"]["shipping_option"]["service"]))
    assert again.status_code == 409 and "empty" in again.get_json()["detail"]


def test_paying_someone_elses_order_is_404_and_a_paid_order_409(client, stripe_webhooks):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    stranger = auth_headers(make_buyer())
    artisan = auth_headers(make_artisan())

    assert client.post(f"/api/v1/orders/{order_id}/payment", headers=stranger,
                       json={"payment_method": "pm_card_visa"}).status_code == 404
    assert client.post(f"/api/v1/orders/{order_id}/payment", headers=artisan,
                       json={"payment_method": "pm_card_visa"}).status_code == 403
    assert client.post("/api/v1/orders/01NOSUCHORDER/payment", headers=headers,
                       json={"payment_method": "pm_card_visa"}).status_code == 404
    again = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                        json={"payment_method": "pm_card_visa"})
    assert again.status_code == 409
    assert [i["id"] for i in stripe_webhooks.payment_intents()] == [intent_id]
    assert fresh(Product, bowl.id).stock == 1


def test_paying_after_the_hold_lapsed_is_409_and_expires_the_order(client, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]
    fresh(Order, order_id).reservation_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    response = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                           json={"payment_method": "pm_card_visa"})
    assert response.status_code == 409
    assert status_of(order_id) == "expired"
    assert fresh(Product, bowl.id).reserved == 0
    assert stripe_webhooks.payment_intent(intent_id)["status"] == "canceled"
    assert client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                       json={"payment_method": "pm_card_visa"}).status_code == 409


@pytest.mark.parametrize("method", ["", "card_123", "pm_", "pm_visa; drop", 42])
def test_a_payment_method_that_is_not_a_stripe_id_is_422(client, stripe_webhooks, method):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id = do_checkout(client, headers)["order"]["id"]
    response = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                           json={"payment_method": method})
    assert response.status_code == 422
    assert status_of(order_id) == "pending_payment"


def test_an_unknown_payment_method_is_422_and_the_order_can_still_be_paid(client,
                                                                          stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id = do_checkout(client, headers)["order"]["id"]
    unknown = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                          json={"payment_method": "pm_does_not_exist"})
    assert unknown.status_code == 422
    assert "payment_method" in unknown.get_json()["errors"]
    paid = client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                       json={"payment_method": "pm_card_visa"})
    assert paid.get_json()["status"] == "succeeded"
    assert status_of(order_id) == "paid"


def test_stripes_minimum_charge_per_currency():
    assert checkout_service.minimum_charge("USD") == Money(50, "USD")
    assert checkout_service.minimum_charge("GBP") == Money(30, "GBP")
    assert checkout_service.minimum_charge("JPY") == Money(50, "JPY")
    # Not in Stripe's table: the equivalent of 0.50 USD (fixed rates: 1 USD = 500 KZT).
    assert checkout_service.minimum_charge("KZT") == Money(25_000, "KZT")
    assert checkout_service.minimum_charge("KRW") == Money(700, "KRW")
    checkout_service.check_minimum_charge(Money(50, "USD"))
    with pytest.raises(ValidationFailed) as below:
        checkout_service.check_minimum_charge(Money(49, "USD"))
    assert below.value.status == 422 and "currency" in below.value.errors
