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
            papers.CustomsLine("Silver filigree earrings", "711311", 2, Money(8100, "EUR"), 30,
                               ("silver", "turquoise"), provenance_codes=("SHB-7K2Q-01",
                                                                          "SHB-7K2Q-02")),
            papers.CustomsLine("Kese bowl", "691200", 1, Money(10800, "EUR"), 900, ("clay",),
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
    for expected in ("711311", "691200", "silver, turquoise", "SHB-7K2Q-01", "SHB-7K2Q-02",
                     "SHB-C3RM-01", "EE123456785KZ", "162.00 EUR", "108.00 EUR", "270.00 EUR",
                     "Sale of goods", "PREPAID", "23.24 EUR"):
        assert expected in text, expected
    assert "Kazakhstan (KZ)" in text


def test_cn23_with_the_commercial_invoice_for_dap():
    pdf = papers.customs_pdf(shipment(duties_mode="DAP", service="express",
                                      service_kind="courier", service_name="Express courier",
                                      export_permit="KZ-EXP-2026-0042"), "CN23")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    cn23, invoice = (words(page.extract_text()) for page in reader.pages)
    assert "CN 23" in cn23 and "Carrier / Transporteur: sheber-post" in cn23
    assert "KZ-EXP-2026-0042" in cn23
    assert "COMMERCIAL INVOICE" in invoice
    for page in (cn23, invoice):
        assert "711311" in page and "691200" in page and "SHB-C3RM-01" in page
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


# --- every box of the UPU forms, in every script ------------------------------------------

TOKYO = papers.Address("山田太郎", "渋谷区神南1-2-3", "東京都", "JP", "150-0041",
                       phone="+81 3 0000 0000", email="taro@example.jp")
DUBAI = papers.Address("محمد العلي", "شارع الشيخ زايد 12", "دبي", "AE", "",
                       phone="+971 4 000 0000", email="m.ali@example.ae")


def pdfium_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def full_shipment(recipient=TOKYO, **overrides) -> papers.ShipmentData:
    sender = papers.Address("Sheber Marketplace LLP", "Abay avenue 10", "Almaty", "KZ", "050000",
                            phone="+7 727 000 0000", email="export@sheber.kz")
    fields = dict(sender=sender, recipient=recipient, importer_reference="IOSS IM3721234567",
                  sender_customs_reference="KZ123456789012345", exporter_bin="971240001315",
                  licence_numbers=("KZ-LIC-77",), certificate_numbers=("CERT-9",),
                  export_permit="KZ-MCI-2026-0142 (Ministry of Culture, 2026-11-20)",
                  invoice_number="SHB-ORD-01", non_delivery="abandon")
    fields.update(overrides)
    return shipment(**fields)


@pytest.mark.parametrize("recipient", [TOKYO, DUBAI], ids=["japanese", "arabic"])
@pytest.mark.parametrize("form", ["CN22", "CN23"])
def test_the_customs_form_carries_every_box_and_prints_the_addressee_in_its_script(form,
                                                                                   recipient):
    data = full_shipment(recipient)
    pdf = papers.customs_pdf(data, form)
    text = pdfium_text(pdf)
    flat = "".join(text.split())
    for expected in (recipient.name, recipient.line1, recipient.city):
        assert "".join(expected.split()) in flat, expected
    for expected in (
            f"{form[:2]} {form[2:]}", "Abay avenue 10", "+7 727 000 0000", "export@sheber.kz",
            recipient.phone, recipient.email, "IOSS IM3721234567", "KZ123456789012345",
            "Gift / Cadeau", "Documents", "Commercial sample", "Returned goods",
            "[X] Sale of goods", "Other / Autre", "711311", "691200", "0.060",
            "162.00 EUR", "108.00 EUR", "Kazakhstan (KZ)", "KZ-LIC-77", "CERT-9",
            "SHB-ORD-01", "KZ-MCI-2026-0142", "[X] Treat as abandoned", "Return to sender",
            "22.50 EUR", "2026-11-26", "Sheber Marketplace LLP", "signature"):
        assert "".join(expected.split()) in flat, expected
    country = papers.country_label(recipient.country, "en/fr")
    assert "".join(country.split()) in flat  # "Japan / Japon (JP)", in English and French


def test_category_other_needs_its_explanation_and_prints_it():
    with pytest.raises(ValueError):
        full_shipment(category="other")
    pdf = papers.customs_pdf(full_shipment(category="other",
                                           category_explanation="museum loan"), "CN23")
    assert "[X] Other / Autre" in pdfium_text(pdf) and "museum loan" in pdfium_text(pdf)


def test_the_commercial_invoice_names_exporter_bin_importer_ids_and_incoterm():
    text = pdfium_text(papers.commercial_invoice_pdf(full_shipment(DUBAI, duties_mode="DAP")))
    flat = "".join(text.split())
    for expected in ("COMMERCIAL INVOICE", "BIN: 971240001315", "EORI: KZ123456789012345",
                     "IOSS IM3721234567", "DAP (Incoterms 2020)", "81.00 EUR", "162.00 EUR",
                     "محمد العلي", "Invoice total: 292.50 EUR"):
        assert "".join(expected.split()) in flat, expected


def test_customs_data_has_item_level_hs6_and_both_parties():
    data = papers.customs_data(full_shipment(), "CN23")
    assert [item["hs_code"] for item in data["items"]] == ["711311", "691200"]
    assert data["addressee"]["name"] == "山田太郎" and data["sender"]["email"] == "export@sheber.kz"
    assert data["importer_reference"] == "IOSS IM3721234567"
    assert data["exporter_bin"] == "971240001315"
