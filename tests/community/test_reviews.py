"""Reviews: only the buyer of a delivered line, once; the workshop replies once; a hidden review
is gone from pages and from the average."""

from __future__ import annotations

import pytest

from tests.community.helpers import order_of
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product


def _review(client, headers, order, line, **body):
    body = {"rating": 5, "text": "Beautiful work", "language": "en", **body}
    return client.post(f"/api/v1/orders/{order.id}/lines/{line.id}/review", headers=headers,
                       json=body)


def test_the_buyer_reviews_a_delivered_piece_once_and_the_average_follows(client):
    artisan = make_artisan()
    product = make_product(artisan)
    first, second = make_buyer(name="Anna Schmidt"), make_buyer(name="Kenji Sato")
    order_a, order_b = order_of(first, [product]), order_of(second, [product])

    response = _review(client, auth_headers(first), order_a, order_a.lines[0], rating=5)
    assert response.status_code == 201, response.get_json()
    review = response.get_json()
    assert review["author_name"] == "Anna" and review["rating"] == 5 and review["reply"] is None
    again = _review(client, auth_headers(first), order_a, order_a.lines[0])
    assert again.status_code == 409 and again.get_json()["code"] == "community.already_reviewed"

    _review(client, auth_headers(second), order_b, order_b.lines[0], rating=2,
            text="Хорошая работа", language="ru")
    listed = client.get(f"/api/v1/products/{product.id}/reviews?lang=ru").get_json()
    assert listed["summary"] == {"count": 2, "average": 3.5}
    assert [item["language"] for item in listed["items"]] == ["ru", "en"]  # reader's first
    assert "order_line_id" not in listed["items"][0]
    shown = client.get(f"/api/v1/products/{product.id}").get_json()
    assert shown["reviews"] == {"count": 2, "average": 3.5}


@pytest.mark.parametrize(("order_status", "fulfilment_status"), [
    ("paid", "pending"), ("fulfilling", "packed"), ("shipped", "shipped"),
])
def test_a_piece_not_yet_delivered_cannot_be_reviewed(client, order_status, fulfilment_status):
    buyer = make_buyer()
    order = order_of(buyer, [make_product()], status=order_status,
                     fulfilment_status=fulfilment_status)
    response = _review(client, auth_headers(buyer), order, order.lines[0])
    assert response.status_code == 409
    assert response.get_json()["code"] == "community.not_delivered"


def test_a_delivered_fulfilment_of_a_shipped_order_may_be_reviewed(client):
    """Two workshops: the one whose parcel arrived can be reviewed before the other's does."""
    buyer = make_buyer()
    order = order_of(buyer, [make_product()], status="shipped", fulfilment_status="delivered")
    assert _review(client, auth_headers(buyer), order, order.lines[0]).status_code == 201


def test_nobody_but_the_buyer_reviews_and_bad_input_changes_nothing(client):
    buyer = make_buyer()
    product = make_product()
    order = order_of(buyer, [product])
    line = order.lines[0]
    stranger = _review(client, auth_headers(make_buyer()), order, line)
    assert stranger.status_code == 404 and stranger.get_json()["code"] == "community.line_not_found"
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"language": "xx"},
                {"text": "x" * 4001}):
        response = _review(client, auth_headers(buyer), order, line, **bad)
        assert response.status_code == 422, bad
        assert response.content_type == "application/problem+json"
    assert client.get(f"/api/v1/products/{product.id}/reviews").get_json()["summary"] == {
        "count": 0, "average": None}


def test_the_workshop_replies_once_and_an_operator_hides_an_abusive_review(client):
    artisan = make_artisan()
    product = make_product(artisan)
    buyer = make_buyer()
    order = order_of(buyer, [product])
    review = _review(client, auth_headers(buyer), order, order.lines[0], rating=1).get_json()

    other_workshop = client.post(f"/api/v1/reviews/{review['id']}/reply",
                                 headers=auth_headers(make_artisan()), json={"text": "No"})
    assert other_workshop.status_code == 403
    replied = client.post(f"/api/v1/reviews/{review['id']}/reply", headers=auth_headers(artisan),
                          json={"text": "Thank you; we will send a new one."})
    assert replied.status_code == 200
    assert replied.get_json()["reply"]["text"] == "Thank you; we will send a new one."
    twice = client.post(f"/api/v1/reviews/{review['id']}/reply", headers=auth_headers(artisan),
                        json={"text": "Again"})
    assert twice.status_code == 409 and twice.get_json()["code"] == "community.already_replied"

    operator = make_operator()
    assert client.post(f"/api/v1/operator/reviews/{review['id']}/hide",
                       headers=auth_headers(buyer), json={"reason": "abuse"}).status_code == 403
    hidden = client.post(f"/api/v1/operator/reviews/{review['id']}/hide",
                         headers=auth_headers(operator), json={"reason": "insults the maker"})
    assert hidden.status_code == 200 and hidden.get_json()["hidden"] is True
    public = client.get(f"/api/v1/products/{product.id}/reviews").get_json()
    assert public == {"summary": {"count": 0, "average": None}, "items": []}
    assert client.get(f"/api/v1/products/{product.id}").get_json()["reviews"]["count"] == 0
    seen = client.get(f"/api/v1/products/{product.id}/reviews",
                      headers=auth_headers(operator)).get_json()["items"]
    assert seen[0]["hidden_reason"] == "insults the maker"
