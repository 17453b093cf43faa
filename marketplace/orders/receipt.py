"""The buyer's receipt as a PDF, rendered from the Jinja template ``templates/pdf/receipt.xml``
in the buyer's language (``receipt_layout``: Flask-Babel's labels, Babel's money and dates).

The template writes a small layout document (``title``, ``heading``, ``para``, ``small``,
``spacer``, ``table`` with ``row`` and ``cell``) so that wording and layout live in
``templates/``; this module turns it into reportlab flowables (invoices and credit notes,
``orders.invoice_pdf``, use the same layout). Jinja escapes the values (an
``.xml`` template autoescapes), so a product title cannot inject layout.

The receipt is not made when the order is paid: the receipt mail links it, and the first
download renders it and keeps it (``stored_receipt``, table ``order_receipt``), so a receipt
nobody opens costs nothing. Its dates come from the order (the PDF's creation date is the
payment's), so a receipt rendered later reads as one rendered at payment.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

from babel.dates import UTC, format_datetime
from babel.numbers import format_decimal
from flask import current_app, render_template
from flask_babel import force_locale
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.catalog.browse import resolve_text
from marketplace.errors import NotFound
from marketplace.extensions import conflict_insert, db
from marketplace.money import Money
from marketplace.orders import invoices, notify
from marketplace.orders.errors import OrderError
from marketplace.orders.models import Order, OrderReceipt
from marketplace.pdf import TextBlock
from marketplace.transaction import lock_rows, use_case

TEMPLATE = "pdf/receipt.xml"


def filename(order: Order) -> str:
    return f"sheber-receipt-{order.id}.pdf"


def receipt_context(order: Order, buyer: User, reader=None) -> dict:
    """Everything the receipt shows, as strings ready to print; ``reader`` (who the receipt is
    for: ``notify.buyer_of``) names a guest, whose account row has no name or address."""
    name = reader.name if reader is not None else buyer.name
    email = reader.email if reader is not None else buyer.email
    locale = reader.locale if reader is not None else buyer.locale

    def money(amount: int, currency: str = order.currency) -> str:
        return notify.money_text(Money(amount, currency), locale)

    lines = []
    for line in order.lines:
        serials = list(line.serials or [])
        codes = sorted({serial.rsplit("-", 1)[0] for serial in serials})
        lines.append({
            "title": resolve_text(line.title, locale)[0], "quantity": line.quantity,
            "unit": money(line.unit_presentment_amount),
            "total": money(line.unit_presentment_amount * line.quantity),
            "listing_unit": money(line.unit_price_amount, line.unit_price_currency),
            "label_codes": codes, "serials": serials,
        })
    option = order.shipping_option or {}
    rate = Decimal(order.fx_rate)
    return {
        "order": order, "locale": locale, "buyer_name": name, "buyer_email": email or "",
        "address": order.shipping_address or {}, "lines": lines,
        "items": money(order.items_amount), "shipping": money(order.shipping_amount),
        "duties": money(order.duties_amount), "total": notify.money_text(order.total, locale),
        "currency": order.currency,
        "duties_mode": order.duties_mode,
        "listing_currency": order.listing_currency,
        "fx_rate": format_decimal(rate.normalize(), locale=locale, decimal_quantization=False),
        "fx_rate_same_currency": order.listing_currency == order.currency,
        "service_name": option.get("service_name") or option.get("service") or "",
        "paid_at": format_datetime(order.paid_at, "long", tzinfo=UTC, locale=locale),
        "payment_reference": order.payment_intent_id,
        "public_url": current_app.config["PUBLIC_URL"],
    }


def receipt_layout(order: Order, buyer: User | None, reader=None) -> str:
    """The receipt's layout document in its reader's language: the labels, money, dates and
    the country's name (the templates' ``country_name``, in the forced language)."""
    context = receipt_context(order, buyer, reader)
    with force_locale(context["locale"]):
        return render_template(TEMPLATE, **context)


def receipt_pdf(order: Order, buyer: User | None, reader=None) -> bytes:
    """The receipt of a paid order, rendered now; its PDF creation date is the payment's."""
    layout = receipt_layout(order, buyer, reader)
    return render_layout(layout, title=f"Sheber receipt {order.id}", created_at=order.paid_at)


def receipt_for(order_id: str, user, access: str | None = None) -> tuple[Order, bytes]:
    """The receipt PDF of an order for someone who may read its papers (its buyer, an
    operator, a guest with the order's ``access`` token; anyone else 404); before payment 404
    ``order.receipt_not_available``."""
    order = invoices.readable_order(order_id, user, access)
    if order.paid_at is None:
        raise NotFound("The order has no receipt: it has not been paid.",
                       code=OrderError.RECEIPT_NOT_AVAILABLE)
    return order, stored_receipt(order.id)


