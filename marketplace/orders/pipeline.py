"""What happens after an order is paid, step by step; the one place where these rules live.

``checkout.payments`` emits ``order.paid`` in the paid transition's transaction (with the
fulfilments and piece serials). Worker tasks (``workers/orders.py``) run each step below once per
event under ``outbox.run_once``: the step's writes, its queued mails and the processed-event
marker commit together, so a crash or a redelivery neither loses nor repeats a step.

- ``start_fulfilment``: a mail to each artisan with what to make or pack and by when (their
  fulfilments were opened with the paid move), and the order moves ``paid → fulfilling``.
- ``send_receipt``: the buyer's receipt mail, which links the receipt PDF and the invoice
  (as Etsy's and Shopify's receipts link theirs): the PDF is rendered on its first download
  and kept (``orders.receipt.stored_receipt``), not for every paid order. Mails queued before
  the link still carry a ``mail.LaterAttachment`` of kind ``RECEIPT_PDF``, made from the kept
  receipt when they are sent (``receipt.stored_receipt``).
- the payouts ledger (``marketplace.payouts.service.record_order``) has a task of its own.

The steps do not commit: ``run_once`` commits them with their marker.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from marketplace import i18n, mail, outbox
from marketplace.accounts.models import User
from marketplace.catalog.models import ArtisanProfile
from marketplace.extensions import db, in_list
from marketplace.money import Money
from marketplace.orders import lifecycle, notify
from marketplace.orders.models import Fulfilment, Order, OrderLine, OrderStatus

# the attachment of receipt mails queued before the mail linked the receipt instead
RECEIPT_PDF = "order.receipt_pdf"
STARTABLE = frozenset({OrderStatus.PAID, OrderStatus.FULFILLING})


_ARTISANS = (select(User.id, User.email, User.name, User.locale, ArtisanProfile.workshop_name)
             .outerjoin(ArtisanProfile, ArtisanProfile.user_id == User.id)
             .where(in_list(User.id)))  # built once: every paid order


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
    # what the mails need of each artisan, in one read: address, name, language, workshop
    artisans = {row.id: row for row in db.session.execute(_ARTISANS, {
        "ids": [fulfilment.artisan_id for fulfilment in fulfilments]})}
    facts = notify.piece_facts(line.product_id for line in order.lines)  # one read for all
    with outbox.batched():  # the artisans' mails: one INSERT of their events
        for fulfilment in fulfilments:
            _mail_artisan(order, fulfilment, artisans[fulfilment.artisan_id], facts)
    # the order is locked and was read above: its status needs no second read
    lifecycle.start_fulfilment(order.id, data={"fulfilments": len(fulfilments)}, known=status)
    return f"fulfilling: {len(fulfilments)} fulfilment(s)"


def _mail_artisan(order: Order, fulfilment: Fulfilment, artisan,
                  facts: tuple[dict, dict]) -> None:
    """``artisan``: a row of the artisan's id, email, name, locale and workshop name."""
    reader = notify.user_recipient(artisan)
    lines = _artisan_lines(order, artisan.id)
    sale: dict[str, int] = {}
    for line in lines:
        sale[line.unit_price_currency] = (sale.get(line.unit_price_currency, 0)
                                          + line.unit_price_amount * line.quantity)
    country = (order.shipping_address or {}).get("country")
    notify.queue_to(
        reader, "artisan_order", number=mail.short_number(order.id),
        workshop_name=artisan.name if artisan.workshop_name is None else artisan.workshop_name,
        pieces=notify.piece_views(lines, reader.locale, listing_prices=True, facts=facts),
        pieces_count=sum(line.quantity for line in lines), ship_by=fulfilment.ship_by.date(),
        destination=i18n.country_name(country, reader.locale) if country else None,
        service_name=(order.shipping_option or {}).get("service_name"),
        sale=" + ".join(notify.money_text(Money(amount, currency), reader.locale)
                        for currency, amount in sorted(sale.items())),
        workshop_url=f"{notify.public_url()}/workshop/orders")


def expected_delivery(order: Order) -> tuple[date | None, date | None]:
    """The delivery window promised at checkout, as dates (see ``shipping_option.eta_dates``)."""
    dates = (order.shipping_option or {}).get("eta_dates") or {}
    try:
        return date.fromisoformat(dates["from"]), date.fromisoformat(dates["to"])
    except (KeyError, TypeError, ValueError):
        return None, None


def send_receipt(order_id: str) -> str:
    """Queue the buyer's receipt mail (with links to the receipt PDF and the invoice);
    nothing for an order never paid."""
    order = db.session.get(Order, order_id)
    if order is None or order.paid_at is None:
        return "skipped: not paid"
    buyer = db.session.get(User, order.buyer_id)
    reader = notify.buyer_of(order, buyer=buyer)
    option = order.shipping_option or {}
    eta_from, eta_to = expected_delivery(order)
    language = reader.locale
    notify.queue_to(
        reader, "receipt", number=mail.short_number(order.id), paid_at=order.paid_at,
        total=notify.money_text(order.total, language),
        items=notify.money_text(order.money(order.items_amount), language),
        shipping=notify.money_text(order.money(order.shipping_amount), language),
        duties=notify.money_text(order.money(order.duties_amount), language),
        duties_mode=order.duties_mode,
        service_name=option.get("service_name") or option.get("service") or "",
        eta_from=eta_from, eta_to=eta_to,
        pieces=notify.piece_views(list(order.lines), language, currency=order.currency),
        order_url=notify.order_url(order, buyer=buyer),
        invoice_url=_paper_url(order, "invoice.pdf", buyer),
        receipt_url=_paper_url(order, "receipt.pdf", buyer))
    return "receipt queued"


def _paper_url(order: Order, name: str, buyer: User | None) -> str:
    """The address of one of the order's papers (``orders.api``: invoice.pdf, receipt.pdf) as
    its buyer follows it from a mail."""
    return notify.with_access(f"{notify.public_url()}/api/v1/orders/{order.id}/{name}", order,
                              buyer=buyer)
