"""What an invoice says, per regime, read back from the PDF with two readers not ours (PDFium
and pypdf): the IOSS number and VAT per rate of an EU order collected at sale, the UK VAT number
of a GB order up to GBP 135, a KZT order inside Kazakhstan and one into the EAEU, the rate to 6
significant digits with its date, the buyer's language, Japanese and Arabic names, and figures
that stay as issued whatever changes later."""

from __future__ import annotations

import io
import unicodedata
from datetime import datetime
from decimal import Decimal

import pypdf
import pypdfium2
import pytest

from marketplace.accounts import lifecycle as accounts
from marketplace.catalog.models import ArtisanProfile, Product
from marketplace.extensions import db
from marketplace.orders import invoice_pdf, invoices
from tests.checkout.helpers import BERLIN, buyer_with_cart, do_checkout
from tests.factories import make_buyer, make_product
from tests.invoices.helpers import invoice_of, mark_paid, pending_order
from tests.payouts.helpers import KZ_IIN, artisan_with_account

pytestmark = pytest.mark.usefixtures("stripe_emulator")

BIN = "971240001315"  # check digit holds (the customs papers' tests use it too)
LONDON = {"name": "Amelia Jones", "line1": "1 Downing Street", "city": "London",
          "postal_code": "SW1A 2AA", "country": "GB", "phone": "+442000000000"}
ALMATY = {"name": "Айгерим Нурланова", "line1": "ул. Абая 10", "city": "Алматы",
          "postal_code": "050000", "country": "KZ", "phone": "+77011234567"}
MOSCOW = {"name": "Иван Петров", "line1": "ул. Тверская 1", "city": "Москва",
          "postal_code": "125009", "country": "RU", "phone": "+74951234567"}


@pytest.fixture(autouse=True)
def _registered(app, monkeypatch):
    monkeypatch.setitem(app.config, "COLLECTION_REGISTRATIONS",
                        {"IOSS": "IM3721234567", "UK": "GB980780684"})
    monkeypatch.setitem(app.config, "IOSS_NUMBER", "IM3721234567")
    monkeypatch.setitem(app.config, "UK_VAT_NUMBER", "GB980780684")
    monkeypatch.setitem(app.config, "EXPORTER_BIN", BIN)
    monkeypatch.setitem(app.config, "EXPORTER_STREET", "Abay Ave 150")
    monkeypatch.setitem(app.config, "EXPORTER_POSTCODE", "050000")


def pdfium_text(data: bytes) -> str:
    return "\n".join(page.get_textpage().get_text_range()
                     for page in pypdfium2.PdfDocument(data))


def pypdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return unicodedata.normalize("NFKC", "\n".join(page.extract_text() for page in reader.pages))


def flat(text: str) -> str:
    return " ".join(text.split())


def earrings(price: int = 4_500_000) -> Product:
    """Silver earrings (HS 7113) at 45,000 KZT = 81 EUR = 72 GBP by the tests' fixed rates."""
    artisan = artisan_with_account("Aigerim Silver")
    return make_product(artisan, craft="jewellery", hs_code="711311", materials=["silver"],
                        price_amount=price, price_base=price,
                        title={"en": "Silver earrings", "ru": "Серебряные серьги",
                               "kk": "Күміс сырғалар"})


def paid_through_checkout(client, address: dict, currency: str, *, locale: str = "en"):
    product = earrings()
    buyer, headers = buyer_with_cart((product, 1), currency=currency)
    accounts.update_profile(buyer, locale=locale, name=address["name"])
    order_id = do_checkout(client, headers, address=address, currency=currency)["order"]["id"]
    mark_paid(order_id)
    document = invoice_of(order_id)
    return document, invoice_pdf.document_pdf(document)


def test_an_ioss_order_shows_the_ioss_number_and_vat_per_rate(client):
    document, data = paid_through_checkout(client, BERLIN, "EUR")
    issued = document.data
    assert issued["regime"] == "IOSS" and issued["deemed_supplier"]
    assert issued["supplier"]["registration"]["number"] == "IM3721234567"
    [tax] = issued["taxes"]
    assert tax["rate"] == "0.19" and tax["local_currency"] == "EUR"
    assert tax["tax"] > 0 and tax["tax"] == round(Decimal(tax["taxable_local"]) * Decimal("0.19"))
    for text in (pdfium_text(data), pypdf_text(data)):
        text = flat(text)
        assert "IOSS number: IM3721234567" in text
        assert f"BIN: {BIN}" in text
        assert "VAT 19%" in text and "VAT by rate" in text
        assert f"€{tax['tax'] / 100:.2f}" in text
        assert "IE Aigerim Silver" in text and KZ_IIN in text  # the seller of record
        assert "deemed supplier" in text and "art. 14a" in text
        assert "Anna Schmidt" in text and "Germany" in text


def test_a_gb_order_up_to_135_pounds_shows_the_uk_vat_number(client):
    document, data = paid_through_checkout(client, LONDON, "GBP")
    assert document.data["regime"] == "UK"
    [tax] = document.data["taxes"]
    assert tax["rate"] == "0.2" or Decimal(tax["rate"]) == Decimal("0.2")
    text = flat(pdfium_text(data))
    assert "UK VAT number: GB980780684" in text
    assert "VAT 20%" in text and "£" in text
    assert "IOSS" not in text


