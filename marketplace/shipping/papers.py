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

from marketplace import pdf as fonts
from marketplace.money import Money
from marketplace.pdf import TextBlock, font_names
from marketplace.shipping.duties import country_name

ORIGIN_COUNTRY = "KZ"
CN22_MAX_SDR = Decimal(300)
# UPU categories of item (CN 22 / CN 23): code -> "English / French"
CATEGORIES = {
    "gift": "Gift / Cadeau",
    "documents": "Documents",
    "commercial_sample": "Commercial sample / Échantillon commercial",
    "returned_goods": "Returned goods / Marchandises retournées",
    "sale_of_goods": "Sale of goods / Vente de marchandises",
    "other": "Other / Autre",
}
NON_DELIVERY = {"return": "Return to sender / Renvoyer à l'expéditeur",
                "abandon": "Treat as abandoned / Traiter comme abandonné"}


def country_label(code: str, names: str = "en") -> str:
    """The country's name in the paper's language(s): ``en``, ``fr`` or ``en/fr``; the code
    itself when the rules table does not name it."""
    if not code:
        return ""
    parts = []
    for language in names.split("/"):
        name = country_name(code, language)
        if name not in parts:
            parts.append(name)
    return " / ".join(parts) + f" ({code})"
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
    email: str = ""
    business: str = ""

    def lines(self, country_names: str = "en") -> list[str]:
        """Name, street, place and country (``en``, or ``en/fr`` as UPU forms want), phone."""
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        rows = [self.name, self.business, self.line1, self.line2, place, self.region,
                country_label(self.country, country_names)]
        if self.phone:
            rows.append(f"Tel. {self.phone}")
        if self.email:
            rows.append(self.email)
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
    tariff: str | None = None  # the national tariff ``hs_code`` is a code of (None: HS)

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
    category: str = "sale_of_goods"
    category_explanation: str = ""  # required with "other"
    non_delivery: str = "return"  # "return" or "abandon"
    importer_reference: str = ""  # IOSS / VAT / EORI number the goods clear under
    sender_customs_reference: str = ""  # the exporter's EORI (or its customs id)
    exporter_bin: str = ""
    licence_numbers: tuple[str, ...] = ()
    certificate_numbers: tuple[str, ...] = ()
    comments: str = ""
    office_of_origin: str = "Almaty"
    fees: Money | None = None  # other charges on top of postage

    def __post_init__(self):
        if self.duties_mode not in ("DDP", "DAP"):
            raise ValueError("duties_mode is DDP or DAP")
        if self.category not in CATEGORIES:
            raise ValueError(f"category is one of {', '.join(CATEGORIES)}")
        if self.category == "other" and not self.category_explanation.strip():
            raise ValueError("category 'other' needs an explanation")
        if self.non_delivery not in NON_DELIVERY:
            raise ValueError("non_delivery is 'return' or 'abandon'")
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
        fonts.draw_text(pdf, margin, y, fonts.fit_text(row, 8, width - 2 * margin), 8)
    y -= 14
    pdf.setFont(bold, 7)
    pdf.drawString(margin, y, "TO")
    pdf.setFont(bold, 11)
    for row in data.recipient.lines():
        y -= 13
        fonts.draw_text(pdf, margin, y, fonts.fit_text(row, 11, width - 2 * margin, True), 11,
                        bold=True)

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
        fonts.draw_text(pdf, margin, y, fonts.fit_text(
            f"{line.quantity} x {line.description}  HS {line.hs_code}", 8, width - 2 * margin), 8)
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
        "title": ParagraphStyle("title", fontName=bold, fontSize=13, leading=16),
        "h": ParagraphStyle("h", fontName=bold, fontSize=8.5, leading=10.5),
        "p": ParagraphStyle("p", fontName=regular, fontSize=8, leading=10),
    }


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _cell(text: str, size: float = 7.5, bold: bool = False) -> TextBlock:
    """A table cell that prints every script (names and descriptions may be CJK or Arabic)."""
    return TextBlock(text, size, bold=bold)


def _box(label: str, text: str, size: float = 7.5) -> list:
    return [_cell(label, 6, bold=True), _cell(text or "-", size)]


