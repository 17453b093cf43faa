"""Cart, checkout and payment pages over the checkout, shipping and orders services."""

import re
from datetime import date, datetime, timedelta

import pytest

from marketplace.checkout import service as checkout
from marketplace.orders.lifecycle import DEFAULT_PROCESSING_DAYS
from tests.checkout.helpers import BERLIN, fixed_rates, status_of  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_operator, make_product
from tests.storefront.helpers import HTML, choose, csrf_token, post_form, sign_in


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """1 USD = 500 KZT = 0.9 EUR: 15,000 KZT is 27.00 EUR."""


def buyer_signed_in(client, **kw):
    buyer = make_buyer(**kw)
    sign_in(client, buyer)
    choose(client, language="en", currency="EUR")
    return buyer


def delivery_page(client) -> str:
    response = post_form(client, "/checkout/delivery", BERLIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def place_order(client, duties_mode: str = "DDP") -> str:
    html = delivery_page(client)
    option = re.search(r'name="shipping_option" value="([^"]+)"', html).group(1)
    response = post_form(client, "/checkout/place", {**BERLIN, "shipping_option": option,
                                                     "duties_mode": duties_mode})
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/orders/(\w+)/pay", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def pay_json(client, order_id: str, payment_method: str):
    token = csrf_token(client)
    return client.post(f"/orders/{order_id}/pay", json={"payment_method": payment_method},
                       headers={"Accept": "application/json", "X-CSRF-Token": token})


def test_a_buyer_adds_a_piece_and_sees_the_cart_priced_in_their_currency(client):
    product = make_product(title={"en": "Blue bowl"}, price_amount=1_500_000, stock=4)
    buyer = buyer_signed_in(client)
    response = post_form(client, "/cart/items", {"product_id": product.id, "quantity": "2"})
    assert response.headers["Location"] == "/cart"
    assert checkout.cart_items_for_quote(buyer.id)[0][1] == 2
    html = client.get("/cart", headers=HTML).get_data(as_text=True)
    assert "Blue bowl" in html
    assert "€54.00" in html  # 2 × 27.00 EUR


def test_more_than_the_available_stock_is_refused_with_a_message(client):
    product = make_product(stock=1)
    buyer = buyer_signed_in(client)
    response = post_form(client, "/cart/items", {"product_id": product.id, "quantity": "3"})
    assert response.headers["Location"] == f"/products/{product.id}"
    page = client.get(response.headers["Location"], headers=HTML).get_data(as_text=True)
    assert "Only 1 of this piece can be ordered now." in page
    assert checkout.cart_items_for_quote(buyer.id) == []


def test_cart_quantities_change_and_lines_go(client):
    product = make_product(stock=5)
    buyer = buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": product.id, "quantity": "1"})
    item_id = checkout.get_cart(buyer.id).items[0].id
    post_form(client, f"/cart/items/{item_id}", {"quantity": "4"})
    assert checkout.cart_items_for_quote(buyer.id)[0][1] == 4
    post_form(client, f"/cart/items/{item_id}/remove")
    assert checkout.cart_items_for_quote(buyer.id) == []


def test_another_buyers_cart_line_is_not_found(client):
    product = make_product(stock=5)
    owner = make_buyer()
    checkout.add_to_cart(owner, product.id, 1)
    item_id = checkout.get_cart(owner.id).items[0].id
    buyer_signed_in(client)
    assert post_form(client, f"/cart/items/{item_id}/remove").status_code == 404
    assert checkout.cart_items_for_quote(owner.id) != []


def test_only_buyers_have_a_cart(client):
    assert client.get("/cart", headers=HTML).headers["Location"].startswith("/signin")
    sign_in(client, make_artisan())
    assert client.get("/cart", headers=HTML).status_code == 403


def test_checkout_to_germany_offers_delivery_with_days_and_duties(client):
    product = make_product(price_amount=15_000_000, stock=2)  # 150,000 KZT = 270 EUR
    buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": product.id})
    html = delivery_page(client)
    assert "Delivering to Anna Schmidt, Berlin, Germany." in html
    # the window as dates: today + the workshop's processing days + the service's days
    window = re.search(r"Arrives between (\w{3} \d+, \d{4}) and (\w{3} \d+, \d{4})\.", html)
    assert window, html
    start = datetime.strptime(window.group(1), "%b %d, %Y").date()
    assert start >= date.today() + timedelta(days=DEFAULT_PROCESSING_DAYS + 1)
    assert "Import duties and VAT, estimated: €" in html
    assert 'value="DDP" checked' in html and 'value="DAP"' in html


def test_address_mistakes_are_shown_per_field(client):
    buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": make_product().id})
    response = post_form(client, "/checkout/delivery", {**BERLIN, "phone": "12",
                                                        "postal_code": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a phone number with the country code" in html
    assert "Enter a valid postal code for this country." in html


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(client):
    buyer_signed_in(client)
    assert client.get("/checkout", headers=HTML).headers["Location"] == "/cart"


def test_a_tampered_delivery_option_is_refused_and_offered_again(client):
    buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": make_product().id})
    response = post_form(client, "/checkout/place", {**BERLIN, "shipping_option": "forged",
                                                     "duties_mode": "DDP"})
    assert response.status_code in (409, 422)
    assert "Delivery prices have changed. Please choose again." in response.get_data(
        as_text=True)


def test_place_the_order_pay_by_card_and_see_it_paid(client, stripe_webhooks):
    product = make_product(title={"en": "Blue bowl"}, price_amount=1_500_000, stock=3)
    buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": product.id})
    order_id = place_order(client)

    pay_page = client.get(f"/orders/{order_id}/pay", headers=HTML).get_data(as_text=True)
    assert f'<script src="{client.application.config["STRIPE_JS_URL"]}"></script>' in pay_page
    assert 'data-publishable-key="pk_test_' in pay_page

    response = pay_json(client, order_id, "pm_card_visa")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "succeeded"
    assert client.get(f"/orders/{order_id}/status").get_json()["status"] == "paid"
    assert status_of(order_id) == "paid"

    html = client.get(f"/orders/{order_id}", headers=HTML).get_data(as_text=True)
    assert 'data-status="paid"' in html and "Blue bowl" in html
    assert 'class="done current" aria-current="step">paid' in html
    # a paid order's pay page sends the buyer to the order
    assert client.get(f"/orders/{order_id}/pay", headers=HTML).status_code == 302


def test_a_declined_card_says_so_and_the_order_stays_payable(client, stripe_webhooks):
    buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": make_product().id})
    order_id = place_order(client)
    declined = stripe_webhooks.card_payment_method("4000000000000341")
    response = pay_json(client, order_id, declined)
    body = response.get_json()
    assert body["status"] == "failed"
    assert body["message"] == "The card was declined. Try another card."
    assert client.get(f"/orders/{order_id}/pay", headers=HTML).status_code == 200


def test_paying_needs_the_csrf_token_and_a_card_id(client, stripe_webhooks):
    buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": make_product().id})
    order_id = place_order(client)
    response = client.post(f"/orders/{order_id}/pay", json={"payment_method": "pm_card_visa"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert pay_json(client, order_id, "tok_visa").status_code == 422
    assert status_of(order_id) == "pending_payment"


def test_an_order_is_404_for_other_buyers_and_visible_to_operators(client, stripe_webhooks):
    buyer_signed_in(client)
    post_form(client, "/cart/items", {"product_id": make_product().id})
    order_id = place_order(client)
    post_form(client, "/signout")
    sign_in(client, make_buyer())
    for path in (f"/orders/{order_id}", f"/orders/{order_id}/pay"):
        assert client.get(path, headers=HTML).status_code == 404
    assert pay_json(client, order_id, "pm_card_visa").status_code == 404
    post_form(client, "/signout")
    sign_in(client, make_operator())
    assert client.get(f"/orders/{order_id}", headers=HTML).status_code == 200
