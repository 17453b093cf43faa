"""A buyer's "download my data" carries their reviews, saved pieces and conversations."""

from __future__ import annotations

from tests.community.helpers import order_of
from tests.factories import auth_headers, make_artisan, make_buyer, make_product


def test_the_export_carries_reviews_favourites_and_conversations(client):
    artisan = make_artisan()
    make_product(artisan)
    product = make_product(artisan)
    buyer = make_buyer()
    headers = auth_headers(buyer)
    order = order_of(buyer, [product])
    assert client.post(f"/api/v1/orders/{order.id}/lines/{order.lines[0].id}/review",
                       headers=headers, json={"rating": 4, "text": "Fine"}).status_code == 201
    client.put(f"/api/v1/me/favourites/{product.id}", headers=headers)
    client.post("/api/v1/conversations", headers=headers,
                json={"product_id": product.id, "body": "Is it glazed inside?"})
    client.post("/api/v1/commissions", headers=headers,
                json={"artisan_id": artisan.id, "description": "Six bowls in the same blue"})

    exported = client.get("/api/v1/me/export", headers=headers)
    assert exported.status_code == 200, exported.get_json()
    body = exported.get_json()
    assert [(r["rating"], r["text"], r["written_by_you"]) for r in body["reviews"]] == [
        (4, "Fine", True)]
    assert [f["product_id"] for f in body["favourites"]] == [product.id]
    messages = [m["body"] for c in body["conversations"] for m in c["messages"]]
    assert messages == ["Is it glazed inside?", "Six bowls in the same blue"]
    assert [c["description"] for conv in body["conversations"]
            for c in conv["commissions"]] == ["Six bowls in the same blue"]
    workshop = client.get("/api/v1/me/export", headers=auth_headers(artisan)).get_json()
    assert [r["written_by_you"] for r in workshop["reviews"]] == [False]
