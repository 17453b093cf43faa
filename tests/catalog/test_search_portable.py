"""Does the portable search (databases without FTS5 or tsvector) find what the indexed ones do?
It runs on the stored search document with LIKE, tier by tier like the indexed paths."""

from sqlalchemy import select

from marketplace.catalog import search
from marketplace.catalog.models import Product
from marketplace.extensions import db
from tests.factories import make_product


def _search(query: str) -> list[str]:
    words = search.parse(query)
    search.resolve_fuzzy(words, db.session)
    found = []
    for tier in search.TIERS:
        condition = search.match(words, tier, "mysql").condition
        found += db.session.execute(
            select(Product.id).where(condition).order_by(Product.id)).scalars().all()
    return found


def test_every_word_must_match_in_any_language_or_tag():
    bowl = make_product(title={"en": "Blue bowl", "ru": "Синяя пиала"}, materials=["clay"],
                        description={})
    jug = make_product(title={"en": "Blue jug"}, materials=["copper"], description={})
    assert _search("blue") == sorted([bowl.id, jug.id])
    assert _search("пиала") == [bowl.id]
    assert _search("blue copper") == [jug.id]
    assert _search("green") == []


def test_title_hits_rank_before_description_hits_and_expansions_after_both():
    described = make_product(title={"en": "Jug"}, description={"en": "A felt cover"})
    titled = make_product(title={"en": "Felt rug"}, description={})
    russian = make_product(title={"ru": "Войлочная подушка"}, description={})
    assert _search("felt") == [titled.id, described.id, russian.id]


def test_query_syntax_characters_are_not_wildcards():
    make_product(title={"en": "Bowl"})
    assert search.parse("%") == []  # no words: no search at all
    assert _search("x_y") == []  # "_" separates words; neither "x" nor "y" is there
