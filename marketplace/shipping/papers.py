"""Shipping papers as PDFs: label (Code 128 tracking barcode), CN 22, CN 23, commercial invoice.

Pure functions over plain dataclasses: no database, no Flask. The caller decides the customs
form with ``customs_form`` (UPU: CN 22 up to 300 SDR by post, else CN 23; couriers always want
CN 23 plus a commercial invoice).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from marketplace.money import Money
from marketplace.pdf import font_names

ORIGIN_COUNTRY = "KZ"
CN22_MAX_SDR = Decimal(300)
LABEL_SIZE = (4 * 72, 6 * 72)  # 4 x 6 inch thermal label


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    country: str
    postal_code: str = ""
    line2: str = ""
    region: str = ""
    phone: str = ""

    def lines(self) -> list[str]:
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        rows = [self.name, self.line1, self.line2, place, self.region, self.country]
        if self.phone:
            rows.append(f"Tel. {self.phone}")
        return [r for r in rows if r]


@dataclass(frozen=True)
class CustomsLine:
    description: str
    hs_code: str
    quantity: int
    unit_value: Money
    unit_weight_g: int
    materials: tuple[str, ...] = ()
    origin_country: str = ORIGIN_COUNTRY
    provenance_codes: tuple[str, ...] = ()  # one label code (or serial) per piece

    @property
    def value(self) -> Money:
        return self.unit_value * self.quantity

    @property
    def weight_g(self) -> int:
        return self.unit_weight_g * self.quantity


@dataclass(frozen=True)
class ShipmentData:
    """What a label and the customs papers say about one parcel."""

    reference: str  # shipment or order id
    service: str
    sender: Address
    recipient: Address
    lines: tuple[CustomsLine, ...]
    gross_weight_g: int
    shipping: Money  # postage charged to the buyer, in the invoice currency
    duties_mode: str  # "DDP": duties prepaid by the sender; "DAP": the recipient pays
    duties_estimate: Money
    service_name: str = ""
    service_kind: str = "postal"  # "postal" (a designated operator's item) or "courier"
    carrier: str = ""
    tracking_number: str | None = None
    posted_on: date = field(default_factory=date.today)
    invoice_number: str = ""
    export_permit: str = ""

    def __post_init__(self):
        if self.duties_mode not in ("DDP", "DAP"):
            raise ValueError("duties_mode is DDP or DAP")
        if not self.lines:
            raise ValueError("a parcel has at least one line")
        currencies = {line.unit_value.currency for line in self.lines}
        money = currencies | {self.shipping.currency, self.duties_estimate.currency}
        if len(money) != 1:
            raise ValueError("customs values, shipping and duties must share one currency")

    @property
    def currency(self) -> str:
        return self.shipping.currency

    @property
    def goods_value(self) -> Money:
        total = Money.zero(self.currency)
        for line in self.lines:
            total += line.value
        return total

    @property
    def net_weight_g(self) -> int:
        return sum(line.weight_g for line in self.lines)


def customs_form(value_in_sdr: Decimal, service_kind: str) -> str:
    """``"CN22"`` for a postal item worth up to 300 SDR, else ``"CN23"`` (couriers: always)."""
    if service_kind == "postal" and value_in_sdr <= CN22_MAX_SDR:
        return "CN22"
    return "CN23"


def _kg(grams: int) -> str:
    return f"{Decimal(grams) / 1000:.3f}"


def _duties_text(data: ShipmentData) -> str:
    if data.duties_mode == "DDP":
        return (f"DDP - import duties and taxes PREPAID by the sender "
                f"(estimate {data.duties_estimate.format()})")
    return (f"DAP - import duties and taxes payable by the addressee "
            f"(estimate {data.duties_estimate.format()})")


def _provenance_text(line: CustomsLine) -> str:
    return ", ".join(line.provenance_codes) if line.provenance_codes else "-"


def label_pdf(data: ShipmentData) -> bytes:
    """A 4x6 inch label: addresses, service, weight, Code 128 barcode of the tracking number."""
    if not data.tracking_number:
        raise ValueError("a label needs a tracking number")
    regular, bold = font_names()
    buffer = io.BytesIO()
    width, height = LABEL_SIZE
    pdf = Canvas(buffer, pagesize=LABEL_SIZE, invariant=1)
    pdf.setTitle(f"Label {data.tracking_number}")
    margin = 6 * mm
    y = height - margin

    pdf.setFont(bold, 13)
    pdf.drawString(margin, y - 10, data.service_name or data.service)
    pdf.setFont(bold, 18)
    pdf.drawRightString(width - margin, y - 12, data.duties_mode)
    y -= 24
    pdf.line(margin, y, width - margin, y)

    y -= 12
    pdf.setFont(bold, 7)
    pdf.drawString(margin, y, "FROM")
    pdf.setFont(regular, 8)
    for row in data.sender.lines():
        y -= 9
        pdf.drawString(margin, y, row)
    y -= 14
    pdf.setFont(bold, 7)
    pdf.drawString(margin, y, "TO")
    pdf.setFont(bold, 11)
    for row in data.recipient.lines():
        y -= 13
        pdf.drawString(margin, y, row)

    y -= 14
    pdf.line(margin, y, width - margin, y)
    pdf.setFont(regular, 8)
    y -= 11
    pdf.drawString(margin, y, f"Weight {_kg(data.gross_weight_g)} kg   Ref. {data.reference}")
    y -= 10
    pdf.drawString(margin, y, f"Origin {ORIGIN_COUNTRY}   Carrier {data.carrier}")
    y -= 14
    pdf.setFont(bold, 7)
    pdf.drawString(margin, y, "CONTENTS (customs declaration attached)")
    pdf.setFont(regular, 8)
    for line in data.lines[:6]:
        y -= 10
        pdf.drawString(margin, y, f"{line.quantity} x {line.description[:40]}  HS {line.hs_code}")
    if len(data.lines) > 6:
        y -= 10
        pdf.drawString(margin, y, f"... and {len(data.lines) - 6} more lines")

    barcode = Code128(data.tracking_number, barWidth=0.38 * mm, barHeight=22 * mm,
                      quiet=True, lquiet=6 * mm, rquiet=6 * mm)
    x = (width - barcode.width) / 2
    barcode.drawOn(pdf, x, margin + 14)
    pdf.setFont(bold, 12)
    pdf.drawCentredString(width / 2, margin + 2, data.tracking_number)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = font_names()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=14, leading=18),
        "h": ParagraphStyle("h", fontName=bold, fontSize=9, leading=11),
        "p": ParagraphStyle("p", fontName=regular, fontSize=8.5, leading=11),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=7.5, leading=9),
        "cellb": ParagraphStyle("cellb", fontName=bold, fontSize=7.5, leading=9),
    }


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _grid(rows: list[list], widths: list[float], header_rows: int = 1) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    style = [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if header_rows:
        style.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#eeeeee")))
    table.setStyle(TableStyle(style))
    return table


def _parties(data: ShipmentData, s: dict) -> Table:
    sender = _para("From (sender)\n" + "\n".join(data.sender.lines()), s["p"])
    recipient = _para("To (addressee)\n" + "\n".join(data.recipient.lines()), s["p"])
    return _grid([[sender, recipient]], [93 * mm, 93 * mm], header_rows=0)


def _line_rows(data: ShipmentData, s: dict) -> list[list]:
    header = ["Qty", "Detailed description of contents", "Materials", "HS tariff no.",
              "Origin", "Net weight (kg)", "Unit value", "Value", "Provenance label codes"]
    rows = [[_para(h, s["cellb"]) for h in header]]
    for line in data.lines:
        rows.append([
            _para(str(line.quantity), s["cell"]),
            _para(line.description, s["cell"]),
            _para(", ".join(line.materials) or "-", s["cell"]),
            _para(line.hs_code, s["cell"]),
            _para(line.origin_country, s["cell"]),
            _para(_kg(line.weight_g), s["cell"]),
            _para(line.unit_value.format(), s["cell"]),
            _para(line.value.format(), s["cell"]),
            _para(_provenance_text(line), s["cell"]),
        ])
    rows.append([
        _para("", s["cell"]), _para("Total", s["cellb"]), _para("", s["cell"]),
        _para("", s["cell"]), _para("", s["cell"]),
        _para(f"{_kg(data.net_weight_g)} (gross {_kg(data.gross_weight_g)})", s["cellb"]),
        _para("", s["cell"]), _para(data.goods_value.format(), s["cellb"]), _para("", s["cell"]),
    ])
    return rows


_LINE_WIDTHS = [w * mm for w in (10, 33, 21, 15, 14, 16, 21, 21, 35)]  # 186 mm: A4 less margins


def _category_text() -> str:
    return "Category of item: [X] Sale of goods  [ ] Gift  [ ] Documents  [ ] Returned goods"


def _cn_story(data: ShipmentData, form: str, s: dict) -> list:
    tracking = data.tracking_number or "(not yet assigned)"
    operator = ("Designated operator: Kazpost (KZ)" if data.service_kind == "postal"
                else f"Carrier: {data.carrier or data.service}")
    story = [
        _para(f"CUSTOMS DECLARATION {form[:2]} {form[2:]}   (may be opened officially)",
              s["title"]),
        _para(f"Item no. {tracking}   {operator}   "
              f"Service: {data.service_name or data.service}   Ref. {data.reference}", s["p"]),
        Spacer(1, 4 * mm),
        _parties(data, s),
        Spacer(1, 3 * mm),
        _para(_category_text(), s["p"]),
        Spacer(1, 3 * mm),
        _grid(_line_rows(data, s), _LINE_WIDTHS),
        Spacer(1, 3 * mm),
        _para(f"Postage / fees: {data.shipping.format()}   Country of origin of goods: "
              f"{ORIGIN_COUNTRY}", s["p"]),
        _para(_duties_text(data), s["h"]),
    ]
    if form == "CN23":
        comments = f"Commercial invoice: {data.invoice_number or data.reference}"
        if data.export_permit:
            comments += f"   Export permit (cultural value): {data.export_permit}"
        story += [
            _para(comments, s["p"]),
            _para(f"Office of origin / date of posting: Almaty, {data.posted_on.isoformat()}",
                  s["p"]),
        ]
    elif data.export_permit:
        story.append(_para(f"Export permit (cultural value): {data.export_permit}", s["p"]))
    story += [
        Spacer(1, 4 * mm),
        _para("I certify that the particulars given in this customs declaration are correct and "
              "that this item does not contain any dangerous article prohibited by legislation "
              "or by postal or customs regulations.", s["p"]),
        _para(f"Date and sender's signature: {data.posted_on.isoformat()}  "
              f"{data.sender.name}", s["p"]),
    ]
    return story


def _invoice_story(data: ShipmentData, s: dict) -> list:
    total = data.goods_value + data.shipping
    terms = ("DDP (Incoterms 2020) - duties and taxes prepaid by the seller"
             if data.duties_mode == "DDP"
             else "DAP (Incoterms 2020) - duties and taxes payable by the buyer")
    return [
        _para("COMMERCIAL INVOICE", s["title"]),
        _para(f"Invoice no. {data.invoice_number or data.reference}   Date "
              f"{data.posted_on.isoformat()}   Air waybill / item no. "
              f"{data.tracking_number or '-'}", s["p"]),
        _para(f"Reason for export: sale of handmade goods   Terms of delivery: {terms}", s["p"]),
        _para(f"Currency: {data.currency}   Country of origin: {ORIGIN_COUNTRY}", s["p"]),
        Spacer(1, 4 * mm),
        _parties(data, s),
        Spacer(1, 3 * mm),
        _grid(_line_rows(data, s), _LINE_WIDTHS),
        Spacer(1, 3 * mm),
        _para(f"Goods: {data.goods_value.format()}   Freight: {data.shipping.format()}   "
              f"Invoice total: {total.format()}", s["h"]),
        _para(_duties_text(data), s["h"]),
        Spacer(1, 4 * mm),
        _para("I declare that the information on this invoice is true and correct and that the "
              "goods are handmade in Kazakhstan.", s["p"]),
        _para(f"Signed for the exporter: {data.sender.name}, Almaty, "
              f"{data.posted_on.isoformat()}", s["p"]),
    ]


def _build(story: list, title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=title,
                            author="Sheber", invariant=1)
    doc.build(story)
    return buffer.getvalue()


def cn22_pdf(data: ShipmentData) -> bytes:
    return _build(_cn_story(data, "CN22", _styles()), f"CN 22 {data.reference}")


def cn23_pdf(data: ShipmentData) -> bytes:
    return _build(_cn_story(data, "CN23", _styles()), f"CN 23 {data.reference}")


def commercial_invoice_pdf(data: ShipmentData) -> bytes:
    return _build(_invoice_story(data, _styles()), f"Commercial invoice {data.reference}")


def customs_pdf(data: ShipmentData, form: str) -> bytes:
    """One PDF with everything customs needs: CN 22 alone, or CN 23 plus the invoice."""
    s = _styles()
    if form == "CN22":
        return _build(_cn_story(data, "CN22", s), f"CN 22 {data.reference}")
    if form != "CN23":
        raise ValueError("form is CN22 or CN23")
    story = _cn_story(data, "CN23", s) + [PageBreak()] + _invoice_story(data, s)
    return _build(story, f"CN 23 and invoice {data.reference}")
