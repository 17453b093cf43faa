"""GET /products?facets=...: counts per craft, material, technique and price band under the
request's own filters, in one more query at most."""

import pytest
from sqlalchemy import event

from marketplace.extensions import db
from tests.factories import make_artisan, make_product


@pytest.fixture
def pieces():
    artisan = make_artisan()
    rows = [
        ("jewellery", ["silver 925", "turquoise"], ["filigree"], 4000000, "Silver ring"),
        ("jewellery", ["silver 925"], ["engraving"], 9000000, "Silver cuff"),
        ("jewellery", ["silver 925", "coral"], ["casting"], 1200000, "Coral pendant"),
        ("felt", ["sheep wool"], ["felting"], 25000000, "Felt rug"),
        ("felt", ["sheep wool", "silk"], ["felting"], 3000000, "Felt scarf"),
        ("ceramics", ["red clay"], ["wheel throwing"], 1500000, "Tea bowl"),
    ]
    return [make_product(artisan, craft=craft, materials=materials, techniques=techniques,
                         price_amount=price, price_base=price, title={"en": title},
                         description={}).id
            for craft, materials, techniques, price, title in rows]


def facets(client, query: str) -> dict:
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["facets"]


def test_counts_per_craft_material_and_technique(client, pieces):
    body = facets(client, "facets=craft,material,technique")
    assert body["craft"] == [{"value": "jewellery", "count": 3}, {"value": "felt", "count": 2},
                             {"value": "ceramics", "count": 1}]
    assert body["material"][:2] == [{"value": "silver 925", "count": 3},
                                    {"value": "sheep wool", "count": 2}]
    assert {"value": "coral", "count": 1} in body["material"]
    assert body["technique"][0] == {"value": "felting", "count": 2}
    assert "price" not in body


def test_counts_follow_the_filters_and_the_search(client, pieces):
    assert facets(client, "craft=jewellery&facets=material")["material"] == [
        {"value": "silver 925", "count": 3}, {"value": "coral", "count": 1},
        {"value": "turquoise", "count": 1}]
    assert facets(client, "q=felt&facets=craft")["craft"] == [{"value": "felt", "count": 2}]
    assert facets(client, "q=silver&material=coral&facets=craft")["craft"] == [
        {"value": "jewellery", "count": 1}]
    assert facets(client, "q=nothinglikethis&facets=craft,price") == {
        "craft": [], "price": [], "currency": "KZT"}


@pytest.mark.parametrize("currency", ["KZT", "USD", "EUR"])
def test_each_price_band_is_what_its_price_filter_selects(client, pieces, currency):
    body = facets(client, f"currency={currency}&facets=price")
    assert body["currency"] == currency
    assert sum(band["count"] for band in body["price"]) == len(pieces)
    for band in body["price"]:
        bounds = f"min_price={band['min']}" + (
            f"&max_price={band['max']}" if band["max"] is not None else "")
        listed = client.get(f"/api/v1/products?currency={currency}&{bounds}").get_json()
        assert len(listed["items"]) == band["count"], band


def test_facets_cost_one_query_at_most(client, pieces):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    client.get("/api/v1/products?limit=1")  # rates are loaded once, on first use
    counts = {}
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for query in ("q=silver", "q=silver&facets=craft,material,technique,price",
                      "craft=felt", "craft=felt&facets=craft,material,technique,price"):
            statements.clear()
            assert client.get(f"/api/v1/products?{query}").status_code == 200
            counts[query] = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert counts["q=silver&facets=craft,material,technique,price"] <= counts["q=silver"] + 1
    assert counts["craft=felt&facets=craft,material,technique,price"] == counts["craft=felt"] + 1


@pytest.mark.parametrize("value", ["colour", "craft,", "craft;price", ""])
def test_unknown_facets_are_422(client, value):
    response = client.get(f"/api/v1/products?facets={value}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_a_plain_list_has_no_facets_key(client, pieces):
    assert "facets" not in client.get("/api/v1/products").get_json()


def test_the_catalogue_page_shows_the_counts(client, pieces):
    page = client.get("/?lang=en").get_data(as_text=True)
    assert 'class="facets"' in page
    assert "craft=jewellery" in page and ">3</span>" in page
    assert "material=silver+925" in page
