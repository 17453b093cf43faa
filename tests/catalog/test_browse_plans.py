"""Every browse path (filter x sort) of GET /products runs on an index on PostgreSQL: EXPLAIN
ANALYZE of the query the catalogue really sends shows no sequential scan of product and no
filter that discards more rows than it returns (skipped on SQLite, whose own test is the dense
price range's below).

Materials and techniques are many per product: their filters walk product_tag's indexes (one
row per tag with the product's status and sort keys, kept by triggers), a common value and a
rare one alike, and join the product by its key. The test also checks that the triggers keep
the tag rows in step with the products (insert, a tag change, a status change, a bulk price
UPDATE, a delete).

A price range sorted by newest walks ix_product_status_created_price, whose last key is the
price: PostgreSQL checks the range in the index entries it walks and reads only the rows that
match (a range narrow enough is read through the price index and sorted instead)."""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from marketplace.catalog import browse, search
from marketplace.catalog.models import Craft, Product, ProductStatus
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from tests.factories import make_artisan
from tests.statements import sent_statements

PRODUCTS = 6000
RARE = "rare horn"  # on 6 products
MATERIALS = [f"material {n}" for n in range(40)]
TECHNIQUES = [f"technique {n}" for n in range(30)]

FILTERS = {
    "none": {},
    "craft": {"craft": "felt"},
    "material": {"material": "material 3"},
    "technique": {"technique": "technique 7"},
    "rare material": {"material": RARE},
    "artisan": {"artisan": None},  # filled with a real artisan id
    "verified": {"verified": True},
    "unverified": {"verified": False},
    "price range": {"min_price": 2000000, "max_price": 2600000},
    # 40% of the catalogue: newest first walks the created index, checking the price in it
    "wide price range": {"min_price": 2000000, "max_price": 22000000},
    "min price": {"min_price": 30000000},
    "max price": {"max_price": 20000000},
    "price range in USD": {"min_price": 4000, "max_price": 44000, "currency": "USD"},
    "ships_to served": {"ships_to": "DE", "served_countries": {"DE"}},
    "ships_to not served": {"ships_to": "BR", "served_countries": {"DE"}},
}
SORTS = ("newest", "price_asc", "price_desc")


@pytest.fixture
def catalogue():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    artisans = _load_catalogue(PRODUCTS)
    # as autovacuum would after a bulk load: statistics, and GIN pending lists merged
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE product"))
    return artisans


def _load_catalogue(count: int) -> list[str]:
    """``count`` products of 25 artisans (whose ids it returns), 90% of them active."""
    rng = random.Random(17)
    artisans = [make_artisan().id for _ in range(25)]
    start = utcnow() - timedelta(days=400)
    crafts = [str(craft) for craft in Craft]
    rows = []
    for n in range(count):
        materials = rng.sample(MATERIALS, rng.randint(1, 3)) + ([RARE] if n % 1000 == 7 else [])
        techniques = rng.sample(TECHNIQUES, rng.randint(1, 2))
        price = rng.randint(100000, 50000000)
        rows.append({
            "id": new_id(), "artisan_id": rng.choice(artisans), "title": {"en": f"Piece {n}"},
            "description": {}, "craft": rng.choice(crafts), "materials": materials,
            "techniques": techniques, "materials_key": "|" + "|".join(materials) + "|",
            "techniques_key": "|" + "|".join(techniques) + "|", "price_amount": price,
            "price_currency": "KZT", "price_base": price, "stock": 3, "reserved": 0,
            "status": ProductStatus.ACTIVE if rng.random() < 0.9 else ProductStatus.ARCHIVED,
            "provenance_level": rng.choices(["L0", "L1", "L2"], [80, 15, 5])[0],
            "created_at": start + timedelta(minutes=n * 90), "updated_at": start,
        })
    db.session.execute(insert(Product), rows)
    db.session.commit()
    return artisans


def _product_query(**arguments) -> tuple[str, dict]:
    """The statement list_products sends for the page (the one that reads product rows)."""
    seen = _page_queries(**arguments)
    assert len(seen) == 1, seen
    return seen[0]


def _problems(node: dict, where: str) -> list[str]:
    problems = []
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "product":
        problems.append(f"{where}: sequential scan of product")
    removed = node.get("Rows Removed by Filter", 0)
    if removed > node.get("Actual Rows", 0):
        problems.append(f"{where}: {node['Node Type']} on {node.get('Index Name')} discards "
                        f"{removed} rows for {node.get('Actual Rows')}")
    for child in node.get("Plans", []):
        problems += _problems(child, where)
    return problems


def _plan(statement: str, parameters) -> dict:
    connection = db.session.connection()
    raw = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}",
                                     parameters).scalar_one()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def test_every_filter_and_sort_runs_on_an_index(catalogue):
    problems = []
    for name, arguments in FILTERS.items():
        arguments = dict(arguments)
        if "artisan" in arguments:
            arguments["artisan"] = catalogue[3]
        for sort in SORTS:
            statement, parameters = _product_query(sort=sort, **arguments)
            plan = _plan(statement, parameters)
            problems += _problems(plan, f"{name} x {sort}")
            if "material" in name or "technique" in name:
                index = "ix_product_tag_created" if sort == "newest" else "ix_product_tag_price"
                assert index in json.dumps(plan), plan
            page = browse.list_products(limit=24, sort=sort, **arguments)
            if page.next_cursor:  # the next page walks the same index from the cursor
                statement, parameters = _product_query(sort=sort, cursor=page.next_cursor,
                                                       **arguments)
                problems += _problems(_plan(statement, parameters), f"{name} x {sort}, page 2")
    assert not problems, "\n".join(problems)


