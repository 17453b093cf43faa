"""POST /api/v1/shipping/quotes: figures worked out by hand from data/shipping/rates.json,
data/shipping/duties.json and the fixed rates in conftest (1 USD = 500 KZT = 0.9 EUR = 150 JPY).
"""

from __future__ import annotations

from tests.factories import make_product
from tests.shipping.conftest import ceramic_bowl, felt_rug, silver_earrings

URL = "/api/v1/shipping/quotes"


def _quote(client, country, items, currency, postal_code=None, **kw):
    body = {"destination": {"country": country}, "items": items, "currency": currency}
    if postal_code:
        body["destination"]["postal_code"] = postal_code
    return client.post(URL, json=body, **kw)


def _by_service(payload):
    return {option["service"]: option for option in payload["options"]}


def test_heavy_felt_rug_to_the_us_is_priced_by_volume_and_pays_us_duty(client):
    rug = felt_rug()
    response = _quote(client, "US", [{"product_id": rug.id, "quantity": 1}], "USD")
    assert response.status_code == 200, response.json
    payload = response.json
    # volumetric 1200 x 300 x 300 mm = 108,000,000 mm3 / 5000 = 21,600 g
    # actual 8,000 g + 250 g packaging = 8,250 g  ->  chargeable 21,600 g (bracket up to 25 kg)
    assert payload["parcel"] == {"items_weight_g": 8000, "packaging_g": 250,
                                 "volumetric_weight_g": 21600, "chargeable_weight_g": 21600}
    options = _by_service(payload)
    ems, express = options["ems"], options["express"]
    assert ems["chargeable_weight_g"] == 21600
    # EMS zone Z5, up to 25,000 g: 190,900.00 KZT = 19,090,000 tiyn x (1/500) = 38,180 cents
    assert ems["amount"] == {"amount": 38180, "currency": "USD"}
    assert ems["eta_days"] == {"min": 10, "max": 20}
    # Express zone Z5, up to 25,000 g: 345,600.00 KZT -> 69,120 cents
    assert express["amount"] == {"amount": 69120, "currency": "USD"}
    assert express["eta_days"] == {"min": 4, "max": 7}
    # US: no de minimis, FOB (shipping not dutiable), HS 5704 at 5%, no VAT, no surcharge in
    # force on the day: goods 250,000 KZT = 50,000 cents; duty 50,000 x 0.05 = 2,500 cents
    for option in (ems, express):
        duties = option["duties"]
        assert duties["estimate"] == {"amount": 2500, "currency": "USD"}
        assert duties["mode"] == "DDP" and duties["modes"] == ["DDP", "DAP"]
        assert duties["regime"] == "customs" and duties["modes_allowed"] == ["DDP", "DAP"]
        breakdown = duties["breakdown"]
        assert breakdown["customs_value"] == {"amount": 50000, "currency": "USD"}
        assert breakdown["duty"] == {"amount": 2500, "currency": "USD"}
        assert breakdown["vat"] == {"amount": 0, "currency": "USD"}
        [line] = breakdown["lines"]
        assert (line["hs_code"], line["value"], line["rate"]) == (
            "570490", {"amount": 50000, "currency": "USD"}, "0.05")
        assert line["duty"] == {"amount": 2500, "currency": "USD"}
    assert payload["unavailable"] == []


