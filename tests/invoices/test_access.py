"""Who reads an order's invoice and credit notes: its buyer, a guest holding the order's signed
access token, operators; anyone else gets a 404, and before payment a 404 whose code says there
is no invoice yet."""

from __future__ import annotations

import pytest

from marketplace.accounts import lifecycle as accounts
from marketplace.extensions import db
from marketplace.orders import notify
from marketplace.orders.models import Order
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product
from tests.invoices.helpers import mark_paid, pending_order


@pytest.fixture
def paid():
    buyer = make_buyer()
    artisan = make_artisan()
    order_id = pending_order(make_product(artisan), buyer=buyer)
    mark_paid(order_id)
    return order_id, buyer, artisan


def _get(client, order_id, headers=None, access=None):
    query = f"?access={access}" if access else ""
    return client.get(f"/api/v1/orders/{order_id}/invoice.pdf{query}", headers=headers or {})


def test_the_buyer_and_operators_download_the_invoice(client, paid):
    order_id, buyer, _ = paid
    for headers in (auth_headers(buyer), auth_headers(make_operator())):
        response = _get(client, order_id, headers)
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF-")
        assert "SHB-" in response.headers["Content-Disposition"]


def test_other_buyers_artisans_and_strangers_get_a_404(client, paid):
    order_id, _, artisan = paid
    for headers in (auth_headers(make_buyer()), auth_headers(artisan), None):
        response = _get(client, order_id, headers)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "order.not_found"


def test_a_guest_opens_it_with_the_orders_signed_token_only(client):
    guest = accounts.create_guest(locale="ru", currency="EUR", country="DE")
    order_id = pending_order(buyer=guest)
    db.session.get(Order, order_id).contact_email = "guest@example.test"
    db.session.commit()
    mark_paid(order_id)
    token = notify.access_token(db.session.get(Order, order_id))
    assert _get(client, order_id, access=token).status_code == 200
    other = pending_order()
    assert _get(client, other, access=token).status_code == 404
    assert _get(client, order_id, access=token[:-4] + "AAAA").status_code == 404


def test_before_payment_the_buyer_is_told_there_is_no_invoice_yet(client):
    buyer = make_buyer()
    order_id = pending_order(buyer=buyer)
    response = _get(client, order_id, auth_headers(buyer))
    assert response.status_code == 404
    assert response.get_json()["code"] == "order.invoice_not_available"
    assert _get(client, order_id, auth_headers(make_buyer())).get_json()["code"] == (
        "order.not_found")  # a stranger does not learn the order exists


def test_the_documents_list_names_the_invoice_and_its_pdf(client, paid):
    order_id, buyer, _ = paid
    response = client.get(f"/api/v1/orders/{order_id}/documents", headers=auth_headers(buyer))
    assert response.status_code == 200
    [invoice] = response.get_json()["items"]
    assert invoice["kind"] == "invoice" and invoice["number"].startswith("SHB-")
    assert invoice["pdf_url"] == f"/api/v1/orders/{order_id}/invoice.pdf"
    assert client.get(f"/api/v1/orders/{order_id}/documents",
                      headers=auth_headers(make_buyer())).status_code == 404


def test_the_openapi_document_lists_the_invoice_endpoints(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    invoice = paths["/api/v1/orders/{order_id}/invoice.pdf"]["get"]
    assert "application/pdf" in invoice["responses"]["200"]["content"]
    assert any(p["name"] == "access" for p in invoice["parameters"])
    assert "404" in invoice["responses"]
    assert "/api/v1/orders/{order_id}/credit-notes/{number}.pdf" in paths
    documents = paths["/api/v1/orders/{order_id}/documents"]["get"]
    assert "$ref" in str(documents["responses"]["200"]["content"]["application/json"]["schema"])
