"""Catalogue lists read the FX rates from the process's cache, and a committed change to the
rates drops it at once."""

import pytest
from sqlalchemy import event

from marketplace.extensions import db
from marketplace.fx import service as fx
from tests.factories import make_product


@pytest.fixture(autouse=True)
def _rates_stored(_app_context):
    fx.current_rates()  # the rates file into the empty table, committed
    db.session.commit()


def _statements(client, url: str) -> list[str]:
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_list_requests_do_not_reread_the_rates(client):
    make_product()
    client.get("/api/v1/products?currency=EUR")
    later = _statements(client, "/api/v1/products?currency=EUR")
    assert not [s for s in later if "fx_rate" in s]


def test_an_override_shows_on_the_next_list_request(client):
    make_product(price_amount=1000000, price_currency="KZT", price_base=1000000)
    before = client.get("/api/v1/products?currency=EUR").get_json()["items"][0]
    fx.set_override("EUR", "0.5")
    after = client.get("/api/v1/products?currency=EUR").get_json()["items"][0]
    assert after["display_price"] != before["display_price"]
    assert after["display_price"]["amount"] == round(10000 * 0.5 / float(
        fx.current_rates().per_usd("KZT")) * 100)


def test_a_rolled_back_change_does_not_stay_in_the_cache(client):
    make_product()
    client.get("/api/v1/products?currency=EUR")
    row = db.session.get(fx.FxRate, "EUR")
    row.override = "0.25"
    db.session.flush()
    assert fx.cached_rates().per_usd("EUR") == fx.Decimal("0.25")  # this transaction's view
    db.session.rollback()
    assert fx.cached_rates().per_usd("EUR") != fx.Decimal("0.25")


def test_the_cache_expires(client, monkeypatch):
    make_product()
    first = fx.cached_rates()
    assert fx.cached_rates() is first
    monkeypatch.setattr(fx, "RATES_CACHE_SECONDS", 0.0)
    assert fx.cached_rates() is not first
