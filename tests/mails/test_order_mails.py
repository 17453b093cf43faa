"""Order mails reach the real SMTP sink in the reader's language: HTML with inlined CSS and
plain text from one template, dates and money the reader's way, the 8-character order number."""

from __future__ import annotations

import pytest

from marketplace.accounts import lifecycle as accounts
from marketplace.extensions import db
from marketplace.orders import pipeline
from marketplace.orders.models import Order
from tests.checkout.helpers import buyer_with_cart, do_checkout, pay
from tests.factories import make_artisan, make_product
from tests.mails.helpers import assert_inlined, deliver_queued, html_of, links, text_of, to

pytestmark = pytest.mark.usefixtures("stripe_emulator")


def paid_order(client, *, locale: str, artisan_locale: str = "kk"):
    artisan = make_artisan(locale=artisan_locale, name="Айгерим")
    bowl = make_product(artisan, title={"en": "Kese bowl", "ru": "Пиала кесе",
                                        "kk": "Кесе тостағы"}, price_amount=1_500_000)
    buyer, headers = buyer_with_cart((bowl, 2))
    accounts.update_profile(buyer, locale=locale)
    order_id = do_checkout(client, headers)["order"]["id"]
    assert pay(client, headers, order_id)["status"] == "succeeded"
    return buyer, artisan, order_id


def test_the_receipt_and_the_pack_mail_are_in_each_readers_language(client, smtp_server):
    buyer, artisan, order_id = paid_order(client, locale="ru", artisan_locale="kk")
    pipeline.start_fulfilment(order_id)
    pipeline.send_receipt(order_id)
    db.session.commit()
    deliver_queued()

    [receipt] = to(smtp_server, buyer.email)
    number = order_id[-8:]
    assert receipt["Subject"] == f"Ваш чек Sheber за заказ {number}"
    text, html = text_of(receipt), html_of(receipt)
    assert order_id not in receipt["Subject"]
    assert "Здравствуйте" in text and "Пиала кесе" in text
    order = db.session.get(Order, order_id)
    # money and dates written the Russian way (Babel): "243,00 €", "1 дек. 2026 г."
    assert "€" in text and "," in text.split("€")[0][-4:]
    assert "г." in text
    assert '<html lang="ru">' in html
    assert_inlined(html)
    assert f"/orders/{order_id}" in " ".join(links(html))
    assert list(receipt.iter_attachments()) == []  # the receipt is linked, not attached
    [receipt_link] = [url for url in links(html) if url.endswith(f"/{order_id}/receipt.pdf")]
    assert f"Чек (PDF): {receipt_link}" in text
    assert order.total_amount > 0

    [pack] = to(smtp_server, artisan.email)
    assert pack["Subject"].startswith(f"Тапсырыс {number}:")
    assert "Кесе тостағы" in text_of(pack)
    assert '<html lang="kk">' in html_of(pack)
    assert_inlined(html_of(pack))


def test_an_english_reader_gets_english(client, smtp_server):
    buyer, _, order_id = paid_order(client, locale="en", artisan_locale="en")
    pipeline.send_receipt(order_id)
    db.session.commit()
    deliver_queued()
    [receipt] = to(smtp_server, buyer.email)
    assert receipt["Subject"] == f"Your Sheber receipt for order {order_id[-8:]}"
    assert "Thank you for your order" in text_of(receipt)
    assert "Kese bowl" in text_of(receipt)
