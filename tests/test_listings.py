"""Lists of products, in the API and on pages: each piece with its provenance, its reviews and
whether the viewer saved it, read in a number of queries that does not grow with the list."""

from __future__ import annotations

from sqlalchemy import event

from marketplace.community.models import Favourite, Review
from marketplace.extensions import db
from marketplace.ids import utcnow
from tests.community.helpers import order_of
from tests.factories import auth_headers, make_artisan, make_buyer, make_product
from tests.storefront.helpers import HTML, sign_in


def _review(order, line, rating, *, hidden=False):
    db.session.add(Review(order_id=order.id, order_line_id=line.id, product_id=line.product_id,
                          artisan_id=line.artisan_id, author_id=order.buyer_id,
                          author_name="Dana", rating=rating, language="en",
                          hidden_at=utcnow() if hidden else None))


def _shelf(count: int, craft: str = "felt"):
    artisan = make_artisan()
    return [make_product(artisan, title={"en": f"Felt bowl {n:02d}"}, craft=craft)
            for n in range(count)]


def test_a_list_shows_each_pieces_visible_reviews_and_whether_the_viewer_saved_it(client):
    reviewed, saved, plain = _shelf(3)
    buyer, other = make_buyer(), make_buyer()
    order = order_of(other, [reviewed, reviewed, saved])
    first, second, third = order.lines
    _review(order, first, 5)
    _review(order, second, 2)
    _review(order, third, 1, hidden=True)  # hidden: out of the count and the average
    db.session.add(Favourite(user_id=buyer.id, product_id=saved.id))
    db.session.commit()

    def listed(headers):
        response = client.get("/api/v1/products?limit=50", headers=headers)
        assert response.status_code == 200, response.get_json()
        return {item["id"]: item for item in response.get_json()["items"]}

    mine = listed(auth_headers(buyer))
    assert mine[reviewed.id]["reviews"] == {"count": 2, "average": 3.5}
    assert mine[saved.id]["reviews"] == {"count": 0, "average": None}
    assert [mine[p.id]["saved"] for p in (reviewed, saved, plain)] == [False, True, False]
    visitor = listed({})
    assert visitor[reviewed.id]["reviews"] == {"count": 2, "average": 3.5}
    assert all("saved" not in item or item["saved"] is None for item in visitor.values())
    favourites = client.get("/api/v1/me/favourites", headers=auth_headers(buyer)).get_json()
    assert [(item["id"], item["saved"]) for item in favourites["items"]] == [(saved.id, True)]


# who is asking: the session (in the database when REDIS_URL is unset), the token and its user
AUTH_READS = ("FROM web_session", "FROM api_token", "FROM user WHERE", "FROM user \nWHERE",
              'FROM "user" WHERE', 'FROM "user" \nWHERE')  # PostgreSQL quotes the table


def _statements(run, *, without_auth: bool = False) -> int:
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    if without_auth:
        statements = [s for s in statements if not any(a in s for a in AUTH_READS)]
    return len(statements)


def test_a_signed_in_list_page_reads_as_many_times_for_two_pieces_as_for_twenty(client):
    buyer = make_buyer()
    products = _shelf(20)
    order = order_of(make_buyer(), products)
    for line in order.lines:
        _review(order, line, 4)
    db.session.add_all(Favourite(user_id=buyer.id, product_id=p.id) for p in products[::2])
    db.session.commit()
    sign_in(client, buyer)
    headers = auth_headers(buyer)

    def api(limit):
        return lambda: client.get(f"/api/v1/products?limit={limit}", headers=headers)

    def page(craft_filter):  # 2 pieces of another craft, or the whole shelf of 20
        return lambda: client.get(f"/?{craft_filter}", headers=HTML)

    _shelf(2, craft="ceramics")
    client.get("/api/v1/products?limit=1", headers=headers)  # the rates load once
    assert "Felt bowl 19" in client.get("/?craft=felt", headers=HTML).get_data(as_text=True)
    assert _statements(api(2)) == _statements(api(20))
    assert _statements(page("craft=ceramics")) == _statements(page("craft=felt"))
    # past who is asking: the page, images, workshops, provenance, reviews and saved pieces
    assert _statements(api(20), without_auth=True) <= 5
