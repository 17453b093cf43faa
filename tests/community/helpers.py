"""A delivered order written as rows (the delivery path itself is tested in shipping)."""

from __future__ import annotations

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.orders.models import Fulfilment, Order, OrderLine


def order_of(buyer, products, *, status="delivered", fulfilment_status="delivered") -> Order:
    order = Order(id=new_id(), buyer_id=buyer.id, status=status, currency="EUR",
                  listing_currency="KZT", fx_rate="0.0018", items_amount=2700,
                  shipping_amount=1000, duties_amount=0, total_amount=3700,
                  shipping_address={"country": "DE"}, shipping_option={}, duties_mode="DAP",
                  paid_at=utcnow())
    db.session.add(order)
    db.session.flush()
    for position, product in enumerate(products):
        db.session.add(OrderLine(order_id=order.id, position=position, product_id=product.id,
                                 artisan_id=product.artisan_id, title=dict(product.title),
                                 quantity=1, unit_price_amount=product.price_amount,
                                 unit_price_currency=product.price_currency,
                                 unit_presentment_amount=2700, fx_rate="0.0018"))
    for artisan_id in {p.artisan_id for p in products}:
        db.session.add(Fulfilment(order_id=order.id, artisan_id=artisan_id,
                                  status=fulfilment_status, ship_by=utcnow()))
    db.session.commit()
    return order
