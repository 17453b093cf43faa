from datetime import timedelta

import pytest
from sqlalchemy import event, text

from marketplace.catalog import api as catalog_api
from marketplace.catalog.models import CRAFT_HS_CODES, Craft, Product, ProductImage
from marketplace.catalog.search import PG_SEARCH_VECTOR, PG_TITLE_VECTOR
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.ids import utcnow
from marketplace.money import Money
from tests.factories import auth_headers, make_artisan, make_product


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def browse(client, query: str = "") -> list[str]:
    return ids(client.get(f"/api/v1/products?{query}"))


@pytest.fixture
def shelf():
    """A few products, created one second apart (oldest first)."""
    start = utcnow() - timedelta(hours=1)
    potter, smith = make_artisan(), make_artisan()
    rows = {
        "bowl": make_product(potter, craft="ceramics", materials=["red clay"],
                             techniques=["wheel throwing"], price_amount=1500000,
                             price_base=1500000,
                             title={"en": "Tea bowl", "ru": "Пиала", "kk": "Кесе"}),
        "ring": make_product(smith, craft="jewellery", materials=["silver 925", "turquoise"],
                             techniques=["filigree"], price_amount=4000000,
                             price_base=4000000, provenance_level="L1",
                             title={"en": "Filigree ring", "ru": "Перстень", "kk": "Жүзік"}),
        "cuff": make_product(smith, craft="jewellery", materials=["silver 925"],
                             techniques=["engraving"], price_amount=9000000, price_base=9000000,
                             provenance_level="L2",
                             title={"en": "Silver cuff", "ru": "Браслет", "kk": "Білезік"}),
        "rug": make_product(potter, craft="felt", materials=["sheep wool"],
                            techniques=["felting"], price_amount=25000000,
                            price_base=25000000,
                            title={"en": "Syrmaq rug", "ru": "Сырмак", "kk": "Сырмақ"},
                            description={"en": "Felt with the qoshqar müiz ornament."}),
    }
    for offset, product in enumerate(rows.values()):
        product.created_at = start + timedelta(seconds=offset)
    db.session.commit()
    return {name: product.id for name, product in rows.items()}


def test_newest_first_by_default(client, shelf):
    assert browse(client) == [shelf["rug"], shelf["cuff"], shelf["ring"], shelf["bowl"]]


def test_filters_by_craft_material_technique_and_artisan(client, shelf):
    assert set(browse(client, "craft=jewellery")) == {shelf["ring"], shelf["cuff"]}
    assert set(browse(client, "material=Silver%20925")) == {shelf["ring"], shelf["cuff"]}
    assert browse(client, "material=turquoise") == [shelf["ring"]]
    assert browse(client, "material=silver") == []  # whole materials, not substrings
    assert browse(client, "technique=felting") == [shelf["rug"]]
    product = db.session.get(Product, shelf["bowl"])
    assert set(browse(client, f"artisan={product.artisan_id}")) == {shelf["bowl"], shelf["rug"]}


def test_like_wildcards_in_a_material_filter_match_literally(client, shelf):
    assert browse(client, "material=%25") == []
    assert browse(client, "material=_") == []


def test_verified_filter_uses_provenance_levels(client, shelf):
    assert set(browse(client, "verified=true")) == {shelf["ring"], shelf["cuff"]}
    assert set(browse(client, "verified=false")) == {shelf["bowl"], shelf["rug"]}


def test_price_sorts(client, shelf):
    ascending = [shelf["bowl"], shelf["ring"], shelf["cuff"], shelf["rug"]]
    assert browse(client, "sort=price_asc") == ascending
    assert browse(client, "sort=price_desc") == ascending[::-1]


def test_price_range_is_in_the_requested_currency(client, shelf):
    # 40 000 KZT is 77.67 USD at 515; 90 000 KZT is 174.76 USD
    assert set(browse(client, "currency=USD&min_price=7767&max_price=17476")) == {
        shelf["ring"], shelf["cuff"]}
    assert browse(client, "currency=USD&min_price=7768&max_price=17475") == []
    assert set(browse(client, "min_price=4000000&max_price=9000000")) == {
        shelf["ring"], shelf["cuff"]}  # KZT when no currency is given


def test_list_shows_display_prices_in_the_requested_currency(client, shelf):
    items = client.get("/api/v1/products?currency=EUR&craft=felt").get_json()["items"]
    assert items[0]["display_price"] == fx.convert(Money(25000000, "KZT"), "EUR")[0].to_dict()


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc", "relevance"])
def test_keyset_pagination_visits_every_product_once(client, sort):
    artisan = make_artisan()
    made = [make_product(artisan, price_amount=1000000 + (n % 3) * 1000,
                         price_base=1000000 + (n % 3) * 1000,
                         title={"en": f"Felt slippers {n}"}) for n in range(7)]
    query = f"sort={sort}&limit=2" + ("&q=felt" if sort == "relevance" else "")
    seen, cursor, pages = [], None, 0
    while pages < 10:
        page = client.get(f"/api/v1/products?{query}" + (f"&cursor={cursor}" if cursor else ""))
        body = page.get_json()
        assert page.status_code == 200, body
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(p.id for p in made)
    assert pages == 4


