"""National tariff codes in quotes and papers: duty takes the destination's rate row that is
the longest prefix of the product's national code there (a CN8/HTS10 row beats the HS6 row,
which beats the heading's), a national code no row begins falls back to the HS rows; the
CN 23 / commercial invoice and customs.json print the destination's code where the product
has one, else the HS6."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from marketplace.money import Money
from marketplace.shipping import duties
from tests.factories import auth_headers, make_operator
from tests.shipping.conftest import felt_rug
from tests.shipping.flow import (
    fulfilments,
    pack,
    paid,
    pdf_text,
    request_shipment,
    run_label_tasks,
    shipment_of,
)
from tests.storefront.helpers import HTML, sign_in

CUSTOMS_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "data" / "schemas"
                             / "customs-declaration.schema.json").read_text())
RATES = {"default": "0.01", "57": "0.02", "5704": "0.03", "570490": "0.04", "57049000": "0.05",
         "5704900010": "0.06"}


@pytest.mark.parametrize(("code", "rate"), [
    ("5704900010", "0.06"),  # its own 10-digit row
    ("5704900090", "0.05"),  # no 10-digit row: the CN8 row beats the HS6 and heading rows
    ("57049000", "0.05"),
    ("57049099", "0.04"),  # a national code no row begins: its HS6 row
    ("570490", "0.04"),
    ("570410", "0.03"),  # the heading's row
    ("5701100000", "0.02"),  # the chapter's
    ("9503000000", "0.01"),  # nothing matches: the default
])
def test_duty_takes_the_longest_matching_row(code, rate):
    assert duties.duty_rate(RATES, code) == Decimal(rate)


@pytest.fixture
def us_rows_with_national_lines(monkeypatch):
    """The real table, with a 10-digit HTS row and an 8-digit one added to the US duty rates."""
    table = copy.deepcopy(duties.rules_file())
    for row in table["destinations"]["US"]["rules"]:
        if row["rule"] == "duty_rates":
            row["rates"].update({"5704900010": "0.02", "57049000": "0.035"})
    monkeypatch.setattr(duties, "rules_file", lambda: table)


def _one(country, code, value="500", currency="USD"):
    def convert(money: Money, to: str) -> Money:
        assert money.currency == to == currency
        return money

    return duties.estimate(country, [(code, Money.from_major(value, currency), 1)],
                           Money.zero(currency), convert=convert, on=date(2026, 12, 1))


def test_a_national_code_takes_its_own_row_else_the_hs_rows(us_rows_with_national_lines):
    [line] = _one("US", "5704900010").lines
    assert (line.hs_code, line.rate) == ("5704900010", Decimal("0.02"))
    [line] = _one("US", "5704900020").lines  # no such 10-digit row: its 8-digit one
    assert line.rate == Decimal("0.035")
    [line] = _one("US", "5704100000").lines  # another subheading: the heading row 5704
    assert line.rate == Decimal("0.05")
    [line] = _one("US", "570490").lines  # no national code: HS6, then 5704
    assert line.rate == Decimal("0.05")


def test_the_quote_looks_duty_up_by_the_destinations_code(client, us_rows_with_national_lines):
    rug = felt_rug(tariff_codes={"US": "5704900010", "EU": "57049000"})
    plain = felt_rug()
    for product, code, rate, duty in ((rug, "5704900010", "0.02", 1000),
                                      (plain, "570490", "0.05", 2500)):
        response = client.post("/api/v1/shipping/quotes", json={
            "destination": {"country": "US"}, "currency": "USD",
            "items": [{"product_id": product.id, "quantity": 1}]})
        assert response.status_code == 200, response.json
        for option in response.json["options"]:
            [line] = option["duties"]["breakdown"]["lines"]
            # goods 250,000 KZT = 500.00 USD, FOB: duty 500.00 x rate
            assert (line["hs_code"], line["rate"]) == (code, rate)
            assert line["duty"] == {"amount": duty, "currency": "USD"}


def test_the_customs_papers_and_data_print_the_destinations_code(
        client, stripe_webhooks, us_rows_with_national_lines):
    rug = felt_rug(tariff_codes={"US": "5704900010", "EU": "57049000"}, stock=2,
                   length_mm=1_100)
    new_york = {"name": "John Doe", "line1": "1 Main St", "city": "New York",
                "region": "NY", "postal_code": "10001", "country": "US", "phone": "+12125550100"}
    order_id, _, _ = paid(client, (rug, 1), address=new_york, currency="USD", duties_mode="DAP",
                          service="express")
    [fulfilment] = fulfilments(order_id)
    assert pack(client, fulfilment, weight_g=8_400, l=1_150, w=320, h=320).status_code == 200
    operator = make_operator()
    headers = auth_headers(operator)
    assert request_shipment(client, headers, order_id).status_code == 202
    run_label_tasks()
    shipment = shipment_of(order_id)
    assert shipment.customs_form == "CN23"
    # the CN 23 and the commercial invoice (table cells wrap the code over two lines)
    flat = "".join(pdf_text(shipment.customs_pdf).split())
    assert flat.count("HStariffno./NotarifaireSH") == 2
    assert flat.count("5704900010Kazakhstan") == 2, flat

    body = client.get(f"/api/v1/shipments/{shipment.id}/customs.json", headers=headers).json
    jsonschema.validate(body, CUSTOMS_SCHEMA, format_checker=jsonschema.FormatChecker())
    [item] = body["items"]
    assert (item["hs_code"], item["tariff_code"], item["tariff"]) == (
        "570490", "5704900010", "US")

    # the operator sees the code the parcel declares on the order's console page
    sign_in(client, operator)
    page = client.get(f"/console/orders/{order_id}", headers=HTML)
    assert page.status_code == 200 and "<td>5704900010</td>" in page.get_data(as_text=True)


def test_without_a_code_for_the_destination_the_papers_print_the_hs6(client, stripe_webhooks):
    rug = felt_rug(tariff_codes={"EU": "57049000"}, stock=2, length_mm=1_100)
    new_york = {"name": "John Doe", "line1": "1 Main St", "city": "New York",
                "region": "NY", "postal_code": "10001", "country": "US", "phone": "+12125550100"}
    order_id, _, _ = paid(client, (rug, 1), address=new_york, currency="USD", duties_mode="DAP",
                          service="express")
    [fulfilment] = fulfilments(order_id)
    assert pack(client, fulfilment, weight_g=8_400, l=1_150, w=320, h=320).status_code == 200
    headers = auth_headers(make_operator())
    assert request_shipment(client, headers, order_id).status_code == 202
    run_label_tasks()
    shipment = shipment_of(order_id)
    flat = "".join(pdf_text(shipment.customs_pdf).split())
    assert flat.count("570490Kazakhstan") == 2 and "57049000" not in flat
    body = client.get(f"/api/v1/shipments/{shipment.id}/customs.json", headers=headers).json
    jsonschema.validate(body, CUSTOMS_SCHEMA, format_checker=jsonschema.FormatChecker())
    [item] = body["items"]
    assert (item["hs_code"], item["tariff_code"], item["tariff"]) == ("570490", "570490", None)
