"""Rare words on PostgreSQL with the rum extension: a tier's page is read newest first from a
RUM index (created_at attached to the search vectors, migration 0029), reading about a page of
rows instead of every match's, and finds exactly what the GIN plan finds, cursors included,
with many products sharing one created_at at the pages' edges. The GIN plan (forced here, and
the only one on a server without rum, or on SQLite's FTS5) is checked against the same
expected pages wherever the suite runs."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from marketplace.catalog import search
from marketplace.catalog.models import Product, ProductStatus
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from tests.catalog.test_search_pages import _pages
from tests.factories import make_artisan
from tests.statements import sent_statements

FILLER = 2000  # "Clay jug": "felt" stays rare (about 3% of the catalogue), so no tier walks
TEXTS = {0: ({"en": "Felt rug"}, {"en": "Made by hand."}),
         1: ({"en": "Cushion"}, {"en": "A felt cover."}),
         2: ({"ru": "Войлочная подушка"}, {}),
         None: ({"en": "Clay jug"}, {"en": "Thrown by hand."})}
COUNTS = {0: 30, 1: 14, 2: 12, None: FILLER}
QUERIES = ("felt", "felt rug", "cushion felt", "войлок", "rug")


def _catalogue() -> list[dict]:
    """Products in groups of four sharing a created_at (the groups mix the tiers), inserted
    in bulk as the bench does; analysed, as autovacuum would."""
    artisan = make_artisan().id
    kinds = [kind for kind, n in COUNTS.items() for _ in range(n)]
    random.Random(29).shuffle(kinds)
    start = utcnow() - timedelta(days=30)
    rows, terms = [], set()
    for n, kind in enumerate(kinds):
        title, description = TEXTS[kind]
        title = {lang: f"{words} {n}" for lang, words in title.items()}
        columns = search.document_columns(title, description, ["clay"], ["throwing"])
        terms |= search.vocabulary(columns)
        rows.append({
            "id": new_id(), "artisan_id": artisan, "title": title, "description": description,
            "craft": "ceramics", "materials": ["clay"], "techniques": ["throwing"],
            "materials_key": "|clay|", "techniques_key": "|throwing|", "price_amount": 100000,
            "price_currency": "KZT", "price_base": 100000, "stock": 3, "reserved": 0,
            "status": ProductStatus.ACTIVE, "provenance_level": "L0",
            "created_at": start + timedelta(minutes=n // 4), "updated_at": start, **columns,
        })
    db.session.execute(insert(Product), rows)
    search.remember_terms(db.session.connection(), terms)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE product"))
    search.forget_statistics()
    return rows


def _expected(rows: list[dict]) -> list[str]:
    """'felt' by tier (title, anywhere, the glossary's войлок), newest first, ties by id."""
    def kind(row):
        return next(k for k, (title, _d) in TEXTS.items()
                    if next(iter(row["title"].values())).startswith(next(iter(title.values()))))

    tiers = {0: [], 1: [], 2: []}
    for row in rows:
        if kind(row) is not None:
            tiers[kind(row)].append(row)
    return [row["id"] for tier in search.TIERS
            for row in sorted(tiers[tier], key=lambda r: (r["created_at"], r["id"]),
                              reverse=True)]


@pytest.fixture
def gin_only(monkeypatch):
    """The plan of a server without rum: the GIN indexes alone."""
    monkeypatch.setattr(search, "rum_available", lambda: False)


@pytest.fixture
def with_rum():
    if db.engine.dialect.name != "postgresql" or not search.rum_available():
        pytest.skip("PostgreSQL with the rum extension")


def test_the_gin_plan_pages_through_ties_of_created_at(client, gin_only):
    """Runs on every database: without rum (forced here) each tier is read through the GIN
    index (FTS5 on SQLite), sorted, and the cursors visit every match once, in order."""
    rows = _catalogue()
    assert [search.choose_plan(search.parse("felt"), tier) for tier in search.TIERS] == [
        "index"] * 3
    expected = _expected(rows)
    assert len(expected) == COUNTS[0] + COUNTS[1] + COUNTS[2]
    for limit in (3, 4, 7, 24):  # pages ending inside a group of four sharing a created_at
        assert _pages(client, "felt", limit) == expected
    search.forget_statistics()


def test_the_rum_plan_finds_what_the_gin_plan_finds(client, with_rum, monkeypatch):
    rows = _catalogue()
    expected = _expected(rows)
    rum = {(query, limit): _pages(client, query, limit)
           for query in QUERIES for limit in (1, 3, 4, 5, 24)}
    assert rum[("felt", 3)] == expected
    monkeypatch.setattr(search, "rum_available", lambda: False)
    gin = {(query, limit): _pages(client, query, limit)
           for query in QUERIES for limit in (1, 3, 4, 5, 24)}
    assert rum == gin
    assert all(rum.values())
    search.forget_statistics()


def _tier_statements(client, **query) -> list[tuple[str, dict]]:
    with sent_statements(lambda statement: "FROM product" in statement
                         and "_vector" in statement) as seen:
        response = client.get("/api/v1/products", query_string=query)
    assert response.status_code == 200, response.get_json()
    return seen


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_a_rare_word_page_is_read_from_the_rum_index_not_sorted(client, with_rum):
    """EXPLAIN ANALYZE of a page of the title tier ('felt'): the RUM index gives the matches in
    order (no Sort of every match, no bitmap heap scan of them) and returns the rows the page
    needs, not more. The description tier ('cover', in descriptions only) is read through the
    RUM index too, not the GIN one."""
    _catalogue()
    limit = 5
    statements = [_tier_statements(client, q="felt", limit=limit)[0],
                  _tier_statements(client, q="cover", limit=limit)[-1]]
    for n, (statement, parameters) in enumerate(statements):
        raw = db.session.connection().exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).scalar_one()
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        nodes = list(_nodes(plan))
        if n == 1:  # 14 matches in all: the planner may as well sort them from a bitmap scan
            assert "product_fts_rum_vector" in json.dumps(plan), plan
            assert "product_fts_vector" not in json.dumps(plan), plan
            continue
        ordered = [node for node in nodes if node.get("Index Name") == "product_fts_rum_vector"]
        assert len(ordered) == 1 and "Order By" in ordered[0], plan
        assert ordered[0]["Actual Rows"] == limit + 1, plan
        assert not any(node["Node Type"].startswith("Bitmap") for node in nodes), plan
        # the only sort is the page's (the page and the rows sharing its edge's created_at)
        sorts = [node for node in nodes if node["Node Type"] == "Sort"]
        assert len(sorts) == 1 and sorts[0]["Actual Rows"] == limit + 1, plan
    search.forget_statistics()


def test_a_lexeme_asked_as_prefix_and_as_word_keeps_the_gin_plan(client, with_rum,
                                                                 monkeypatch):
    """rum 1.3 reads 'felt':* | 'felt' in one tsquery as 'felt' alone (it merges the two
    entries): a query holding one lexeme both ways (here 'felt' typed, a prefix, and the stem
    of 'felted') is not sent to the RUM index, and finds what the GIN plan finds."""
    _catalogue()
    assert not search._rum_reads_right(search.parse("felt felted"))
    assert search._rum_reads_right(search.parse("felt"))
    statements = _tier_statements(client, q="felt felted", limit=24)
    assert statements and not any("<=|" in statement for statement, _ in statements)
    found = _pages(client, "felt felted", 5)
    monkeypatch.setattr(search, "rum_available", lambda: False)
    assert found == _pages(client, "felt felted", 5)
    search.forget_statistics()
