"""Row builders for the payouts tests: paid orders, refunds and deliveries written directly (the
ledger only reads them), and artisans with a bank account."""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplace.catalog.models import ArtisanProfile, Product
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.orders import lifecycle
from marketplace.orders.models import (
    Fulfilment,
    FulfilmentStatus,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
)
from marketplace.payouts.models import LedgerEntry
from tests.factories import make_artisan, make_buyer, make_product

# Valid IBANs (check digits hold) and BICs, Kazakh and German.
KZ_IBAN, KZ_BIC = "KZ88722KZT2069100100", "CASPKZKA"  # bank code 722 is Kaspi Bank's
KZ_IIN, KZ_KBE = "900101300007", "19"  # an individual entrepreneur, resident
DE_IBAN, DE_BIC = "DE89370400440532013000", "COBADEFFXXX"


def artisan_with_account(name: str = "Aigerim Ceramics", *, iban: str = KZ_IBAN,
                         bic: str = KZ_BIC, **kw):
    artisan = make_artisan(name=name, **kw)
    make_product(artisan, stock=0)  # creates the workshop profile
    profile = db.session.get(ArtisanProfile, artisan.id)
    profile.workshop_name, profile.payout_iban, profile.payout_bic = name, iban, bic
    if iban.startswith("KZ"):
        profile.payout_holder_name = f"IE {name}"
        profile.payout_iin_bin, profile.payout_kbe = KZ_IIN, KZ_KBE
    db.session.commit()
    return artisan


def piece(artisan, price: int, currency: str = "KZT") -> Product:
    return make_product(artisan, price_amount=price, price_currency=currency, price_base=price)


def paid_order(*lines: tuple[Product, int, int], currency: str = "EUR", shipping: int = 1500,
               duties: int = 0, paid_at: datetime | None = None,
               status: OrderStatus = OrderStatus.PAID) -> Order:
    """A paid order with ``lines`` = (product, quantity, unit price in ``currency``)."""
    items = sum(quantity * unit for _, quantity, unit in lines)
    order = Order(id=new_id(), buyer_id=make_buyer().id, status=status, currency=currency,
                  listing_currency=lines[0][0].price_currency, fx_rate="0.0018",
                  items_amount=items, shipping_amount=shipping, duties_amount=duties,
                  total_amount=items + shipping + duties, shipping_address={"country": "DE"},
                  shipping_option={}, duties_mode="DDP", paid_at=paid_at or utcnow(),
                  payment_intent_id=f"pi_test_{new_id()}")
    db.session.add(order)
    for position, (product, quantity, unit) in enumerate(lines):
        db.session.add(OrderLine(
            order_id=order.id, position=position, product_id=product.id,
            artisan_id=product.artisan_id, title=product.title, quantity=quantity,
            unit_price_amount=product.price_amount, unit_price_currency=product.price_currency,
            unit_presentment_amount=unit, fx_rate="0.0018", serials=[]))
    db.session.flush()
    if status not in lifecycle.AWAITING_PAYMENT:
        lifecycle.open_fulfilments(order)  # as the paid move does
    db.session.commit()
    return order


def refund(order: Order, amount: int, *, lines: list[tuple[OrderLine, int]] = (),
           source: str = "operator") -> Refund:
    row = Refund(order_id=order.id, stripe_refund_id=f"re_test_{new_id()}",
                 payment_intent_id=order.payment_intent_id, amount=amount,
                 currency=order.currency, reason="test", source=source, status="succeeded",
                 lines=[{"line_id": line.id, "quantity": quantity} for line, quantity in lines])
    db.session.add(row)
    db.session.commit()
    return row


def deliver(order: Order, *, days_ago: float = 0, artisan_id: str | None = None) -> None:
    """The order's parcels (or one artisan's) delivered ``days_ago``."""
    order = db.session.get(Order, order.id)
    lifecycle.open_fulfilments(order)
    for fulfilment in db.session.execute(
            db.select(Fulfilment).where(Fulfilment.order_id == order.id)).scalars():
        if artisan_id is None or fulfilment.artisan_id == artisan_id:
            fulfilment.status = FulfilmentStatus.DELIVERED
            fulfilment.delivered_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()


def ledger(artisan_id: str, order_id: str | None = None) -> list[tuple[str, int]]:
    """(kind, amount) of the artisan's entries, oldest first."""
    db.session.expire_all()
    query = db.select(LedgerEntry).where(LedgerEntry.artisan_id == artisan_id)
    if order_id is not None:
        query = query.where(LedgerEntry.order_id == order_id)
    return [(e.kind, e.amount) for e in db.session.execute(
        query.order_by(LedgerEntry.created_at, LedgerEntry.id)).scalars()]


def balance(artisan_id: str) -> int:
    return sum(amount for _, amount in ledger(artisan_id))