def _grid(rows: list[list], widths: list[float], header_rows: int = 1) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    style = [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if header_rows:
        style.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#eeeeee")))
    table.setStyle(TableStyle(style))
    return table


def _party(title: str, address: Address, reference_label: str, reference: str) -> list:
    return [_cell(title, 6.5, bold=True),
            _cell("\n".join(address.lines("en/fr")), 8),
            _cell(f"{reference_label}: {reference or '-'}", 7)]


def _parties(data: ShipmentData, importer_label: str = "Importer's reference (tax code / VAT "
             "no. / IOSS) / Référence de l'importateur") -> Table:
    sender = _party("From / De (sender / expéditeur)", data.sender,
                    "Sender's customs reference / Référence en douane de l'expéditeur",
                    data.sender_customs_reference)
    recipient = _party("To / À (addressee / destinataire)", data.recipient, importer_label,
                       data.importer_reference)
    return _grid([[sender, recipient]], [93 * mm, 93 * mm], header_rows=0)


_LINE_HEADER = ("Qty / Quantité", "Detailed description of contents / Description détaillée",
                "Materials", "HS tariff no. / No tarifaire SH",
                "Country of origin / Pays d'origine", "Net weight (kg) / Poids net",
                "Unit value", "Value / Valeur", "Provenance label codes")
_LINE_WIDTHS = [w * mm for w in (10, 35, 17, 17, 19, 15, 20, 21, 32)]  # 186 mm


def _line_rows(data: ShipmentData) -> list[list]:
    rows = [[_cell(h, 6, bold=True) for h in _LINE_HEADER]]
    for line in data.lines:
        rows.append([
            _cell(str(line.quantity)), _cell(line.description),
            _cell(", ".join(line.materials) or "-"), _cell(line.hs_code),
            _cell(country_label(line.origin_country, "en/fr")), _cell(_kg(line.weight_g)),
            _cell(line.unit_value.format()), _cell(line.value.format()),
            _cell("\n".join(line.provenance_codes) or "-", 6.5),  # one code a line, whole
        ])
    rows.append([
        _cell(""), _cell("Total", bold=True), _cell(""), _cell(""), _cell(""),
        _cell(f"{_kg(data.net_weight_g)}\n(gross / brut {_kg(data.gross_weight_g)})", bold=True),
        _cell(""), _cell(data.goods_value.format(), bold=True), _cell(""),
    ])
    return rows


def _category_text(data: ShipmentData) -> str:
    marks = "   ".join(f"[{'X' if code == data.category else ' '}] {label}"
                       for code, label in CATEGORIES.items())
    if data.category == "other":
        marks += f"   Explanation / Explication: {data.category_explanation}"
    return marks


def _non_delivery_text(data: ShipmentData) -> str:
    return "   ".join(f"[{'X' if code == data.non_delivery else ' '}] {label}"
                       for code, label in NON_DELIVERY.items())


def _numbers(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "-"


def _cn_story(data: ShipmentData, form: str, s: dict) -> list:
    tracking = data.tracking_number or "(not yet assigned)"
    operator = ("Designated operator / Opérateur désigné: Kazpost (KZ)"
                if data.service_kind == "postal"
                else f"Carrier / Transporteur: {data.carrier or data.service}")
    fees = data.shipping + data.fees if data.fees else data.shipping
    details = [
        [*_box("Item no. / No de l'envoi", tracking), *_box("Service", data.service_name
                                                               or data.service)],
        [*_box("Postal charges / Frais de port", fees.format()),
         *_box("Office of origin / date of posting / Bureau d'origine / date de dépôt",
               f"{data.office_of_origin}, {data.posted_on.isoformat()}")],
        [*_box("Licence no(s). / No de licence", _numbers(data.licence_numbers)),
         *_box("Certificate no(s). / No de certificat", _numbers(data.certificate_numbers))],
        [*_box("Invoice no. / No de facture", data.invoice_number or data.reference),
         *_box("Export permit (cultural value) / Permis d'exportation", data.export_permit)],
    ]
    story = [
        _para(f"CUSTOMS DECLARATION / DÉCLARATION EN DOUANE   {form[:2]} {form[2:]}   "
              "(may be opened officially / peut être ouvert d'office)", s["title"]),
        _para(f"{operator}   Ref. {data.reference}", s["p"]),
        Spacer(1, 3 * mm),
        _parties(data),
        Spacer(1, 2 * mm),
        _grid([[_cell("Category of item / Catégorie de l'envoi", 6, bold=True)],
               [_cell(_category_text(data), 7.5)]], [186 * mm], header_rows=0),
        Spacer(1, 2 * mm),
        _grid(_line_rows(data), _LINE_WIDTHS),
        Spacer(1, 2 * mm),
        _grid([[row[0], row[1], row[2], row[3]] for row in details],
              [30 * mm, 63 * mm, 30 * mm, 63 * mm], header_rows=0),
        Spacer(1, 2 * mm),
        _grid([[_cell("Comments / Observations", 6, bold=True),
                _cell(data.comments or _duties_text(data), 7.5)],
               [_cell("In case of non-delivery / En cas de non-livraison", 6, bold=True),
                _cell(_non_delivery_text(data), 7.5)]],
              [40 * mm, 146 * mm], header_rows=0),
        Spacer(1, 3 * mm),
        _para(_duties_text(data), s["h"]),
        _para("I certify that the particulars given in this customs declaration are correct and "
              "that this item does not contain any dangerous article prohibited by legislation "
              "or by postal or customs regulations. / Je certifie que les renseignements donnés "
              "dans la présente déclaration sont exacts et que cet envoi ne contient aucun objet "
              "dangereux interdit par la réglementation.", s["p"]),
        Spacer(1, 1 * mm),
        _grid([[_cell("Date and sender's signature / Date et signature de l'expéditeur", 6,
                      bold=True),
                _cell(f"{data.posted_on.isoformat()}   {data.sender.name}", 8)]],
              [60 * mm, 126 * mm], header_rows=0),
    ]
    return story


def _invoice_story(data: ShipmentData, s: dict) -> list:
    total = data.goods_value + data.shipping
    terms = ("DDP (Incoterms 2020) - duties and taxes prepaid by the seller"
             if data.duties_mode == "DDP"
             else "DAP (Incoterms 2020) - duties and taxes payable by the buyer")
    exporter = [_cell("Exporter / seller", 6.5, bold=True),
                _cell("\n".join(data.sender.lines()), 8),
                _cell(f"BIN: {data.exporter_bin or '-'}\nEORI: "
                      f"{data.sender_customs_reference or '-'}", 7.5)]
    importer = [_cell("Importer / buyer (consignee)", 6.5, bold=True),
                _cell("\n".join(data.recipient.lines()), 8),
                _cell(f"Importer's tax ids (VAT / IOSS / EORI): "
                      f"{data.importer_reference or '-'}", 7.5)]
    return [
        _para("COMMERCIAL INVOICE", s["title"]),
        _para(f"Invoice no. {data.invoice_number or data.reference}   Date "
              f"{data.posted_on.isoformat()}   Air waybill / item no. "
              f"{data.tracking_number or '-'}", s["p"]),
        _para(f"Reason for export: {CATEGORIES[data.category].split(' / ')[0].lower()}   "
              f"Terms of delivery: {terms}", s["p"]),
        _para(f"Currency: {data.currency}   Country of origin: "
              f"{country_label(ORIGIN_COUNTRY)}", s["p"]),
        Spacer(1, 3 * mm),
        _grid([[exporter, importer]], [93 * mm, 93 * mm], header_rows=0),
        Spacer(1, 3 * mm),
        _grid(_line_rows(data), _LINE_WIDTHS),
        Spacer(1, 3 * mm),
        _para(f"Goods: {data.goods_value.format()}   Freight: {data.shipping.format()}   "
              f"Invoice total: {total.format()}", s["h"]),
        _para(_duties_text(data), s["h"]),
        _para(f"Export permit: {data.export_permit or '-'}   Licences: "
              f"{_numbers(data.licence_numbers)}   Certificates: "
              f"{_numbers(data.certificate_numbers)}", s["p"]),
        Spacer(1, 4 * mm),
        _para("I declare that the information on this invoice is true and correct and that the "
              "goods are handmade in Kazakhstan.", s["p"]),
        _para(f"Signed for the exporter: {data.sender.name}, {data.office_of_origin}, "
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


def _party_data(address: Address) -> dict:
    return {"name": address.name, "business": address.business or None,
            "street": address.line1, "street2": address.line2 or None,
            "postcode": address.postal_code or None, "city": address.city,
            "region": address.region or None, "country": address.country,
            "phone": address.phone or None, "email": address.email or None}


def customs_data(data: ShipmentData, form: str) -> dict:
    """The declaration as structured data: the fields a postal operator's ITMATT message and
    the EU ICS2 postal data set carry (item-level HS6, description, quantity, weight, value,
    currency, origin; sender, addressee, importer reference). Its JSON Schema is
    ``data/schemas/customs-declaration.schema.json``."""
    if form not in ("CN22", "CN23"):
        raise ValueError("form is CN22 or CN23")
    return {
        "form": form,
        "item_id": data.tracking_number,
        "reference": data.reference,
        "service": data.service,
        "service_kind": data.service_kind,
        "carrier": data.carrier or None,
        "category": data.category,
        "category_explanation": data.category_explanation or None,
        "incoterm": data.duties_mode,
        "currency": data.currency,
        "total_value": data.goods_value.to_dict(),
        "postage": data.shipping.to_dict(),
        "gross_weight_g": data.gross_weight_g,
        "net_weight_g": data.net_weight_g,
        "date_of_posting": data.posted_on.isoformat(),
        "office_of_origin": data.office_of_origin,
        "non_delivery": data.non_delivery,
        "invoice_number": data.invoice_number or data.reference,
        "licence_numbers": list(data.licence_numbers),
        "certificate_numbers": list(data.certificate_numbers),
        "export_permit": data.export_permit or None,
        "importer_reference": data.importer_reference or None,
        "sender_customs_reference": data.sender_customs_reference or None,
        "exporter_bin": data.exporter_bin or None,
        "sender": _party_data(data.sender),
        "addressee": _party_data(data.recipient),
        "items": [{
            "sequence": number,
            "description": line.description,
            "quantity": line.quantity,
            "net_weight_g": line.weight_g,
            "value": line.value.to_dict(),
            "hs_code": "".join(ch for ch in line.hs_code if ch.isdigit())[:6],
            "tariff_code": "".join(ch for ch in line.hs_code if ch.isdigit()),
            "tariff": line.tariff,
            "origin_country": line.origin_country,
            "materials": list(line.materials),
        } for number, line in enumerate(data.lines, start=1)],
    }
