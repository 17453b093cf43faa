"""National tariff codes on a product: each begins with the product's HS6 and has one of the
lengths its tariff uses (data/tax/tariffs.json); the API takes them on create and update and
gives them back; the EU's code serves all 27 members."""

from __future__ import annotations

import pytest

from marketplace import hs
from marketplace.catalog.models import Product
from marketplace.extensions import db
from tests.factories import auth_headers, make_artisan


def create(client, body, user=None):
    user = user or make_artisan()
    return client.post("/api/v1/products", json=body, headers=auth_headers(user))


@pytest.mark.parametrize(("tariff", "digits"), [
    (tariff, n) for tariff, entry in sorted(hs.tariffs().items()) for n in entry["lengths"]])
def test_each_tariff_takes_its_lengths_and_refuses_one_digit_less_or_more(tariff, digits):
    lengths = hs.tariffs()[tariff]["lengths"]
    code = ("570490" + "1234")[:digits]
    assert hs.tariff_problem(tariff, code, "570490") is None
    for wrong in (digits - 1, digits + 1):
        if wrong not in lengths:
            problem = hs.tariff_problem(tariff, ("570490" + "12345")[:wrong], "570490")
            assert problem and f"not {wrong}" in problem


def test_the_table_says_which_lengths_each_tariff_uses():
    tariffs = hs.tariffs()
    assert tariffs["EU"]["lengths"] == (8, 10) and tariffs["US"]["lengths"] == (8, 10)
    assert tariffs["GB"]["lengths"] == (10,) and tariffs["JP"]["lengths"] == (9,)
    assert tariffs["AU"]["lengths"] == (8,) and tariffs["CA"]["lengths"] == (8, 10)
    assert len(tariffs["EU"]["countries"]) == 27
    assert {hs.tariff_for_country(c) for c in ("DE", "FR", "PL", "BG", "SE")} == {"EU"}
    assert hs.tariff_for_country("US") == "US" and hs.tariff_for_country("KZ") is None
    for entry in tariffs.values():
        assert entry["source"] and entry["legal_reference"]
        assert isinstance(entry["confirmed"], bool)
        assert all(6 < n <= 10 for n in entry["lengths"])


def test_codes_must_begin_with_the_hs6_and_be_digits():
    assert "begins with the product's HS code 570490" in hs.tariff_problem(
        "EU", "63079098", "570490")
    assert "digits only" in hs.tariff_problem("EU", "5704900A", "570490")
    assert "digits only" in hs.tariff_problem("EU", "5704-90-00", "570490")
    assert hs.tariff_problem("EU", "5704.90.00", "570490") is None  # dots are spacing
    assert "unknown tariff" in hs.tariff_problem("XX", "57049000", "570490")
    assert "not an HS 2022 subheading" in hs.tariff_problem("EU", "99999900")


def test_api_round_trip_of_tariff_codes(client, product_body):
    artisan = make_artisan()
    product_body["hs_code"] = "570490"
    product_body["tariff_codes"] = {"eu": "5704.9000", "US": "5704900000", "JP": "570490000"}
    response = create(client, product_body, artisan)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["tariff_codes"] == {"EU": "57049000", "US": "5704900000", "JP": "570490000"}
    product = db.session.get(Product, body["id"])
    assert product.tariff_code_for("DE") == "57049000" == product.tariff_code_for("BG")
    assert product.tariff_code_for("US") == "5704900000"
    assert product.tariff_code_for("GB") is None and product.customs_code_for("GB") == "570490"

    read = client.get(f"/api/v1/products/{body['id']}", headers=auth_headers(artisan)).json
    assert read["tariff_codes"] == body["tariff_codes"]

    patched = client.patch(f"/api/v1/products/{body['id']}", headers=auth_headers(artisan),
                           json={"tariff_codes": {"EU": "5704900010", "GB": "5704900000"}})
    assert patched.status_code == 200, patched.json
    assert patched.json["tariff_codes"] == {"EU": "5704900010", "GB": "5704900000"}

    cleared = client.patch(f"/api/v1/products/{body['id']}", headers=auth_headers(artisan),
                           json={"tariff_codes": {}})
    assert cleared.json["tariff_codes"] == {}

    tariffs = client.get("/api/v1/tariffs").json["items"]
    assert {t["id"]: t["lengths"] for t in tariffs}["EU"] == [8, 10]


@pytest.mark.parametrize(("codes", "field"), [
    ({"EU": "6307909800"}, "tariff_codes"),  # another subheading than the product's 570490
    ({"EU": "5704900"}, "tariff_codes"),  # 7 digits: below the CN's 8
    ({"EU": "570490001"}, "tariff_codes"),  # 9: between CN 8 and TARIC 10
    ({"EU": "57049000001"}, "tariff_codes"),  # 11: above TARIC's 10
    ({"GB": "57049000"}, "tariff_codes"),  # GB imports declare 10 digits
    ({"JP": "5704900000"}, "tariff_codes"),  # Japan's statistical code has 9
    ({"EU": "5704900x"}, "tariff_codes"),
    ({"ZZ": "57049000"}, "tariff_codes"),
])
def test_bad_tariff_codes_are_422_and_store_nothing(client, product_body, codes, field):
    product_body["hs_code"] = "570490"
    product_body["tariff_codes"] = codes
    response = create(client, product_body)
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert any(key.startswith(field) for key in response.json["errors"]), response.json
    assert db.session.query(Product).count() == 0


def test_changing_the_hs_code_must_bring_matching_tariff_codes(client, product_body):
    artisan = make_artisan()
    product_body.update(hs_code="570490", tariff_codes={"EU": "57049000"})
    product_id = create(client, product_body, artisan).json["id"]
    headers = auth_headers(artisan)
    response = client.patch(f"/api/v1/products/{product_id}", headers=headers,
                            json={"hs_code": "630790"})
    assert response.status_code == 422
    assert response.json["code"] == "catalog.tariff_code_mismatch"
    assert "tariff_codes.EU" in response.json["errors"]
    db.session.expire_all()
    assert db.session.get(Product, product_id).hs_code == "570490"
    response = client.patch(f"/api/v1/products/{product_id}", headers=headers,
                            json={"hs_code": "630790", "tariff_codes": {"EU": "63079098"}})
    assert response.status_code == 200, response.json
    assert response.json["tariff_codes"] == {"EU": "63079098"}
