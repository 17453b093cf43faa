"""Orders paid through the real paid move (``lifecycle.mark_paid``, which issues the invoice in
its transaction), built from rows so the numbering tests need no Stripe."""

from __future__ import annotations

from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.orders import lifecycle
from marketplace.orders.models import Order, OrderLine, OrderStatus, TaxDocument
from marketplace.transaction import use_case
from tests.factories import make_buyer, make_product

BERLIN = {"name": "Anna Schmidt", "line1": "Invalidenstr. 1", "city": "Berlin",
          "postal_code": "10115", "country": "DE"}


def pending_order(product=None, *, quantity: int = 1, unit: int = 2000, currency: str = "EUR",
                  shipping: int = 1500, duties: int = 0, address: dict | None = None,
                  option: dict | None = None, buyer=None, locale: str | None = None) -> str:
    product = product or make_product(stock=5)
    buyer = buyer or make_buyer()
    items = unit * quantity
    order = Order(id=new_id(), buyer_id=buyer.id, status=OrderStatus.PENDING_PAYMENT,
                  currency=currency, listing_currency=product.price_currency,
                  fx_rate="0.00167961165048543689", items_amount=items,
                  shipping_amount=shipping, duties_amount=duties,
                  total_amount=items + shipping + duties,
                  shipping_address={"line2": None, "region": None, "phone": "+49301234567",
                                    **(address or BERLIN)},
                  shipping_option=option or {}, duties_mode="DDP", locale=locale)
    db.session.add(order)
    db.session.add(OrderLine(order_id=order.id, position=0, product_id=product.id,
                             artisan_id=product.artisan_id, title=product.title,
                             quantity=quantity, unit_price_amount=product.price_amount,
                             unit_price_currency=product.price_currency,
                             unit_presentment_amount=unit, fx_rate=order.fx_rate, serials=[]))
    db.session.commit()
    return order.id


@use_case
def mark_paid(order_id: str, *, fail_after: bool = False) -> None:
    order = lifecycle.lock_order(order_id)
    lifecycle.mark_paid(order, payment_intent_id=f"pi_{order_id}")
    if fail_after:
        raise RuntimeError("the payment's transaction fails after the invoice was numbered")


def invoice_of(order_id: str) -> TaxDocument | None:
    db.session.expire_all()
    return db.session.execute(db.select(TaxDocument).where(
        TaxDocument.order_id == order_id, TaxDocument.kind == "invoice")).scalar_one_or_none()
