"""Lists of products, in the API and on pages: each piece with its provenance, its reviews and
whether the viewer saved it, read in a number of queries that does not grow with the list."""

from __future__ import annotations

from sqlalchemy import event

from marketplace import listings
from marketplace.catalog import browse
from marketplace.catalog.models import ArtisanProfile, Product
from marketplace.community import listing
from marketplace.community.models import Favourite, Review
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.provenance import labels
from tests.community.helpers import order_of
from tests.factories import auth_headers, make_artisan, make_buyer, make_product
from tests.provenance.helpers import Actors, submit, verified_label
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
    # past who is asking: the page, its images, and one lookup for the workshops, provenance,
    # reviews and saved pieces
    assert _statements(api(20), without_auth=True) <= 3


def test_the_lists_one_lookup_says_what_each_domain_says_of_the_pieces(client):
    actors = Actors()
    code = verified_label(client, actors, "L2")
    pending = make_product(actors.artisan)
    submit(client, actors, product=pending)
    revoked = make_product(actors.artisan)
    revoked_code = verified_label(client, actors, "L1", product=revoked)
    labels.revoke_for_product_change(revoked.id, {"materials"})
    newcomer = make_artisan(name="Dana")  # no workshop profile: her name, in Almaty
    bare = make_product(newcomer, provenance_level="L1")
    db.session.delete(db.session.get(ArtisanProfile, newcomer.id))
    buyer, other = make_buyer(), make_buyer()
    order = order_of(other, [actors.product, actors.product, bare])
    for line, rating in zip(order.lines, (5, 4, 2), strict=True):
        _review(order, line, rating)
    db.session.add(Favourite(user_id=buyer.id, product_id=pending.id))
    db.session.commit()

    for headers, viewer in (({}, None), (auth_headers(buyer), buyer)):
        response = client.get("/api/v1/products?limit=50", headers=headers)
        items = {item["id"]: item for item in response.get_json()["items"]}
        ids = list(items)
        assert len(ids) == 4
        assert {pid: item["provenance"] for pid, item in items.items()} == (
            labels.summaries_for_products(ids))
        facts = listing.facts(ids, viewer)
        assert {pid: item["reviews"] for pid, item in items.items()} == {
            pid: fact["reviews"] for pid, fact in facts.items()}
        if viewer:
            assert {pid: item["saved"] for pid, item in items.items()} == {
                pid: fact["saved"] for pid, fact in facts.items()}
        workshops = browse.workshops_of({item["artisan_id"] for item in items.values()})
        assert {pid: item["artisan"] for pid, item in items.items()} == {
            pid: workshops[item["artisan_id"]] for pid, item in items.items()}
    assert items[actors.product.id]["provenance"]["label_code"] == code
    assert items[actors.product.id]["reviews"] == {"count": 2, "average": 4.5}
    assert items[pending.id]["provenance"]["status"] == "pending" and items[pending.id]["saved"]
    assert items[revoked.id]["provenance"]["status"] == "revoked"
    assert items[revoked.id]["provenance"]["label_code"] == revoked_code
    assert items[bare.id]["provenance"] == {"level": "L1", "label_code": None, "status": "none",
                                            "url": None}
    assert items[bare.id]["artisan"] == {"id": newcomer.id, "workshop_name": "Dana",
                                         "city": "Almaty"}
    assert items[bare.id]["reviews"] == {"count": 1, "average": 2.0}


def test_a_piece_the_lookup_does_not_find_is_shown_as_each_domain_shows_an_unknown_id(app):
    artisan = make_artisan()
    stored = make_product(artisan)
    db.session.commit()
    moment = utcnow()
    unsaved = Product(  # never added to the session: no row for the lookup to find
        id=new_id(), artisan_id=artisan.id, title={"en": "Felt bowl"}, description={},
        craft="felt", materials=[], techniques=[], price_amount=1000, price_currency="KZT",
        price_base=1000, stock=1, reserved=0, status="active", provenance_level="L0",
        created_at=moment, updated_at=moment)
    with app.test_request_context("/"):
        shown = listings.present([stored, unsaved], lang="en", currency="KZT")
    assert [item["id"] for item in shown] == [stored.id, unsaved.id]
    assert shown[1]["artisan"] == shown[0]["artisan"] == browse.workshops_of([artisan.id])[
        artisan.id]
    assert shown[1]["provenance"] == labels.EMPTY_SUMMARY
    assert shown[1]["reviews"] == {"count": 0, "average": None}
    assert "saved" not in shown[1]
