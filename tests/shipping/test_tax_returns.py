"""The operator's tax return for a point-of-sale scheme: orders paid under IOSS in the period,
per country and rate, net of refunds in the period, as JSON and as CSV (parsed back with the
csv module), and the console page that shows it."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest

from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.money import Money
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
    # API.md's form: the JSON endpoint with ?format=csv answers the same file
    asked = client.get(f"/api/v1/operator/tax/returns?scheme=ioss&period={_period()}"
                       "&format=csv", headers=headers)
    assert asked.mimetype == "text/csv" and asked.get_data() == as_csv.get_data()
    assert client.get(f"/api/v1/operator/tax/returns?scheme=ioss&period={_period()}"
                      "&format=xml", headers=headers).status_code == 422

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


# --- the exchange rate each scheme's return converts at ----------------------------------------

LONDON = {"name": "Jane Smith", "line1": "1 Baker Street", "city": "London",
          "postal_code": "NW1 6XE", "country": "GB", "phone": "+442000000000"}


def _published(day: str, eur: str, gbp: str = "0.8") -> None:
    """The day's rates as a source published them (per US dollar)."""
    from marketplace.fx.models import FxRateHistory

    for currency, rate in (("USD", "1"), ("EUR", eur), ("GBP", gbp)):
        db.session.add(FxRateHistory(day=date.fromisoformat(day), currency=currency, rate=rate,
                                     source="European Central Bank (tests)"))
    db.session.commit()


def _paid_on(order_id: str, day: str) -> Order:
    """The order as if paid on ``day`` (the supply's day for the return)."""
    order = db.session.get(Order, order_id)
    order.paid_at = datetime.fromisoformat(day).replace(hour=12)
    db.session.commit()
    return order


def _charged(order: Order) -> tuple[int, int]:
    """What the order charged (its currency) as taxable amount and tax."""
    lines = order.shipping_option["duty_breakdown"]["lines"]
    return (sum(line["taxable"]["amount"] for line in lines),
            sum(line["vat"]["amount"] for line in lines))


def _in_eur(amount: int, eur_per_usd: str) -> int:
    return Money(amount, "USD").convert("EUR", Decimal(eur_per_usd)).amount


def _return(client, scheme: str, period: str):
    return client.get(f"/api/v1/operator/tax/returns?scheme={scheme}&period={period}",
                      headers=auth_headers(make_operator()))


def test_an_ioss_return_converts_a_dollar_order_at_the_rate_of_the_periods_last_day(
        client, stripe_webhooks, ioss):
    earrings = silver_earrings(stock=10)
    order_id, _, _ = paid(client, (earrings, 1), currency="USD")
    order = _paid_on(order_id, "2026-11-10")
    taxable, tax = _charged(order)
    assert order.currency == "USD" and tax > 0
    _published("2026-11-10", "0.85")  # the day of the sale: not the IOSS rule's day
    _published("2026-11-27", "0.90")
    _published("2026-11-30", "0.92")  # Monday, the period's last day
    _published("2026-12-01", "0.95")
    response = _return(client, "IOSS", "2026-11")
    assert response.status_code == 200, response.json
    body = response.json
    [row] = body["rows"]
    assert row["tax_collected"] == {"amount": _in_eur(tax, "0.92"), "currency": "EUR"}
    assert row["taxable_amount"] == {"amount": _in_eur(taxable, "0.92"), "currency": "EUR"}
    assert row["fx_rates"] == ["USD->EUR 0.92 (2026-11-30; European Central Bank (tests))"]
    rule = body["fx_rule"]
    assert rule["rate_date"] == "period_end" and rule["if_unpublished"] == "next"
    assert "369u" in rule["legal_reference"] and rule["confirmed"] is True


def test_a_period_ending_on_a_weekend_takes_the_next_publication_day(client, stripe_webhooks,
                                                                      ioss):
    earrings = silver_earrings(stock=10)
    order = _paid_on(paid(client, (earrings, 1), currency="USD")[0], "2026-10-05")
    _, tax = _charged(order)
    _published("2026-10-30", "0.91")  # Friday
    _published("2026-11-02", "0.93")  # Monday: October ended on Saturday the 31st
    [row] = _return(client, "IOSS", "2026-10").json["rows"]
    assert row["tax_collected"] == {"amount": _in_eur(tax, "0.93"), "currency": "EUR"}
    assert row["fx_rates"] == [
        "USD->EUR 0.93 (2026-11-02 for 2026-10-31; European Central Bank (tests))"]


