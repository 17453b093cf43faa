"""The receipt mail, read from the real SMTP sink, links the receipt PDF and the invoice instead
of attaching a PDF; each link opens its paper (a guest's carries the order's signed token and
needs no sign-in). The receipt is rendered on its first download and kept: two first downloads
at once render it once, and it reads as the receipt the pipeline attached before, its date the
payment's."""

from __future__ import annotations

import io
import threading
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from marketplace import mail
from marketplace.accounts import lifecycle as accounts
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.orders import notify, pipeline, receipt
from marketplace.orders.models import Order, OrderReceipt
from tests.checkout.helpers import buyer_with_cart, checkout_body, do_checkout, pay, quote_option
from tests.factories import PASSWORD, make_product
from tests.invoices.test_content import flat, pdfium_text
from tests.mails.helpers import deliver_queued, html_of, links, text_of, to
from tests.mails.test_guest_checkout import guest_with_cart

pytestmark = pytest.mark.usefixtures("stripe_emulator")


def _link(message, order_id: str, name: str) -> str:
    [link] = [url for url in links(html_of(message)) if url.endswith(name)
              or f"{name}?" in url]
    assert f"/api/v1/orders/{order_id}/{name}" in link
    assert link in text_of(message)
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _paid(client, locale: str = "en"):
    bowl = make_product(title={"en": "Kese bowl", "ru": "Пиала кесе", "kk": "Кесе тостағы"})
    buyer, headers = buyer_with_cart((bowl, 1))
    accounts.update_profile(buyer, locale=locale)
    order_id = do_checkout(client, headers)["order"]["id"]
    assert pay(client, headers, order_id)["status"] == "succeeded"
    return buyer, headers, order_id


def _kept(order_id: str) -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(OrderReceipt)
                              .where(OrderReceipt.order_id == order_id)).scalar_one()


