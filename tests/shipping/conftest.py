"""Fixed exchange rates (round numbers) so that every figure in these tests can be worked out
by hand: 1 USD = 500 KZT = 0.9 EUR = 150 JPY = ..."""

from __future__ import annotations

import pytest

from marketplace.extensions import db
from marketplace.fx.models import FxRate
from marketplace.ids import utcnow
from tests.factories import make_product

PER_USD = {
    "USD": "1", "KZT": "500", "EUR": "0.9", "GBP": "0.8", "JPY": "150", "CAD": "1.4",
    "CHF": "0.8", "CNY": "7.2", "AUD": "1.5", "KRW": "1400", "TRY": "40", "AED": "3.6725",
    "RUB": "80", "NZD": "1.6", "NOK": "10", "SEK": "10", "DKK": "6.5", "PLN": "4", "CZK": "20",
    "HUF": "350", "RON": "4.5", "SGD": "1.25", "ILS": "3.5", "BYN": "3", "AMD": "400",
    "KGS": "87.5",
}


@pytest.fixture(autouse=True)
def fixed_rates():
    for currency, rate in PER_USD.items():
        db.session.add(FxRate(currency=currency, rate=rate, source="tests", as_of=utcnow()))
    db.session.commit()


def felt_rug(**overrides):
    """A heavy rolled felt carpet (syrmaq): HS 5704.90 (felt, over 1 m2), 8 kg, 120 x 30 x 30 cm,
    250,000 KZT."""
    fields = dict(craft="felt", hs_code="570490", materials=["wool"], techniques=["felting"],
                  title={"en": "Syrmaq felt rug"}, price_amount=25_000_000,
                  weight_g=8_000, length_mm=1_200, width_mm=300, height_mm=300)
    fields.update(overrides)
    return make_product(**fields)


def silver_earrings(**overrides):
    """Silver earrings in a gift box: HS 7113.11 (craft default), 30 g, 45,000 KZT."""
    fields = dict(craft="jewellery", materials=["silver", "turquoise"], techniques=["filigree"],
                  title={"en": "Silver filigree earrings"}, price_amount=4_500_000,
                  weight_g=30, length_mm=80, width_mm=60, height_mm=30)
    fields.update(overrides)
    return make_product(**fields)


def ceramic_bowl(**overrides):
    """A stoneware bowl: HS 6912.00 (tableware), 900 g, 25 x 25 x 12 cm, 60,000 KZT."""
    fields = dict(craft="ceramics", hs_code="691200", materials=["clay"],
                  techniques=["wheel-throwing"], title={"en": "Kese bowl"},
                  price_amount=6_000_000, weight_g=900, length_mm=250, width_mm=250,
                  height_mm=120)
    fields.update(overrides)
    return make_product(**fields)


CARRIER_SECRET = "whsec_test_sheber_post"


@pytest.fixture(autouse=True)
def _own_signing_key_and_carrier_secret(app, tmp_path, monkeypatch):
    """Provenance labels signed with a key of the test's own; the built-in carrier's webhook
    secret known."""
    monkeypatch.setitem(app.config, "PROVENANCE_KEY_FILE", str(tmp_path / "signing_key"))
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", None)
    monkeypatch.setitem(app.config, "CARRIER_WEBHOOK_SECRETS", {"sheber-post": CARRIER_SECRET})
