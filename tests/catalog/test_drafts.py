"""Listings publish when ready: a draft is seen only by its artisan and operators until it has
a photo, a title and description, a price, stock, weight and size."""

from marketplace.catalog.models import Product, ProductStatus
from marketplace.extensions import db
from tests.catalog.conftest import image_bytes
from tests.catalog.test_images import process_all, upload
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator


def create(client, body, artisan):
    response = client.post("/api/v1/products", json=body, headers=auth_headers(artisan))
    assert response.status_code == 201
    return response.get_json()


def test_a_new_listing_is_a_draft_that_says_what_it_lacks(client, product_body):
    body = create(client, product_body, make_artisan())
    assert body["status"] == "draft"
    assert body["missing"] == ["photo"]
    bare = create(client, {"title": {"kk": "Кесе"}, "craft": "ceramics",
                           "price": {"amount": 500000, "currency": "KZT"}}, make_artisan())
    assert bare["missing"] == ["photo", "description", "stock", "weight", "size"]


def test_a_draft_is_invisible_to_buyers_and_visible_to_its_artisan_and_operators(
        client, product_body):
    artisan = make_artisan()
    draft = create(client, product_body, artisan)
    url = f"/api/v1/products/{draft['id']}"
    assert client.get(url).status_code == 404
    assert client.get(url, headers=auth_headers(make_buyer())).status_code == 404
    assert client.get(url, headers=auth_headers(make_artisan())).status_code == 404
    assert client.get(url, headers=auth_headers(artisan)).status_code == 200
    assert client.get(url, headers=auth_headers(make_operator())).status_code == 200
    assert client.get("/api/v1/products").get_json()["items"] == []
    assert client.get(f"/api/v1/products?artisan={artisan.id}").get_json()["items"] == []
    counts = client.get(f"/api/v1/artisans/{artisan.id}").get_json()["counts"]
    assert counts["active_products"] == 0
    assert client.get(f"/products/{draft['id']}").status_code == 404


def test_the_first_processed_photo_puts_a_complete_draft_on_sale(client, product_body):
    artisan = make_artisan()
    draft = create(client, product_body, artisan)
    product = db.session.get(Product, draft["id"])
    upload(client, product, image_bytes("PNG", (400, 300)))
    # uploaded but not yet processed: still a draft
    assert client.get(f"/api/v1/products/{draft['id']}",
                      headers=auth_headers(artisan)).get_json()["missing"] == ["photo"]
    process_all()
    body = client.get(f"/api/v1/products/{draft['id']}").get_json()
    assert body["status"] == "active" and body["missing"] == []
    assert [item["id"] for item in client.get("/api/v1/products").get_json()["items"]] == [
        draft["id"]]


def test_filling_in_the_last_field_publishes(client):
    artisan = make_artisan()
    draft = create(client, {"title": {"en": "Bowl"}, "craft": "ceramics",
                            "description": {"en": "Thrown on the wheel."},
                            "price": {"amount": 500000, "currency": "KZT"}}, artisan)
    upload(client, db.session.get(Product, draft["id"]), image_bytes("PNG"))
    process_all()
    url = f"/api/v1/products/{draft['id']}"
    body = client.patch(url, json={"stock": 2, "weight_g": 300},
                        headers=auth_headers(artisan)).get_json()
    assert body["status"] == "draft" and body["missing"] == ["size"]
    body = client.patch(url, json={"dimensions_mm": {"l": 100, "w": 100, "h": 60}},
                        headers=auth_headers(artisan)).get_json()
    assert body["status"] == "active" and body["missing"] == []


def test_archived_stays_archived(client, product_body):
    artisan = make_artisan()
    draft = create(client, product_body, artisan)
    upload(client, db.session.get(Product, draft["id"]), image_bytes("PNG"))
    assert client.delete(f"/api/v1/products/{draft['id']}",
                         headers=auth_headers(artisan)).status_code == 204
    process_all()
    assert db.session.get(Product, draft["id"]).status == ProductStatus.ARCHIVED