def stored_receipt(order_id: str) -> bytes:
    """The paid order's receipt PDF as kept; the first call renders and keeps it. Two first
    downloads at once render it once: the second waits on the order's lock, then reads what
    the first stored."""
    content = _stored(order_id)
    return content if content is not None else _render_and_store(order_id)


def _stored(order_id: str) -> bytes | None:
    return db.session.execute(select(OrderReceipt.content)
                              .where(OrderReceipt.order_id == order_id)).scalar_one_or_none()


@use_case
def _render_and_store(order_id: str) -> bytes:
    # A local render (no call out of the process) under the order's lock, held a few ms.
    if lock_rows(Order, [order_id]) != 1:
        raise LookupError(f"no order {order_id}")
    content = _stored(order_id)
    if content is not None:
        return content
    order = db.session.execute(select(Order).where(Order.id == order_id)
                               .execution_options(populate_existing=True)).scalar_one()
    if order.paid_at is None:
        raise LookupError(f"order {order_id} has no receipt: it is not paid")
    buyer = db.session.get(User, order.buyer_id)
    content = receipt_pdf(order, buyer, notify.buyer_of(order, buyer=buyer))
    insert = conflict_insert(db.session.get_bind().dialect.name)
    if insert is None:
        db.session.add(OrderReceipt(order_id=order_id, content=content))
        db.session.flush()
        return content
    db.session.execute(insert(OrderReceipt).values(order_id=order_id, content=content)
                       .on_conflict_do_nothing(index_elements=["order_id"]))
    return _stored(order_id)


# --- the layout document -> PDF --------------------------------------------------------------
# Every text is a ``pdf.TextBlock``, so a buyer's Japanese name or Arabic address prints (and
# reads back) as well as Latin and Cyrillic text: (size, bold, leading, space before, after)
_STYLES = {
    "title": (17, True, 21, 0, 4), "heading": (11, True, 14, 8, 3),
    "para": (9.5, False, 12.5, 0, 1),
    "small": (7.5, False, 9.5, 0, 1), "cell": (8.5, False, 10.5, 0, 0),
    "cell-bold": (8.5, True, 10.5, 0, 0),
}


def _plain(element: ET.Element) -> str:
    """The element's text, blank lines dropped, runs of white space made one space."""
    lines = [" ".join(line.split()) for line in "".join(element.itertext()).splitlines()]
    return "\n".join(line for line in lines if line)


def _block(text: str, style: str, align: str = "left") -> TextBlock:
    size, bold, leading, _, _ = _STYLES[style]
    return TextBlock(text, size, bold=bold, leading=leading, align=align)


def _table(element: ET.Element, width: float) -> Table:
    rows, commands = [], [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    for index, row in enumerate(element.findall("row")):
        strong = row.get("header") == "true" or row.get("total") == "true"
        cells = []
        for cell in row.findall("cell"):
            align = "right" if cell.get("align") == "right" else "left"
            cells.append(_block(_plain(cell), "cell-bold" if strong else "cell", align))
        if row.get("total") == "true":
            commands.append(("LINEABOVE", (0, index), (-1, index), 0.8, colors.black))
        rows.append(cells)
    shares = [float(part) for part in element.get("widths", "").split(",") if part]
    widths = [width * share / sum(shares) for share in shares] if shares else None
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table


def render_layout(layout: str, *, title: str, created_at: datetime | None = None) -> bytes:
    """The layout document as a PDF. ``created_at`` (UTC) fixes its creation date and makes
    the bytes a function of the layout alone (reportlab's invariant mode); without it the PDF
    is dated now."""
    root = ET.fromstring(layout)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Sheber",
                                 leftMargin=18 * mm, rightMargin=18 * mm,
                                 topMargin=16 * mm, bottomMargin=16 * mm,
                                 invariant=1 if created_at is not None else None)
    story = []
    for element in root:
        if element.tag in _STYLES:
            before, after = _STYLES[element.tag][3:]
            if before:
                story.append(Spacer(1, before))
            story.append(_block(_plain(element), element.tag))
            if after:
                story.append(Spacer(1, after))
        elif element.tag == "spacer":
            story.append(Spacer(1, float(element.get("height", "6")) * mm))
        elif element.tag == "table":
            story.append(_table(element, document.width))
        else:
            raise ValueError(f"unknown layout element <{element.tag}>")
    if created_at is None:
        document.build(story)
    else:
        stamp = created_at.strftime("D:%Y%m%d%H%M%S+00'00'")

        def dated(canvas, _document):
            canvas.setDateFormatter(lambda *_: stamp)

        document.build(story, onFirstPage=dated, onLaterPages=dated)
    return buffer.getvalue()
