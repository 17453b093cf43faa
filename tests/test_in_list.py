"""``extensions.in_list``: a condition "this column is one of the list given as a parameter",
built once and executed with lists of any length. PostgreSQL gets one array parameter, so the
statement's text does not depend on the list's length; other databases an expanding IN, a
condition as it is (never compared with true, which would keep an index from serving it)."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.catalog.models import Product
from marketplace.extensions import db, in_list
from tests.factories import make_artisan, make_product
from tests.statements import sent_statements

_BY_ID = select(Product.id).where(in_list(Product.id)).order_by(Product.id)
_BY_TWO_LISTS = (select(Product.id)
                 .where(in_list(Product.id), in_list(Product.artisan_id, "artisans"))
                 .order_by(Product.id))


def test_it_finds_the_rows_of_lists_of_every_length(app):
    artisan, other = make_artisan(), make_artisan()
    ids = sorted(make_product(artisan).id for _ in range(3))
    theirs = make_product(other).id
    db.session.commit()
    for chosen in ([], ids[:1], ids[:2], ids, [*ids, "no-such-id"], [ids[0], ids[0]]):
        assert db.session.execute(_BY_ID, {"ids": chosen}).scalars().all() == sorted(
            set(chosen) - {"no-such-id"})
    everything = [*ids, theirs]
    assert db.session.execute(_BY_TWO_LISTS, {"ids": everything, "artisans": [other.id]}
                              ).scalars().all() == [theirs]
    assert db.session.execute(_BY_TWO_LISTS, {"ids": ids, "artisans": [other.id]}
                              ).scalars().all() == []


def test_the_statement_is_one_text_on_postgresql_and_a_plain_in_elsewhere(app):
    make_product(make_artisan())
    db.session.commit()
    with sent_statements() as sent:
        for chosen in (["a"], ["a", "b", "c"], [f"id{n}" for n in range(30)]):
            db.session.execute(_BY_ID, {"ids": chosen}).all()
    condition = [statement.split("WHERE", 1)[1] for statement, _ in sent]
    if db.engine.dialect.name == "postgresql":
        assert len(set(condition)) == 1 and "= ANY (" in condition[0]
    else:
        assert [c.count("?") for c in condition] == [1, 3, 30]
        assert all(" IN (" in c and "= 1" not in c for c in condition)