def test_silver_earrings_to_germany_pay_the_eu_flat_duty_and_german_vat(client):
    earrings = silver_earrings()
    response = _quote(client, "DE", [{"product_id": earrings.id, "quantity": 1}], "EUR")
    assert response.status_code == 200, response.json
    options = _by_service(response.json)
    # 30 g + 250 g = 280 g; volumetric 80 x 60 x 30 = 144,000 mm3 / 5000 = 28.8 -> 29 g
    assert response.json["parcel"]["chargeable_weight_g"] == 280
    # EMS zone Z4 up to 500 g: 12,500.00 KZT x 0.0018 (0.9 / 500) = 22.50 EUR
    assert options["ems"]["amount"] == {"amount": 2250, "currency": "EUR"}
    # Express zone Z4 up to 500 g: 28,000.00 KZT = 50.40 EUR
    assert options["express"]["amount"] == {"amount": 5040, "currency": "EUR"}
    # goods 45,000 KZT = 81.00 EUR <= 150 EUR, no IOSS registration: since 2026-07-01 no EUR 150
    # relief and no flat duty (it is for IOSS sellers), so the tariff's duty on CIF: 7113 at 2.5%
    # x (81.00 + 22.50) = 2.5875 -> 2.59; VAT 19% at the border on CIF + duty:
    # (103.50 + 2.5875) x 0.19 = 20.156 -> 20.16 (half-up)
    ems = options["ems"]["duties"]
    assert ems["regime"] == "customs" and ems["modes"] == ["DDP", "DAP"]
    assert ems["breakdown"]["duty"] == {"amount": 259, "currency": "EUR"}
    assert ems["breakdown"]["customs_value"] == {"amount": 10350, "currency": "EUR"}
    assert ems["breakdown"]["vat"] == {"amount": 2016, "currency": "EUR"}
    assert ems["breakdown"]["duty_exempt"] is False
    assert ems["breakdown"]["lines"][0]["hs_code"] == "711311"
    assert ems["estimate"] == {"amount": 2275, "currency": "EUR"}
    # Express: duty 2.5% x (81.00 + 50.40) = 3.285 -> 3.29; VAT (131.40 + 3.285) x 0.19 = 25.59
    assert options["express"]["duties"]["estimate"] == {"amount": 2888, "currency": "EUR"}


def test_with_ioss_the_earrings_are_ddp_only_with_the_flat_duty(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "COLLECTION_REGISTRATIONS", {"IOSS": "IM3721234567"})
    earrings = silver_earrings()
    response = _quote(client, "DE", [{"product_id": earrings.id, "quantity": 1}], "EUR")
    ems = _by_service(response.json)["ems"]["duties"]
    assert ems["regime"] == "IOSS" and ems["modes"] == ["DDP"]
    assert ems["breakdown"]["collector"] == "marketplace"
    assert ems["breakdown"]["scheme_number"] == "IM3721234567"
    # EUR 3 flat duty for one heading (7113.11); VAT 19% on the price: (81.00 + 22.50) x 0.19
    assert ems["breakdown"]["duty"] == {"amount": 300, "currency": "EUR"}
    assert ems["breakdown"]["vat"] == {"amount": 1967, "currency": "EUR"}
    assert ems["estimate"] == {"amount": 2267, "currency": "EUR"}
    assert {rule["rule"] for rule in ems["breakdown"]["rules"]} >= {"collection", "flat_duty"}


def test_two_pairs_of_earrings_to_germany_pay_ad_valorem_duty_over_150_eur(client):
    earrings = silver_earrings()
    response = _quote(client, "DE", [{"product_id": earrings.id, "quantity": 2}], "EUR")
    ems = _by_service(response.json)["ems"]
    # goods 2 x 81.00 = 162.00 EUR > 150: duty 2.5% (chapter 71) on CIF
    # customs value 162.00 + 22.50 = 184.50; duty 4.6125 -> 4.61
    # VAT (184.50 + 4.61) x 0.19 = 35.9309 -> 35.93; total 40.54
    breakdown = ems["duties"]["breakdown"]
    assert breakdown["duty"] == {"amount": 461, "currency": "EUR"}
    assert breakdown["vat"] == {"amount": 3593, "currency": "EUR"}
    assert ems["duties"]["estimate"] == {"amount": 4054, "currency": "EUR"}


def test_ceramic_bowl_to_japan_in_yen(client):
    bowl = ceramic_bowl()
    response = _quote(client, "JP", [{"product_id": bowl.id, "quantity": 1}], "JPY")
    assert response.status_code == 200, response.json
    options = _by_service(response.json)
    # 900 + 250 = 1,150 g; volumetric 250 x 250 x 120 = 7,500,000 / 5000 = 1,500 g -> bracket 1.5 kg
    assert response.json["parcel"]["chargeable_weight_g"] == 1500
    # EMS zone Z3 up to 1,500 g: 16,200.00 KZT x 0.3 (150 / 500) = 4,860 JPY (no minor unit)
    assert options["ems"]["amount"] == {"amount": 4860, "currency": "JPY"}
    assert options["ems"]["eta_days"] == {"min": 7, "max": 12}
    # Express zone Z3: 36,000.00 KZT = 10,800 JPY
    assert options["express"]["amount"] == {"amount": 10800, "currency": "JPY"}
    # goods 60,000 KZT = 18,000 JPY, valued for personal use at 60% = 10,800 > 10,000 JPY:
    # CIF, HS 6912 -> chapter 69 at 2%, consumption tax 10%. EMS: 10,800 + 4,860 = 15,660;
    # duty 313.2 -> 313; tax (15,660 + 313) x 0.1 = 1,597.3 -> 1,597; total 1,910 JPY
    ems = options["ems"]["duties"]
    assert ems["breakdown"]["duty"] == {"amount": 313, "currency": "JPY"}
    assert ems["breakdown"]["vat"] == {"amount": 1597, "currency": "JPY"}
    assert ems["estimate"] == {"amount": 1910, "currency": "JPY"}
    # Express: 10,800 + 10,800 = 21,600; duty 432; tax 2,203.2 -> 2,203; total 2,635 JPY
    assert options["express"]["duties"]["estimate"] == {"amount": 2635, "currency": "JPY"}


