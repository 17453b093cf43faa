"""Stock holds. ``product.reserved`` is the sum of a product's active reservations.

Every change is a conditional UPDATE on the product row, taken in product-id order so that two
checkouts never wait on each other in opposite orders. Nothing here commits: callers own the
transaction, so a failed hold leaves nothing behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select, update

from marketplace.catalog.models import Product, ProductStatus
from marketplace.errors import OutOfStock
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.inventory.models import Reservation, ReservationStatus
from marketplace.metrics import RESERVATIONS, count_after_commit


def _merged(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for product_id, qty in items:
        totals[product_id] += qty
    return sorted(totals.items())


def _out_of_stock(product_id: str) -> OutOfStock:
    available = db.session.execute(
        select(Product.stock - Product.reserved).where(Product.id == product_id)
    ).scalar_one_or_none()
    return OutOfStock("Not enough stock for one of the pieces in your cart.",
                      product_id=product_id, available=max(available or 0, 0))


def hold(order_id: str, items: Iterable[tuple[str, int]], expires_at: datetime) -> None:
    """Reserve every item or raise OutOfStock (the caller rolls back the ones already held)."""
    for product_id, qty in _merged(items):
        held = db.session.execute(
            update(Product)
            .where(Product.id == product_id, Product.status == ProductStatus.ACTIVE,
                   Product.stock - Product.reserved >= qty)
            .values(reserved=Product.reserved + qty)
            .execution_options(synchronize_session=False)).rowcount
        if held != 1:
            raise _out_of_stock(product_id)
        db.session.add(Reservation(order_id=order_id, product_id=product_id, qty=qty,
                                   expires_at=expires_at))
        count_after_commit(RESERVATIONS, outcome="held")
    db.session.flush()


_ACTIVE_HOLDS = (select(Reservation.id, Reservation.product_id, Reservation.qty)
                 .where(Reservation.order_id == bindparam("order_id"),
                        Reservation.status == ReservationStatus.ACTIVE)
                 .order_by(Reservation.product_id))  # built once: every payment


def _close(order_id: str, status: ReservationStatus) -> list[tuple[str, int]]:
    """Close the order's active reservations; returns what was closed by this transaction."""
    rows = db.session.execute(_ACTIVE_HOLDS, {"order_id": order_id}).all()
    closed = []
    for reservation_id, product_id, qty in rows:
        changed = db.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id,
                   Reservation.status == ReservationStatus.ACTIVE)
            .values(status=status, closed_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if changed == 1:
            closed.append((product_id, qty))
    return closed


def convert(order_id: str) -> int:
    """Payment succeeded: the held pieces are sold (stock and reserved both go down)."""
    closed = _close(order_id, ReservationStatus.CONVERTED)
    if closed:
        count_after_commit(RESERVATIONS, len(closed), outcome="converted")
    for product_id, qty in _merged(closed):
        db.session.execute(
            update(Product).where(Product.id == product_id)
            .values(stock=Product.stock - qty, reserved=Product.reserved - qty)
            .execution_options(synchronize_session=False))
    return len(closed)


def release(order_id: str) -> int:
    """Expired, failed or cancelled before payment: the held pieces are free again."""
    closed = _close(order_id, ReservationStatus.RELEASED)
    if closed:
        count_after_commit(RESERVATIONS, len(closed), outcome="released")
    for product_id, qty in _merged(closed):
        db.session.execute(
            update(Product).where(Product.id == product_id)
            .values(reserved=Product.reserved - qty)
            .execution_options(synchronize_session=False))
    return len(closed)


def sell_without_hold(order_id: str, items: Iterable[tuple[str, int]]) -> bool:
    """A payment arrived after the hold lapsed: sell the pieces if they are all still free.

    All or nothing: on False every piece taken here has been put back.
    """
    now = utcnow()
    sold: list[tuple[str, int]] = []
    for product_id, qty in _merged(items):
        taken = db.session.execute(
            update(Product)
            .where(Product.id == product_id, Product.status == ProductStatus.ACTIVE,
                   Product.stock - Product.reserved >= qty)
            .values(stock=Product.stock - qty)
            .execution_options(synchronize_session=False)).rowcount
        if taken != 1:
            _put_back(sold)
            return False
        sold.append((product_id, qty))
    for product_id, qty in sold:
        db.session.add(Reservation(order_id=order_id, product_id=product_id, qty=qty,
                                   expires_at=now, status=ReservationStatus.CONVERTED,
                                   closed_at=now))
        count_after_commit(RESERVATIONS, outcome="sold_without_hold")
    db.session.flush()
    return True


def _put_back(items: Iterable[tuple[str, int]]) -> None:
    for product_id, qty in _merged(items):
        db.session.execute(
            update(Product).where(Product.id == product_id)
            .values(stock=Product.stock + qty).execution_options(synchronize_session=False))


def restock(items: Iterable[tuple[str, int]]) -> None:
    """A paid order was cancelled before shipment: its pieces go back on sale."""
    _put_back(items)
