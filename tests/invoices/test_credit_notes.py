"""A refund made through the real refund path (the operator's API, Stripe's Refund through the
real stripe library against localstripe) issues a credit note in a series of its own that names
its invoice, takes back the VAT in proportion, and is served like the invoice."""

from __future__ import annotations

from datetime import datetime

import pytest

from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders.models import DocumentCounter, TaxDocument
from tests.checkout.helpers import buyer_with_cart, do_checkout, pay
from tests.factories import auth_headers, make_buyer, make_operator
from tests.invoices.test_content import earrings, flat, pdfium_text, pypdf_text

pytestmark = pytest.mark.usefixtures("stripe_emulator")


@pytest.fixture(autouse=True)
def _ioss(app, monkeypatch):
    monkeypatch.setitem(app.config, "COLLECTION_REGISTRATIONS", {"IOSS": "IM3721234567"})


def _documents(order_id: str) -> list[TaxDocument]:
    db.session.expire_all()
    return list(db.session.execute(db.select(TaxDocument).where(
        TaxDocument.order_id == order_id).order_by(TaxDocument.issued_at,
                                                   TaxDocument.number)).scalars())


def test_each_refund_gets_a_credit_note_naming_the_invoice(client, stripe_webhooks):
    year = utcnow().year
    _, headers = buyer_with_cart((earrings(3_000_000), 2))  # 2 x 54 EUR: IOSS
    order = do_checkout(client, headers)["order"]
    paid = pay(client, headers, order["id"])
    assert paid["status"] == "succeeded"
    operator = auth_headers(make_operator())
    line = order["lines"][0]

    partial = client.post(f"/api/v1/operator/orders/{order['id']}/refunds", headers=operator,
                          json={"lines": [{"line_id": line["id"], "quantity": 1}],
                                "reason": "one earring was bent"})
    assert partial.status_code == 201, partial.get_json()
    rest = client.post(f"/api/v1/operator/orders/{order['id']}/refunds", headers=operator,
                       json={"reason": "goodwill"})
    assert rest.status_code == 201, rest.get_json()
    refunded = [r["amount"] for r in stripe_webhooks.refunds(paid["payment_intent_id"])]

    invoice, first, second = _documents(order["id"])
    assert invoice.kind == "invoice" and invoice.number == f"SHB-{year}-000001"
    assert (first.number, second.number) == (f"SHB-CN-{year}-000001", f"SHB-CN-{year}-000002")
    assert db.session.get(DocumentCounter, f"CN-{year}").last_number == 2
    assert sorted([first.total_amount, second.total_amount]) == sorted(refunded)
    assert first.invoice_id == invoice.id and first.data["invoice"]["number"] == invoice.number
    assert [ln["quantity"] for ln in first.data["lines"]] == [1]
    # the VAT taken back: the invoice's, in proportion to what was refunded
    invoice_tax = invoice.data["taxes"][0]["tax"]
    assert sum(note.data["taxes"][0]["tax"] for note in (first, second)) in (
        invoice_tax - 1, invoice_tax, invoice_tax + 1)
    assert first.data["supplier"]["registration"]["number"] == "IM3721234567"

    listed = client.get(f"/api/v1/orders/{order['id']}/documents", headers=headers).get_json()
    assert [d["number"] for d in listed["items"]] == [invoice.number, first.number,
                                                       second.number]
    url = listed["items"][1]["pdf_url"]
    response = client.get(url, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    for text in (flat(pdfium_text(response.data)), flat(pypdf_text(response.data))):
        assert f"Credit note {first.number}" in text
        assert f"Corrects invoice {invoice.number}" in text
        assert "one earring was bent" in text
        assert "IM3721234567" in text
    assert client.get(url, headers=auth_headers(make_buyer())).status_code == 404
    missing = client.get(f"/api/v1/orders/{order['id']}/credit-notes/SHB-CN-{year}-000099.pdf",
                         headers=headers)
    assert missing.status_code == 404


def test_a_credit_note_of_another_year_starts_that_years_series(client, stripe_webhooks,
                                                                monkeypatch):
    from marketplace.orders import invoices

    _, headers = buyer_with_cart((earrings(), 1))
    order = do_checkout(client, headers)["order"]
    assert pay(client, headers, order["id"])["status"] == "succeeded"
    monkeypatch.setattr(invoices, "utcnow", lambda: datetime(2099, 6, 1, 12, 0))
    response = client.post(f"/api/v1/operator/orders/{order['id']}/refunds",
                           headers=auth_headers(make_operator()),
                           json={"amount": {"amount": 500, "currency": "EUR"},
                                 "reason": "late"})
    assert response.status_code == 201, response.get_json()
    note = _documents(order["id"])[-1]
    assert note.number == "SHB-CN-2099-000001" and note.data["adjustment"] == 500
    assert note.data["lines"] == []
