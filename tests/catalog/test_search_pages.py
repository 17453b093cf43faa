"""Relevance pages through every tier of a search by the API's cursors: each match appears
exactly once, in tier order (title, anywhere, expansions), newest first within a tier, with
ties on created_at broken by id. The tier queries take both of their plans (the newest-first
walk for the common tier, the full-text index for the rare ones; on PostgreSQL once the
catalogue is analysed), so the cursors are checked across that switch."""

from __future__ import annotations

import random
import re
from datetime import timedelta

from sqlalchemy import select, text

from marketplace.catalog import search
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.ids import utcnow
from tests.factories import make_artisan, make_product
from tests.statements import sent_statements

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
    """The ids of every page of the search ``query``, ``limit`` at a time, by its cursors."""
    seen, cursor = [], None
    for _ in range(200):
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


def _analysed() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE product"))
    search.forget_statistics()


def _tier_statements(client, **query) -> list[str]:
    """The statements a search page sends to read its tiers' products."""
    with sent_statements(lambda statement: bool(re.search(r"FROM product\s", statement))
                         and "ORDER BY" in statement) as seen:
        response = client.get("/api/v1/products", query_string=query)
    assert response.status_code == 200, response.get_json()
    return [statement for statement, _ in seen]


def test_the_plan_follows_the_page_size_asked_for(client):
    """A common tier is walked for a page of 25 rows; a page of 101 rows needs more of the
    walk than the tier's matches are, so the full-text index reads them (and the pages are the
    same either way: the first test pages at limit 100)."""
    _catalogue()
    _analysed()
    words = search.parse("felt")
    assert search.choose_plan(words, 0) == "walk"
    assert search.choose_plan(words, 0, page_rows=101) == "index"
    walked = "ts_match_vq" if db.engine.dialect.name == "postgresql" else "LIKE"
    assert walked in _tier_statements(client, q="felt", limit=24)[0]
    indexed = _tier_statements(client, q="felt", limit=100)[0]
    if db.engine.dialect.name == "postgresql" and search.rum_available():
        assert "<=|" in indexed  # the RUM index (which tests ties of created_at on the rows)
    else:
        assert walked not in indexed
    search.forget_statistics()


def test_a_word_nothing_widens_reads_no_expansion_tier(client):
    """'7' has no fold key, glossary entry or typos: tier 2 would be tier 1 again minus
    itself, so the page reads tiers 0 and 1 only, and finds every piece whose title holds a
    number beginning with 7, newest first."""
    _catalogue()
    _analysed()
    statements = _tier_statements(client, q="7", limit=100)
    assert len(statements) == 2
    assert not search.holds_nothing(search.parse("felt"), 2)
    found = _pages(client, "7", 100)
    products = db.session.execute(select(Product)).scalars().all()
    assert found == [p.id for p in sorted(
        (p for p in products if any(text.split()[-1].startswith("7")
                                    for text in p.title.values())),
        key=lambda p: (p.created_at, p.id), reverse=True)]
    assert found
    search.forget_statistics()


def test_a_lexeme_the_statistics_do_not_list_counts_as_rare():
    """ANALYZE lists only lexemes above a cutoff: on a catalogue of a few frequent words the
    least listed one can be 11% of rows, and half of it would call a word of 0.2% common (and
    walk the whole catalogue for its page); an unlisted lexeme counts as at most
    ``UNLISTED_SHARE``, which keeps it on the full-text index's plan at a million products."""
    stats = search.Statistics(rows=10_000, lexemes={"search_vector": (["silver"], [0.2])},
                              floor={"search_vector": 0.11})
    assert stats.share("search_vector", [("silver", False)]) == 0.2
    assert stats.share("search_vector", [("tulpar", True)]) == search.UNLISTED_SHARE
    assert search.walk_share(1_000_000) > search.UNLISTED_SHARE
    small = search.Statistics(rows=100, lexemes={"search_vector": (["silver"], [0.2])},
                              floor={"search_vector": 0.0016})
    assert small.share("search_vector", [("tulpar", True)]) == 0.0008


