"""Money never loses or invents a minor unit, and never takes a float."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.fx.service import CurrencyRate, RateTable
from marketplace.ids import utcnow
from marketplace.money import EXPONENTS, CurrencyError, Money, exponent

currencies = st.sampled_from(sorted(EXPONENTS))
amounts = st.integers(min_value=-(10**12), max_value=10**12)
rates = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("100000"), places=6,
                    allow_nan=False, allow_infinity=False)


def exact_conversion(amount: int, rate, source: str, target: str) -> Fraction:
    return Fraction(amount) * Fraction(rate) * Fraction(10) ** (exponent(target) - exponent(source))


@given(amounts, currencies, currencies, rates)
def test_conversion_is_off_by_at_most_half_a_minor_unit(amount, source, target, rate):
    converted = Money(amount, source).convert(target, rate)
    assert converted.currency == target
    assert abs(Fraction(converted.amount) - exact_conversion(amount, rate, source, target)) \
        <= Fraction(1, 2)


@given(amounts, currencies, currencies, st.dictionaries(
    currencies, rates.filter(lambda r: r > 0), min_size=len(EXPONENTS)))
def test_cross_rate_conversion_is_off_by_at_most_half_a_minor_unit(amount, source, target,
                                                                    per_usd):
    table = RateTable({code: CurrencyRate(code, rate, None, "test", utcnow())
                       for code, rate in per_usd.items()})
    converted, rate = table.convert(Money(amount, source), target)
    exact = exact_conversion(amount, Fraction(per_usd[target]) / Fraction(per_usd[source]),
                             source, target)
    # the cross rate is a 28-digit Decimal quotient: allow for its last digit
    assert abs(Fraction(converted.amount) - exact) <= Fraction(1, 2) + Fraction(1, 10**9)


def test_half_a_minor_unit_rounds_up_once():
    assert Money(1, "KZT").convert("KZT", Decimal("2.5")) == Money(3, "KZT")
    assert Money(5, "USD").convert("JPY", Decimal("1")) == Money(0, "JPY")  # 0.05 yen
    assert Money(50, "USD").convert("JPY", Decimal("1")) == Money(1, "JPY")  # 0.5 yen
    assert Money(-50, "USD").convert("JPY", Decimal("1")) == Money(-1, "JPY")


@given(amounts, currencies,
       st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12)
       .filter(lambda weights: sum(weights) > 0))
def test_allocated_parts_always_sum_to_the_whole(amount, currency, weights):
    parts = Money(amount, currency).allocate(weights)
    assert sum(part.amount for part in parts) == amount
    assert {part.currency for part in parts} == {currency}
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(Fraction(part.amount) - Fraction(amount * weight, total)) < 1


@given(st.lists(amounts, min_size=1, max_size=20), currencies)
def test_sums_are_exact(values, currency):
    total = Money.zero(currency)
    for value in values:
        total = total + Money(value, currency)
    assert total.amount == sum(values)


def test_zero_and_three_decimal_currencies():
    assert exponent("JPY") == exponent("KRW") == 0 and exponent("KWD") == 3
    assert exponent("KZT") == exponent("USD") == exponent("EUR") == 2
    assert Money.from_major("1500", "JPY") == Money(1500, "JPY")
    assert Money.from_major("12.345", "KWD") == Money(12345, "KWD")
    assert Money.from_major("12.34", "KZT") == Money(1234, "KZT")
    for value, currency in (("1.5", "KRW"), ("1.2345", "KWD"), ("0.001", "USD"),
                            ("Infinity", "USD")):
        with pytest.raises(CurrencyError):
            Money.from_major(value, currency)
    assert Money(1000, "KWD").convert("JPY", Decimal("495.5")) == Money(496, "JPY")
    assert Money(1234, "JPY").format() == "1,234 JPY"
    assert Money(1234, "KWD").format() == "1.234 KWD"


@given(st.floats(allow_nan=True, allow_infinity=True), currencies)
def test_no_float_is_ever_accepted(value, currency):
    with pytest.raises(TypeError):
        Money(value, currency)
    with pytest.raises(TypeError):
        Money.from_major(value, currency)
    with pytest.raises(TypeError):
        Money(100, currency).convert("USD", value)
    with pytest.raises(TypeError):
        Money(100, currency).apply_rate(value)
    with pytest.raises(TypeError):
        Money(100, currency) * value


def test_booleans_and_unknown_currencies_are_refused():
    with pytest.raises(TypeError):
        Money(True, "USD")
    with pytest.raises(CurrencyError):
        Money(1, "BTC")
    with pytest.raises(CurrencyError):
        Money(1, "USD") + Money(1, "EUR")
