import json
import threading
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.fx.models import FxRate
from marketplace.fx.sources import (
    DEFAULT_RATES_FILE,
    FileRateSource,
    HttpJsonRateSource,
    RateSnapshot,
    RateSourceError,
)
from marketplace.money import EXPONENTS, PRESENTMENT_CURRENCIES, Money
from tests.factories import auth_headers, make_buyer, make_operator, make_product


def rate_rows() -> int:
    return db.session.execute(select(func.count()).select_from(FxRate)).scalar_one()


def test_rates_file_names_its_source_and_date_and_covers_every_currency():
    document = json.loads(DEFAULT_RATES_FILE.read_text())
    assert document["as_of"] == "2026-11-26"
    assert "approximate" in document["source"] and "offline" in document["source"]
    assert set(document["rates"]) == set(EXPONENTS)
    assert all(isinstance(value, str) for value in document["rates"].values())  # no floats


def test_an_empty_table_is_filled_from_the_rates_file_on_first_use():
    assert rate_rows() == 0
    money, rate = fx.convert(Money(100000, "KZT"), "USD")
    assert rate_rows() == len(EXPONENTS)
    assert rate == Decimal(1) / Decimal("515.00")
    assert money == Money(194, "USD")  # 1 000 KZT = 1.9417 USD -> 1.94


def test_cross_rates_are_exact_decimals_rounded_half_up_once():
    assert fx.rate("EUR", "KZT") == Decimal("515.00") / Decimal("0.8650")
    # 100.00 EUR -> 59537.57225... KZT -> 59537.57
    assert fx.convert(Money(10000, "EUR"), "KZT")[0] == Money(5953757, "KZT")
    assert fx.convert(Money(1, "KWD"), "JPY")[0] == Money(1, "JPY")  # 0.001 KWD = 0.5065 yen
    same, rate = fx.convert(Money(123, "GBP"), "GBP")
    assert same == Money(123, "GBP") and rate == 1