def test_a_query_word_is_analysed_once_and_each_query_widens_its_own():
    """parse keeps each word's forms (stems, fold key, glossary) for the next query of that
    word, but hands every query its own Word: widening one (its fuzzy terms) leaves the next."""
    from marketplace.catalog import analysis

    analysis._word_forms.cache_clear()
    first, = search.parse("silver")
    second, = search.parse("silver")
    assert analysis._word_forms.cache_info().hits == 1
    assert first is not second and first == second
    first.fuzzy_terms = ("silvre",)
    first.widen(analysis.concepts_for("felt"))
    third, = search.parse("silver")
    assert third == second and third.expansions != first.expansions


def test_a_typo_finds_catalogue_words_through_each_of_its_probes():
    """A Cyrillic typo is looked up as typed and by its Latin fold key (one statement for
    both on PostgreSQL): each finds its own catalogue word."""
    search.remember_terms(db.session.connection(), {"tulpar", "тулпар", "silver"})
    db.session.commit()
    words = search.parse("тулпарр")
    assert search.analysis.fuzzy_probes(words[0]) == ["тулпарр", "tulpar"]
    search.resolve_fuzzy(words, db.session)
    assert set(words[0].fuzzy_terms) == {"tulpar", "тулпар"}


def test_the_vocabulary_tells_which_words_the_catalogue_lacks():
    """A word none of whose exact forms (the word as a prefix, its stem) is a catalogue word
    is ``unknown``: its exact tiers hold nothing. A prefix of a catalogue word is known, and a
    word too short for the vocabulary is never taken for unknown."""
    search.remember_terms(db.session.connection(), {"silver", "felt"})
    db.session.commit()
    words = search.parse("silvre silv silver sil")
    search.resolve_fuzzy(words, db.session)
    assert [word.unknown for word in words] == [True, False, False, False]
    assert words[0].fuzzy_terms == ("silver",)
    assert search.holds_nothing(words, 0) and search.holds_nothing(words, 1)
    assert not search.holds_nothing(words[1:], 0)


def test_a_typo_reads_no_description_tier(client):
    """'cushin' is no catalogue word (the vocabulary says so, read with its fuzzy terms before
    its exact tiers): neither its title tier nor its description tier is read, and its page is
    what the typo's catalogue word finds as an expansion. A prefix of a catalogue word reads its
    exact tiers as before."""
    tiers = _catalogue()
    _analysed()

    def newest(products):
        return [p.id for p in sorted(products, key=lambda p: (p.created_at, p.id), reverse=True)]

    assert len(_tier_statements(client, q="cushin", limit=100)) == 1  # the expansions
    # the expansions: cushion's titles and подушка (the glossary's cushion) as one tier
    assert _pages(client, "cushin", 4) == newest(tiers[1] + tiers[2])
    assert len(_tier_statements(client, q="cushio", limit=100)) == 3
    assert _pages(client, "cushio", 4) == newest(tiers[1]) + newest(tiers[2])
    search.forget_statistics()


def test_a_word_the_statistics_do_not_list_still_reads_its_exact_tiers(client):
    """The planner's statistics are no list of catalogue words: a word added since ANALYZE
    (estimated at none) is in the vocabulary, so its description tier is read."""
    _catalogue()
    _analysed()
    artisan = make_artisan()
    piece = make_product(artisan, title={"en": "Figure"}, description={"en": "A tulpar."})
    assert _pages(client, "tulpar", 24) == [piece.id]
    search.forget_statistics()


def test_a_word_once_found_in_the_vocabulary_is_not_looked_up_again(client):
    """A typo is looked up before its exact tiers are read (they hold nothing), every time; a
    word that is no typo, once the vocabulary has been seen to hold it, is not looked up
    again (the vocabulary only grows) when its title tier fills the page. Its pages are the
    same either way."""
    artisan = make_artisan()
    pieces = [make_product(artisan, title={"en": f"Tulpar figure {n}"}) for n in range(3)]

    def search_page(words: str) -> tuple[list[str], int]:
        with sent_statements(lambda statement: "search_term" in statement) as lookups:
            response = client.get("/api/v1/products", query_string={"q": words, "limit": 2})
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]], len(lookups)

    newest = [piece.id for piece in reversed(pieces)][:2]
    assert search_page("tulpar") == (newest, 1)
    assert search_page("tulpar") == (newest, 0)
    assert search_page("tulpr") == (newest, 1)  # the typo finds tulpar through the vocabulary
    assert search_page("tulpr") == (newest, 1)