def test_no_rate_for_the_rules_day_yet_is_a_409_and_a_euro_order_needs_none(
        client, stripe_webhooks, ioss):
    earrings = silver_earrings(stock=10)
    _published("2026-11-30", "0.92")
    dollars = _paid_on(paid(client, (earrings, 1), currency="USD")[0], "2026-12-01")
    response = _return(client, "IOSS", "2026-12")  # December has not ended
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "fx.rate_not_published"
    assert "2026-12-31" in response.json["detail"]
    operator = make_operator()
    sign_in(client, operator)
    page = client.get("/console/tax?scheme=IOSS&period=2026-12", headers=HTML)
    assert page.status_code == 200
    assert "not published yet" in page.get_data(as_text=True)

    # the same period with only a euro order converts nothing, so it needs no rate
    dollars.paid_at = dollars.paid_at.replace(year=2025)
    db.session.commit()
    euros = _paid_on(paid(client, (earrings, 1))[0], "2026-12-01")
    body = _return(client, "IOSS", "2026-12").json
    [row] = body["rows"]
    assert row["tax_collected"]["amount"] == _charged(euros)[1] and row["fx_rates"] == []


def test_a_refund_in_the_period_is_taken_back_at_the_rate_that_converted_its_order(
        client, stripe_webhooks, ioss):
    earrings = silver_earrings(stock=10)
    october = _paid_on(paid(client, (earrings, 1), currency="USD")[0], "2026-10-05")
    november = _paid_on(paid(client, (earrings, 1), currency="USD")[0], "2026-11-10")
    _published("2026-11-02", "0.93")  # October's rule day (the 31st was a Saturday)
    _published("2026-11-30", "0.92")
    refund = Refund(order_id=october.id, payment_intent_id=october.payment_intent_id,
                    amount=october.total_amount, currency=october.currency, reason="returned",
                    lines=[], source="operator", status="succeeded")
    db.session.add(refund)
    db.session.commit()
    refund.created_at = datetime(2026, 11, 12, 9)
    db.session.commit()
    [row] = _return(client, "IOSS", "2026-11").json["rows"]
    october_tax, november_tax = _charged(october)[1], _charged(november)[1]
    assert row["orders"] == 1
    assert row["tax_collected"]["amount"] == _in_eur(november_tax, "0.92")
    assert row["refunded_tax"]["amount"] == _in_eur(october_tax, "0.93")
    assert row["net_tax"]["amount"] == (_in_eur(november_tax, "0.92")
                                        - _in_eur(october_tax, "0.93"))
    assert sorted(row["fx_rates"]) == [
        "USD->EUR 0.92 (2026-11-30; European Central Bank (tests))",
        "USD->EUR 0.93 (2026-11-02 for 2026-10-31; European Central Bank (tests))"]


def test_the_uk_return_converts_at_the_rate_of_the_day_of_supply(client, stripe_webhooks,
                                                                 monkeypatch, app):
    monkeypatch.setitem(app.config, "COLLECTION_REGISTRATIONS", {"UK": "GB980780684"})
    earrings = silver_earrings(stock=10)
    order = _paid_on(paid(client, (earrings, 1), address=LONDON, currency="USD")[0],
                     "2026-11-08")  # a Sunday: the latest rate before it is Friday's
    assert order.shipping_option["duty_breakdown"]["regime"] == "UK"
    _, tax = _charged(order)
    _published("2026-11-06", "0.9", gbp="0.78")
    _published("2026-11-09", "0.9", gbp="0.81")
    _published("2026-11-30", "0.9", gbp="0.75")
    body = _return(client, "UK", "2026-11").json
    [row] = body["rows"]
    assert row["tax_collected"]["amount"] == Money(tax, "USD").convert(
        "GBP", Decimal("0.78")).amount
    assert row["fx_rates"] == [
        "USD->GBP 0.78 (2026-11-06 for 2026-11-08; European Central Bank (tests))"]
    assert body["fx_rule"]["rate_date"] == "supply_date"


def test_every_scheme_has_a_rate_rule_with_its_source():
    from marketplace.shipping import returns

    rules = returns.rate_rules()
    assert set(rules) == set(returns.SCHEME_CURRENCY)
    for scheme, rule in rules.items():
        assert rule["currency"] == returns.SCHEME_CURRENCY[scheme]
        assert rule["rate_date"] in ("period_end", "supply_date")
        assert rule["if_unpublished"] in ("next", "previous")
        assert rule["source"] and rule["legal_reference"] and rule["valid_from"]
        assert isinstance(rule["confirmed"], bool)
    assert rules["IOSS"]["rate_date"] == "period_end" and rules["IOSS"]["if_unpublished"] == "next"