def test_the_receipt_mail_links_the_invoice_in_the_buyers_language(client, smtp_server):
    buyer, headers, order_id = _paid(client, locale="kk")
    pipeline.send_receipt(order_id)
    db.session.commit()
    deliver_queued()

    [message] = to(smtp_server, buyer.email)
    assert list(message.iter_attachments()) == []  # linked, not attached
    assert "Шот-фактура" in text_of(message)
    path = _link(message, order_id, "invoice.pdf")
    assert client.get(path).status_code == 404  # the link alone opens nothing of an account's
    response = client.get(path, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = flat(pdfium_text(response.data))
    assert "Шот-фактура SHB-" in text and "Кесе тостағы" in text


def test_the_receipt_link_opens_the_receipt_for_its_buyer_alone(client, smtp_server):
    buyer, headers, order_id = _paid(client)
    pipeline.send_receipt(order_id)
    db.session.commit()
    deliver_queued()
    assert _kept(order_id) == 0  # nothing rendered for the mail

    [message] = to(smtp_server, buyer.email)
    path = _link(message, order_id, "receipt.pdf")
    assert "access=" not in path
    assert client.get(path).status_code == 404
    _, other = buyer_with_cart()
    assert client.get(path, headers=other).status_code == 404
    response = client.get(path, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f'filename="sheber-receipt-{order_id}.pdf"' in response.headers["Content-Disposition"]
    text = flat(pdfium_text(response.data))
    assert order_id in text and buyer.name in text and "Kese bowl" in text
    assert _kept(order_id) == 1
    assert client.get(path, headers=headers).data == response.data  # the kept bytes


def test_an_unpaid_order_has_no_receipt(client):
    bowl = make_product()
    _, headers = buyer_with_cart((bowl, 1))
    order_id = do_checkout(client, headers)["order"]["id"]
    response = client.get(f"/api/v1/orders/{order_id}/receipt.pdf", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["code"] == "order.receipt_not_available"
    assert _kept(order_id) == 0


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

    [message] = to(smtp_server, "guest.invoice@example.test")
    path = _link(message, order_id, "invoice.pdf")
    assert "access=" in path
    response = client.get(path)
    assert response.status_code == 200
    assert "Счёт-фактура SHB-" in flat(pdfium_text(response.data))
    receipt_path = _link(message, order_id, "receipt.pdf")
    assert "access=" in receipt_path
    assert client.get(receipt_path.split("?")[0]).status_code == 404
    response = client.get(receipt_path)
    assert response.status_code == 200 and "guest.invoice@example.test" in flat(
        pdfium_text(response.data))


def test_two_first_downloads_at_once_render_and_keep_the_receipt_once(app, client,
                                                                       monkeypatch):
    _, headers, order_id = _paid(client)
    renders = []
    render = receipt.receipt_pdf

    def counted(*args, **kwargs):
        renders.append(threading.get_ident())
        return render(*args, **kwargs)

    # both requests find no receipt kept before either renders one
    both_looked = threading.Barrier(2, timeout=20)
    looked: set[int] = set()
    stored = receipt._stored

    def stored_after_both_looked(order_id):
        content = stored(order_id)
        if threading.get_ident() not in looked:
            looked.add(threading.get_ident())
            both_looked.wait()
        return content

    monkeypatch.setattr(receipt, "receipt_pdf", counted)
    monkeypatch.setattr(receipt, "_stored", stored_after_both_looked)
    answers: list = [None, None]

    def download(slot: int) -> None:
        answers[slot] = app.test_client().get(f"/api/v1/orders/{order_id}/receipt.pdf",
                                              headers=headers)

    threads = [threading.Thread(target=download, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].data == answers[1].data
    assert len(renders) == 1
    assert _kept(order_id) == 1


def _pdf_facts(content: bytes) -> tuple[list[str], dict]:
    reader = PdfReader(io.BytesIO(content))
    meta = {key: str(value) for key, value in (reader.metadata or {}).items()}
    return [page.extract_text() for page in reader.pages], meta


def test_the_kept_receipt_reads_as_the_one_the_pipeline_attached(client):
    buyer, headers, order_id = _paid(client)
    response = client.get(f"/api/v1/orders/{order_id}/receipt.pdf", headers=headers)
    assert response.status_code == 200
    db.session.rollback()
    order = db.session.get(Order, order_id)
    user = db.session.get(User, order.buyer_id)
    # what the receipt step made for the mail before: rendered then, dated then
    before = receipt.render_layout(receipt.receipt_layout(order, user, notify.buyer_of(order)),
                                   title=f"Sheber receipt {order.id}")
    pages, meta = _pdf_facts(response.data)
    pages_before, meta_before = _pdf_facts(before)
    assert pages == pages_before and buyer.name in pages[0]
    dated = {"/CreationDate", "/ModDate"}
    assert {k: v for k, v in meta.items() if k not in dated} == {
        k: v for k, v in meta_before.items() if k not in dated}
    assert meta["/Title"] == f"Sheber receipt {order_id}"
    paid = order.paid_at.strftime("D:%Y%m%d%H%M%S")
    assert meta["/CreationDate"].startswith(paid) and meta["/ModDate"].startswith(paid)
    # a render at any later time gives the same bytes: nothing in them is the render's time
    assert receipt.receipt_pdf(order, user, notify.buyer_of(order)) == response.data


def test_a_receipt_mail_queued_with_the_attachment_still_sends_the_kept_receipt(
        client, smtp_server):
    buyer, headers, order_id = _paid(client)
    mail.queue_mail(to=buyer.email, subject="Receipt", text="-", attachments=[
        mail.LaterAttachment(f"sheber-receipt-{order_id}.pdf", pipeline.RECEIPT_PDF,
                             {"order_id": order_id}, "application/pdf")])
    db.session.commit()
    deliver_queued()
    [message] = to(smtp_server, buyer.email)
    [attachment] = list(message.iter_attachments())
    kept = client.get(f"/api/v1/orders/{order_id}/receipt.pdf", headers=headers).data
    assert attachment.get_content() == kept and _kept(order_id) == 1


def test_deleting_the_account_drops_the_kept_receipt(client):
    buyer, headers, order_id = _paid(client)
    assert client.get(f"/api/v1/orders/{order_id}/receipt.pdf", headers=headers).status_code \
        == 200
    assert _kept(order_id) == 1
    accounts.delete_account(db.session.get(User, buyer.id), PASSWORD)
    assert _kept(order_id) == 0


# (language, the receipt's title, its total's label, Germany, the piece's title)
RECEIPT_LANGUAGES = [
    ("ru", "Чек Sheber", "Всего оплачено (EUR)", "Германия", "Пиала кесе"),
    ("kk", "Sheber түбіртегі", "Барлығы төленді (EUR)", "Германия", "Кесе тостағы"),
    ("en", "Sheber receipt", "Total paid (EUR)", "Germany", "Kese bowl"),
]
ENGLISH_LABELS = ("Sheber receipt", "Shipping address", "Total paid", "Listed at",
                  "Paid by card", "Import duties", "labelled piece")


@pytest.mark.parametrize(("language", "title", "total_label", "country", "piece"),
                         RECEIPT_LANGUAGES)
def test_the_receipt_is_written_in_its_buyers_language(client, language, title, total_label,
                                                        country, piece):
    from babel.dates import format_date
    from babel.numbers import format_currency

    _buyer, headers, order_id = _paid(client, locale=language)
    response = client.get(f"/api/v1/orders/{order_id}/receipt.pdf", headers=headers)
    assert response.status_code == 200
    text = flat(pdfium_text(response.data))
    order = db.session.get(Order, order_id)
    assert title in text and total_label in text and country in text and piece in text
    # money and the payment's date as Babel writes them in that language
    total = format_currency(order.total.major, "EUR", locale=language)
    assert flat(total) in text, (total, text)
    assert format_date(order.paid_at, "long", locale=language).split()[1] in text
    if language != "en":
        assert not [label for label in ENGLISH_LABELS if label in text], text
