"""Does the portable search (databases without FTS5 or tsvector) find what the indexed ones do?"""

from sqlalchemy import select

from marketplace.catalog.models import Product
from marketplace.catalog.search import text_match
from marketplace.extensions import db
from tests.factories import make_product


def _search(query: str) -> list[str]:
    match = text_match(query, "mysql")
    rows = db.session.execute(
        select(Product.id).where(match.condition).order_by(match.score, Product.id)
    ).scalars()
    return list(rows)


def test_every_word_must_match_in_any_language_or_tag():
    bowl = make_product(title={"en": "Blue bowl", "ru": "Синяя пиала"}, materials=["clay"])
    jug = make_product(title={"en": "Blue jug"}, materials=["copper"])
    assert _search("blue") == sorted([bowl.id, jug.id])
    assert _search("пиала") == [bowl.id]
    assert _search("blue copper") == [jug.id]
    assert _search("green") == []


def test_title_hits_rank_before_description_hits():
    described = make_product(title={"en": "Jug"}, description={"en": "A felt cover"})
    titled = make_product(title={"en": "Felt rug"})
    assert _search("felt") == [titled.id, described.id]


def test_query_syntax_characters_are_not_wildcards():
    make_product(title={"en": "Bowl"})
    assert text_match("%", "mysql") is None  # no words: no search at all
    assert _search("x_y") == []  # "_" separates words; neither "x" nor "y" is there

