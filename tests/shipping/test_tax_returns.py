"""The operator's tax return for a point-of-sale scheme: orders paid under IOSS in the period,
per country and rate, net of refunds in the period, as JSON and as CSV (parsed back with the
csv module), and the console page that shows it."""

from __future__ import annotations

import csv
import io

import pytest

from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders.models import Order, Refund
from tests.factories import auth_headers, make_buyer, make_operator
from tests.shipping.conftest import silver_earrings
from tests.shipping.flow import paid
from tests.storefront.helpers import HTML, sign_in

PARIS = {"name": "Jeanne Martin", "line1": "1 rue de Rivoli", "city": "Paris",
         "postal_code": "75001", "country": "FR", "phone": "+33100000000"}


@pytest.fixture
def ioss(app, monkeypatch):
    monkeypatch.setitem(app.config, "COLLECTION_REGISTRATIONS", {"IOSS": "IM3721234567"})
    monkeypatch.setitem(app.config, "IOSS_NUMBER", "IM3721234567")


def _period() -> str:
    return utcnow().strftime("%Y-%m")


def test_the_ioss_return_sums_tax_by_country_and_rate_net_of_refunds(client, stripe_webhooks,
                                                                      ioss):
    earrings = silver_earrings(stock=10)
    first, _, _ = paid(client, (earrings, 1))  # Berlin: 81.00 + 22.50 EMS, VAT 19% = 19.67
    paid(client, (earrings, 1))
    paid(client, (earrings, 1), address=PARIS)  # VAT 20% x 103.50 = 20.70
    order = db.session.get(Order, first)
    db.session.add(Refund(order_id=first, payment_intent_id=order.payment_intent_id,
                          amount=order.total_amount, currency=order.currency, reason="returned",
                          lines=[], source="operator", status="succeeded"))
    db.session.commit()
    operator = make_operator()
    headers = auth_headers(operator)
    response = client.get(f"/api/v1/operator/tax/returns?scheme=IOSS&period={_period()}",
                          headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["scheme"] == "IOSS" and body["currency"] == "EUR"
    assert body["registration_number"] == "IM3721234567"
    rows = {(r["country"], r["vat_rate"]): r for r in body["rows"]}
    germany, france = rows[("DE", "0.19")], rows[("FR", "0.20")]
    assert germany["orders"] == 2
    assert germany["taxable_amount"] == {"amount": 20700, "currency": "EUR"}
    assert germany["tax_collected"] == {"amount": 3934, "currency": "EUR"}
    assert germany["refunded_tax"] == {"amount": 1967, "currency": "EUR"}
    assert germany["net_taxable_amount"] == {"amount": 10350, "currency": "EUR"}
    assert germany["net_tax"] == {"amount": 1967, "currency": "EUR"}
    assert france["net_tax"] == {"amount": 2070, "currency": "EUR"}
    assert body["total_net_tax"] == {"amount": 4037, "currency": "EUR"}

    as_csv = client.get(f"/api/v1/operator/tax/returns.csv?scheme=ioss&period={_period()}",
                        headers=headers)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    parsed = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    by_country = {row["country"]: row for row in parsed}
    assert by_country["DE"]["net_tax"] == "19.67" and by_country["FR"]["tax_collected"] == "20.70"
    assert by_country["DE"]["currency"] == "EUR"

    sign_in(client, operator)
    page = client.get(f"/console/tax?scheme=IOSS&period={_period()}", headers=HTML)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "IM3721234567" in html and "19.67" in html and "20.70" in html
    for wrong in ("9999-Q4", "1999-12", "2026-13"):
        page = client.get(f"/console/tax?scheme=IOSS&period={wrong}", headers=HTML)
        assert page.status_code == 200, wrong
        assert "Choose a month (2026-11) or a quarter (2026-Q4)." in page.get_data(as_text=True)


def test_other_schemes_are_empty_and_bad_queries_are_422(client):
    headers = auth_headers(make_operator())
    for scheme in ("UK", "AU", "NZ", "NO"):
        body = client.get(f"/api/v1/operator/tax/returns?scheme={scheme}&period=2026-Q4",
                          headers=headers).json
        assert body["rows"] == [] and body["start"] == "2026-10-01" and body["end"] == "2027-01-01"
    for query in ("scheme=VAT&period=2026-11", "scheme=IOSS&period=2026-13",
                  "scheme=IOSS&period=november", "period=2026-11", "scheme=IOSS&period=0000-01",
                  "scheme=IOSS&period=9999-Q4", "scheme=IOSS&period=1999-12"):
        response = client.get(f"/api/v1/operator/tax/returns?{query}", headers=headers)
        assert response.status_code == 422, query
        assert response.json["code"]
    for first_and_last in ("2000-01", "9998-Q4"):
        response = client.get(f"/api/v1/operator/tax/returns?scheme=IOSS&period={first_and_last}",
                              headers=headers)
        assert response.status_code == 200, first_and_last
    assert response.json["end"] == "9999-01-01"
    buyer = client.get("/api/v1/operator/tax/returns?scheme=IOSS&period=2026-11",
                       headers=auth_headers(make_buyer()))
    assert buyer.status_code == 403