def test_operator_override_wins_and_reprices_products(client):
    product = make_product(price_amount=10000, price_currency="USD", price_base=5150000)
    headers = auth_headers(make_operator())
    response = client.put("/api/v1/operator/fx/KZT", json={"rate": "500"}, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["per_usd"] == "500" and body["override"] == "500"
    assert body["source_rate"] == "515"
    assert fx.rate("USD", "KZT") == Decimal(500)
    db.session.expire_all()
    assert db.session.get(Product, product.id).price_base == 5000000
    currencies = client.get("/api/v1/currencies").get_json()["items"]
    assert next(c for c in currencies if c["code"] == "KZT")["overridden"] is True

    assert client.delete("/api/v1/operator/fx/KZT", headers=headers).status_code == 204
    assert fx.rate("USD", "KZT") == Decimal("515")
    db.session.expire_all()
    assert db.session.get(Product, product.id).price_base == 5150000


@pytest.mark.parametrize(("currency", "payload", "field"), [
    ("EUR", {"rate": 0.9}, "rate"),
    ("EUR", {"rate": "abc"}, "rate"),
    ("EUR", {"rate": "-1"}, "rate"),
    ("EUR", {"rate": "0"}, "rate"),
    ("EUR", {"rate": "NaN"}, "rate"),
    ("EUR", {}, "rate"),
    ("USD", {"rate": "1.1"}, "currency"),
    ("XYZ", {"rate": "1.1"}, "currency"),
])
def test_bad_override_is_422_and_changes_nothing(client, currency, payload, field):
    headers = auth_headers(make_operator())
    response = client.put(f"/api/v1/operator/fx/{currency}", json=payload, headers=headers)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    db.session.rollback()
    assert db.session.execute(
        select(func.count()).select_from(FxRate).where(FxRate.override.is_not(None))
    ).scalar_one() == 0


def test_only_operators_override_rates(client):
    assert client.put("/api/v1/operator/fx/EUR", json={"rate": "1"}).status_code == 401
    response = client.put("/api/v1/operator/fx/EUR", json={"rate": "1"},
                          headers=auth_headers(make_buyer()))
    assert response.status_code == 403
    assert client.delete("/api/v1/operator/fx/EUR",
                         headers=auth_headers(make_buyer())).status_code == 403


def test_cli_sets_and_clears_an_override(runner):
    result = runner.invoke(args=["fx", "set-override", "eur", "0.9"])
    assert result.exit_code == 0, result.output
    assert fx.rate("USD", "EUR") == Decimal("0.9")
    bad = runner.invoke(args=["fx", "set-override", "EUR", "lots"])
    assert bad.exit_code != 0 and "rate" in bad.output
    result = runner.invoke(args=["fx", "clear-override", "EUR"])
    assert result.exit_code == 0, result.output
    assert fx.rate("USD", "EUR") == Decimal("0.865")


class FixedSource:
    def __init__(self, **rates):
        self.snapshot = RateSnapshot(per_usd={k: Decimal(v) for k, v in rates.items()},
                                     source="test feed", as_of=datetime(2026, 11, 25, 12))

    def fetch(self):
        return self.snapshot


def test_refresh_stores_new_rates_keeps_overrides_and_reprices():
    product = make_product(price_amount=10000, price_currency="EUR", price_base=1)
    fx.set_override("GBP", "0.5")
    stored = fx.refresh_rates(FixedSource(USD="1", KZT="520", EUR="0.8", GBP="0.7"))
    assert stored == 4
    assert fx.rate("EUR", "KZT") == Decimal(520) / Decimal("0.8")
    assert fx.rate("USD", "GBP") == Decimal("0.5")  # the override still wins
    row = db.session.get(FxRate, "KZT")
    assert (row.source, row.as_of) == ("test feed", datetime(2026, 11, 25, 12))
    db.session.expire_all()
    assert db.session.get(Product, product.id).price_base == 6500000


def test_refresh_reloads_the_rates_file_by_default(runner):
    fx.refresh_rates(FixedSource(USD="1", KZT="600"))
    result = runner.invoke(args=["fx", "refresh"])
    assert result.exit_code == 0, result.output
    assert fx.rate("USD", "KZT") == Decimal("515")


@pytest.fixture
def rates_server():
    documents = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = documents.get(self.path)
            self.send_response(200 if body else 500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write((body or "oops").encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", documents
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_source_reads_json_numbers_as_decimals_and_rebases_on_usd(rates_server):
    url, documents = rates_server
    documents["/latest"] = ('{"base": "EUR", "date": "2026-11-25", '
                            '"rates": {"USD": 1.16, "KZT": 597.4, "EUR": 1, "XAU": 0.0004}}')
    snapshot = HttpJsonRateSource(url + "/latest").fetch()
    assert snapshot.per_usd["USD"] == 1
    assert snapshot.per_usd["KZT"] == Decimal("597.4") / Decimal("1.16")
    assert "XAU" not in snapshot.per_usd
    assert snapshot.as_of == datetime(2026, 11, 25)


def test_fx_refresh_uses_fx_source_url(app, runner, rates_server):
    url, documents = rates_server
    documents["/rates"] = json.dumps({"base": "USD", "rates": {"KZT": "505.5"},
                                      "source": "my bank"})
    app.config["FX_SOURCE_URL"] = url + "/rates"
    try:
        result = runner.invoke(args=["fx", "refresh"])
        assert result.exit_code == 0, result.output
        assert db.session.get(FxRate, "KZT").source == "my bank"
        assert fx.rate("USD", "KZT") == Decimal("505.5")
        app.config["FX_SOURCE_URL"] = url + "/missing"
        failed = runner.invoke(args=["fx", "refresh"])
        assert failed.exit_code != 0 and "cannot fetch" in failed.output
    finally:
        app.config["FX_SOURCE_URL"] = None


def test_broken_rates_file_is_a_source_error(tmp_path):
    broken = tmp_path / "rates.json"
    broken.write_text('{"base": "EUR", "rates": {"KZT": "600"}}')  # no way to reach USD
    with pytest.raises(RateSourceError):
        FileRateSource(broken).fetch()
    broken.write_text('{"base": "USD"}')
    with pytest.raises(RateSourceError):
        FileRateSource(broken).fetch()
    broken.write_text("not json")
    with pytest.raises(RateSourceError):
        FileRateSource(broken).fetch()


def test_currencies_lists_presentment_currencies_with_rates(client):
    body = client.get("/api/v1/currencies").get_json()
    items = {item["code"]: item for item in body["items"]}
    assert list(items) == list(PRESENTMENT_CURRENCIES)
    assert items["JPY"]["exponent"] == 0 and items["EUR"]["exponent"] == 2
    assert items["KZT"]["per_usd"] == "515" and items["KZT"]["kzt_per_unit"] == "1"
    assert Decimal(items["USD"]["kzt_per_unit"]) == Decimal("515")
    assert Decimal(items["EUR"]["per_kzt"]) == pytest.approx(Decimal("0.865") / 515)
    assert items["EUR"]["as_of"] == "2026-11-26T00:00:00Z"
    assert "approximate" in items["EUR"]["source"]
    assert body["listing_currencies"] == ["KZT", "USD", "EUR"]