def test_a_cursor_from_another_sort_or_garbage_is_422(client):
    artisan = make_artisan()
    for _ in range(3):
        make_product(artisan)
    cursor = client.get("/api/v1/products?limit=1").get_json()["next_cursor"]
    assert client.get(f"/api/v1/products?sort=price_asc&cursor={cursor}").status_code == 422
    assert client.get("/api/v1/products?cursor=not-a-cursor").status_code == 422


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=ten", "currency=XYZ", "ships_to=ZZ", "craft=plastic",
    "min_price=500&max_price=100", "min_price=-1", "min_price=12.5", "sort=cheapest",
])
def test_bad_list_queries_are_422(client, query):
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_search_finds_words_in_each_language(client, shelf):
    assert browse(client, "q=filigree") == [shelf["ring"]]
    assert browse(client, "q=перстень") == [shelf["ring"]]
    assert browse(client, "q=ЖҮЗІК") == [shelf["ring"]]
    assert browse(client, "q=сырм") == [shelf["rug"]]  # word prefix
    assert browse(client, "q=silver%20cuff") == [shelf["cuff"]]
    assert browse(client, "q=silver%20rug") == []  # every word must match
    assert browse(client, "q=turquoise") == [shelf["ring"]]  # materials are searched too


def test_search_ranks_title_matches_above_description_matches(client, shelf):
    other = make_product(title={"en": "Qoshqar müiz earrings"}, craft="jewellery")
    assert browse(client, "q=qoshqar") == [other.id, shelf["rug"]]


def test_search_follows_edits_and_archiving(client, shelf):
    product = db.session.get(Product, shelf["bowl"])
    headers = auth_headers(product.artisan)
    client.patch(f"/api/v1/products/{product.id}", headers=headers,
                 json={"title": {"en": "Ayran jug"}, "materials": ["white clay"],
                       "description": {"en": "For ayran."}})
    assert browse(client, "q=ayran") == [product.id]
    assert product.id not in browse(client, "q=пиала")
    assert browse(client, "q=white") == [product.id]
    client.delete(f"/api/v1/products/{product.id}", headers=headers)
    assert browse(client, "q=ayran") == []


def test_search_combines_with_filters_and_other_sorts(client, shelf):
    assert browse(client, "q=silver&craft=jewellery&sort=price_desc") == [
        shelf["cuff"], shelf["ring"]]


def test_a_query_without_words_is_ignored(client, shelf):
    assert len(browse(client, "q=%21%3F%22*")) == 4


def test_ships_to_asks_the_shipping_tables(client, shelf, monkeypatch):
    monkeypatch.setattr(catalog_api, "served_countries", lambda: {"DE", "US"})
    assert len(browse(client, "ships_to=de")) == 4
    assert browse(client, "ships_to=BR") == []


def test_a_list_request_issues_a_constant_number_of_statements(client):
    artisans = [make_artisan() for _ in range(3)]
    for n in range(60):
        product = make_product(artisans[n % 3], title={"en": f"Felt bowl {n}"})
        db.session.add(ProductImage(product_id=product.id, storage_key=f"{n:064d}.png",
                                    content_type="image/png", width=1, height=1,
                                    size_bytes=1))
    db.session.commit()
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    client.get("/api/v1/products?limit=1")  # rates are loaded once, on first use
    client.get("/api/v1/products?limit=1&q=felt")  # and a word found in the vocabulary once
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        counts = {}
        for query in ("limit=5", "limit=50", "limit=5&q=felt", "limit=50&q=felt"):
            statements.clear()
            assert len(browse(client, query)) == int(query.split("&")[0].split("=")[1])
            counts[query] = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert counts["limit=5"] == counts["limit=50"]
    assert counts["limit=5&q=felt"] == counts["limit=50&q=felt"]
    assert counts["limit=50"] <= 6


def test_crafts_list_every_craft_with_its_hs_code_and_names(client):
    items = client.get("/api/v1/crafts?lang=ru").get_json()["items"]
    assert [item["code"] for item in items] == [str(craft) for craft in Craft]
    ceramics = next(item for item in items if item["code"] == "ceramics")
    assert ceramics["hs_code"] == CRAFT_HS_CODES[Craft.CERAMICS] == "691390"
    assert ceramics["name"] == "Керамика"
    assert set(ceramics["names"]) == {"en", "ru", "kk"}


def test_postgres_search_uses_the_stored_vectors_gin_indexes(client, shelf):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plans = {
        column: "\n".join(db.session.execute(text(
            f"EXPLAIN SELECT id FROM product WHERE {column} @@ 'silver:*'::tsquery")).scalars())
        for column in ("search_vector", "search_title_vector")}
    db.session.rollback()
    assert "product_fts_vector" in plans["search_vector"]
    assert "product_fts_title_vector" in plans["search_title_vector"]


def test_search_vectors_are_the_ones_the_migration_generates():
    from importlib import import_module

    migration = import_module("migrations.versions.0015_search")
    assert migration.PG_SEARCH_VECTOR == PG_SEARCH_VECTOR
    assert migration.PG_TITLE_VECTOR == PG_TITLE_VECTOR
