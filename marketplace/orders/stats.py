"""Figures of sales for the charts: a workshop's sales by month and by destination, and the
console's orders by destination. One aggregating query each.

What counts as sold: an order that was paid and is still a sale (``SOLD``: paid, being
fulfilled, shipped, delivered, completed, or disputed while the dispute is open). A cancelled,
wholly refunded or returned order sold nothing and is left out. A refund of some of an order's
pieces is netted: a line counts ``quantity - refunded_quantity`` pieces, in the month the order
was paid (the chart answers "what did that month's orders bring", so a later refund lowers the
month it undoes). A refund of an amount not tied to pieces (a goodwill refund of shipping) is not
a piece's and does not change these figures. A workshop's amounts are its own prices, in the
currency each piece was listed in (minor units; one series per currency, never added across
currencies). Months are calendar months in UTC.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import extract, func, select

from marketplace.charts import Month, last_months, month_range, monthly_series
from marketplace.extensions import db
from marketplace.orders.models import Order, OrderLine, OrderStatus

SOLD = (OrderStatus.PAID, OrderStatus.FULFILLING, OrderStatus.SHIPPED, OrderStatus.DELIVERED,
        OrderStatus.COMPLETED, OrderStatus.DISPUTED)

def _country():
    return Order.shipping_address["country"].as_string()


def _net_amount():
    return OrderLine.unit_price_amount * (OrderLine.quantity - OrderLine.refunded_quantity)


def _sold_lines(artisan_id: str):
    return (OrderLine.artisan_id == artisan_id, Order.paid_at.is_not(None),
            Order.status.in_([str(s) for s in SOLD]))


def workshop_sales_by_month(artisan_id: str, *, today: date, months: int = 12
                            ) -> tuple[list[Month], dict[str, list[int]]]:
    """The months, and per listing currency the net sales of each month (minor units)."""
    axis = last_months(today, months)
    start, end = month_range(axis)
    year, month = extract("year", Order.paid_at), extract("month", Order.paid_at)
    rows = db.session.execute(
        select(year, month, OrderLine.unit_price_currency, func.sum(_net_amount()))
        .join(Order, Order.id == OrderLine.order_id)
        .where(*_sold_lines(artisan_id), Order.paid_at >= start, Order.paid_at < end)
        .group_by(year, month, OrderLine.unit_price_currency)).all()
    return axis, monthly_series(axis, rows)


def workshop_sales_by_country(artisan_id: str) -> dict[str, list[tuple[str, int]]]:
    """Per listing currency, the net sales to each destination country, largest first."""
    country = _country()
    rows = db.session.execute(
        select(country, OrderLine.unit_price_currency, func.sum(_net_amount()))
        .join(Order, Order.id == OrderLine.order_id)
        .where(*_sold_lines(artisan_id))
        .group_by(country, OrderLine.unit_price_currency)).all()
    by_currency: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for code, currency, amount in rows:
        if amount:
            by_currency[currency].append((code or "", int(amount)))
    return {currency: sorted(found, key=lambda row: (-row[1], row[0]))
            for currency, found in sorted(by_currency.items())}


def orders_by_destination(*, limit: int = 15) -> list[tuple[str, int]]:
    """The marketplace's sold orders per destination country, most first (the rest of the
    countries beyond ``limit`` are left to the orders list)."""
    country = _country()
    count = func.count(Order.id)
    rows = db.session.execute(
        select(country, count)
        .where(Order.paid_at.is_not(None), Order.status.in_([str(s) for s in SOLD]))
        .group_by(country).order_by(count.desc(), country).limit(limit)).all()
    return [(code or "", int(n)) for code, n in rows]
