"""Quoted option ids: checkout re-prices them with resolve_option; stale or foreign -> 409."""

from __future__ import annotations

import pytest

from marketplace.errors import Conflict, ValidationFailed
from marketplace.fx import service as fx
from marketplace.money import Money
from marketplace.shipping import service
from tests.shipping.conftest import ceramic_bowl, silver_earrings


@pytest.fixture
def earrings_to_berlin():
    earrings = silver_earrings()
    items = [(earrings, 1)]
    result = service.quote("DE", "10115", items, "EUR")
    ems = next(o for o in result.options if o.service == "ems")
    return ems, items


def test_a_fresh_option_resolves_to_the_quoted_price_with_ddp_duties(earrings_to_berlin):
    option, items = earrings_to_berlin
    priced = service.resolve_option(option.id, "DE", "10115", items, "EUR", "DDP")
    # as in the quote test: 22.50 EUR shipping, 2.59 EUR duty + 20.16 EUR VAT (no EUR 150 relief
    # since 2026-07-01, no flat duty without IOSS)
    assert priced.shipping == Money(2250, "EUR")
    assert priced.duties == priced.duties_estimate == Money(2275, "EUR")
    assert (priced.service, priced.carrier, priced.service_kind) == ("ems", "sheber-post",
                                                                      "postal")
    assert priced.eta_days == (8, 15)
    assert [(line.hs_code, line.quantity) for line in priced.hs_lines] == [("711311", 1)]
    assert priced.to_dict()["duties"] == {"amount": 2275, "currency": "EUR"}


def test_dap_charges_no_duties_but_keeps_the_estimate(earrings_to_berlin):
    option, items = earrings_to_berlin
    priced = service.resolve_option(option.id, "DE", "10115", items, "EUR", "DAP")
    assert priced.duties == Money(0, "EUR")
    assert priced.duties_estimate == Money(2275, "EUR")


def test_unknown_duties_mode_is_422(earrings_to_berlin):
    option, items = earrings_to_berlin
    with pytest.raises(ValidationFailed):
        service.resolve_option(option.id, "DE", "10115", items, "EUR", "CIF")


@pytest.mark.parametrize("change", ["country", "postal_code", "quantity", "product",
                                    "currency"])
def test_an_option_for_other_items_destination_or_currency_is_409(earrings_to_berlin, change):
    option, items = earrings_to_berlin
    args = {"destination_country": "DE", "postal_code": "10115", "items": items,
            "currency": "EUR"}
    if change == "country":
        args["destination_country"] = "FR"
    elif change == "postal_code":
        args["postal_code"] = "80331"
    elif change == "quantity":
        args["items"] = [(items[0][0], 2)]
    elif change == "product":
        args["items"] = [(ceramic_bowl(), 1)]
    else:
        args["currency"] = "USD"
    with pytest.raises(service.ShippingOptionMismatch) as raised:
        service.resolve_option(option.id, duties_mode="DDP", **args)
    assert raised.value.status == 409


def test_a_tampered_option_is_409(earrings_to_berlin):
    option, items = earrings_to_berlin
    forged = option.id[:-2] + ("AA" if not option.id.endswith("AA") else "BB")
    with pytest.raises(Conflict):
        service.resolve_option(forged, "DE", "10115", items, "EUR", "DDP")
    with pytest.raises(Conflict):
        service.resolve_option("not-a-token", "DE", "10115", items, "EUR", "DDP")


def test_an_option_is_stale_once_an_operator_changes_a_rate(earrings_to_berlin):
    option, items = earrings_to_berlin
    # a bracket that does not even touch this parcel still changes the table's version
    service.set_rate("express", "Z5", 70000, Money(99_000_000, "KZT"))
    with pytest.raises(service.ShippingOptionStale):
        service.resolve_option(option.id, "DE", "10115", items, "EUR", "DDP")


def test_an_option_is_stale_when_exchange_rates_move(earrings_to_berlin):
    option, items = earrings_to_berlin
    fx.set_override("EUR", "0.95")
    with pytest.raises(service.ShippingOptionStale) as raised:
        service.resolve_option(option.id, "DE", "10115", items, "EUR", "DDP")
    assert "exchange rates" in raised.value.detail


def test_an_expired_option_is_409(app, earrings_to_berlin, monkeypatch):
    option, items = earrings_to_berlin
    monkeypatch.setitem(app.config, "SHIPPING_OPTION_TTL_SECONDS", -1)
    with pytest.raises(service.ShippingOptionStale) as raised:
        service.resolve_option(option.id, "DE", "10115", items, "EUR", "DDP")
    assert "expired" in raised.value.detail


def test_the_quote_endpoint_option_id_resolves(client):
    bowl = ceramic_bowl()
    response = client.post("/api/v1/shipping/quotes", json={
        "destination": {"country": "JP", "postal_code": "100-0001"},
        "items": [{"product_id": bowl.id, "quantity": 1}], "currency": "JPY"})
    express = next(o for o in response.json["options"] if o["service"] == "express")
    priced = service.resolve_option(express["id"], "JP", "100-0001", [(bowl, 1)], "JPY", "DDP")
    assert priced.shipping.to_dict() == express["amount"]
    assert priced.duties.to_dict() == express["duties"]["estimate"]


def test_a_quote_without_postal_code_holds_for_any_postal_code_that_keeps_the_price():
    earrings = silver_earrings()
    result = service.quote("DE", None, [(earrings, 1)], "EUR")
    ems = next(o for o in result.options if o.service == "ems")
    priced = service.resolve_option(ems.id, "DE", "10115", [(earrings, 1)], "EUR", "DDP")
    assert priced.shipping == ems.amount


def test_a_postal_code_that_changes_canadian_tax_makes_the_option_stale():
    # quoted without a postal code: GST 5%; checking out to Ontario: HST 13%
    earrings = silver_earrings()
    result = service.quote("CA", None, [(earrings, 1)], "CAD")
    ems = next(o for o in result.options if o.service == "ems")
    with pytest.raises(service.ShippingOptionStale):
        service.resolve_option(ems.id, "CA", "M5V 2T6", [(earrings, 1)], "CAD", "DDP")
