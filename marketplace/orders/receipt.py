"""The buyer's receipt as a PDF, rendered from the Jinja template ``templates/pdf/receipt.xml``.

The template writes a small layout document (``title``, ``heading``, ``para``, ``small``,
``spacer``, ``table`` with ``row`` and ``cell``) so that wording and layout live in
``templates/``; this module turns it into reportlab flowables (invoices and credit notes,
``orders.invoice_pdf``, use the same layout). Jinja escapes the values (an
``.xml`` template autoescapes), so a product title cannot inject layout.
"""

from __future__ import annotations

import io
from decimal import Decimal
from xml.etree import ElementTree as ET

from flask import current_app, render_template
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from marketplace.accounts.models import User
from marketplace.catalog.browse import resolve_text
from marketplace.ids import isoformat
from marketplace.money import Money
from marketplace.orders.models import Order
from marketplace.pdf import TextBlock

TEMPLATE = "pdf/receipt.xml"


def filename(order: Order) -> str:
    return f"sheber-receipt-{order.id}.pdf"


def receipt_context(order: Order, buyer: User, reader=None) -> dict:
    """Everything the receipt shows, as strings ready to print; ``reader`` (who the receipt is
    for: ``notify.buyer_of``) names a guest, whose account row has no name or address."""
    name = reader.name if reader is not None else buyer.name
    email = reader.email if reader is not None else buyer.email
    locale = reader.locale if reader is not None else buyer.locale
    lines = []
    for line in order.lines:
        serials = list(line.serials or [])
        codes = sorted({serial.rsplit("-", 1)[0] for serial in serials})
        unit = Money(line.unit_presentment_amount, order.currency)
        lines.append({
            "title": resolve_text(line.title, locale)[0], "quantity": line.quantity,
            "unit": unit.format(), "total": (unit * line.quantity).format(),
            "listing_unit": Money(line.unit_price_amount, line.unit_price_currency).format(),
            "label_codes": codes, "serials": serials,
        })
    option = order.shipping_option or {}
    rate = Decimal(order.fx_rate)
    return {
        "order": order, "buyer_name": name, "buyer_email": email or "",
        "address": order.shipping_address or {}, "lines": lines,
        "items": Money(order.items_amount, order.currency).format(),
        "shipping": Money(order.shipping_amount, order.currency).format(),
        "duties": Money(order.duties_amount, order.currency).format(),
        "total": order.total.format(), "currency": order.currency,
        "duties_mode": order.duties_mode,
        "listing_currency": order.listing_currency,
        "fx_rate": format(rate.normalize(), "f"),
        "fx_rate_same_currency": order.listing_currency == order.currency,
        "service_name": option.get("service_name") or option.get("service") or "",
        "paid_at": isoformat(order.paid_at), "payment_reference": order.payment_intent_id,
        "public_url": current_app.config["PUBLIC_URL"],
    }


def receipt_pdf(order: Order, buyer: User, reader=None) -> bytes:
    layout = render_template(TEMPLATE, **receipt_context(order, buyer, reader))
    return render_layout(layout, title=f"Sheber receipt {order.id}")


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


def render_layout(layout: str, *, title: str) -> bytes:
    root = ET.fromstring(layout)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Sheber",
                                 leftMargin=18 * mm, rightMargin=18 * mm,
                                 topMargin=16 * mm, bottomMargin=16 * mm)
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
    document.build(story)
    return buffer.getvalue()
