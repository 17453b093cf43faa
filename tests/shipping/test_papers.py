"""Label, CN 22, CN 23 and commercial invoice PDFs: parsed back with pypdf; the label's
barcode rendered with PDFium and decoded with zxing-cpp."""

from __future__ import annotations

import io
from datetime import date

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from marketplace.money import Money
from marketplace.shipping import papers, service

SENDER = papers.Address("Sheber LLP", "Abay avenue 10", "Almaty", "KZ", "050000",
                        phone="+7 727 000 0000")
RECIPIENT = papers.Address("Анна Müller", "Invalidenstraße 1", "Berlin", "DE", "10115")


def shipment(**overrides) -> papers.ShipmentData:
    fields = dict(
        reference="ORD-01", service="ems", service_name="EMS (Kazpost)", carrier="sheber-post",
        sender=SENDER, recipient=RECIPIENT, gross_weight_g=1340,
        lines=(
            papers.CustomsLine("Silver filigree earrings", "7113", 2, Money(8100, "EUR"), 30,
                               ("silver", "turquoise"), provenance_codes=("SHB-7K2Q-01",
                                                                          "SHB-7K2Q-02")),
            papers.CustomsLine("Kese bowl", "6912", 1, Money(10800, "EUR"), 900, ("clay",),
                               provenance_codes=("SHB-C3RM-01",)),
        ),
        shipping=Money(2250, "EUR"), duties_mode="DDP", duties_estimate=Money(2324, "EUR"),
        tracking_number="EE123456785KZ", posted_on=date(2026, 11, 26),
    )
    fields.update(overrides)
    return papers.ShipmentData(**fields)


def words(text: str) -> str:
    return " ".join(text.split())  # table cells wrap their text over lines


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return words(" ".join(page.extract_text() for page in reader.pages))


def test_label_shows_the_tracking_number_as_text_and_as_a_scannable_code128():
    pdf = papers.label_pdf(shipment())
    text = text_of(pdf)
    assert "EE123456785KZ" in text
    assert "Berlin" in text and "Анна Müller" in text and "DDP" in text
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=200 / 72).to_pil()
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.format == zxingcpp.BarcodeFormat.Code128
    assert barcode.text == "EE123456785KZ"


def test_label_needs_a_tracking_number():
    with pytest.raises(ValueError):
        papers.label_pdf(shipment(tracking_number=None))


def test_cn22_lists_hs_codes_materials_origin_values_and_provenance_codes():
    text = text_of(papers.cn22_pdf(shipment()))
    assert "CN 22" in text
    for expected in ("7113", "6912", "silver, turquoise", "SHB-7K2Q-01", "SHB-7K2Q-02",
                     "SHB-C3RM-01", "EE123456785KZ", "162.00 EUR", "108.00 EUR", "270.00 EUR",
                     "Sale of goods", "PREPAID", "23.24 EUR"):
        assert expected in text, expected
    assert "Country of origin of goods: KZ" in text


def test_cn23_with_the_commercial_invoice_for_dap():
    pdf = papers.customs_pdf(shipment(duties_mode="DAP", service="express",
                                      service_kind="courier", service_name="Express courier",
                                      export_permit="KZ-EXP-2026-0042"), "CN23")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    cn23, invoice = (words(page.extract_text()) for page in reader.pages)
    assert "CN 23" in cn23 and "Carrier: sheber-post" in cn23
    assert "KZ-EXP-2026-0042" in cn23
    assert "COMMERCIAL INVOICE" in invoice
    for page in (cn23, invoice):
        assert "7113" in page and "6912" in page and "SHB-C3RM-01" in page
        assert "EE123456785KZ" in page
        assert "payable by the addressee" in page
    assert "DAP (Incoterms 2020)" in invoice
    # goods 270.00 + freight 22.50
    assert "Invoice total: 292.50 EUR" in invoice


def test_customs_pdf_for_cn22_is_only_the_cn22():
    reader = PdfReader(io.BytesIO(papers.customs_pdf(shipment(), "CN22")))
    assert len(reader.pages) == 1
    assert "CN 22" in reader.pages[0].extract_text()


def test_papers_refuse_mixed_currencies_and_unknown_duties_modes():
    with pytest.raises(ValueError):
        shipment(shipping=Money(1000, "USD"))
    with pytest.raises(ValueError):
        shipment(duties_mode="CIF")


def test_cn22_up_to_300_sdr_by_post_else_cn23():
    # 300 SDR x 1.37 USD = 411.00 USD = 205,500.00 KZT at 500 KZT per USD
    assert service.customs_form_for(Money(20_550_000, "KZT"), "ems") == "CN22"
    assert service.customs_form_for(Money(20_550_001, "KZT"), "ems") == "CN23"
    # the courier always gets a CN 23 with a commercial invoice
    assert service.customs_form_for(Money(100_000, "KZT"), "express") == "CN23"