def test_cheap_bowl_to_japan_is_under_the_10000_yen_de_minimis(client):
    bowl = ceramic_bowl(price_amount=3_000_000)  # 30,000 KZT = 9,000 JPY
    response = _quote(client, "JP", [{"product_id": bowl.id, "quantity": 1}], "JPY")
    ems = _by_service(response.json)["ems"]["duties"]
    assert ems["estimate"] == {"amount": 0, "currency": "JPY"}
    assert ems["breakdown"]["duty_exempt"] and ems["breakdown"]["vat_exempt"]


def test_a_parcel_over_the_ems_weight_limit_drops_ems_with_a_reason(client):
    # volumetric 1200 x 400 x 400 mm = 192,000,000 / 5000 = 38,400 g > EMS 30,000 g
    rug = felt_rug(width_mm=400, height_mm=400)
    response = _quote(client, "US", [{"product_id": rug.id, "quantity": 1}], "USD")
    assert response.status_code == 200
    payload = response.json
    assert [o["service"] for o in payload["options"]] == ["express"]
    # Express zone Z5 up to 40,000 g: 32,000 + 6,400 x 79 = 537,600.00 KZT = 1,075.20 USD
    assert payload["options"][0]["amount"] == {"amount": 107520, "currency": "USD"}
    [dropped] = payload["unavailable"]
    assert dropped["service"] == "ems"
    assert "38400 g" in dropped["reason"] and "30000 g" in dropped["reason"]


def test_express_does_not_serve_russia_but_ems_does_without_duties(client):
    bowl = ceramic_bowl()
    response = _quote(client, "RU", [{"product_id": bowl.id, "quantity": 1}], "RUB")
    payload = response.json
    assert [o["service"] for o in payload["options"]] == ["ems"]
    assert payload["unavailable"][0]["service"] == "express"
    assert "RU" in payload["unavailable"][0]["reason"]
    duties = payload["options"][0]["duties"]
    assert duties["estimate"] == {"amount": 0, "currency": "RUB"}
    assert duties["breakdown"]["regime"] == "customs_union"


def test_a_known_but_unserved_country_lists_every_service_as_unavailable(client):
    bowl = ceramic_bowl()
    response = _quote(client, "BR", [{"product_id": bowl.id, "quantity": 1}], "USD")
    assert response.status_code == 200
    assert response.json["options"] == []
    assert {u["service"] for u in response.json["unavailable"]} == {"ems", "express"}
    assert all("BR" in u["reason"] for u in response.json["unavailable"])


def test_unknown_country_is_422(client):
    bowl = ceramic_bowl()
    response = _quote(client, "XX", [{"product_id": bowl.id, "quantity": 1}], "USD")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "destination.country" in response.json["errors"]


def test_product_without_weight_is_422_naming_it(client):
    bowl = ceramic_bowl(weight_g=None)
    response = _quote(client, "DE", [{"product_id": bowl.id, "quantity": 1}], "EUR")
    assert response.status_code == 422
    assert bowl.id in response.json["detail"]
    assert "Kese bowl" in response.json["detail"]
    assert "weight" in response.json["errors"]["items.0.product_id"][0]


def test_product_without_size_is_422_naming_it(client):
    bowl = ceramic_bowl()
    rug = felt_rug(height_mm=None)
    response = _quote(client, "DE", [{"product_id": bowl.id, "quantity": 1},
                                     {"product_id": rug.id, "quantity": 1}], "EUR")
    assert response.status_code == 422
    assert rug.id in response.json["detail"]
    assert "size" in response.json["errors"]["items.1.product_id"][0]


