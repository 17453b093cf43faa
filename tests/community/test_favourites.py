"""Favourites: a buyer saves and forgets pieces; a workshop sees how many saved each."""

from __future__ import annotations

from marketplace.catalog.models import ProductStatus
from marketplace.extensions import db
from tests.factories import auth_headers, make_artisan, make_buyer, make_product


def test_saving_twice_counts_once_and_the_list_shows_the_piece(client):
    product = make_product()
    buyer = make_buyer()
    headers = auth_headers(buyer)
    for _ in range(2):
        response = client.put(f"/api/v1/me/favourites/{product.id}", headers=headers)
        assert response.status_code == 200
        assert response.get_json() == {"product_id": product.id, "saved": True, "saved_by": 1}
    listed = client.get("/api/v1/me/favourites", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [product.id]
    assert listed[0]["saved"] is True

    other = make_buyer()
    client.put(f"/api/v1/me/favourites/{product.id}", headers=auth_headers(other))
    shown = client.get(f"/api/v1/products/{product.id}", headers=headers).get_json()
    assert shown["saved"] is True
    anonymous = client.get(f"/api/v1/products/{product.id}").get_json()
    assert "saved" not in anonymous

    response = client.delete(f"/api/v1/me/favourites/{product.id}", headers=headers)
    assert response.get_json() == {"product_id": product.id, "saved": False, "saved_by": 1}
    assert client.get("/api/v1/me/favourites", headers=headers).get_json()["items"] == []


def test_an_archived_or_unknown_piece_cannot_be_saved(client):
    product = make_product(status=ProductStatus.ARCHIVED)
    headers = auth_headers(make_buyer())
    for product_id in (product.id, "01HZZZZZZZZZZZZZZZZZZZZZZZ"):
        response = client.put(f"/api/v1/me/favourites/{product_id}", headers=headers)
        assert response.status_code == 404
        assert response.get_json()["code"] == "community.product_not_found"


def test_a_saved_piece_that_is_archived_leaves_the_list(client):
    artisan = make_artisan()
    product = make_product(artisan)
    headers = auth_headers(make_buyer())
    client.put(f"/api/v1/me/favourites/{product.id}", headers=headers)
    product.status = ProductStatus.ARCHIVED
    db.session.commit()
    assert client.get("/api/v1/me/favourites", headers=headers).get_json()["items"] == []


def test_favourites_need_a_signed_in_caller(client):
    product = make_product()
    assert client.put(f"/api/v1/me/favourites/{product.id}").status_code == 401
    assert client.get("/api/v1/me/favourites").status_code == 401