def test_a_kzt_order_inside_kazakhstan_charges_no_vat_and_needs_no_rate(client):
    document, data = paid_through_checkout(client, ALMATY, "KZT", locale="ru")
    issued = document.data
    assert issued["regime"] == "domestic" and issued["taxes"] == [] and issued["fx"] is None
    text = flat(pdfium_text(data))
    assert "Счёт-фактура SHB-" in text
    assert "Продажа в пределах Казахстана" in text
    assert "Курс" not in text
    assert "45 000,00 ₸" in text  # the tenge's sign, as the pages and mails write it
    assert "Айгерим Нурланова" in text and f"БИН: {BIN}" in text


def test_an_eaeu_order_names_the_union_and_no_customs_duty(client):
    document, data = paid_through_checkout(client, MOSCOW, "RUB", locale="kk")
    assert document.data["regime"] == "customs_union"
    text = flat(pdfium_text(data))
    assert "Шот-фактура SHB-" in text
    assert "Еуразиялық экономикалық одақ" in text
    assert "Иван Петров" in text and "Ресей" in text  # Russia, in Kazakh


def test_the_rate_has_six_significant_digits_and_its_date():
    assert invoices.significant(Decimal("0.00167961165048543689")) == "0.00167961"
    assert invoices.significant(Decimal("595.37572254335")) == "595.376"
    assert invoices.significant(Decimal("150")) == "150.000"
    assert invoices.significant(Decimal("0.0000012345678")) == "0.00000123457"
    order_id = pending_order()  # 1 KZT = 0.00167961165048543689 EUR
    mark_paid(order_id)
    document = invoice_of(order_id)
    assert document.data["fx"] == {"from": "KZT", "to": "EUR", "rate": "0.00167961",
                                   "inverse": "595.376",
                                   "date": document.data["supply_date"]}
    text = flat(pypdf_text(invoice_pdf.document_pdf(document)))
    assert "1 KZT = 0.00167961 EUR (1 EUR = 595.376 KZT)" in text


@pytest.mark.parametrize(("locale", "title", "date", "goods"), [
    ("ru", "Счёт-фактура", "5 марта 2026 г.", "Товары"),
    ("kk", "Шот-фактура", "2026 ж. 5 наурыз", "Тауарлар"),
    ("en", "Invoice", "March 5, 2026", "Goods"),
])
def test_the_invoice_is_in_the_buyers_language(monkeypatch, locale, title, date, goods):
    monkeypatch.setattr(invoices, "utcnow", lambda: datetime(2026, 3, 5, 9, 30))
    product = make_product(title={"en": "Kese bowl", "ru": "Пиала кесе", "kk": "Кесе тостағы"})
    order_id = pending_order(product, buyer=make_buyer(locale=locale))
    mark_paid(order_id)
    text = flat(pdfium_text(invoice_pdf.document_pdf(invoice_of(order_id))))
    assert f"{title} SHB-2026-000001" in text
    assert date in text and goods in text
    assert {"ru": "Пиала кесе", "kk": "Кесе тостағы", "en": "Kese bowl"}[locale] in text


@pytest.mark.parametrize(("name", "address", "words"), [
    ("山田太郎", {"name": "山田太郎", "line1": "神南1-2-3", "city": "渋谷区",
              "postal_code": "150-0041", "country": "JP"}, ["山田太郎", "神南1-2-3", "渋谷区"]),
    ("محمد العلي", {"name": "محمد العلي", "line1": "شارع الشيخ زايد 12", "city": "دبي",
                    "postal_code": "00000", "country": "AE"},
     ["محمد", "العلي", "شارع", "الشيخ", "زايد"]),
])
def test_japanese_and_arabic_names_read_back(name, address, words):
    order_id = pending_order(buyer=make_buyer(name=name), address=address)
    mark_paid(order_id)
    data = invoice_pdf.document_pdf(invoice_of(order_id))
    with_pdfium, with_pypdf = pdfium_text(data), pypdf_text(data)
    for word in words:
        assert word in with_pdfium
        assert word in "".join(with_pypdf.split()) or word in with_pypdf


def test_an_issued_invoice_keeps_its_figures_when_products_and_settings_change(app,
                                                                              monkeypatch):
    artisan = artisan_with_account("Aigerim Ceramics")
    product = make_product(artisan, title={"en": "Kese bowl"})
    order_id = pending_order(product)
    mark_paid(order_id)
    before = invoice_pdf.document_pdf(invoice_of(order_id))

    db.session.get(Product, product.id).title = {"en": "Renamed bowl"}
    db.session.get(ArtisanProfile, artisan.id).payout_holder_name = "LLP Someone Else"
    db.session.commit()
    monkeypatch.setitem(app.config, "EXPORTER_NAME", "Another Marketplace Ltd")
    monkeypatch.setitem(app.config, "EXPORTER_BIN", None)

    after = flat(pdfium_text(invoice_pdf.document_pdf(invoice_of(order_id))))
    assert after == flat(pdfium_text(before))
    assert "Kese bowl" in after and "IE Aigerim Ceramics" in after
    assert "Sheber Marketplace LLP" in after and BIN in after
    assert "Renamed" not in after and "Another Marketplace" not in after


def test_every_required_field_of_the_rules_table_is_on_an_invoice():
    order_id = pending_order()
    mark_paid(order_id)
    issued = invoice_of(order_id).data
    for row in invoices.rules()["fields"]:
        if row["required"] and row["field"] not in ("taxes", "tax_currency", "fx"):
            assert invoices._value(issued, row["field"]) not in (None, "", []), row["field"]
    assert issued["missing"] == ["sellers.0.iin_bin"]  # the factory's artisan has no account
