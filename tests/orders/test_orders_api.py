"""Orders over the API: who sees what, cancellations and operator refunds against the emulator."""

from __future__ import annotations

import pytest

from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.orders import lifecycle
from marketplace.orders.models import Fulfilment, OrderStatus, Refund
from tests.checkout.helpers import (
    buyer_with_cart,
    do_checkout,
    fresh,
    paid_order,
    status_of,
)
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product


@pytest.fixture
def operator_headers():
    return auth_headers(make_operator())


def _order(client, headers, order_id):
    response = client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_buyer_artisans_and_operators_see_the_order_strangers_do_not(client, stripe_webhooks,
                                                                      operator_headers):
    potter, weaver = make_artisan(), make_artisan()
    bowl = make_product(potter, stock=2)
    rug = make_product(weaver, stock=2)
    buyer, headers = buyer_with_cart((bowl, 1), (rug, 1))
    order_id, _ = paid_order(client, headers)

    mine = _order(client, headers, order_id)
    assert set(mine) >= {"id", "status", "lines", "totals", "currency", "fx_rate",
                         "fulfilments", "shipments", "events"}
    assert set(mine["totals"]) == {"items", "shipping", "duties", "total"}
    assert mine["shipping_address"]["city"] == "Berlin"
    total = mine["totals"]
    assert total["total"]["amount"] == (total["items"]["amount"] + total["shipping"]["amount"]
                                        + total["duties"]["amount"])

    as_potter = _order(client, auth_headers(potter), order_id)
    assert [line["product_id"] for line in as_potter["lines"]] == [bowl.id]
    assert [f["artisan_id"] for f in as_potter["fulfilments"]] == [potter.id]
    assert "shipping_address" not in as_potter and "payment" not in as_potter

    assert len(_order(client, operator_headers, order_id)["lines"]) == 2
    for outsider in (auth_headers(make_buyer()), auth_headers(make_artisan())):
        assert client.get(f"/api/v1/orders/{order_id}", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/orders/{order_id}").status_code == 401

    listed = client.get("/api/v1/orders", headers=headers).get_json()
    assert [o["id"] for o in listed["items"]] == [order_id] and listed["next_cursor"] is None
    assert client.get("/api/v1/orders", headers=auth_headers(make_buyer())).get_json()[
        "items"] == []
    assert [o["id"] for o in client.get("/api/v1/orders",
                                        headers=auth_headers(weaver)).get_json()["items"]] == [
        order_id]
    by_status = client.get("/api/v1/orders?status=paid", headers=operator_headers).get_json()
    assert [o["id"] for o in by_status["items"]] == [order_id]
    assert client.get("/api/v1/orders?status=refunded",
                      headers=operator_headers).get_json()["items"] == []
    assert client.get("/api/v1/orders?status=bogus", headers=operator_headers).status_code == 422


def test_order_list_pages_with_a_cursor(client, stripe_webhooks):
    bowl = make_product(stock=5)
    buyer, headers = buyer_with_cart((bowl, 1))
    ids = []
    for _ in range(3):
        ids.append(do_checkout(client, headers)["order"]["id"])
        added = client.post("/api/v1/cart/items", headers=headers,
                            json={"product_id": bowl.id, "quantity": 1})
        assert added.status_code == 201
    first = client.get("/api/v1/orders?limit=2", headers=headers).get_json()
    second = client.get(f"/api/v1/orders?limit=2&cursor={first['next_cursor']}",
                        headers=headers).get_json()
    assert [o["id"] for o in first["items"] + second["items"]] == list(reversed(ids))
    assert second["next_cursor"] is None
    assert client.get("/api/v1/orders?cursor=%%%", headers=headers).status_code == 422


def test_buyer_cancels_a_paid_order_full_refund_and_stock_back(client, stripe_webhooks):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 2))
    order_id, intent_id = paid_order(client, headers)
    assert fresh(Product, bowl.id).stock == 0

    response = client.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "cancelled"
    total = body["totals"]["total"]["amount"]
    refunds = stripe_webhooks.refunds(intent_id)
    assert [r["amount"] for r in refunds] == [total]
    assert body["refunds"][0]["stripe_refund_id"] == refunds[0]["id"]
    assert body["payment"]["refunded"]["amount"] == total
    assert (fresh(Product, bowl.id).stock, fresh(Product, bowl.id).reserved) == (2, 0)
    assert {f.status for f in db.session.execute(db.select(Fulfilment).where(
        Fulfilment.order_id == order_id)).scalars()} == {"cancelled"}
    # Twice is a conflict, and no second refund.
    assert client.post(f"/api/v1/orders/{order_id}/cancel", headers=headers).status_code == 409
    assert len(stripe_webhooks.refunds(intent_id)) == 1


def test_cancelling_an_unpaid_order_cancels_its_payment_intent_and_frees_the_stock(
        client, stripe_webhooks):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    created = do_checkout(client, headers)
    order_id, intent_id = created["order"]["id"], created["payment"]["payment_intent_id"]

    response = client.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert stripe_webhooks.payment_intent(intent_id)["status"] == "canceled"
    assert fresh(Product, bowl.id).reserved == 0
    assert client.post(f"/api/v1/orders/{order_id}/payment", headers=headers,
                       json={"payment_method": "pm_card_visa"}).status_code == 409


