"""Exchange rates: one table of rates per US dollar, operator overrides, conversion.

A cross rate is ``per_usd[to] / per_usd[from]`` in ``Decimal``; ``Money.convert`` rounds it
half-up exactly once. An operator's override of a currency wins over the source's rate. Every
change of an effective rate emits ``fx.rates_changed``; the catalogue reprices in that same
transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import conflict_insert, db
from marketplace.fx.errors import FxError
from marketplace.fx.models import FxRate, FxRateHistory
from marketplace.fx.sources import FileRateSource, HttpJsonRateSource, RateSnapshot, RateSource
from marketplace.ids import utcnow
from marketplace.money import EXPONENTS, Money
from marketplace.outbox import emit
from marketplace.transaction import use_case

# {currencies: [code, ...]}: their effective rates changed (committed with the change).
RATES_CHANGED = "fx.rates_changed"
BASE_CURRENCY = "KZT"  # Product.price_base is kept in this currency
QUOTE_CURRENCY = "USD"  # rates are stored as units per one US dollar
MAX_RATE = Decimal(10) ** 9
_STORE = Context(prec=20)


def _stored(value: Decimal) -> str:
    return format(_STORE.plus(value).normalize(_STORE), "f")


def format_rate(value: Decimal, digits: int = 10) -> str:
    """A rate for people and clients: ``digits`` significant digits, no exponent notation."""
    context = Context(prec=digits)
    return format(context.plus(value).normalize(context), "f")


@dataclass(frozen=True)
class CurrencyRate:
    currency: str
    rate: Decimal  # the source's rate per USD
    override: Decimal | None
    source: str
    as_of: datetime

    @property
    def effective(self) -> Decimal:
        return self.override if self.override is not None else self.rate


@dataclass(frozen=True)
class RateTable:
    """A snapshot of every rate, read with one query: convert many amounts without more."""

    rates: dict[str, CurrencyRate]

    def per_usd(self, currency: str) -> Decimal:
        try:
            return self.rates[currency].effective
        except KeyError:
            raise ValidationFailed(f"No exchange rate for {currency}.",
                                   errors={"currency": [f"no exchange rate for {currency}"]},
                                   code=FxError.RATE_MISSING) from None

    def rate(self, from_currency: str, to_currency: str) -> Decimal:
        """Units of ``to_currency`` per one unit of ``from_currency``."""
        if from_currency == to_currency:
            return Decimal(1)
        return self.per_usd(to_currency) / self.per_usd(from_currency)

    def convert(self, money: Money, to_currency: str) -> tuple[Money, Decimal]:
        rate = self.rate(money.currency, to_currency)
        return money.convert(to_currency, rate), rate

    def price(self, money: Money, to_currency: str) -> tuple[Money, Decimal]:
        """A listing price as buyers see and pay it in ``to_currency`` (``Money.price_in``)."""
        rate = self.rate(money.currency, to_currency)
        return money.price_in(to_currency, rate), rate


def default_source() -> RateSource:
    url = current_app.config.get("FX_SOURCE_URL") if has_app_context() else None
    return HttpJsonRateSource(url) if url else FileRateSource()


def _row_rate(row: FxRate) -> CurrencyRate:
    return CurrencyRate(
        currency=row.currency, rate=Decimal(row.rate),
        override=Decimal(row.override) if row.override else None,
        source=row.source, as_of=row.as_of,
    )


def _snapshot_rows(snapshot: RateSnapshot) -> list[dict]:
    now = utcnow()
    return [
        {"currency": code, "rate": _stored(value), "source": snapshot.source,
         "as_of": snapshot.as_of, "override": None, "override_by": None, "updated_at": now}
        for code, value in sorted(snapshot.per_usd.items())
    ]


def _insert_missing(rows: list[dict]) -> None:
    """Insert rate rows unless present (a concurrent first load must not fail)."""
    insert = conflict_insert(db.session.get_bind().dialect.name)
    if insert is None:
        db.session.execute(FxRate.__table__.insert(), rows)
        return
    db.session.execute(insert(FxRate).values(rows).on_conflict_do_nothing(
        index_elements=["currency"]))


def _history_rows(snapshot: RateSnapshot) -> list[dict]:
    now = utcnow()
    return [{"day": snapshot.as_of.date(), "currency": code, "rate": _stored(value),
             "source": snapshot.source, "recorded_at": now}
            for code, value in sorted(snapshot.per_usd.items())]


def _upsert_history(rows: list[dict], *, replace: bool) -> None:
    """Record a day's rates; ``replace``: a later fetch of the same day wins (the source
    corrected it), else rows present stay (a concurrent first load must not fail)."""
    insert = conflict_insert(db.session.get_bind().dialect.name)
    if insert is None:
        for row in rows:
            db.session.merge(FxRateHistory(**row))
        return
    statement = insert(FxRateHistory).values(rows)
    if replace:
        statement = statement.on_conflict_do_update(
            index_elements=["day", "currency"],
            set_={"rate": statement.excluded.rate, "source": statement.excluded.source,
                  "recorded_at": statement.excluded.recorded_at})
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["day", "currency"])
    db.session.execute(statement)


def current_rates() -> RateTable:
    """Every rate in one query. An empty table (fresh install, tests) is first filled from the
    offline rates file, inside the caller's transaction (committed with the caller's work)."""
    rows = db.session.execute(select(FxRate)).scalars().all()
    if not rows:
        snapshot = FileRateSource().fetch()
        _insert_missing(_snapshot_rows(snapshot))
        _upsert_history(_history_rows(snapshot), replace=False)
        rows = db.session.execute(select(FxRate)).scalars().all()
    return RateTable({row.currency: _row_rate(row) for row in rows})


# Catalogue reads (every list request) take the rates from this process's cache: dropped at
# once when this process commits a change to fx_rate, refreshed after RATES_CACHE_SECONDS
# otherwise (a change committed by another process shows within that time). Money that is
# charged (checkout) reads current_rates() itself.
RATES_CACHE_SECONDS = 30.0
_CHANGED = "fx_rates_changed"
_rates_cache: dict[str, tuple[float, RateTable]] = {}


def invalidate_rates_cache() -> None:
    _rates_cache.clear()


def cached_rates() -> RateTable:
    key = db.engine.url.render_as_string(hide_password=True)
    hit = _rates_cache.get(key)
    now = time.monotonic()
    changing = db.session.info.get(_CHANGED)
    if hit is not None and not changing and now - hit[0] < RATES_CACHE_SECONDS:
        return hit[1]
    table = current_rates()
    if not db.session.info.get(_CHANGED):
        _rates_cache[key] = (now, table)
    return table


@event.listens_for(Session, "after_flush")
def _note_rate_changes(session, flush_context) -> None:
    if any(isinstance(obj, FxRate) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_rate_statements(state) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and any(
            mapper.class_ is FxRate for mapper in state.all_mappers):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _drop_cached_rates(session) -> None:
    if session.info.pop(_CHANGED, None):
        invalidate_rates_cache()


def rate(from_currency: str, to_currency: str) -> Decimal:
    return current_rates().rate(from_currency, to_currency)


def convert(money: Money, to_currency: str) -> tuple[Money, Decimal]:
    """``money`` in ``to_currency`` (rounded half-up once) and the rate used."""
    if money.currency == to_currency:
        return money, Decimal(1)
    return current_rates().convert(money, to_currency)


def refresh_rates(source: RateSource | None = None) -> int:
    """Load rates from ``source`` (default: FX_SOURCE_URL, else the rates file), keep operator
    overrides; every product's ``price_base`` follows in the same transaction (the catalogue
    reacts to ``fx.rates_changed``). Returns how many rates were stored."""
    snapshot = (source or default_source()).fetch()  # before the transaction: it may be HTTP
    return _store_snapshot(snapshot)


@use_case
def _store_snapshot(snapshot: RateSnapshot) -> int:
    existing = {row.currency: row for row in db.session.execute(select(FxRate)).scalars()}
    for values in _snapshot_rows(snapshot):
        row = existing.get(values["currency"])
        if row is None:
            db.session.add(FxRate(**values))
        else:
            row.rate, row.source, row.as_of = values["rate"], values["source"], values["as_of"]
    _upsert_history(_history_rows(snapshot), replace=True)
    db.session.flush()
    emit(RATES_CHANGED, {"currencies": sorted(snapshot.per_usd)})
    return len(snapshot.per_usd)


@dataclass(frozen=True)
class DatedRate:
    """Units of ``to_currency`` per one ``from_currency`` as the source published them for
    ``day`` (which may be after or before the day asked for, as the rule allows)."""

    from_currency: str
    to_currency: str
    rate: Decimal
    day: date
    asked_for: date
    source: str

    def convert(self, money: Money) -> Money:
        return money.convert(self.to_currency, self.rate)

    def describe(self) -> str:
        shifted = "" if self.day == self.asked_for else f" for {self.asked_for.isoformat()}"
        return (f"{self.from_currency}->{self.to_currency} {format_rate(self.rate)} "
                f"({self.day.isoformat()}{shifted}; {self.source})")


def rate_published(from_currency: str, to_currency: str, day: date, *,
                   if_unpublished: str = "next", max_days_before: int = 7,
                   today: date | None = None) -> DatedRate:
    """The recorded rate of ``day``; on a day without one, the next day of publication
    (``if_unpublished="next"``: the EU's rule for OSS/IOSS returns) or the latest before it
    within ``max_days_before`` days (``"previous"``: the rate current at that time). A day
    after ``today`` has no rate yet. Conflict (``fx.rate_not_published``) when none is
    recorded."""
    today = today or utcnow().date()
    codes = {from_currency, to_currency, QUOTE_CURRENCY}
    query = select(FxRateHistory).where(FxRateHistory.currency.in_(codes))
    if if_unpublished == "next":
        query = query.where(FxRateHistory.day >= day, FxRateHistory.day <= today).order_by(
            FxRateHistory.day)
    else:
        query = query.where(FxRateHistory.day <= min(day, today),
                            FxRateHistory.day >= day - timedelta(days=max_days_before)
                            ).order_by(FxRateHistory.day.desc())
    per_day: dict[date, dict[str, FxRateHistory]] = {}
    found = None
    if day <= today:
        for row in db.session.execute(query).scalars():
            per_day.setdefault(row.day, {})[row.currency] = row
            rows = per_day[row.day]
            rates = {code: Decimal(rows[code].rate) if code in rows else (
                Decimal(1) if code == QUOTE_CURRENCY else None) for code in codes}
            if None not in rates.values():
                found = (row.day, rates, rows)
                break
    if found is None:
        rule = ("on or after" if if_unpublished == "next"
                else f"on or up to {max_days_before} days before")
        raise Conflict(
            f"No {from_currency}->{to_currency} exchange rate is recorded {rule} "
            f"{day.isoformat()} yet (rates are recorded by each `fx refresh`).",
            code=FxError.RATE_NOT_PUBLISHED,
            errors={"period": [f"no {from_currency}->{to_currency} rate {rule} "
                               f"{day.isoformat()}"]})
    found_day, rates, rows = found
    rate = rates[to_currency] / rates[from_currency]
    sources = sorted({rows[code].source for code in (from_currency, to_currency) if code in rows})
    return DatedRate(from_currency, to_currency, rate, found_day, day,
                     "; ".join(sources) or "USD")


def parse_rate(raw) -> Decimal:
    """A positive decimal given as a string or an integer (a float would already be rounded)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValidationFailed("The rate must be a decimal string such as \"515.25\".",
                               errors={"rate": ["must be a decimal string"]},
                               code=FxError.RATE_INVALID)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0 or value > MAX_RATE:
        raise ValidationFailed("The rate must be a positive decimal number.",
                               errors={"rate": ["must be a positive decimal number"]},
                               code=FxError.RATE_INVALID)
    return value


def _overridable(currency: str) -> str:
    currency = (currency or "").upper()
    if currency not in EXPONENTS:
        raise ValidationFailed(f"Unsupported currency {currency!r}.",
                               errors={"currency": ["unsupported currency"]},
                               code=FxError.CURRENCY_UNSUPPORTED)
    if currency == QUOTE_CURRENCY:
        raise ValidationFailed("Rates are quoted per US dollar; USD itself is always 1.",
                               errors={"currency": ["USD is the quote currency"]},
                               code=FxError.QUOTE_CURRENCY)
    return currency


@use_case
def set_override(currency: str, rate_per_usd: Decimal | str | int,
                 operator_id: str | None = None) -> CurrencyRate:
    """Pin ``currency`` at ``rate_per_usd`` units per US dollar until cleared."""
    currency = _overridable(currency)
    value = rate_per_usd if isinstance(rate_per_usd, Decimal) else parse_rate(rate_per_usd)
    if not value.is_finite() or value <= 0 or value > MAX_RATE:
        raise ValidationFailed("The rate must be a positive decimal number.",
                               errors={"rate": ["must be a positive decimal number"]},
                               code=FxError.RATE_INVALID)
    current_rates()
    row = db.session.get(FxRate, currency)
    if row is None:
        raise NotFound(f"No rate for {currency} in the source; refresh the rates first.",
                       code=FxError.NOT_IN_SOURCE)
    row.override, row.override_by = _stored(value), operator_id
    db.session.flush()
    emit(RATES_CHANGED, {"currencies": [currency]})
    return _row_rate(row)


@use_case
def clear_override(currency: str) -> CurrencyRate | None:
    """Go back to the source's rate; a no-op when there is no override."""
    currency = _overridable(currency)
    current_rates()
    row = db.session.get(FxRate, currency)
    if row is None:
        return None
    if row.override is not None:
        row.override, row.override_by = None, None
        db.session.flush()
        emit(RATES_CHANGED, {"currencies": [currency]})
    return _row_rate(row)
