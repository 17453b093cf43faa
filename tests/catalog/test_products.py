from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace import outbox
from marketplace.catalog import writes
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.money import Money
from marketplace.outbox import OutboxEvent
from marketplace.provenance import labels
from tests.catalog.conftest import count
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product


def create(client, body, user=None):
    user = user or make_artisan()
    return client.post("/api/v1/products", json=body, headers=auth_headers(user))


def test_artisan_lists_a_product_with_derived_columns(client, product_body):
    response = create(client, product_body)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/products/{body['id']}"
    assert body["translations"]["title"]["kk"] == "Киіз сырмақ"
    assert body["materials"] == ["sheep wool", "natural dyes"]
    assert body["price"] == {"amount": 12000000, "currency": "KZT"}
    assert body["hs_code"] == "630790" and body["hs_code_override"] is None
    assert body["dimensions_mm"] == {"l": 1200, "w": 300, "h": 300}
    assert body["provenance"] == {"level": "L0", "label_code": None, "status": "none",
                                  "url": None}
    product = db.session.get(Product, body["id"])
    assert product.materials_key == "|sheep wool|natural dyes|"
    assert product.techniques_key == "|felting|mosaic inlay|"
    assert product.price_base == 12000000


def test_price_base_is_the_listing_price_in_kzt_at_the_current_rate(client, product_body):
    product_body["price"] = {"amount": 25000, "currency": "USD"}
    product_id = create(client, product_body).get_json()["id"]
    expected = fx.convert(Money(25000, "USD"), "KZT")[0].amount
    assert db.session.get(Product, product_id).price_base == expected == 25000 * 515


def test_get_resolves_language_and_presentment_currency(client):
    product = make_product(price_amount=1000000, price_currency="KZT", price_base=1000000)
    response = client.get(f"/api/v1/products/{product.id}?lang=ru&currency=EUR")
    body = response.get_json()
    assert response.status_code == 200
    assert body["title"] == product.title["ru"] and body["lang"] == "ru"
    assert body["price"] == {"amount": 1000000, "currency": "KZT"}
    money, rate = fx.convert(Money(1000000, "KZT"), "EUR")
    assert body["display_price"] == money.to_dict()
    assert body["display_price"]["amount"] == 1680  # 10 000 KZT at 515 KZT and 0.865 EUR per USD
    assert Decimal(body["fx_rate"]) == pytest.approx(rate)


@pytest.mark.parametrize(("title", "lang", "expected"), [
    ({"kk": "Кесе", "ru": "Пиала", "en": "Bowl"}, "kk", "Кесе"),
    ({"kk": "Кесе", "ru": "Пиала"}, "en", "Пиала"),
    ({"kk": "Кесе", "en": "Bowl"}, "ru", "Bowl"),
    ({"kk": "Кесе"}, "de", "Кесе"),
])
def test_language_falls_back_requested_then_en_ru_kk(client, title, lang, expected):
    product = make_product(title=title)
    body = client.get(f"/api/v1/products/{product.id}?lang={lang}").get_json()
    assert body["title"] == expected


def test_accept_language_header_chooses_the_language(client):
    product = make_product()
    body = client.get(f"/api/v1/products/{product.id}",
                      headers={"Accept-Language": "kk-KZ,ru;q=0.8"}).get_json()
    assert body["title"] == product.title["kk"]


def test_zero_decimal_presentment_currency_has_whole_yen(client):
    product = make_product(price_amount=1000000, price_currency="KZT")
    body = client.get(f"/api/v1/products/{product.id}?currency=JPY").get_json()
    # 10 000 KZT / 515 * 155.5 = 3019.417 yen -> 3019 (JPY has no minor unit)
    assert body["display_price"] == {"amount": 3019, "currency": "JPY"}


def test_display_currency_defaults_to_the_signed_in_users_currency(client):
    product = make_product()
    buyer = make_buyer(currency="GBP")
    body = client.get(f"/api/v1/products/{product.id}", headers=auth_headers(buyer)).get_json()
    assert body["display_price"]["currency"] == "GBP"
    assert client.get(f"/api/v1/products/{product.id}").get_json()[
        "display_price"]["currency"] == "USD"


