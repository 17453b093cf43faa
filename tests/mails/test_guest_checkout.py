"""Guest checkout: a buyer pays with an e-mail address and no password, follows the signed link
of the receipt mail to the order, and claims it once they open an account with that address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.orders import pipeline
from marketplace.orders.models import Order
from marketplace.outbox import OutboxEvent
from tests.checkout.helpers import BERLIN, checkout_body, pay, quote_option
from tests.factories import PASSWORD, make_product
from tests.mails.helpers import deliver_queued, html_of, links, text_of, to

pytestmark = pytest.mark.usefixtures("stripe_emulator")


def guest_with_cart(client, locale="ru"):
    made = client.post("/api/v1/auth/guest", json={"locale": locale, "currency": "EUR",
                                                   "country": "DE"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["user"]["is_guest"] is True
    headers = {"Authorization": f"Bearer {made.get_json()['token']}"}
    bowl = make_product(title={"en": "Kese bowl", "ru": "Пиала кесе"})
    added = client.post("/api/v1/cart/items", headers=headers,
                        json={"product_id": bowl.id, "quantity": 1})
    assert added.status_code == 201
    return headers


def test_a_guest_pays_with_an_email_reads_the_receipt_and_claims_the_order(client,
                                                                           smtp_server):
    headers = guest_with_cart(client)
    option = quote_option(client, headers)
    refused = client.post("/api/v1/checkout", headers=headers, json=checkout_body(option))
    assert refused.status_code == 422
    assert refused.get_json()["code"] == "checkout.email_required"
    placed = client.post("/api/v1/checkout", headers=headers,
                         json={**checkout_body(option), "email": "Guest.Buyer@example.test"})
    assert placed.status_code == 201, placed.get_json()
    order_id = placed.get_json()["order"]["id"]
    assert placed.get_json()["order"]["shipping_option"]["eta_dates"]["from"]
    assert pay(client, headers, order_id)["status"] == "succeeded"
    pipeline.send_receipt(order_id)
    db.session.commit()
    deliver_queued()

    [receipt] = to(smtp_server, "guest.buyer@example.test")
    assert receipt["Subject"] == f"Ваш чек Sheber за заказ {order_id[-8:]}"
    assert f"Здравствуйте, {BERLIN['name']}!" in text_of(receipt)
    [link] = [url for url in links(html_of(receipt)) if f"/orders/{order_id}?access=" in url]
    access = link.split("access=", 1)[1]
    assert link in text_of(receipt)

    # the link opens the order on any device, with no sign-in; nothing else does
    page = client.get(f"/orders/{order_id}?access={access}",
                      headers={"Authorization": ""})
    fresh_browser = client.application.test_client()
    page = fresh_browser.get(f"/orders/{order_id}?access={access}")
    assert page.status_code == 200 and order_id[-8:] in page.get_data(as_text=True)
    assert fresh_browser.get(f"/orders/{order_id}").status_code == 302  # to sign-in
    api = client.get(f"/api/v1/guest/orders/{order_id}", query_string={"access": access})
    assert api.status_code == 200 and api.get_json()["id"] == order_id
    forged = client.get(f"/api/v1/guest/orders/{order_id}",
                        query_string={"access": access[:-2] + "xx"})
    assert forged.status_code == 404

    # an account opened later with the same address gets a claim link in its welcome mail
    account = client.post("/api/v1/auth/register", json={
        "email": "guest.buyer@example.test", "password": PASSWORD, "role": "buyer",
        "name": "Anna", "country": "DE", "locale": "en"}).get_json()
    account_headers = {"Authorization": f"Bearer {account['token']}"}
    deliver_queued()
    welcome = to(smtp_server, "guest.buyer@example.test")[-1]
    assert welcome["Subject"] == "Welcome to Sheber, Anna"
    [claim] = [url for url in links(html_of(welcome)) if "/account/claim/" in url]
    assert client.get("/api/v1/orders", headers=account_headers).get_json()["items"] == []
    claimed = client.post("/api/v1/me/claims", headers=account_headers,
                          json={"token": claim.rsplit("/", 1)[1]})
    assert claimed.status_code == 200 and claimed.get_json() == {"claimed": 1}
    mine = client.get("/api/v1/orders", headers=account_headers).get_json()["items"]
    assert [item["id"] for item in mine] == [order_id]
    db.session.expire_all()
    assert db.session.get(Order, order_id).buyer_id == account["user"]["id"]


def test_a_claim_link_works_only_for_its_account(client):
    other = client.post("/api/v1/auth/register", json={
        "email": "someone@example.test", "password": PASSWORD, "role": "buyer",
        "name": "S", "country": "DE"}).get_json()
    refused = client.post("/api/v1/me/claims",
                          headers={"Authorization": f"Bearer {other['token']}"},
                          json={"token": "forged-token-value"})
    assert refused.status_code == 422
    assert refused.get_json()["code"] == "account.claim_invalid"
    assert db.session.execute(select(OutboxEvent)).first() is not None
