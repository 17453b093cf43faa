"""An artisan sees only their part of an order: their lines, fulfilment, subtotal and payout
share; never the order's totals nor another artisan's pieces or prices."""

from __future__ import annotations

from marketplace.payouts import service as payouts
from tests.factories import auth_headers
from tests.payouts.helpers import artisan_with_account, paid_order, piece


def test_each_artisan_of_a_two_artisan_order_sees_only_their_own_part(client):
    aigerim, nurlan = artisan_with_account("Aigerim"), artisan_with_account("Nurlan")
    bowl, rug = piece(aigerim, 1_500_000), piece(nurlan, 9_000_000)
    order = paid_order((bowl, 2, 2700), (rug, 1, 16200), shipping=1500, duties=900)
    payouts.record_order(order.id)

    body = client.get(f"/api/v1/orders/{order.id}", headers=auth_headers(aigerim)).get_json()
    assert [line["product_id"] for line in body["lines"]] == [bowl.id]
    assert body["totals"]["items"]["amount"] == 5400
    assert body["totals"]["total"]["amount"] == 5400
    assert body["totals"]["shipping"]["amount"] == body["totals"]["duties"]["amount"] == 0
    assert body["artisan_subtotal"] == {"amount": 3_000_000, "currency": "KZT"}
    assert body["artisan_share"]["sale"]["amount"] == 3_000_000
    assert body["artisan_share"]["net"]["amount"] == 3_000_000 - 360_000
    assert [f["artisan_id"] for f in body["fulfilments"]] == [aigerim.id]
    assert "payment" not in body and "shipping_address" not in body
    text = str(body)
    assert "16200" not in text and "9000000" not in text and rug.id not in text
    assert str(order.total_amount) not in text

    listed = client.get("/api/v1/orders", headers=auth_headers(nurlan)).get_json()["items"]
    [summary] = [item for item in listed if item["id"] == order.id]
    assert summary["totals"]["total"]["amount"] == 16200 and summary["line_count"] == 1
