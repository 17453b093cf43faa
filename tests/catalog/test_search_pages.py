"""Relevance pages through every tier of a search by the API's cursors: each match appears
exactly once, in tier order (title, anywhere, expansions), newest first within a tier, with
ties on created_at broken by id. The tier queries take both of their plans (the newest-first
walk for the common tier, the full-text index for the rare ones; on PostgreSQL once the
catalogue is analysed), so the cursors are checked across that switch."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import text

from marketplace.catalog import search
from marketplace.extensions import db
from marketplace.ids import utcnow
from tests.factories import make_artisan, make_product

TITLE_HITS = 70  # "felt" in the title: tier 0
DESCRIPTION_HITS = 15  # "felt" in the description only: tier 1
EXPANSION_HITS = 15  # Russian "войлок" only (the glossary's felt): tier 2
OTHERS = 20


def _catalogue() -> dict[int, list]:
    artisan = make_artisan()
    start = utcnow() - timedelta(days=30)
    kinds = ([0] * TITLE_HITS + [1] * DESCRIPTION_HITS + [2] * EXPANSION_HITS
             + [None] * OTHERS)
    random.Random(17).shuffle(kinds)
    texts = {0: ({"en": "Felt rug"}, {"en": "Made by hand."}),
             1: ({"en": "Cushion"}, {"en": "A felt cover."}),
             2: ({"ru": "Войлочная подушка"}, {}),
             None: ({"en": "Clay jug"}, {"en": "Thrown by hand."})}
    tiers: dict[int, list] = {0: [], 1: [], 2: []}
    for n, kind in enumerate(kinds):
        title, description = texts[kind]
        # every third product shares its created_at with the one before: ids break the tie
        moment = start + timedelta(minutes=(n - (n % 3 == 2)) * 7)
        product = make_product(artisan, created_at=moment, description=description,
                               title={lang: f"{words} {n}" for lang, words in title.items()})
        if kind is not None:
            tiers[kind].append(product)
    return tiers


def _pages(client, query: str, limit: int) -> list[str]:
    seen, cursor = [], None
    for _ in range(100):
        response = client.get("/api/v1/products", query_string={
            "q": query, "limit": limit, **({"cursor": cursor} if cursor else {})})
        body = response.get_json()
        assert response.status_code == 200, body
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursors never end")


def test_relevance_cursors_visit_every_match_of_every_tier_once(client):
    tiers = _catalogue()
    assert [len(tiers[tier]) for tier in search.TIERS] == [
        TITLE_HITS, DESCRIPTION_HITS, EXPANSION_HITS]
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE product"))
        search.forget_statistics()
    words = search.parse("felt")
    assert [search.choose_plan(words, tier) for tier in search.TIERS] == [
        "walk", "index", "index"]
    expected = [product.id for tier in search.TIERS
                for product in sorted(tiers[tier], key=lambda p: (p.created_at, p.id),
                                      reverse=True)]
    for limit in (5, 7, 24, 100):  # pages ending inside a tier and (5) at each tier's end
        assert _pages(client, "felt", limit) == expected
    search.forget_statistics()


def test_a_query_of_several_words_finds_the_same_on_either_plan(client):
    tiers = _catalogue()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE product"))
        search.forget_statistics()
    # tier 1: the cushion in the title, felt in the description; tier 2: the Russian cushions
    words = search.parse("cushion felt")
    assert search.choose_plan(words, 1) == "index"

    def newest(products):
        return [p.id for p in sorted(products, key=lambda p: (p.created_at, p.id), reverse=True)]

    assert _pages(client, "cushion felt", 4) == newest(tiers[1]) + newest(tiers[2])
    assert _pages(client, "felt rug", 24) == newest(tiers[0])
    search.forget_statistics()