def test_buyer_and_operator_cannot_create_products(client, product_body):
    for user in (make_buyer(), make_operator()):
        response = create(client, product_body, user)
        assert response.status_code == 403
        assert response.content_type == "application/problem+json"
    assert count(Product) == 0


def test_anonymous_create_is_401(client, product_body):
    assert client.post("/api/v1/products", json=product_body).status_code == 401


BAD_INPUT = [
    ("craft", "plastic", "craft"),
    ("price", {"amount": 1000, "currency": "GBP"}, "price.currency"),
    ("price", {"amount": -5, "currency": "KZT"}, "price.amount"),
    ("price", {"amount": 0, "currency": "KZT"}, "price.amount"),
    ("price", {"amount": 12.5, "currency": "KZT"}, "price.amount"),
    ("price", {"amount": 10**13, "currency": "KZT"}, "price.amount"),
    ("price", {"amount": "100", "currency": "KZT"}, "price.amount"),
    ("stock", -1, "stock"),
    ("stock", 100001, "stock"),
    ("stock", True, "stock"),
    ("weight_g", 0, "weight_g"),
    ("weight_g", 100001, "weight_g"),
    ("dimensions_mm", {"l": 10, "w": 10, "h": 3001}, "dimensions_mm.h"),
    ("dimensions_mm", {"l": 0, "w": 10, "h": 10}, "dimensions_mm.l"),
    ("hs_code", "12", "hs_code"),
    ("hs_code", "12345678901", "hs_code"),
    ("hs_code", "5705", "hs_code"),  # a 4-digit heading: subheadings have 6 digits
    ("hs_code", "570590", "hs_code"),  # 5705 has no subheading 90 in HS 2022
    ("hs_code", "999999", "hs_code"),
    ("title", {}, "title"),
    ("title", {"en": "  "}, "title"),
    ("title", {"de": "Schale"}, "title.de"),
    ("materials", ["wool|silk"], "materials"),
    ("unexpected", 1, "unexpected"),
]


@pytest.mark.parametrize(("field", "value", "error"), BAD_INPUT)
def test_bad_product_input_is_422_per_field_and_writes_nothing(client, product_body, field,
                                                                value, error):
    artisan = make_artisan()
    product_body[field] = value
    response = create(client, product_body, artisan)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert error in response.get_json()["errors"]
    assert count(Product) == 0


def test_missing_fields_are_listed(client):
    response = create(client, {"title": {"en": "Bowl"}})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) >= {"craft", "price"}


def test_malformed_json_is_400_and_writes_nothing(client):
    response = client.post("/api/v1/products", data='{"title": ',
                           content_type="application/json",
                           headers=auth_headers(make_artisan()))
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert count(Product) == 0


