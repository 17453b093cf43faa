"""A deleted account's conversations: the other side keeps the correspondence, without the
person's name, e-mail addresses or telephone numbers; reviews keep their stars, not the name."""

from __future__ import annotations

from marketplace.community.erasure import REMOVED, scrub_contacts
from marketplace.community.models import Commission, Message, Review
from marketplace.extensions import db
from tests.community.helpers import order_of
from tests.factories import PASSWORD, auth_headers, make_artisan, make_buyer, make_product
from tests.storefront.helpers import HTML, choose, sign_in


def test_contacts_are_removed_and_the_rest_of_the_text_kept():
    text = ("Write to anna.schmidt+felt@example.de or call +49 (30) 1234-5678, "
            "in Almaty 8 701 234 56 78. Budget 90000 KZT, 3 bowls by 12.05.")
    scrubbed = scrub_contacts(text, "KZ")
    assert "example.de" not in scrubbed and "1234-5678" not in scrubbed
    assert "701 234" not in scrubbed
    assert scrubbed.count(REMOVED) == 3
    assert scrubbed.endswith("Budget 90000 KZT, 3 bowls by 12.05.")
    assert scrub_contacts("", "DE") == ""


def test_deleting_an_account_anonymises_its_messages_for_the_workshop(client):
    artisan = make_artisan(name="Aigerim Bekova")
    product = make_product(artisan)
    buyer = make_buyer(name="Anna Schmidt", country="DE")
    headers = auth_headers(buyer)
    opened = client.post("/api/v1/conversations", headers=headers, json={
        "product_id": product.id,
        "body": "Is it food-safe? Mail me at anna@example.de or +49 30 1234567."})
    conversation_id = opened.get_json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages",
                headers=auth_headers(artisan),
                json={"body": "Yes. Call the workshop: +7 701 234 56 78."})
    client.post("/api/v1/commissions", headers=headers, json={
        "artisan_id": artisan.id, "conversation_id": conversation_id,
        "description": "Six bowls; my number is 030 1234567"})
    order = order_of(buyer, [product])
    assert client.post(f"/api/v1/orders/{order.id}/lines/{order.lines[0].id}/review",
                       headers=headers, json={"rating": 5, "text": "Lovely"}).status_code == 201
    before = client.get(f"/api/v1/conversations/{conversation_id}",
                        headers=auth_headers(artisan)).get_json()
    assert before["buyer_name"] == "Anna"

    assert client.delete("/api/v1/me", headers=headers,
                         json={"password": PASSWORD}).status_code == 204

    seen = client.get(f"/api/v1/conversations/{conversation_id}",
                      headers=auth_headers(artisan)).get_json()
    assert seen["buyer_name"] == "Deleted account"
    bodies = [(m["sender"], m["body"]) for m in seen["messages"]]
    assert bodies[0] == ("buyer", f"Is it food-safe? Mail me at {REMOVED} or {REMOVED}.")
    # the workshop's own words (its own number included) are its record, untouched
    assert bodies[1] == ("workshop", "Yes. Call the workshop: +7 701 234 56 78.")
    assert bodies[2] == ("buyer", f"Six bowls; my number is {REMOVED}")
    assert seen["commissions"][0]["description"] == f"Six bowls; my number is {REMOVED}"
    late = client.post(f"/api/v1/conversations/{conversation_id}/messages",
                       headers=auth_headers(artisan), json={"body": "Are you there?"})
    assert late.status_code == 409
    assert late.get_json()["code"] == "community.counterpart_deleted"
    db.session.expire_all()
    assert all("example.de" not in m.body and "1234567" not in m.body
               for m in db.session.query(Message).filter_by(sender_id=buyer.id))
    assert db.session.query(Commission).one().description.endswith(REMOVED)
    review = db.session.query(Review).one()
    assert (review.author_name, review.rating, review.text) == ("Buyer", 5, "Lovely")
    listed = client.get(f"/api/v1/products/{product.id}/reviews").get_json()
    assert [r["author_name"] for r in listed["items"]] == ["Buyer"]

    sign_in(client, artisan)
    choose(client, language="ru")
    page = client.get(f"/workshop/messages/{conversation_id}", headers=HTML)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Удалённый аккаунт" in html and "anna@example.de" not in html and "Anna" not in html
