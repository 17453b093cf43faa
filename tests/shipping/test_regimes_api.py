"""Collection regimes through the API: every destination gets a quote in its own currency whose
mode and regime follow its row; where the marketplace must collect at the point of sale, the
quote offers DDP only and a DAP checkout is a 422 on duties_mode that changes nothing."""

from __future__ import annotations

import pytest

from marketplace.extensions import db
from marketplace.orders.models import Order
from marketplace.shipping.duties import destinations
from tests.checkout.helpers import buyer_with_cart, checkout_body
from tests.shipping.conftest import silver_earrings

REGISTERED = {"IOSS": "IM3721234567", "UK": "GB980780684", "AU": "300000000000",
              "NZ": "49091850", "NO": "VOEC2012345", "CH": "CHE116281710MWST",
              "SG": "M90312345A"}
LONDON = {"name": "Amelia Jones", "line1": "1 Downing Street", "city": "London",
          "postal_code": "SW1A 2AA", "country": "GB", "phone": "+442000000000"}


@pytest.fixture
def registered(app, monkeypatch):
    monkeypatch.setitem(app.config, "COLLECTION_REGISTRATIONS", dict(REGISTERED))


def _quote(client, country, product, currency, quantity=1):
    return client.post("/api/v1/shipping/quotes", json={
        "destination": {"country": country}, "currency": currency,
        "items": [{"product_id": product.id, "quantity": quantity}]})


def test_every_destination_is_quoted_in_its_own_currency_with_its_regime(client, registered):
    earrings = silver_earrings()  # 45,000 KZT = 90 USD
    expected_scheme = {"GB": "UK", "AU": "AU", "NZ": "NZ", "NO": "NO", "CH": "CH", "SG": "SG"}
    for country, entry in destinations().items():
        if country == "KZ":
            continue
        response = _quote(client, country, earrings, entry["currency"])
        assert response.status_code == 200, (country, response.json)
        options = response.json["options"]
        assert options, country
        duties = options[0]["duties"]
        assert duties["estimate"]["currency"] == entry["currency"]
        breakdown = duties["breakdown"]
        lines = breakdown["lines"]
        assert sum(line["duty"]["amount"] for line in lines) == breakdown["duty"]["amount"]
        assert sum(line["vat"]["amount"] for line in lines) == breakdown["vat"]["amount"]
        if entry.get("union") == "EU":
            assert duties["regime"] == "IOSS" and duties["modes"] == ["DDP"], country
        elif entry.get("union") == "EAEU":
            assert duties["regime"] == "customs_union" and duties["estimate"]["amount"] == 0
        elif country in expected_scheme:
            assert duties["regime"] == expected_scheme[country], country
            assert duties["modes"] == ["DDP"]
        else:
            assert duties["regime"] == "customs" and duties["modes"] == ["DDP", "DAP"], country


def test_without_registrations_everything_may_go_dap(client):
    earrings = silver_earrings()
    for country in ("GB", "DE", "AU", "NZ", "NO"):
        currency = destinations()[country]["currency"]
        duties = _quote(client, country, earrings, currency).json["options"][0]["duties"]
        assert duties["regime"] == "customs" and duties["modes"] == ["DDP", "DAP"]


def test_above_the_uk_limit_both_modes_come_back(client, registered):
    earrings = silver_earrings()  # 2 x 72.00 GBP = 144 GBP > 135
    duties = _quote(client, "GB", earrings, "GBP", quantity=2).json["options"][0]["duties"]
    assert duties["regime"] == "customs" and duties["modes"] == ["DDP", "DAP"]


def test_a_dap_checkout_of_a_low_value_uk_parcel_is_a_422_on_duties_mode(client, registered,
                                                                       stripe_webhooks):
    earrings = silver_earrings()
    _, headers = buyer_with_cart((earrings, 1), currency="GBP")
    quote = client.post("/api/v1/shipping/quotes", headers=headers, json={
        "destination": {"country": "GB", "postal_code": "SW1A 2AA"}, "currency": "GBP"})
    option = quote.json["options"][0]
    assert option["duties"]["modes"] == ["DDP"]
    orders_before = db.session.query(Order).count()
    response = client.post("/api/v1/checkout", headers=headers, json=checkout_body(
        option["id"], address=LONDON, currency="GBP", duties_mode="DAP"))
    assert response.status_code == 422, response.json
    assert "duties_mode" in response.json["errors"]
    assert response.json["code"]
    assert db.session.query(Order).count() == orders_before
    ddp = client.post("/api/v1/checkout", headers=headers, json=checkout_body(
        option["id"], address=LONDON, currency="GBP", duties_mode="DDP"))
    assert ddp.status_code == 201, ddp.json
