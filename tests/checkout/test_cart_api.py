"""The cart: per buyer, checked against available stock, priced in the buyer's currency."""

from __future__ import annotations

import pytest

from marketplace.catalog.models import Product
from marketplace.checkout.models import CartItem
from marketplace.extensions import db
from tests.factories import auth_headers, make_artisan, make_buyer, make_product


@pytest.fixture
def buyer_headers():
    return auth_headers(make_buyer(currency="EUR"))


def test_adding_a_piece_shows_it_in_the_buyers_currency(client, buyer_headers):
    bowl = make_product(stock=3, price_amount=1_500_000)  # 15,000 KZT

    added = client.post("/api/v1/cart/items", headers=buyer_headers,
                        json={"product_id": bowl.id, "quantity": 2})
    assert added.status_code == 201, added.get_json()
    item = added.get_json()
    assert item["quantity"] == 2 and item["available"] == 3
    assert item["unit_price"] == {"amount": 1_500_000, "currency": "KZT"}
    assert item["display_unit_price"] == {"amount": 2700, "currency": "EUR"}  # 30 USD

    cart = client.get("/api/v1/cart", headers=buyer_headers).get_json()
    assert cart["currency"] == "EUR"
    assert [i["id"] for i in cart["items"]] == [item["id"]]
    assert cart["subtotal"] == {"amount": 5400, "currency": "EUR"}
    in_yen = client.get("/api/v1/cart?currency=jpy", headers=buyer_headers).get_json()
    assert in_yen["subtotal"] == {"amount": 9000, "currency": "JPY"}


def test_adding_the_same_piece_again_adds_to_the_line(client, buyer_headers):
    bowl = make_product(stock=5)
    for _ in range(2):
        assert client.post("/api/v1/cart/items", headers=buyer_headers,
                           json={"product_id": bowl.id, "quantity": 2}).status_code == 201
    cart = client.get("/api/v1/cart", headers=buyer_headers).get_json()
    assert [i["quantity"] for i in cart["items"]] == [4]


def test_more_than_available_is_409_counting_pieces_held_by_checkouts(client, buyer_headers):
    bowl = make_product(stock=3)
    bowl.reserved = 2  # held for someone else's unpaid order
    db.session.commit()

    too_many = client.post("/api/v1/cart/items", headers=buyer_headers,
                           json={"product_id": bowl.id, "quantity": 2})
    assert too_many.status_code == 409
    assert too_many.get_json()["available"] == 1
    assert client.post("/api/v1/cart/items", headers=buyer_headers,
                       json={"product_id": bowl.id, "quantity": 1}).status_code == 201
    again = client.post("/api/v1/cart/items", headers=buyer_headers,
                        json={"product_id": bowl.id, "quantity": 1})
    assert again.status_code == 409
    assert db.session.execute(db.select(CartItem.quantity)).scalars().all() == [1]


@pytest.mark.parametrize("quantity", [0, -1, "2", True, 1.5, None, 100])
def test_a_quantity_that_is_not_a_whole_number_from_1_to_99_is_422(client, buyer_headers,
                                                                   quantity):
    bowl = make_product(stock=200)
    response = client.post("/api/v1/cart/items", headers=buyer_headers,
                           json={"product_id": bowl.id, "quantity": quantity})
    assert response.status_code == 422
    assert "quantity" in response.get_json()["errors"]
    assert db.session.execute(db.select(CartItem)).first() is None


def test_unknown_or_archived_products_are_404_and_bad_json_is_400(client, buyer_headers):
    archived = make_product(status="archived")
    for product_id in ("01NOSUCHPRODUCT", archived.id):
        response = client.post("/api/v1/cart/items", headers=buyer_headers,
                               json={"product_id": product_id, "quantity": 1})
        assert response.status_code == 404
    malformed = client.post("/api/v1/cart/items", headers=buyer_headers, data="{",
                            content_type="application/json")
    assert malformed.status_code == 400


def test_changing_and_removing_lines_only_in_ones_own_cart(client, buyer_headers):
    bowl = make_product(stock=3)
    item = client.post("/api/v1/cart/items", headers=buyer_headers,
                       json={"product_id": bowl.id, "quantity": 1}).get_json()
    other = auth_headers(make_buyer())

    assert client.patch(f"/api/v1/cart/items/{item['id']}", headers=other,
                        json={"quantity": 2}).status_code == 404
    assert client.delete(f"/api/v1/cart/items/{item['id']}", headers=other).status_code == 404
    over = client.patch(f"/api/v1/cart/items/{item['id']}", headers=buyer_headers,
                        json={"quantity": 4})
    assert over.status_code == 409
    changed = client.patch(f"/api/v1/cart/items/{item['id']}", headers=buyer_headers,
                           json={"quantity": 3})
    assert changed.status_code == 200 and changed.get_json()["quantity"] == 3
    assert client.delete(f"/api/v1/cart/items/{item['id']}",
                         headers=buyer_headers).status_code == 204
    assert client.delete(f"/api/v1/cart/items/{item['id']}",
                         headers=buyer_headers).status_code == 404
    assert client.get("/api/v1/cart", headers=buyer_headers).get_json()["items"] == []


def test_only_buyers_have_a_cart(client):
    bowl = make_product()
    assert client.get("/api/v1/cart").status_code == 401
    artisan = auth_headers(make_artisan())
    assert client.get("/api/v1/cart", headers=artisan).status_code == 403
    assert client.post("/api/v1/cart/items", headers=artisan,
                       json={"product_id": bowl.id, "quantity": 1}).status_code == 403
    assert db.session.get(Product, bowl.id).reserved == 0