def test_cancelling_after_shipment_is_409_and_refunds_nothing(client, stripe_webhooks,
                                                             operator_headers):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    assert lifecycle.move_order(order_id, OrderStatus.FULFILLING)
    assert lifecycle.move_order(order_id, OrderStatus.SHIPPED)
    db.session.commit()

    for who in (headers, operator_headers):
        response = client.post(f"/api/v1/orders/{order_id}/cancel", headers=who)
        assert response.status_code == 409
    assert status_of(order_id) == "shipped"
    assert stripe_webhooks.refunds(intent_id) == []
    assert fresh(Product, bowl.id).stock == 0


def test_only_the_buyer_or_an_operator_may_cancel(client, stripe_webhooks):
    potter = make_artisan()
    bowl = make_product(potter, stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id = do_checkout(client, headers)["order"]["id"]
    assert client.post(f"/api/v1/orders/{order_id}/cancel",
                       headers=auth_headers(potter)).status_code == 403
    assert client.post(f"/api/v1/orders/{order_id}/cancel",
                       headers=auth_headers(make_buyer())).status_code == 404
    assert status_of(order_id) == "pending_payment"


def test_operator_refunds_part_then_the_rest_and_the_order_becomes_refunded(
        client, stripe_webhooks, operator_headers):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 2))
    order_id, intent_id = paid_order(client, headers)
    order = _order(client, headers, order_id)
    total = order["totals"]["total"]["amount"]
    line = order["lines"][0]

    partial = client.post(f"/api/v1/operator/orders/{order_id}/refunds", headers=operator_headers,
                          json={"amount": {"amount": 500, "currency": "EUR"},
                                "reason": "late delivery"})
    assert partial.status_code == 201, partial.get_json()
    assert partial.get_json()["order"]["status"] == "paid"
    by_line = client.post(f"/api/v1/operator/orders/{order_id}/refunds",
                          headers=operator_headers,
                          json={"lines": [{"line_id": line["id"], "quantity": 1}],
                                "reason": "one bowl arrived broken"})
    assert by_line.status_code == 201, by_line.get_json()
    refunded_line = by_line.get_json()["refunds"][0]
    assert refunded_line["amount"]["amount"] == line["unit_price_presentment"]["amount"]
    assert refunded_line["lines"] == [{"line_id": line["id"], "quantity": 1}]

    stripe_amounts = sorted(r["amount"] for r in stripe_webhooks.refunds(intent_id))
    assert stripe_amounts == sorted([500, line["unit_price_presentment"]["amount"]])
    stored = {r.stripe_refund_id for r in db.session.execute(db.select(Refund)).scalars()}
    assert stored == {r["id"] for r in stripe_webhooks.refunds(intent_id)}
    assert status_of(order_id) == "paid"

    rest = client.post(f"/api/v1/operator/orders/{order_id}/refunds", headers=operator_headers,
                       json={"reason": "goodwill"})
    assert rest.status_code == 201
    assert rest.get_json()["order"]["status"] == "refunded"
    assert sum(r["amount"] for r in stripe_webhooks.refunds(intent_id)) == total
    payment = rest.get_json()["order"]["payment"]
    assert payment["refunded"]["amount"] == total and payment["fully_refunded"] is True
    assert client.post(f"/api/v1/operator/orders/{order_id}/refunds", headers=operator_headers,
                       json={"reason": "again"}).status_code == 409


def test_refund_requests_that_cannot_be_honoured(client, stripe_webhooks, operator_headers):
    bowl = make_product(stock=2)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    order = _order(client, headers, order_id)
    total, line_id = order["totals"]["total"]["amount"], order["lines"][0]["id"]
    url = f"/api/v1/operator/orders/{order_id}/refunds"

    too_much = client.post(url, headers=operator_headers,
                           json={"amount": {"amount": total + 1, "currency": "EUR"},
                                 "reason": "x"})
    assert too_much.status_code == 422 and "amount" in too_much.get_json()["errors"]
    wrong_currency = client.post(url, headers=operator_headers,
                                 json={"amount": {"amount": 100, "currency": "USD"},
                                       "reason": "x"})
    assert wrong_currency.status_code == 422
    too_many_pieces = client.post(url, headers=operator_headers,
                                  json={"lines": [{"line_id": line_id, "quantity": 2}],
                                        "reason": "x"})
    assert too_many_pieces.status_code == 422
    foreign_line = client.post(url, headers=operator_headers,
                               json={"lines": [{"line_id": "01FOREIGN", "quantity": 1}],
                                     "reason": "x"})
    assert foreign_line.status_code == 422
    both = client.post(url, headers=operator_headers,
                       json={"amount": {"amount": 100, "currency": "EUR"},
                             "lines": [{"line_id": line_id, "quantity": 1}], "reason": "x"})
    assert both.status_code == 422
    no_reason = client.post(url, headers=operator_headers, json={})
    assert no_reason.status_code == 422
    assert client.post(url, headers=headers, json={"reason": "me"}).status_code == 403
    assert client.post("/api/v1/operator/orders/01NOSUCH/refunds", headers=operator_headers,
                       json={"reason": "x"}).status_code == 404
    assert stripe_webhooks.refunds(intent_id) == []
    assert db.session.execute(db.select(Refund)).first() is None

    _, unpaid_headers = buyer_with_cart((bowl, 1))
    unpaid = do_checkout(client, unpaid_headers)["order"]["id"]
    assert client.post(f"/api/v1/operator/orders/{unpaid}/refunds", headers=operator_headers,
                       json={"reason": "x"}).status_code == 409
