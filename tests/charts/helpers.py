"""Seeded sales for the chart tests: paid orders in two listing currencies either side of a
month boundary, a partial refund by pieces, a wholly refunded order and a cancelled one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.orders.models import OrderLine, OrderStatus
from marketplace.payouts.models import Payout, PayoutBatch, PayoutStatus
from tests.factories import make_artisan, make_product
from tests.payouts.helpers import paid_order, piece

TODAY = date(2026, 11, 20)


@dataclass
class Seeded:
    artisan: object
    other: object
    bowl: object  # KZT
    scarf: object  # USD


def _to(order, country: str) -> None:
    order.shipping_address = {"country": country}


def month_start(today: date, back: int = 0) -> datetime:
    """The first moment of the month ``back`` months before ``today``'s."""
    year, month = today.year, today.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1)


def seed_sales(today: date = TODAY) -> Seeded:
    """With TODAY: sales on Oct 31 23:59:59 and Nov 1 00:00:00 2026 (the month boundary before
    ``today``), Sep 15, and Oct 31 2025 (outside the twelve months)."""
    boundary = month_start(today)
    artisan = make_artisan(name="Aigerim Bekova")
    other = make_artisan(name="Other Workshop")
    bowl = piece(artisan, 1_500_000)  # 15,000.00 KZT
    scarf = piece(artisan, 4_000, "USD")  # 40.00 USD
    stranger = piece(other, 999_900)
    # October, last second: counts in October
    oct_last = paid_order((bowl, 2, 600), paid_at=boundary - timedelta(seconds=1))
    _to(oct_last, "DE")
    # November, first second: counts in November; one of three bowls refunded by pieces
    nov_first = paid_order((bowl, 3, 600), (scarf, 1, 4000), currency="USD",
                           paid_at=boundary,
                           status=OrderStatus.DELIVERED)
    _to(nov_first, "US")
    line = next(li for li in nov_first.lines if li.product_id == bowl.id)
    db.session.get(OrderLine, line.id).refunded_quantity = 1
    # wholly refunded and cancelled orders sold nothing
    _to(paid_order((bowl, 5, 600), paid_at=boundary + timedelta(days=4),
                   status=OrderStatus.REFUNDED), "FR")
    _to(paid_order((bowl, 7, 600), paid_at=boundary + timedelta(days=5),
                   status=OrderStatus.CANCELLED), "FR")
    # another workshop's sale, to Germany, in the marketplace's figures only
    _to(paid_order((stranger, 1, 500), paid_at=boundary - timedelta(days=47),
                   status=OrderStatus.COMPLETED), "DE")
    # thirteen months ago: outside the twelve-month chart
    _to(paid_order((bowl, 1, 600), paid_at=boundary - timedelta(days=366, hours=12)), "JP")
    db.session.commit()
    make_product(artisan)  # a piece never sold
    return Seeded(artisan, other, bowl, scarf)


def seed_payouts(artisan, today: date = TODAY) -> None:
    """With TODAY: KZT payouts paid Sep 30 23:59, Oct 1 00:00 and Oct 20, EUR on Oct 2, one
    KZT payout not paid yet."""
    previous = month_start(today, 1)
    batch = PayoutBatch(rail="bank_transfer", execution_date=date(2026, 10, 1))
    db.session.add(batch)
    db.session.flush()
    for amount, currency, paid_at, status in [
            (1_000_000, "KZT", previous - timedelta(minutes=1), PayoutStatus.PAID),
            (2_500_000, "KZT", previous, PayoutStatus.PAID),
            (500_000, "KZT", previous + timedelta(days=19), PayoutStatus.PAID),
            (3_000, "EUR", previous + timedelta(days=1), PayoutStatus.PAID),
            (9_999_999, "KZT", None, PayoutStatus.PENDING)]:
        db.session.add(Payout(id=new_id(), artisan_id=artisan.id, batch_id=batch.id,
                              rail="bank_transfer", status=status, amount=amount,
                              currency=currency, beneficiary_name="IE Aigerim",
                              beneficiary_country="KZ", iban="KZ88722KZT2069100100",
                              bic="CASPKZKA", paid_at=paid_at))
    db.session.commit()
