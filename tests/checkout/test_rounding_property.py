"""Money never disappears into rounding: over random carts and rates, the charged total is the
sum of its lines, no priced line is zero, and the artisans are credited their listing prices
less commission less their share of refunds, to the minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.checkout.service import lines_total, price_lines
from marketplace.extensions import db
from marketplace.fx.service import CurrencyRate, RateTable
from marketplace.ids import utcnow
from marketplace.money import PRESENTMENT_CURRENCIES, Money
from marketplace.payouts import service as payouts
from marketplace.payouts.models import LedgerEntry
from tests.factories import make_artisan
from tests.payouts.helpers import paid_order, piece, refund

per_usd = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("20000"), places=4,
                      allow_nan=False, allow_infinity=False)
carts = st.lists(st.tuples(st.integers(min_value=1, max_value=10**9),  # KZT minor units
                           st.integers(min_value=1, max_value=99)), min_size=1, max_size=6)


def table(kzt: Decimal, target: str, target_rate: Decimal) -> RateTable:
    now = utcnow()
    rates = {"USD": Decimal(1), "KZT": kzt, target: target_rate}
    return RateTable({code: CurrencyRate(code, rate, None, "tests", now)
                      for code, rate in rates.items()})


@given(carts, st.sampled_from([c for c in PRESENTMENT_CURRENCIES if c not in ("USD", "KZT")]),
       per_usd, per_usd, st.integers(min_value=0, max_value=10**7))
def test_the_charged_total_is_the_sum_of_lines_and_no_priced_line_is_zero(
        cart, currency, kzt_rate, target_rate, shipping):
    rates = table(kzt_rate, currency, target_rate)
    priced = price_lines([Money(price, "KZT") for price, _ in cart], currency, rates)
    lines = [(unit, quantity) for (unit, _), (_, quantity) in zip(priced, cart, strict=True)]
    items = lines_total(lines, currency)
    total = items + Money(shipping, currency)
    assert all(unit.amount >= 1 and unit.currency == currency for unit, _ in lines)
    assert items.amount == sum(unit.amount * quantity for unit, quantity in lines)
    assert total.amount == items.amount + shipping
    for (unit, rate), (price, _) in zip(priced, cart, strict=True):
        # rounded once (half-up, off the exact value by at most half a unit), else the floor
        once = Money(price, "KZT").convert(currency, rate)
        assert unit.amount == max(once.amount, 1)


def test_99_pieces_at_2_51_kzt_charge_99_cents_not_nothing():
    rates = table(Decimal("500"), "EUR", Decimal("0.9"))
    [(unit, _)] = price_lines([Money(251, "KZT")], "USD", rates)
    assert unit == Money(1, "USD")  # 2.51 KZT = 0.005 USD → half-up 0.01, never 0.00
    [(tiny, _)] = price_lines([Money(100, "KZT")], "USD", rates)
    assert tiny == Money(1, "USD")  # 0.002 USD rounds to 0.00: the floor lifts it
    assert lines_total([(unit, 99)], "USD") == Money(99, "USD")


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=10**8),
                          st.integers(min_value=1, max_value=5)), min_size=1, max_size=3),
       st.integers(min_value=0, max_value=10_000), st.lists(
           st.integers(min_value=1, max_value=10**6), max_size=3))
def test_artisans_are_credited_listing_price_less_commission_less_their_refund_share(
        app, lines, bps, refunds):
    current_app.config["PLATFORM_COMMISSION_BPS"] = bps
    try:
        artisans = [make_artisan(), make_artisan()]
        products = [piece(artisans[i % 2], price) for i, (price, _) in enumerate(lines)]
        order = paid_order(*[(product, quantity, max(1, price // 500))
                             for product, (price, quantity) in zip(products, lines,
                                                                    strict=True)])
        left = order.total_amount
        made = []
        for amount in refunds:
            part = min(amount, left)
            if part <= 0:
                break
            made.append(refund(order, part))
            left -= part
        payouts.record_order(order.id)
        db.session.expire_all()
        refunded_total = sum(r.amount for r in made)
        for artisan in artisans:
            gross = sum(p.price_amount * q for p, (_, q) in zip(products, lines, strict=True)
                        if p.artisan_id == artisan.id)
            entries = db.session.execute(db.select(LedgerEntry).where(
                LedgerEntry.artisan_id == artisan.id,
                LedgerEntry.order_id == order.id)).scalars().all()
            share = -sum(e.amount for e in entries if e.kind == "refund")
            kept = gross - share
            credited = sum(e.amount for e in entries)
            assert 0 <= share <= gross
            assert credited == kept - payouts.commission_on(kept, bps)
            if refunded_total >= order.total_amount:
                assert credited == 0
    finally:
        current_app.config["PLATFORM_COMMISSION_BPS"] = 1200
