"""The receipt mail, read from the real SMTP sink, keeps its receipt PDF and links the invoice;
the link opens the invoice (a guest's carries the order's signed token and needs no sign-in)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from marketplace.accounts import lifecycle as accounts
from marketplace.extensions import db
from marketplace.orders import pipeline
from tests.checkout.helpers import buyer_with_cart, checkout_body, do_checkout, pay, quote_option
from tests.factories import make_product
from tests.invoices.test_content import flat, pdfium_text
from tests.mails.helpers import deliver_queued, html_of, links, text_of, to
from tests.mails.test_guest_checkout import guest_with_cart

pytestmark = pytest.mark.usefixtures("stripe_emulator")


def _invoice_link(message, order_id: str) -> str:
    [link] = [url for url in links(html_of(message)) if url.endswith("invoice.pdf")
              or "invoice.pdf?" in url]
    assert f"/api/v1/orders/{order_id}/invoice.pdf" in link
    assert link in text_of(message)
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_the_receipt_mail_links_the_invoice_in_the_buyers_language(client, smtp_server):
    bowl = make_product(title={"en": "Kese bowl", "ru": "Пиала кесе", "kk": "Кесе тостағы"})
    buyer, headers = buyer_with_cart((bowl, 1))
    accounts.update_profile(buyer, locale="kk")
    order_id = do_checkout(client, headers)["order"]["id"]
    assert pay(client, headers, order_id)["status"] == "succeeded"
    pipeline.send_receipt(order_id)
    db.session.commit()
    deliver_queued()

    [receipt] = to(smtp_server, buyer.email)
    [attachment] = list(receipt.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"  # the receipt stays attached
    assert "Шот-фактура" in text_of(receipt)
    path = _invoice_link(receipt, order_id)
    assert client.get(path).status_code == 404  # the link alone opens nothing of an account's
    response = client.get(path, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = flat(pdfium_text(response.data))
    assert "Шот-фактура SHB-" in text and "Кесе тостағы" in text


def test_a_guests_receipt_links_the_invoice_with_the_orders_token(client, smtp_server):
    headers = guest_with_cart(client, locale="ru")
    option = quote_option(client, headers)
    placed = client.post("/api/v1/checkout", headers=headers,
                         json={**checkout_body(option), "email": "guest.invoice@example.test"})
    assert placed.status_code == 201, placed.get_json()
    order_id = placed.get_json()["order"]["id"]
    assert pay(client, headers, order_id)["status"] == "succeeded"
    pipeline.send_receipt(order_id)
    db.session.commit()
    deliver_queued()

    [receipt] = to(smtp_server, "guest.invoice@example.test")
    path = _invoice_link(receipt, order_id)
    assert "access=" in path
    response = client.get(path)
    assert response.status_code == 200
    assert "Счёт-фактура SHB-" in flat(pdfium_text(response.data))
