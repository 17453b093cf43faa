"""The pages around the documents: the buyer's order page links the invoice (a guest's link
carries the order's token; an artisan sees none), the console lists every issued document with
its number, and its dispute page sends evidence through Stripe's dispute API (localstripe's
Dispute resource) with a CSRF-protected form."""

from __future__ import annotations

import pytest

from marketplace.accounts import lifecycle as accounts
from marketplace.extensions import db
from marketplace.orders import notify
from marketplace.orders.models import Dispute, Order
from tests.checkout.helpers import buyer_with_cart, fresh, paid_order
from tests.checkout.test_stripe_lifecycle import _open, deliver  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_operator, make_product
from tests.invoices.helpers import invoice_of, mark_paid, pending_order
from tests.storefront.helpers import HTML, choose, csrf_token, post_form, sign_in


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def test_the_buyers_order_page_links_the_invoice_and_an_artisans_does_not(client):
    buyer, artisan = make_buyer(), make_artisan()
    order_id = pending_order(make_product(artisan), buyer=buyer)
    mark_paid(order_id)
    number = invoice_of(order_id).number
    sign_in(client, buyer)
    html = page(client, f"/orders/{order_id}")
    assert f'href="/api/v1/orders/{order_id}/invoice.pdf"' in html and number in html
    assert client.get(f"/api/v1/orders/{order_id}/invoice.pdf").status_code == 200  # session
    client.post("/signout", data={"csrf_token": csrf_token(client)}, headers=HTML)
    sign_in(client, artisan)
    assert number not in page(client, f"/orders/{order_id}")


def test_a_guests_order_page_links_the_invoice_with_its_token(client):
    guest = accounts.create_guest(locale="ru", currency="EUR", country="DE")
    order_id = pending_order(buyer=guest)
    db.session.get(Order, order_id).contact_email = "guest@example.test"
    db.session.commit()
    mark_paid(order_id)
    token = notify.access_token(db.session.get(Order, order_id))
    html = page(client, f"/orders/{order_id}?access={token}")
    assert f"/api/v1/orders/{order_id}/invoice.pdf?access={token}" in html
    assert "Счёт-фактура" in html or "Invoice" in html


def test_the_console_lists_issued_documents_with_their_numbers(client):
    order_id = pending_order()
    mark_paid(order_id)
    number = invoice_of(order_id).number
    sign_in(client, make_operator())
    register = page(client, "/console/documents")
    assert number in register and order_id[-8:] in register
    assert "sellers.0.iin_bin" in register  # what the document lacks
    assert number in page(client, f"/console/orders/{order_id}")
    choose(client, language="kk")
    assert "Шот-фактуралар" in page(client, "/console/documents")


@pytest.mark.usefixtures("stripe_emulator")
def test_an_operator_answers_a_dispute_with_the_console_form(client, stripe_webhooks,
                                                             deliver):  # noqa: F811
    _, headers = buyer_with_cart((make_product(stock=1), 1))
    order_id, intent_id = paid_order(client, headers)
    dispute = _open(stripe_webhooks, intent_id, "product_not_received")
    deliver("charge.dispute.created", dispute, times=1)
    [row] = db.session.execute(db.select(Dispute)).scalars().all()
    sign_in(client, make_operator())

    html = page(client, "/console/disputes")
    assert dispute["id"] in html and 'name="shipping_tracking_number"' in html
    assert 'name="csrf_token"' in html
    choose(client, language="ru")
    in_russian = page(client, "/console/disputes")
    assert "Трек-номер" in in_russian and "Споры" in in_russian

    path = f"/console/disputes/{row.id}/evidence"
    forged = client.post(path, data={"uncategorized_text": "x"}, headers=HTML)
    assert forged.status_code in (400, 403)  # no CSRF token
    empty = post_form(client, path, {"shipping_carrier": "  "})
    assert empty.status_code == 422
    assert stripe_webhooks.dispute(dispute["id"])["evidence_details"]["submission_count"] == 0

    sent = post_form(client, path, {
        "shipping_tracking_number": "RR123456785KZ", "shipping_carrier": "Kazpost",
        "uncategorized_text": "Delivered to the buyer's address, signed for.", "submit": "1"})
    assert sent.status_code == 302
    at_stripe = stripe_webhooks.dispute(dispute["id"])
    assert at_stripe["evidence"]["shipping_tracking_number"] == "RR123456785KZ"
    assert at_stripe["evidence"]["shipping_carrier"] == "Kazpost"
    assert at_stripe["evidence_details"]["submission_count"] == 1
    row = fresh(Dispute, row.id)
    assert row.status == "under_review" and row.evidence_submitted_at is not None
    again = post_form(client, path, {"uncategorized_text": "more"})
    assert again.status_code == 422
    after = page(client, "/console/disputes")
    assert order_id[-8:] in after and "На рассмотрении" in after  # no form any more
    assert f'action="{path}"' not in after