def test_owner_patches_fields_and_derived_columns_follow(client, product_body):
    artisan = make_artisan()
    product_id = create(client, product_body, artisan).get_json()["id"]
    response = client.patch(f"/api/v1/products/{product_id}", headers=auth_headers(artisan),
                            json={"materials": ["Camel wool"], "stock": 7, "hs_code": "570490",
                                  "price": {"amount": 30000, "currency": "EUR"}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["materials"] == ["camel wool"] and body["stock"] == 7
    assert body["hs_code"] == "570490" and body["hs_code_override"] == "570490"
    product = db.session.get(Product, product_id)
    assert product.materials_key == "|camel wool|"
    assert product.price_base == fx.convert(Money(30000, "EUR"), "KZT")[0].amount
    assert product.title == product_body["title"]  # untouched


def test_patch_null_hs_code_returns_to_the_craft_default(client, product_body):
    artisan = make_artisan()
    product_body["hs_code"] = "570490"
    product_id = create(client, product_body, artisan).get_json()["id"]
    body = client.patch(f"/api/v1/products/{product_id}", json={"hs_code": None},
                        headers=auth_headers(artisan)).get_json()
    assert body["hs_code"] == "630790" and body["hs_code_override"] is None


def test_patch_rejects_null_for_required_fields_and_changes_nothing(client):
    product = make_product()
    response = client.patch(f"/api/v1/products/{product.id}", json={"title": None, "stock": 3},
                            headers=auth_headers(product.artisan))
    assert response.status_code == 422
    assert "title" in response.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get(Product, product.id).stock == 5


def test_another_artisans_product_is_not_found(client):
    product = make_product()
    stranger = auth_headers(make_artisan())
    assert client.patch(f"/api/v1/products/{product.id}", json={"stock": 1},
                        headers=stranger).status_code == 404
    assert client.delete(f"/api/v1/products/{product.id}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/products/{product.id}/images", headers=stranger,
                       data={}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Product, product.id).stock == 5


def test_buyer_patching_a_product_is_403(client):
    product = make_product()
    response = client.patch(f"/api/v1/products/{product.id}", json={"stock": 1},
                            headers=auth_headers(make_buyer()))
    assert response.status_code == 403


def test_archive_hides_the_product_but_keeps_it_for_its_owner(client):
    product = make_product()
    owner = auth_headers(product.artisan)
    assert client.delete(f"/api/v1/products/{product.id}", headers=owner).status_code == 204
    assert count(Product) == 1
    assert client.get(f"/api/v1/products/{product.id}").status_code == 404
    assert client.get(f"/api/v1/products/{product.id}",
                      headers=auth_headers(make_buyer())).status_code == 404
    mine = client.get(f"/api/v1/products/{product.id}", headers=owner)
    assert mine.status_code == 200 and mine.get_json()["status"] == "archived"
    assert client.get(f"/api/v1/products/{product.id}",
                      headers=auth_headers(make_operator())).status_code == 200
    assert client.get("/api/v1/products").get_json()["items"] == []
    edit = client.patch(f"/api/v1/products/{product.id}", json={"stock": 1}, headers=owner)
    assert edit.status_code == 409


def test_stock_cannot_drop_below_what_checkouts_hold(client):
    product = make_product(stock=5, reserved=3)
    response = client.patch(f"/api/v1/products/{product.id}", json={"stock": 2},
                            headers=auth_headers(product.artisan))
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Product, product.id).stock == 5


def test_unknown_product_is_404(client):
    response = client.get("/api/v1/products/01NOSUCHPRODUCT0000000000")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_provenance_relevant_patch_asks_provenance_to_revoke(client, monkeypatch):
    revoked = []
    monkeypatch.setattr(labels, "revoke_active_label",
                        lambda product_id, reason: revoked.append((product_id, reason)) or True)
    product = make_product(materials=["clay"])
    headers = auth_headers(product.artisan)
    client.patch(f"/api/v1/products/{product.id}", json={"stock": 1}, headers=headers)
    client.patch(f"/api/v1/products/{product.id}", json={"materials": ["clay"]}, headers=headers)
    assert revoked == []  # a price/stock edit or an unchanged value revokes nothing
    response = client.patch(f"/api/v1/products/{product.id}",
                            json={"materials": ["porcelain"], "stock": 4}, headers=headers)
    assert response.status_code == 200
    assert revoked == [(product.id, "The product changed (materials) after verification.")]
    changes = db.session.execute(select(OutboxEvent.payload).where(
        OutboxEvent.type == writes.PRODUCT_CHANGED).order_by(OutboxEvent.created_at)).scalars()
    assert [change["changed"] for change in changes] == [["stock"], ["materials", "stock"]]


def test_provenance_summary_falls_back_to_the_products_level_without_a_record(client):
    product = make_product(provenance_level="L1")
    assert client.get(f"/api/v1/products/{product.id}").get_json()["provenance"] == {
        "level": "L1", "label_code": None, "status": "none", "url": None}


def test_a_provenance_declaration_in_the_create_body_is_saved_with_the_product(client,
                                                                                 product_body):
    artisan = make_artisan()
    product_body["provenance"] = {"no_such_field": 5}
    rejected = create(client, product_body, artisan)
    assert rejected.status_code == 422
    assert all(key.startswith("provenance") for key in rejected.get_json()["errors"])
    assert count(Product) == 0
    product_body["provenance"] = {}
    created = create(client, product_body, artisan)
    assert created.status_code == 201
    assert created.get_json()["provenance"]["status"] != "none"


def test_a_provenance_declaration_nobody_takes_is_422(client, product_body, monkeypatch):
    monkeypatch.setitem(outbox._reactions, writes.PROVENANCE_DECLARED, [])
    product_body["provenance"] = {}
    response = create(client, product_body)
    assert response.status_code == 422
    assert "provenance" in response.get_json()["errors"]
    assert count(Product) == 0