def test_negative_zero_and_absurd_quantities_are_422(client):
    bowl = ceramic_bowl()
    for quantity in (-1, 0, 1_000_000, "2", 1.5):
        response = _quote(client, "DE", [{"product_id": bowl.id, "quantity": quantity}], "EUR")
        assert response.status_code == 422, quantity
        assert "items.0.quantity" in response.json["errors"]


def test_unknown_product_and_bad_currency_are_422(client):
    response = _quote(client, "DE", [{"product_id": "NOPE", "quantity": 1}], "EUR")
    assert response.status_code == 422
    assert response.json["errors"] == {"items.0.product_id": ["unknown product"]}
    bowl = ceramic_bowl()
    response = _quote(client, "DE", [{"product_id": bowl.id, "quantity": 1}], "XYZ")
    assert response.status_code == 422
    assert "currency" in response.json["errors"]


def test_archived_product_cannot_be_quoted(client):
    bowl = ceramic_bowl(status="archived")
    response = _quote(client, "DE", [{"product_id": bowl.id, "quantity": 1}], "EUR")
    assert response.status_code == 422
    assert "not for sale" in response.json["errors"]["items.0.product_id"][0]


def test_malformed_body_is_400_and_missing_items_without_a_cart_is_422(client):
    response = client.post(URL, data="{", content_type="application/json")
    assert response.status_code == 400
    response = client.post(URL, json={"destination": {"country": "DE"}, "currency": "EUR"})
    assert response.status_code == 422
    assert "items" in response.json["errors"]


def test_several_pieces_make_one_parcel_with_their_weights_and_volumes_added(client):
    bowl = ceramic_bowl()
    earrings = silver_earrings()
    response = _quote(client, "GB", [{"product_id": bowl.id, "quantity": 2},
                                     {"product_id": earrings.id, "quantity": 1}], "GBP")
    assert response.status_code == 200
    # 2 x 900 + 30 = 1,830 g + 250 = 2,080 g; volume 2 x 7,500,000 + 144,000 = 15,144,000
    # mm3 / 5000 = 3,028.8 -> 3,029 g chargeable (bracket up to 4,000 g)
    assert response.json["parcel"]["chargeable_weight_g"] == 3029
    # EMS zone Z4 up to 4,000 g: 12,500 + 2,900 x 7 = 32,800.00 KZT x 0.0016 = 52.48 GBP
    assert _by_service(response.json)["ems"]["amount"] == {"amount": 5248, "currency": "GBP"}


def test_default_currency_is_the_signed_in_users(client):
    from tests.factories import auth_headers, make_buyer

    buyer = make_buyer(country="JP", currency="JPY")
    product = make_product()
    response = client.post(URL, json={"destination": {"country": "JP"},
                                      "items": [{"product_id": product.id, "quantity": 1}]},
                           headers=auth_headers(buyer))
    assert response.status_code == 200
    assert response.json["currency"] == "JPY"
    assert all(o["amount"]["currency"] == "JPY" for o in response.json["options"])


def test_a_signed_in_buyer_without_items_gets_a_quote_for_the_cart(client):
    from tests.factories import auth_headers, make_buyer

    buyer = make_buyer(country="DE", currency="EUR")
    earrings = silver_earrings()
    added = client.post("/api/v1/cart/items", json={"product_id": earrings.id, "quantity": 1},
                        headers=auth_headers(buyer))
    assert added.status_code == 201, added.json
    response = client.post(URL, json={"destination": {"country": "DE"}},
                           headers=auth_headers(buyer))
    assert response.status_code == 200, response.json
    # the same parcel as the earrings test: EMS 22.50 EUR
    assert _by_service(response.json)["ems"]["amount"] == {"amount": 2250, "currency": "EUR"}


def test_a_signed_in_buyer_with_an_empty_cart_is_422(client):
    from tests.factories import auth_headers, make_buyer

    buyer = make_buyer()
    response = client.post(URL, json={"destination": {"country": "DE"}},
                           headers=auth_headers(buyer))
    assert response.status_code == 422
    assert response.json["errors"] == {"items": ["the cart is empty"]}
