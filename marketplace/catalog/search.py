"""Full-text search over the three languages, behind one function for both databases.

SQLite: the FTS5 table ``product_fts`` kept by triggers on ``product``.
PostgreSQL: a GIN index on the ``tsvector`` expression below (index ``product_fts_document``).
Both are created by migration 0001 on their own engine only; any other database gets a portable
substring match without an index. Both match every word of the query
as a case-insensitive word prefix, without stemming (there is no Kazakh stemmer), and rank
title matches above material/technique matches above description matches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Double,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)

from marketplace.catalog.models import Product

MAX_TERMS = 12

# Must stay identical to the expression indexed by migration 0001, or PostgreSQL won't use it.
PG_DOCUMENT = (
    "(setweight(to_tsvector('simple'::regconfig, coalesce(title->>'en', '') || ' ' || "
    "coalesce(title->>'ru', '') || ' ' || coalesce(title->>'kk', '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, replace(materials_key, '|', ' ') || ' ' || "
    "replace(techniques_key, '|', ' ')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(description->>'en', '') || ' ' || "
    "coalesce(description->>'ru', '') || ' ' || coalesce(description->>'kk', '')), 'C'))"
)


def terms(query: str | None) -> list[str]:
    """Words of the query (letters and digits only, so nothing is query syntax), lower-cased."""
    return [word.lower() for word in re.findall(r"[^\W_]+", query or "")][:MAX_TERMS]


@dataclass(frozen=True)
class Match:
    """Add to a product query: a join target or condition, and a score (lower = better)."""

    join: object | None
    join_on: ColumnElement | None
    condition: ColumnElement | None
    score: ColumnElement


def text_match(query: str, dialect: str) -> Match | None:
    """Products matching every word of ``query``; None when the query has no words."""
    words = terms(query)
    if not words:
        return None
    if dialect == "postgresql":
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"),
                                  " & ".join(f"{word}:*" for word in words))
        document = literal_column(PG_DOCUMENT)
        # ts_rank is a float4, whose text form does not round-trip through a cursor: widen it.
        return Match(join=None, join_on=None, condition=document.op("@@")(tsquery),
                     score=cast(-func.ts_rank(document, tsquery), Double))
    if dialect == "sqlite":
        fts_query = " ".join(f'"{word}"*' for word in words)
        hits = (
            select(literal_column("product_id").label("product_id"),
                   literal_column("bm25(product_fts, 0.0, 10.0, 4.0, 1.0)").label("score"))
            .select_from(text("product_fts"))
            .where(text("product_fts MATCH :fts_query").bindparams(fts_query=fts_query))
            .subquery("hits")
        )
        return Match(join=hits, join_on=hits.c.product_id == Product.id, condition=None,
                     score=hits.c.score)
    return _portable_match(words)


def _portable_match(words: list[str]) -> Match:
    """Any other database (e.g. MariaDB): every word as a case-insensitive substring of the
    titles, tags or descriptions, title hits ranked first. No index: fine for small catalogues."""
    title = func.lower(cast(Product.title, String))
    tags = func.lower(Product.materials_key + Product.techniques_key)
    description = func.lower(cast(Product.description, String))

    def has(column, word: str):
        # JSON text may hold non-ASCII letters as \uXXXX escapes, depending on the database
        forms = {word, json.dumps(word)[1:-1]}
        return or_(*[column.contains(form, autoescape=True) for form in forms])

    condition = and_(*[or_(has(title, word), tags.contains(word, autoescape=True),
                           has(description, word)) for word in words])
    title_hits = sum(case((has(title, word), 1), else_=0) for word in words)
    return Match(join=None, join_on=None, condition=condition, score=-title_hits)
