"""What happens after an order is paid, step by step; the one place where these rules live.

``checkout.payments`` emits ``order.paid`` in the paid transition's transaction (with the
fulfilments and piece serials). Worker tasks (``workers/orders.py``) run each step below once per
event under ``outbox.run_once``: the step's writes, its queued mails and the processed-event
marker commit together, so a crash or a redelivery neither loses nor repeats a step.

- ``start_fulfilment``: a mail to each artisan with what to make or pack and by when (their
  fulfilments were opened with the paid move), and the order moves ``paid → fulfilling``.
- ``send_receipt``: the buyer's receipt mail with a PDF rendered from ``templates/pdf/``.
- the payouts ledger (``marketplace.payouts.service.record_order``) has a task of its own.

The steps do not commit: ``run_once`` commits them with their marker.
"""

from __future__ import annotations

from flask import current_app, render_template

from marketplace import mail
from marketplace.accounts.models import User
from marketplace.catalog.models import ArtisanProfile
from marketplace.extensions import db
from marketplace.ids import isoformat
from marketplace.money import Money
from marketplace.orders import lifecycle, receipt
from marketplace.orders.models import Fulfilment, Order, OrderLine, OrderStatus

STARTABLE = frozenset({OrderStatus.PAID, OrderStatus.FULFILLING})
title_in = receipt.title_in


def _artisan_lines(order: Order, artisan_id: str) -> list[OrderLine]:
    return [line for line in order.lines if line.artisan_id == artisan_id]


def start_fulfilment(order_id: str) -> str:
    """Tell each artisan what to make or pack, move the order to fulfilling. Returns what it
    did; an order no longer paid (cancelled, refunded) is left."""
    order = lifecycle.lock_order(order_id)
    status = OrderStatus(order.status)
    if status not in STARTABLE:
        return f"skipped: the order is {status}"
    fulfilments = lifecycle.active_fulfilments(order.id)
    for fulfilment in fulfilments:
        _mail_artisan(order, fulfilment)
    lifecycle.start_fulfilment(order.id, data={"fulfilments": len(fulfilments)})
    return f"fulfilling: {len(fulfilments)} fulfilment(s)"


def _mail_artisan(order: Order, fulfilment: Fulfilment) -> None:
    artisan = db.session.get(User, fulfilment.artisan_id)
    profile = db.session.get(ArtisanProfile, fulfilment.artisan_id)
    lines = _artisan_lines(order, artisan.id)
    pieces = sum(line.quantity for line in lines)
    ship_by = fulfilment.ship_by.date().isoformat()
    sale: dict[str, int] = {}
    for line in lines:
        sale[line.unit_price_currency] = (sale.get(line.unit_price_currency, 0)
                                          + line.unit_price_amount * line.quantity)
    text = render_template(
        "mail/order_artisan.txt", artisan_name=artisan.name,
        workshop_name=profile.workshop_name if profile else artisan.name,
        order_id=order.id, fulfilment_id=fulfilment.id, ship_by=ship_by,
        lines=[{"quantity": line.quantity, "title": title_in(line.title, artisan.locale),
                "unit_price": Money(line.unit_price_amount, line.unit_price_currency).format(),
                "serials": list(line.serials or [])} for line in lines],
        sale=[Money(amount, currency).format() for currency, amount in sorted(sale.items())],
        destination=(order.shipping_address or {}).get("country"),
        service_name=(order.shipping_option or {}).get("service_name"),
        workshop_url=f"{current_app.config['PUBLIC_URL']}/workshop/orders")
    # short enough for one header line (a folded Subject reads back with a leading space)
    mail.queue_mail(to=artisan.email, text=text,
                    subject=f"Order {order.id}: pack {pieces} piece(s) by {ship_by}")


def send_receipt(order_id: str) -> str:
    """Queue the buyer's receipt (mail with the PDF); nothing for an order never paid."""
    order = db.session.get(Order, order_id)
    if order is None or order.paid_at is None:
        return "skipped: not paid"
    buyer = db.session.get(User, order.buyer_id)
    pdf = receipt.receipt_pdf(order, buyer)
    text = render_template(
        "mail/order_receipt.txt", buyer_name=buyer.name, order_id=order.id,
        paid_at=isoformat(order.paid_at), total=order.total.format(),
        order_url=f"{current_app.config['PUBLIC_URL']}/orders/{order.id}",
        pieces=[{"quantity": line.quantity, "title": title_in(line.title, buyer.locale)}
                for line in order.lines])
    mail.queue_mail(to=buyer.email, subject=f"Your Sheber receipt for order {order.id}",
                    text=text, attachments=[mail.Attachment(
                        receipt.filename(order), pdf, "application/pdf")])
    return "receipt queued"
