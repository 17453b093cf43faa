"""Conversations and commissions: a buyer asks a workshop, both sides are mailed in their own
language, and an accepted offer becomes a listing only that buyer can buy, paid like any other."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from marketplace.catalog.models import Product
from marketplace.community.models import Commission
from marketplace.extensions import db
from tests.checkout.helpers import do_checkout, fresh, pay, status_of
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product
from tests.storefront.helpers import HTML, post_form, sign_in
from tests.stripe_emulator import wait_until

OFFER = {"title": {"en": "Felt rug, 120 × 80 cm", "ru": "Войлочный ковёр"}, "craft": "felt",
         "price": {"amount": 9_000_000, "currency": "KZT"}, "making_days": 21,
         "weight_g": 1800, "dimensions_mm": {"l": 400, "w": 300, "h": 150},
         "materials": ["wool"], "techniques": ["felting"],
         "note": "Shyrdak in red and ochre, 21 days."}


def _workshop():
    artisan = make_artisan(locale="kk", name="Aigerim Bekova")
    make_product(artisan)  # gives the artisan a workshop profile
    return artisan


def test_a_question_about_a_piece_reaches_the_workshop_and_the_answer_the_buyer(client):
    artisan = _workshop()
    product = make_product(artisan)
    buyer = make_buyer(name="Anna Schmidt")
    opened = client.post("/api/v1/conversations", headers=auth_headers(buyer),
                         json={"product_id": product.id, "body": "Is the glaze food-safe?"})
    assert opened.status_code == 201, opened.get_json()
    conversation = opened.get_json()
    assert conversation["artisan_id"] == artisan.id and conversation["product_id"] == product.id
    assert conversation["subject"] == product.title["en"]
    answered = client.post(f"/api/v1/conversations/{conversation['id']}/messages",
                           headers=auth_headers(artisan), json={"body": "Yes, lead-free."})
    assert answered.status_code == 201
    assert [(m["sender"], m["body"]) for m in answered.get_json()["messages"]] == [
        ("buyer", "Is the glaze food-safe?"), ("workshop", "Yes, lead-free.")]
    listed = client.get("/api/v1/conversations", headers=auth_headers(artisan)).get_json()
    assert [c["id"] for c in listed["items"]] == [conversation["id"]]
    assert listed["items"][0]["buyer_name"] == "Anna"

    stranger = client.get(f"/api/v1/conversations/{conversation['id']}",
                          headers=auth_headers(make_buyer()))
    assert stranger.status_code == 404
    operator = auth_headers(make_operator())
    assert client.get(f"/api/v1/conversations/{conversation['id']}",
                      headers=operator).status_code == 404  # not reported: private
    reported = client.post(f"/api/v1/conversations/{conversation['id']}/report",
                           headers=auth_headers(buyer), json={"reason": "rude answer"})
    assert reported.status_code == 200 and reported.get_json()["reported"] is True
    seen = client.get(f"/api/v1/conversations/{conversation['id']}", headers=operator)
    assert seen.status_code == 200 and seen.get_json()["report_reason"] == "rude answer"
    assert [c["id"] for c in client.get("/api/v1/conversations", headers=operator)
            .get_json()["items"]] == [conversation["id"]]
    written = client.post(f"/api/v1/conversations/{conversation['id']}/messages",
                          headers=operator, json={"body": "hello"})
    assert written.status_code == 403


def test_only_buyers_open_conversations_and_bad_input_is_refused(client):
    artisan = _workshop()
    assert client.post("/api/v1/conversations", headers=auth_headers(artisan),
                       json={"artisan_id": artisan.id, "body": "hi"}).status_code == 403
    buyer = auth_headers(make_buyer())
    for body in ({"artisan_id": artisan.id}, {"artisan_id": artisan.id, "body": ""},
                 {"artisan_id": artisan.id, "body": "x" * 4001},
                 {"artisan_id": artisan.id, "body": "hi", "extra": 1}):
        response = client.post("/api/v1/conversations", headers=buyer, json=body)
        assert response.status_code == 422, body
    unknown = client.post("/api/v1/conversations", headers=buyer,
                          json={"artisan_id": make_buyer().id, "body": "hi"})
    assert unknown.status_code == 404
    assert unknown.get_json()["code"] == "community.artisan_not_found"


def test_commission_states_allow_only_their_moves(client):
    artisan = _workshop()
    buyer = make_buyer()
    created = client.post("/api/v1/commissions", headers=auth_headers(buyer), json={
        "artisan_id": artisan.id, "description": "A felt rug with a ram's-horn border"})
    assert created.status_code == 201
    commission = created.get_json()
    assert commission["status"] == "requested"
    early = client.post(f"/api/v1/commissions/{commission['id']}/accept",
                        headers=auth_headers(buyer))
    assert early.status_code == 409 and early.get_json()["code"] == "community.commission_state"
    other_workshop = client.post(f"/api/v1/commissions/{commission['id']}/offer",
                                 headers=auth_headers(make_artisan()), json=OFFER)
    assert other_workshop.status_code == 404
    declined = client.post(f"/api/v1/commissions/{commission['id']}/decline",
                           headers=auth_headers(artisan))
    assert declined.get_json()["status"] == "declined"
    late = client.post(f"/api/v1/commissions/{commission['id']}/offer",
                       headers=auth_headers(artisan), json=OFFER)
    assert late.status_code == 409
    past = client.post("/api/v1/commissions", headers=auth_headers(buyer), json={
        "artisan_id": artisan.id, "description": "A felt rug with a border",
        "wanted_by": date.today().isoformat()})
    assert past.status_code == 422


@pytest.mark.integration
def test_an_accepted_commission_is_a_private_listing_the_buyer_pays_for(
        client, stripe_webhooks, smtp_server, start_worker):
    start_worker()
    artisan = _workshop()
    buyer = make_buyer(locale="ru", name="Мария Иванова")
    headers = auth_headers(buyer)
    wanted = (date.today() + timedelta(days=40)).isoformat()
    created = client.post("/api/v1/commissions", headers=headers, json={
        "artisan_id": artisan.id, "description": "Ковёр-шырдак 120 × 80, красный и охра",
        "budget": {"amount": 20000, "currency": "EUR"}, "wanted_by": wanted})
    assert created.status_code == 201, created.get_json()
    commission = created.get_json()
    offered = client.post(f"/api/v1/commissions/{commission['id']}/offer",
                          headers=auth_headers(artisan), json=OFFER)
    assert offered.status_code == 200, offered.get_json()
    assert offered.get_json()["offer_price"] == {"amount": 9_000_000, "currency": "KZT"}
    accepted = client.post(f"/api/v1/commissions/{commission['id']}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.get_json()
    body = accepted.get_json()
    assert body["status"] == "accepted"
    assert body["ready_by"] == (date.today() + timedelta(days=21)).isoformat()
    product_id = body["product_id"]

    # only the buyer sees and buys it
    assert client.get(f"/api/v1/products/{product_id}").status_code == 404
    assert client.get(f"/api/v1/products/{product_id}", headers=headers).status_code == 200
    listing = client.get("/api/v1/products?limit=100").get_json()["items"]
    assert product_id not in [item["id"] for item in listing]
    other = auth_headers(make_buyer())
    refused = client.post("/api/v1/cart/items", headers=other,
                          json={"product_id": product_id, "quantity": 1})
    assert refused.status_code == 404
    added = client.post("/api/v1/cart/items", headers=headers,
                        json={"product_id": product_id, "quantity": 1})
    assert added.status_code == 201, added.get_json()
    order_id = do_checkout(client, headers)["order"]["id"]
    assert pay(client, headers, order_id)["status"] == "succeeded"
    wait_until(lambda: status_of(order_id) in ("paid", "fulfilling"), timeout=30,
               message="the commission's order is paid")
    order = client.get(f"/api/v1/orders/{order_id}", headers=headers).get_json()
    assert [line["product_id"] for line in order["lines"]] == [product_id]
    assert fresh(Product, product_id).stock == 0

    # every message was mailed to the other side, in their language
    def mails_to(address):
        return [m for m in smtp_server.messages if address in m["To"]]

    wait_until(lambda: len(mails_to(artisan.email)) >= 2 and len(mails_to(buyer.email)) >= 1,
               timeout=30, message="conversation mails")
    to_artisan = mails_to(artisan.email)[0]
    assert "хабар" in to_artisan["Subject"].lower()  # kk: "Жаңа хабар"
    assert "Ковёр-шырдак" in to_artisan.get_body(("plain",)).get_content()
    html = to_artisan.get_body(("html",)).get_content()
    assert 'lang="kk"' in html and "/workshop/messages/" in html
    to_buyer = next(m for m in mails_to(buyer.email) if "сообщение" in m["Subject"].lower())
    assert "Shyrdak in red and ochre" in to_buyer.get_body(("plain",)).get_content()


def test_the_commission_forms_read_amounts_as_typed_and_explain_a_wrong_offer(client):
    artisan = make_artisan(locale="en")
    make_product(artisan)
    buyer = make_buyer(locale="en")
    sign_in(client, buyer)
    asked = post_form(client, "/commissions/new", {
        "artisan_id": artisan.id, "description": "A felt rug, 120 by 80 cm, red and ochre",
        "budget": "150,50", "budget_currency": "EUR"})
    assert asked.status_code == 302, asked.get_data(as_text=True)
    commission = db.session.execute(db.select(Commission)).scalar_one()
    assert (commission.budget_amount, commission.budget_currency) == (15050, "EUR")
    client.post("/signout", headers=HTML)

    sign_in(client, artisan)
    offer = {"title": "Felt rug", "craft": "felt", "currency": "KZT", "making_days": "21",
             "weight_g": "1800", "length_mm": "400", "width_mm": "300", "height_mm": "150",
             "note": "Red and ochre."}
    for wrong in ({"price": "lots"}, {"price": "90000", "making_days": "three weeks"},
                  {"price": "90000", "weight_g": "0"}):
        refused = post_form(client, f"/commissions/{commission.id}/offer", {**offer, **wrong},
                            follow_redirects=True)
        assert "Fill in the title, craft, price, making time" in refused.get_data(as_text=True)
        db.session.expire_all()
        assert db.session.get(Commission, commission.id).status == "requested"
    made = post_form(client, f"/commissions/{commission.id}/offer",
                     {**offer, "price": "90000,50"}, follow_redirects=True)
    assert "Your offer is sent." in made.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(Commission, commission.id)
    assert (stored.status, stored.offer_amount, stored.offer_currency) == \
        ("offered", 9_000_050, "KZT")
    assert stored.offer_listing["title"] == {"en": "Felt rug"}
    assert stored.offer_listing["dimensions_mm"] == {"l": 400, "w": 300, "h": 150}
