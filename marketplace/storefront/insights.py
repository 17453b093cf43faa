"""The charts of the workshop dashboard and of the console: each is one service's figures
(one query) put into words of the page's language (Babel months, country names, money with its
sign) and drawn by ``marketplace.charts``."""

from __future__ import annotations

from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _

from marketplace.charts import Chart, Month, Series
from marketplace.community import favourites
from marketplace.i18n import country_name, format_money, localized
from marketplace.ids import utcnow
from marketplace.money import Money
from marketplace.orders import stats
from marketplace.payouts import service as payouts
from marketplace.provenance import records


def _month_names(axis: list[Month]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each month in full ("декабрь 2026", for the table) and short ("дек. 26", under a bar)."""
    firsts = [date(year, month, 1) for year, month in axis]
    return (tuple(format_date(d, "LLLL y") for d in firsts),
            tuple(format_date(d, "LLL yy") for d in firsts))


def _money_series(name: str, currency: str, amounts: list[int]) -> Series:
    return Series(name, tuple(amounts),
                  tuple(format_money(Money(amount, currency)) for amount in amounts))


def _count_series(name: str, counts: list[int]) -> Series:
    return Series(name, tuple(counts), tuple(str(count) for count in counts))


def _monthly(prefix: str, title: str, note: str, axis: list[Month],
             by_currency: dict[str, list[int]]) -> list[Chart]:
    """One chart per currency (amounts of different currencies are never added up)."""
    full, short = _month_names(axis)
    several = len(by_currency) > 1
    if not by_currency:  # nothing yet: the page says so where the chart would be
        return [Chart(id=prefix, title=title, note=note, label_heading=_("Month"), labels=full,
                      short_labels=short, series=(_count_series(_("Amount"), [0] * len(axis)),))]
    return [Chart(id=f"{prefix}-{currency.lower()}",
                  title=f"{title} ({currency})" if several else title, note=note,
                  label_heading=_("Month"), labels=full, short_labels=short,
                  series=(_money_series(_("Amount"), currency, amounts),))
            for currency, amounts in by_currency.items()]


def workshop_charts(artisan_id: str, *, today: date | None = None) -> list[Chart]:
    today = today or utcnow().date()
    axis, monthly = stats.workshop_sales_by_month(artisan_id, today=today)
    charts = _monthly("sales-month", _("Sales by month"),
                      _("Your prices of the pieces sold, net of refunded pieces, by the month "
                        "the order was paid."), axis, monthly)
    by_country = stats.workshop_sales_by_country(artisan_id)
    for currency, rows in by_country.items() or [("", [])]:
        charts.append(Chart(
            id=f"sales-country-{currency.lower()}".rstrip("-"),
            title=_("Sales by destination") + (f" ({currency})" if len(by_country) > 1 else ""),
            note=_("Where the pieces sold were sent."), label_heading=_("Country"),
            labels=tuple(country_name(code) for code, _amount in rows), horizontal=True,
            series=(_money_series(_("Amount"), currency, [amount for _c, amount in rows]),)))
    interest = favourites.piece_interest(artisan_id, today=today)
    charts.append(Chart(
        id="piece-interest", title=_("Views and saves of each piece"),
        note=_("Page views over the last 30 days; buyers who saved the piece now."),
        label_heading=_("Piece"), horizontal=True,
        labels=tuple(localized(title) or pid[-8:] for pid, title, _v, _s in interest),
        series=(_count_series(_("Views"), [views for _p, _t, views, _s in interest]),
                _count_series(_("Saves"), [saves for _p, _t, _v, saves in interest]))))
    return charts


def _age_labels() -> tuple[str, ...]:
    days = records.QUEUE_AGE_BUCKETS
    labels = [_("Under a day")]
    for low, high in zip(days, days[1:], strict=False):
        labels.append(_("%(low)s to %(high)s days", low=low, high=high))
    labels.append(_("%(days)s days or more", days=days[-1]))
    return tuple(labels)


def console_charts(*, today: date | None = None) -> list[Chart]:
    today = today or utcnow().date()
    destinations = stats.orders_by_destination()
    charts = [Chart(
        id="orders-destination", title=_("Orders by destination"),
        note=_("Paid orders that are still sales (not cancelled, refunded or returned)."),
        label_heading=_("Country"), horizontal=True,
        labels=tuple(country_name(code) for code, _n in destinations),
        series=(_count_series(_("Orders"), [n for _c, n in destinations]),))]
    ages = records.queue_ages()
    charts.append(Chart(
        id="queue-age", title=_("Provenance queue by age"),
        note=_("Records waiting for verification, by how long they have waited."),
        label_heading=_("Waiting"), labels=_age_labels(), horizontal=True,
        series=(_count_series(_("Records"), ages),)))
    axis, paid = payouts.paid_out_by_month(today=today)
    charts.extend(_monthly("payouts-month", _("Payouts by month"),
                           _("Payouts the bank executed, by the month they were marked paid."),
                           axis, paid))
    return charts