@pytest.fixture
def sqlite_catalogue(monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite plans")
    monkeypatch.setattr(browse, "DENSE_RANGE", 100)  # of 1,500 products, as 1,000 of 100k
    _load_catalogue(1500)


def test_on_sqlite_a_dense_price_range_newest_first_walks_the_newest_index(sqlite_catalogue):
    """SQLite would read every product of the range through the price index and sort them; a
    range holding DENSE_RANGE products or more walks the newest-first index instead, and a
    sparse or empty one keeps the price index. The pages are the same either way."""
    cases = {"40% of the catalogue": ({"min_price": 2000000, "max_price": 22000000}, True),
             "a ceiling only": ({"max_price": 20000000}, True),
             "about 1%": ({"min_price": 2000000, "max_price": 2600000}, False),
             "nothing": ({"min_price": 1, "max_price": 2}, False)}
    for name, (arguments, walks) in cases.items():
        statement, parameters = _product_query(sort="newest", **arguments)
        plan = " | ".join(row[-1] for row in db.session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", parameters))
        if walks:
            assert "ix_product_status_created_price" in plan and "TEMP B-TREE" not in plan, (
                name, plan)
        else:
            assert "price_base + " not in statement, name
        low, high = arguments.get("min_price", 0), arguments.get("max_price", 2**62)
        expected = db.session.execute(text(
            "SELECT id FROM product WHERE status = 'active' AND reserved_for_id IS NULL "
            "AND price_base BETWEEN :low AND :high ORDER BY created_at DESC, id DESC"),
            {"low": low, "high": high}).scalars().all()
        assert (len(expected) >= 100) is walks, (name, len(expected))
        listed, cursor = [], None
        while True:
            page = browse.list_products(limit=24, sort="newest", cursor=cursor, **arguments)
            listed += [product.id for product in page.products]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert listed == expected, name


# --- searches: the page's cost, not the matches' ---

SEARCH_PRODUCTS = 6000
SEARCHES = {
    "common word in titles": "silver",  # 30% of the products
    "rare word": "tulpar",  # 6 products
    "common Kazakh word": "күміс",
    "common word in descriptions only": "handmade",  # 50%, tier 1
    "typo of the common word": "silvre",  # tier 2, through the vocabulary
    "two common words": "silver rug",
    "a rare and a common word": "silver tulpar",  # GIN reads the rare word's matches
}
SEARCH_FILTERS = {"none": {}, "craft": {"craft": "felt"}}


@pytest.fixture
def search_catalogue():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    rng = random.Random(17)
    artisans = [make_artisan().id for _ in range(10)]
    start = utcnow() - timedelta(days=400)
    crafts = [str(craft) for craft in Craft]
    rows, terms = [], set()
    for n in range(SEARCH_PRODUCTS):
        common = rng.random() < 0.3
        noun = rng.choice(["rug", "bowl", "belt", "chest"])
        title = {"en": " ".join(["Silver"] * common + [noun] + ["tulpar"] * (n % 1000 == 7)
                                + [str(n)]),
                 "kk": " ".join(["Күміс"] * common + ["бұйым", str(n)])}
        description = {"en": "Handmade in Almaty." if rng.random() < 0.5 else "From Almaty."}
        columns = search.document_columns(title, description, ["wool"], ["felting"])
        terms |= search.vocabulary(columns)
        rows.append({
            "id": new_id(), "artisan_id": rng.choice(artisans), "title": title,
            "description": description, "craft": rng.choice(crafts), "materials": ["wool"],
            "techniques": ["felting"], "materials_key": "|wool|", "techniques_key": "|felting|",
            "price_amount": 100000 + n, "price_currency": "KZT", "price_base": 100000 + n,
            "stock": 3, "reserved": 0, "status": ProductStatus.ACTIVE,
            "provenance_level": "L0", "created_at": start + timedelta(minutes=n * 90),
            "updated_at": start, **columns,
        })
    db.session.execute(insert(Product), rows)
    search.remember_terms(db.session.connection(), terms)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE product"))
    search.forget_statistics()
    yield
    search.forget_statistics()


def _page_queries(**arguments) -> list[tuple[str, dict]]:
    """Every statement that reads product rows for the page (one per tier read)."""
    with sent_statements(lambda statement: "FROM product" in statement
                         and "ORDER BY" in statement) as seen:
        browse.list_products(limit=24, **arguments)
    assert seen
    return seen


def _rows_read(node: dict) -> int:
    """Rows of product the plan looks at: those it returns and those its filters drop."""
    read = 0
    if node.get("Relation Name") == "product":
        read = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                + node.get("Rows Removed by Index Recheck", 0)) * node.get("Actual Loops", 1)
    return read + sum(_rows_read(child) for child in node.get("Plans", []))


def test_every_search_reads_about_a_page_not_every_match(search_catalogue):
    """Walking the newest-first index discards the rows a common word is not in, and the GIN
    plan reads every match of a rare one: either is bounded by about sqrt(page x products)
    rows (``search.walk_share``), whatever the number of matches."""
    bound = 2 * math.sqrt(search.PAGE_ROWS * SEARCH_PRODUCTS)
    problems = []
    for name, q in SEARCHES.items():
        for filter_name, arguments in SEARCH_FILTERS.items():
            for sort in ("relevance", "newest", "price_asc"):
                where = f"{name} ({q}) x {filter_name} x {sort}"
                read = 0
                for statement, parameters in _page_queries(q=q, sort=sort, **arguments):
                    plan = _plan(statement, parameters)
                    problems += [problem for problem in _problems(plan, where)
                                 if "sequential scan" in problem]
                    read += _rows_read(plan)
                if read > bound:
                    problems.append(f"{where}: reads {read} product rows (bound {bound:.0f})")
    assert not problems, "\n".join(problems)
