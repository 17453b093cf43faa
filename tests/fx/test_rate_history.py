"""Rates by the day their source published them: every refresh records its day (a later fetch
of the same day replaces it, an operator override is never recorded), and a look-up takes the
day asked for, else the next day of publication or the latest before, as the rule says."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.fx.models import FxRateHistory
from marketplace.fx.sources import RateSnapshot


class Fixed:
    def __init__(self, day: date, eur: str, source: str = "European Central Bank"):
        self.snapshot = RateSnapshot({"USD": Decimal(1), "EUR": Decimal(eur),
                                      "GBP": Decimal("0.8"), "KZT": Decimal(500)},
                                     source, datetime(day.year, day.month, day.day, 15))

    def fetch(self) -> RateSnapshot:
        return self.snapshot


def history(currency: str) -> list[tuple[date, str]]:
    return [(row.day, row.rate) for row in db.session.execute(
        select(FxRateHistory).where(FxRateHistory.currency == currency)
        .order_by(FxRateHistory.day)).scalars()]


def test_each_refresh_records_the_rates_of_its_day_and_keeps_current_rates_behaviour():
    fx.refresh_rates(Fixed(date(2026, 11, 27), "0.90"))
    fx.refresh_rates(Fixed(date(2026, 11, 30), "0.91"))
    fx.refresh_rates(Fixed(date(2026, 11, 30), "0.92"))  # the source corrected the day
    assert history("EUR") == [(date(2026, 11, 27), "0.9"), (date(2026, 11, 30), "0.92")]
    assert fx.cached_rates().per_usd("EUR") == Decimal("0.92")  # the latest, as before
    fx.set_override("EUR", "1.5")
    assert fx.current_rates().per_usd("EUR") == Decimal("1.5")
    assert history("EUR")[-1] == (date(2026, 11, 30), "0.92")  # overrides are not history


def test_the_first_load_from_the_rates_file_records_the_files_day():
    fx.current_rates()
    db.session.commit()
    assert [day for day, _ in history("EUR")] == [date(2026, 11, 26)]


def test_a_day_without_a_rate_takes_the_next_day_of_publication():
    fx.refresh_rates(Fixed(date(2026, 10, 30), "0.91"))  # Friday
    fx.refresh_rates(Fixed(date(2026, 11, 2), "0.93"))  # Monday
    friday = fx.rate_published("USD", "EUR", date(2026, 10, 30), today=date(2026, 12, 1))
    assert (friday.day, friday.rate) == (date(2026, 10, 30), Decimal("0.91"))
    saturday = fx.rate_published("USD", "EUR", date(2026, 10, 31), today=date(2026, 12, 1))
    assert (saturday.day, saturday.rate) == (date(2026, 11, 2), Decimal("0.93"))
    assert "for 2026-10-31" in saturday.describe() and "European Central Bank" in \
        saturday.describe()
    latest = fx.rate_published("USD", "EUR", date(2026, 10, 31), if_unpublished="previous",
                               today=date(2026, 12, 1))
    assert latest.day == date(2026, 10, 30)
    # a cross rate: units of EUR per GBP on the day
    cross = fx.rate_published("GBP", "EUR", date(2026, 11, 2), today=date(2026, 12, 1))
    assert cross.rate == Decimal("0.93") / Decimal("0.8")


def test_no_rate_on_or_after_the_day_or_a_day_to_come_is_a_conflict():
    fx.refresh_rates(Fixed(date(2026, 11, 2), "0.93"))
    with pytest.raises(Conflict) as raised:
        fx.rate_published("USD", "EUR", date(2026, 11, 30), today=date(2026, 12, 1))
    assert raised.value.code == "fx.rate_not_published"
    with pytest.raises(Conflict):  # the day has not come: nothing is published for it yet
        fx.rate_published("USD", "EUR", date(2026, 12, 31), if_unpublished="previous",
                          today=date(2026, 12, 1))
    with pytest.raises(Conflict):  # the latest before is too old
        fx.rate_published("USD", "EUR", date(2026, 11, 20), if_unpublished="previous",
                          max_days_before=7, today=date(2026, 12, 1))
