"""Catalogue search behind one interface for both databases, on a stored search document.

Every product carries its analysed text (``search_title``, ``search_tags``, ``search_body``,
``search_alt``: terms from ``catalog/analysis.py``, kept by the ORM hooks below). The databases
index those terms as they are:

- PostgreSQL: generated ``tsvector`` columns ``search_vector`` (all fields, weighted A title,
  B tags, C body, D fold keys) and ``search_title_vector`` (title alone), each with a GIN
  index; no expression is rebuilt from JSON at query time.
- SQLite: the FTS5 table ``product_fts`` (columns title, tags, body, alt) kept by triggers.
- Any other database: LIKE over the stored terms (no index; small catalogues).

Relevance is a tier, then newest first: tier 0, every query word (its own forms) in the title;
tier 1, every word somewhere; tier 2, matched only through expansions (transliteration, the
craft glossary, typos, Kazakh endings). A page reads the tiers in turn, each as an indexed
query ordered like the ``newest`` browse and limited to what the page still needs, so its cost
follows the page, not the number of matches; the tiers are disjoint, so keyset cursors
(tier, created_at, id) visit every match once.

On PostgreSQL each tier query takes one of two plans, chosen by how many products the tier's
condition is estimated to select (``estimate``: the lexeme frequencies ANALYZE keeps in
``pg_stats`` for the two tsvector columns, read once a while per process, and the table's row
count): when the tier is common (at least ``walk_share``, about sqrt(page / rows) of the
catalogue) the page walks the browse index newest first and tests each row's stored vector
(``ts_match_vq``, which no index serves), reading about page / share rows; when it is rare the
GIN index finds every match and they are sorted (a leading sort key no btree provides keeps the
planner off the walk), reading about share x rows: only their ids and created_at are sorted,
and the page's rows are then read whole by primary key (``Match.products``). A lexeme the
statistics do not list counts as rare (``UNLISTED_SHARE``); the page is the rows the query
asks for (the request's limit), not a fixed size. Either way a page reads at most about
sqrt(page x rows) rows, whatever the number of matches (the tier after a large, exhausted tier
excepted: its first page reads that tier's matches once). A query of several words on the GIN
plan reads the rarest word's matches and tests the others on each (``_driver``). Without
statistics (never analysed)
the planner chooses alone. SQLite makes the same choice by counting the tier's FTS5 matches up
to that share (a count that stops there costs no more than the rare plan), and walks by testing
each row's stored terms with the portable condition below, which finds what FTS5 finds.

Where the server has the rum extension (migration 0029; found once per process, ``rum_available``)
a rare tier's page skips even those reads: a RUM index of ``search_vector`` keeps each entry's
``created_at`` (``rum_tsvector_addon_ops``, attach created_at), so the index itself gives the
tier's matches newest first (ORDER BY the distance ``created_at <=| cursor``, LIMIT the page)
without reading their rows, and only about a page of rows is read (``Match.ranked_page``). The
index orders by created_at alone: the rows sharing a created_at at the page's edges (the
cursor's, and the page's last) are read through the newest-first btree by the exact condition,
and the union is sorted, so the keyset (tier, created_at desc, id desc) is exactly the GIN
plan's. One index serves every tier: the title tier is the words of weight A (the title's
lexemes), the description tier excludes the title's on the rows. It keeps no weights, so the
rows it offers that a weight or the title exclusion rejects are read too: at most the query's
matches anywhere, so it is taken only when those are rare (``_rum_bounded``). rum 1.3 reads a
lexeme asked both as a prefix and as a word in one tsquery wrong, so such a query keeps the GIN
plan (``_rum_reads_right``), and the index is partial on a condition only the RUM plan states
(``RUM_PREDICATE``) so the planner never takes it for anything else. Without the extension
(SQLite, a server without rum, a role that may not create it) the GIN plan above is the plan.

Fuzzy matches are catalogue words found through a trigram index over the vocabulary table
``search_term`` (pg_trgm on PostgreSQL, an FTS5 trigram table on SQLite) and accepted by the
same Python rule on both (``analysis.accepts``).
"""

from __future__ import annotations

import bisect
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    DateTime,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    event,
    false,
    func,
    insert,
    inspect,
    literal_column,
    not_,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from marketplace.catalog import analysis
from marketplace.catalog.analysis import Word
from marketplace.catalog.models import Product, SearchTerm
from marketplace.catalog.pages import page_statement
from marketplace.extensions import db

TIERS = (0, 1, 2)
PAGE_ROWS = 25  # the rows a default page asks for (24 and one to know there is more)
FUZZY_CANDIDATES = 500  # vocabulary candidates per probe word (SQLite trigram query)
MAX_FUZZY_TERMS = 8  # accepted fuzzy terms per query word, most similar first
MAX_TERM_LENGTH = 100  # longer letter runs are not words anyone types

# PostgreSQL generated columns (migration 0015); the analysed text is the app's.
PG_SEARCH_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_tags, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_body, '')), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_alt, '')), 'D')"
)
PG_TITLE_VECTOR = "to_tsvector('simple'::regconfig, coalesce(search_title, ''))"


def parse(query: str | None) -> list[Word]:
    return analysis.parse(query)


# --- keeping the stored document ---

def document_columns(title: dict | None, description: dict | None, materials: list | None,
                     techniques: list | None) -> dict[str, str]:
    """The search_* column values of a product with these fields (for bulk inserts, which
    bypass the ORM hooks; pass the result's vocabulary to ``remember_terms``)."""
    doc = analysis.document(title, description, materials, techniques)
    return {"search_title": doc.title, "search_tags": doc.tags, "search_body": doc.body,
            "search_alt": doc.alt}


def vocabulary(columns: dict[str, str]) -> set[str]:
    words = " ".join(columns.values()).split()
    return {word for word in words
            if analysis.MIN_VOCABULARY_LENGTH <= len(word) <= MAX_TERM_LENGTH}


def remember_terms(connection, terms: set[str]) -> None:
    """Add catalogue words to the vocabulary the fuzzy matcher searches (idempotent; sorted,
    so that concurrent writers take the same keys in the same order)."""
    if not terms:
        return
    rows = [{"term": term} for term in sorted(terms)]
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        connection.execute(pg_insert(SearchTerm).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        connection.execute(insert(SearchTerm).prefix_with("OR IGNORE"), rows)
    else:
        known = set(connection.execute(
            select(SearchTerm.term).where(SearchTerm.term.in_(sorted(terms)))).scalars())
        fresh = [row for row in rows if row["term"] not in known]
        if fresh:
            connection.execute(insert(SearchTerm), fresh)


_SOURCE_FIELDS = ("title", "description", "materials", "techniques")


def _index_product(mapper, connection, product: Product) -> None:
    state = inspect(product)
    if state.persistent and not any(state.attrs[name].history.has_changes()
                                    for name in _SOURCE_FIELDS):
        return  # a stock or price change: the document stays as it is
    columns = document_columns(product.title, product.description, product.materials,
                               product.techniques)
    for name, value in columns.items():
        setattr(product, name, value)
    product._search_terms = vocabulary(columns)


def _remember_product_terms(mapper, connection, product: Product) -> None:
    terms = getattr(product, "_search_terms", None)
    if terms:
        remember_terms(connection, terms)
        product._search_terms = None


event.listen(Product, "before_insert", _index_product)
event.listen(Product, "before_update", _index_product)
event.listen(Product, "after_insert", _remember_product_terms)
event.listen(Product, "after_update", _remember_product_terms)


def reindex(session, batch: int = 500) -> int:
    """Recompute every product's stored document (after an analyser change)."""
    done, last = 0, ""
    while True:
        rows = session.execute(
            select(Product.id, Product.title, Product.description, Product.materials,
                   Product.techniques).where(Product.id > last).order_by(Product.id).limit(batch)
        ).all()
        if not rows:
            return done
        terms: set[str] = set()
        for product_id, title, description, materials, techniques in rows:
            columns = document_columns(title, description, materials, techniques)
            terms |= vocabulary(columns)
            session.execute(Product.__table__.update().where(Product.id == product_id)
                            .values(**columns))
        remember_terms(session.connection(), terms)
        done += len(rows)
        last = rows[-1][0]


# --- fuzzy terms from the vocabulary ---

# Fuzzy candidates (pg_trgm's %, at the threshold set for this transaction alone: set_config's
# is_local, as SET LOCAL, which a pooler in transaction mode keeps to this request; the probes
# come out of the filter that sets it, so no comparison runs before it) and which exact forms
# are catalogue words, in one statement.
_PG_VOCABULARY = text(
    "SELECT 'fuzzy' AS kind, probes.probe, search_term.term FROM (SELECT "
    "unnest(CAST(:probes AS text[])) AS probe WHERE "
    "set_config('pg_trgm.similarity_threshold', :threshold, true) IS NOT NULL) AS probes "
    "JOIN search_term ON search_term.term % probes.probe "
    "UNION ALL SELECT 'word', NULL, form FROM unnest(CAST(:words AS text[])) AS form "
    "WHERE EXISTS (SELECT FROM search_term WHERE search_term.term = form) "
    "UNION ALL SELECT 'prefix', NULL, form FROM unnest(CAST(:prefixes AS text[])) AS form "
    "WHERE EXISTS (SELECT FROM search_term WHERE search_term.term LIKE form || '%')")
# the same lookup of exact forms on SQLite (the primary key's range holds a prefix's words)
_SQLITE_KNOWN = text(
    "SELECT 'word', value FROM json_each(:words) "
    "WHERE EXISTS (SELECT 1 FROM search_term WHERE term = value) "
    "UNION ALL SELECT 'prefix', value FROM json_each(:prefixes) "
    "WHERE EXISTS (SELECT 1 FROM search_term WHERE term >= value "
    "AND term < value || char(1114111))")


# Exact forms (term, prefix) this process has seen the vocabulary hold, per database. The
# vocabulary only grows, so a form once known stays known: a word with one needs no lookup to
# tell it is no typo. (Should a database's vocabulary be emptied under a running process, a
# word it lists reads its exact tiers' pages, which then hold nothing: a statement more, never
# another result.) Forgotten, all of them, past KNOWN_FORMS.
KNOWN_FORMS = 50_000
_known_forms: dict[str, set[tuple[str, bool]]] = {}


def _database_key() -> str:
    return db.engine.url.render_as_string(hide_password=True)


def forget_known_forms() -> None:
    """Forget which forms the vocabulary holds (a test that empties the database)."""
    _known_forms.clear()


def _remember_known(known: set[tuple[str, bool]]) -> None:
    forms = _known_forms.setdefault(_database_key(), set())
    if len(forms) + len(known) > KNOWN_FORMS:
        forms.clear()
    forms |= known


def _checkable(word: Word) -> list[tuple[str, bool]] | None:
    """The word's exact forms, when the vocabulary tells whether the catalogue holds each: it
    keeps every catalogue word of MIN_VOCABULARY_LENGTH to MAX_TERM_LENGTH letters (a prefix
    form finds the words it begins; a letter run longer than MAX_TERM_LENGTH is no word)."""
    forms = _exact(word)
    if all(len(term) >= analysis.MIN_VOCABULARY_LENGTH
           and (prefix or len(term) <= MAX_TERM_LENGTH) for term, prefix in forms):
        return forms
    return None


def resolve_fuzzy(words: list[Word], session) -> None:
    """Fill each word's ``fuzzy_terms`` (catalogue words it is a typo or an inflection of) and
    ``unknown`` (none of its exact forms is a catalogue word: every product's terms are in the
    vocabulary, which only grows, so its exact tiers hold nothing)."""
    words = [word for word in words if not word.resolved]
    for word in words:
        word.resolved = True
    probes = {probe for word in words for probe in analysis.fuzzy_probes(word)}
    checkable = [_checkable(word) for word in words]  # each word's, worked out once
    forms = {form for word_forms in checkable for form in (word_forms or ())}
    if not probes and not forms:
        return
    exact = sorted(term for term, prefix in forms if not prefix)
    prefixes = sorted(term for term, prefix in forms if prefix)
    dialect = session.get_bind().dialect.name
    candidates: dict[str, set[str]] = {probe: set() for probe in probes}
    known: set[tuple[str, bool]] = set()
    if dialect == "postgresql":
        for kind, probe, term in session.execute(_PG_VOCABULARY, {
                "probes": sorted(probes), "threshold": str(analysis.TRIGRAM_FLOOR),
                "words": exact, "prefixes": prefixes}):
            if kind == "fuzzy":
                candidates[probe].add(term)
            else:
                known.add((term, kind == "prefix"))
    elif dialect == "sqlite":
        for probe in sorted(probes):
            grams = " OR ".join('"' + gram.replace('"', '""') + '"'
                                for gram in sorted(analysis.trigrams(probe)))
            candidates[probe] = set(session.execute(text(
                "SELECT trim(term) FROM product_fts_terms WHERE product_fts_terms MATCH :q "
                "ORDER BY rank LIMIT :n"), {"q": grams, "n": FUZZY_CANDIDATES}).scalars())
        if forms:
            known = {(term, kind == "prefix") for kind, term in session.execute(
                _SQLITE_KNOWN, {"words": json.dumps(exact), "prefixes": json.dumps(prefixes)})}
    else:
        everything = set(session.execute(select(SearchTerm.term)).scalars())
        candidates = {probe: everything for probe in probes}
        known = {(term, prefix) for term, prefix in forms
                 if (term in everything if not prefix
                     else any(other.startswith(term) for other in everything))}
    _remember_known(known)
    for word, word_forms in zip(words, checkable, strict=True):
        word.unknown = word_forms is not None and not any(form in known for form in word_forms)
        pool = set().union(*(candidates.get(p, set()) for p in analysis.fuzzy_probes(word)))
        accepted = [term for term in pool if analysis.accepts(word, term)]
        accepted.sort(key=lambda term: (-analysis.similarity(word.text, term), term))
        word.fuzzy_terms = tuple(accepted[:MAX_FUZZY_TERMS])
        # a typo or an inflection of a glossary word widens like the word itself
        for term in word.fuzzy_terms:
            word.widen(analysis.concepts_for(term))


# --- conditions ---

def _exact(word: Word) -> list[tuple[str, bool]]:
    return word.exact_forms()


def _expanded(word: Word) -> list[tuple[str, bool]]:
    return [*word.expansions, *((term, False) for term in word.fuzzy_terms)]


def _tsquery(forms: list[tuple[str, bool]], weights: str = "") -> str:
    # Terms are letters or digits only (analysis.tokens): nothing to quote inside them.
    def lexeme(term: str, prefix: bool) -> str:
        marks = ("*" if prefix else "") + weights
        return f"'{term}'" + (f":{marks}" if marks else "")

    return "(" + " | ".join(lexeme(term, prefix) for term, prefix in forms) + ")"


def _pg_widened(word: Word) -> str:
    # expansions count in the title, tags and fold keys (weights A, B, D), not in descriptions
    expanded = _expanded(word)
    if not expanded:
        return _tsquery(_exact(word))
    return f"({_tsquery(_exact(word))} | {_tsquery(expanded, 'ABD')})"


def holds_nothing(words: list[Word], tier: int | None) -> bool:
    """Is ``tier`` empty, so that its page need not be read? Tier 2 is what the expansions find
    beyond the exact forms: nothing when no word has an expansion (once the fuzzy terms are
    resolved). Tiers 0 and 1 need every word's exact forms: nothing when the vocabulary holds
    none of some word's (``unknown``, with the fuzzy terms: a typo's)."""
    if tier in (0, 1) and any(word.unknown for word in words):
        return True
    return tier == 2 and not any(_expanded(word) for word in words)


def may_be_unknown(words: list[Word]) -> bool:
    """Might some query word be no catalogue word, so that looking the words up in the
    vocabulary now (``resolve_fuzzy``, which a tier 2 page needs anyway) may spare the exact
    tiers' pages? Not when this process has seen the vocabulary hold one of the word's exact
    forms (``_known_forms``); then on PostgreSQL only when ANALYZE lists none of them (a
    listed lexeme is a catalogue word, or was: the lookup then costs a statement for
    nothing); elsewhere whenever its forms can be looked up."""
    known = _known_forms.get(_database_key(), ())
    candidates = [word for word in words if not word.resolved and (forms := _checkable(word))
                  and not any(form in known for form in forms)]
    if not candidates or db.session.get_bind().dialect.name != "postgresql":
        return bool(candidates)
    stats = statistics()
    return stats is None or any(
        not any(stats.lists("search_vector", term, prefix) for term, prefix in _exact(word))
        for word in candidates)


def pg_queries(words: list[Word], tier: int | None) -> tuple[str | None, str | None, str | None]:
    """(all-field tsquery, title tsquery, title tsquery to exclude) for a tier (None: any)."""
    exact = " & ".join(_tsquery(_exact(word)) for word in words)
    widened = " & ".join(_pg_widened(word) for word in words)
    if tier == 0:
        return None, exact, None
    if tier == 1:
        return exact, None, exact
    if tier == 2:
        return f"({widened}) & !({exact})", None, None
    return widened, None, None


def _fts_forms(forms: list[tuple[str, bool]]) -> str:
    return "(" + " OR ".join(f'"{term}"' + ("*" if prefix else "") for term, prefix in forms) + ")"


def _fts_widened(word: Word) -> str:
    expanded = _expanded(word)
    if not expanded:
        return _fts_forms(_exact(word))
    return f"({_fts_forms(_exact(word))} OR {{title tags alt}} : {_fts_forms(expanded)})"


def fts_query(words: list[Word], tier: int | None) -> str:
    exact = " AND ".join(_fts_forms(_exact(word)) for word in words)
    widened = " AND ".join(_fts_widened(word) for word in words)
    title = " AND ".join("title : " + _fts_forms(_exact(word)) for word in words)
    if tier == 0:
        return title
    if tier == 1:
        return f"({exact}) NOT ({title})"
    if tier == 2:
        return f"({widened}) NOT ({exact})"
    return widened


@dataclass(frozen=True)
class Match:
    """Add to a product query: an optional join target and condition."""

    join: object | None
    join_on: object | None
    condition: object | None
    lead: object | None = None  # a first sort key (equal on every match) that steers the plan
    rum: RumQuery | None = None  # the RUM plan's tsqueries: the page is ``ranked_page``'s
    # PostgreSQL: what the condition's form depends on (its tsqueries are named parameters,
    # ``parameters``), so that a page statement built with it serves every query of that shape
    shape: tuple | None = None
    parameters: dict | None = None

    def apply(self, query):
        if self.join is not None:
            query = query.join(self.join, self.join_on)
        if self.condition is not None:
            query = query.where(self.condition)
        if self.lead is not None:
            query = query.order_by(self.lead)
        return query

    @property
    def sorts(self) -> bool:
        """Does a page query sort every match (the full-text index's plan)?"""
        return self.lead is not None or self.join is not None

    def products(self, keys):
        """The products of the page ``keys`` chooses (product ids and created_at, this match
        applied, newest first, limited to the page), in its order. A query that sorts every
        match reads and sorts only those two columns of each, and then only the page's rows
        whole, by primary key; a walk reads every row it tests anyway, and selects them whole."""
        if not self.sorts:
            return keys.with_only_columns(Product)
        page = keys.subquery("page")
        return (select(Product).join(page, page.c.id == Product.id)
                .order_by(page.c.created_at.desc(), page.c.id.desc()))

    def ranked_page(self, shape, keys, after: tuple[datetime, str] | None, rows: int):
        """(statement, parameters) of one page of this match's products on the RUM plan
        (``rum`` set), newest first (created_at desc, id desc), ``rows`` of them after the keyset
        ``after`` (created_at, id). ``keys()`` builds the select of product ids and created_at
        under the page's filters, which ``shape`` names (their values included): the statement
        is built once per shape, and the tsqueries, cursor and page size are its parameters
        (``_rum_page``)."""
        rum = self.rum
        conditions = (rum.title is not None, rum.not_title is not None, after is not None)
        statement = page_statement(("rum", shape, *conditions),
                                   lambda: _rum_page(keys(), *conditions))
        parameters = {"rum_all": rum.everything, "rum_title": rum.title,
                      "rum_not_title": rum.not_title, "rum_rows": rows,
                      "rum_moment": after[0] if after else RUM_ORIGIN}
        if after:
            parameters["rum_after_id"] = after[1]
        return statement, parameters


@dataclass(frozen=True)
class RumQuery:
    """A tier's tsqueries on the RUM plan: the whole query on search_vector's index (the title
    tier as the words of weight A), the title tier's on search_title_vector, and the title
    exclusion of the description tier."""

    everything: str
    title: str | None
    not_title: str | None


# The RUM plan orders by distance from this moment when no cursor gives one: late enough for any
# product (later ones are still found, through the btree), near enough that a float's
# distance tells apart two created_at a microsecond apart up to it (2^53 us is 285 years).
RUM_ORIGIN = datetime(2100, 1, 1)
RUM_TIE = timedelta(milliseconds=1)
# Must stay identical to migrations/versions/0029_rum.py RUM_INDEXES.
RUM_INDEXES = {"product_fts_rum_vector": "search_vector"}
# The RUM index is partial on a condition only the RUM plan's queries state (true of every
# product), so that the planner never takes it for another query: a bitmap scan of it would
# read a lexeme asked both as a prefix and as a word wrong (``_rum_reads_right``).
RUM_PREDICATE = func.length(Product.id) > 0
_rum: dict[object, bool] = {}


def rum_available() -> bool:
    """Does this database have the RUM indexes (migration 0029, where the rum extension is)?
    Read once per process and database."""
    key = db.engine  # one per app and database, for the process's life
    if key not in _rum:
        found = db.session.execute(text(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'product' AND indexname = ANY(:names)"),
            {"names": sorted(RUM_INDEXES)}).scalar()
        _rum[key] = found == len(RUM_INDEXES)
    return _rum[key]


def _rum_bounded(words: list[Word], page_rows: int) -> bool:
    """Is the query rare in the whole document (any field, any form)? The RUM index finds a
    tier's candidates by their lexemes alone (it keeps no weights): the title tier's words of
    weight A, a description tier's rows that hold the words in their title too, and an
    expansion found only in a description are read and rejected on their rows. Those are at
    most the query's matches anywhere, which the rare plan's bound allows only when rare
    (a word common in descriptions and absent from titles keeps the GIN plan's title index)."""
    stats = statistics()
    return stats is not None and estimate(words, None, stats) < walk_share(stats.rows, page_rows)


def _rum_reads_right(words: list[Word]) -> bool:
    """rum 1.3 merges the entries of one lexeme asked for both as a prefix and as a word in the
    same tsquery ('felt':* | 'felt' finds only 'felt'): such a query keeps the GIN plan."""
    flags: dict[str, set[bool]] = {}
    for word in words:
        for term, prefix in [*_exact(word), *_expanded(word)]:
            flags.setdefault(term, set()).add(prefix)
    return all(len(seen) == 1 for seen in flags.values())


def _vector(name: str):
    return literal_column(f"product.{name}")


def _tsquery_bound(query: str, name: str):
    """The tsquery ``query`` bound as the parameter ``name``, so that a statement built with it
    can be run again with another value under that name."""
    return cast(bindparam(name, query, String), TSQUERY)


def _tsquery_named(name: str):
    """The tsquery parameter ``name`` of a statement built once without its value."""
    return cast(bindparam(name, type_=String), TSQUERY)


def match(words: list[Word], tier: int | None, dialect: str,
          page_rows: int | None = PAGE_ROWS) -> Match:
    """Products in ``tier`` (0, 1, 2; None: any) of the query ``words``, for a query that reads
    one ordered page of ``page_rows`` of them (the walk or the full-text index's matches,
    chosen for that many rows), or all of them (``page_rows`` None: counts)."""
    page = page_rows is not None
    if dialect == "postgresql":
        everything, title, not_title = pg_queries(words, tier)
        plan = _postgres_plan(words, tier, page_rows) if page else None
        if (plan == "index" and tier is not None and rum_available()
                and _rum_bounded(words, page_rows) and _rum_reads_right(words)):
            if title:  # the title's lexemes are search_vector's of weight A
                everything = " & ".join(_tsquery(_exact(word), "A") for word in words)
            return Match(None, None, None, rum=RumQuery(everything, title, not_title))

        driver = _driver(words, tier) if plan == "index" and len(words) > 1 else None

        parameters = {}

        def matches(column: str, name: str, query: str):
            parameters[name] = query
            vector, tsquery = _vector(column), _tsquery_bound(query, name)
            if plan == "walk" or driver is not None:
                return func.ts_match_vq(vector, tsquery)
            return vector.op("@@")(tsquery)

        conditions = []
        if driver is not None:  # the GIN index reads the rarest word's matches alone
            column, query = driver
            parameters["ts_driver"] = query
            conditions.append(_vector(column).op("@@")(_tsquery_bound(query, "ts_driver")))
        if everything:
            conditions.append(matches("search_vector", "ts_all", everything))
        if title:
            conditions.append(matches("search_title_vector", "ts_title", title))
        if not_title:
            conditions.append(not_(matches("search_title_vector", "ts_not_title", not_title)))
        lead = conditions[0].desc() if plan == "index" else None
        shape = (plan, driver[0] if driver else None, *sorted(parameters))
        return Match(None, None, and_(*conditions), lead, shape=shape, parameters=parameters)
    if dialect == "sqlite":
        if page and _sqlite_plan(words, tier, page_rows) == "walk":
            return Match(None, None, _portable(words, tier))
        hits = (select(literal_column("product_id").label("product_id"))
                .select_from(text("product_fts"))
                .where(text("product_fts MATCH :fts_query")
                       .bindparams(fts_query=fts_query(words, tier)))
                .subquery())
        return Match(hits, hits.c.product_id == Product.id, None)
    return Match(None, None, _portable(words, tier))


def _rum_page(keys, title: bool, not_title: bool, after: bool):
    """The RUM plan's page statement for ``keys`` (see ``Match.ranked_page``), with the
    parameters rum_all, rum_title (``title``), rum_not_title (``not_title``), rum_moment (the
    cursor's created_at, else ``RUM_ORIGIN``), rum_after_id (``after``) and rum_rows.

    The index gives the matches in created_at order (distance from rum_moment) and the first
    rum_rows of them are read, with created_at strictly before it: the whole tsquery on
    search_vector's index (no driver word: the index reads every word's entries without the
    rows; the title tier as the words of weight A, which are the title's), the title exclusion
    tested on the rows the index gives. The index does not order rows of one created_at by id,
    so the rows sharing a created_at at either edge of the page are read by the exact condition
    instead (the GIN plan's, in a form no index serves: ts_match_vq), through the newest-first
    btree (a created_at range of ``RUM_TIE`` holds them: the distance is a float, which may not
    part two created_at a microsecond apart), and the union is sorted: that is the page the GIN
    plan reads. Products created at or after ``RUM_ORIGIN`` (none, in practice) come from the
    btree."""
    everything = _tsquery_named("rum_all")
    ranked = [_vector("search_vector").op("@@")(everything), RUM_PREDICATE]
    exact = [func.ts_match_vq(_vector("search_title_vector"), _tsquery_named("rum_title"))
             if title else func.ts_match_vq(_vector("search_vector"), everything)]
    if not_title:
        excluded = not_(func.ts_match_vq(_vector("search_title_vector"),
                                         _tsquery_named("rum_not_title")))
        ranked.append(excluded)
        exact.append(excluded)
    moment = bindparam("rum_moment", type_=DateTime())
    distance = Product.created_at.op("<=|", return_type=Float())(moment)
    candidates = (keys.where(*ranked, Product.created_at < moment)
                  .order_by(distance).limit(bindparam("rum_rows", type_=Integer()))
                  .cte("candidates"))
    edge = select(func.min(candidates.c.created_at)).scalar_subquery()
    parts = [select(candidates.c.id, candidates.c.created_at),
             keys.where(*exact, Product.created_at >= edge, Product.created_at < edge + RUM_TIE,
                        Product.created_at < moment)]
    if after:
        parts.append(keys.where(*exact, Product.created_at == moment,
                                Product.id < bindparam("rum_after_id", type_=String())))
    else:
        parts.append(keys.where(*exact, Product.created_at >= moment))
    found = union(*parts).subquery("found")
    page = (select(found.c.id, found.c.created_at)
            .order_by(found.c.created_at.desc(), found.c.id.desc())
            .limit(bindparam("rum_rows", type_=Integer()))
            .subquery("page"))
    return (select(Product).join(page, page.c.id == Product.id)
            .order_by(page.c.created_at.desc(), page.c.id.desc()))


def _has(column, term: str, prefix: bool):
    padded = literal_column("' '") + column + literal_column("' '")
    return padded.contains(f" {term}" + ("" if prefix else " "), autoescape=True)


def _any_field(forms: list[tuple[str, bool]], columns):
    return or_(false(), *[_has(column, term, prefix)
                          for term, prefix in forms for column in columns])


def _portable(words: list[Word], tier: int | None):
    fields = (Product.search_title, Product.search_tags, Product.search_body)
    title = and_(*[_any_field(_exact(w), (Product.search_title,)) for w in words])
    exact = and_(*[_any_field(_exact(w), fields) for w in words])
    widened = and_(*[or_(_any_field(_exact(w), fields),
                         _any_field(_expanded(w), (Product.search_title, Product.search_tags,
                                                   Product.search_alt))) for w in words])
    if tier == 0:
        return title
    if tier == 1:
        return and_(exact, not_(title))
    if tier == 2:
        return and_(widened, not_(exact))
    return widened


# --- choosing the plan (PostgreSQL) ---

STATISTICS_SECONDS = 300.0
# The share counted for a lexeme ANALYZE does not list: half the least listed one's, at most
# this. ANALYZE lists every lexeme above a cutoff (at the default statistics target, about
# 6e-5 x the lexemes per row of a sample: 0.2% for the bench's documents of 32), so on a
# catalogue whose listed words are all frequent (the least 11%), half the least would call a
# word of 0.2% common and walk the whole catalogue for its page. Counted at 0.1%, an unlisted
# word takes the full-text index's plan up to 25M products (walk_share), which reads at most
# the cutoff's share of rows, where a walk would read all of them for a word rarer than that.
UNLISTED_SHARE = 0.001
_VECTORS = ("search_vector", "search_title_vector")


@dataclass(frozen=True)
class Statistics:
    """What ANALYZE knows of the product table: its rows and, per tsvector column, the share
    of rows holding each frequent lexeme (and the least such share: rarer lexemes are not
    listed)."""

    rows: float
    lexemes: dict[str, tuple[list[str], list[float]]] = field(default_factory=dict)
    floor: dict[str, float] = field(default_factory=dict)

    def lists(self, column: str, term: str, prefix: bool) -> bool:
        """Does ANALYZE list ``term`` (a lexeme beginning with it, for a prefix)?"""
        names = self.lexemes.get(column, ([], []))[0]
        index = bisect.bisect_left(names, term)
        return index < len(names) and (names[index].startswith(term) if prefix
                                       else names[index] == term)

    def share(self, column: str, forms: list[tuple[str, bool]]) -> float:
        """The estimated share of rows whose ``column`` holds one of ``forms`` (a union is at
        least its largest part: taking that errs towards the GIN plan)."""
        names, shares = self.lexemes.get(column, ([], []))
        best = 0.0
        for term, prefix in forms:
            if prefix:
                start = bisect.bisect_left(names, term)
                end = start
                while end < len(names) and names[end].startswith(term):
                    end += 1
                found = min(1.0, sum(shares[start:end])) if end > start else None
            else:
                index = bisect.bisect_left(names, term)
                found = (shares[index] if index < len(names) and names[index] == term
                         else None)
            if found is None:
                found = min(self.floor.get(column, 0.0) / 2, UNLISTED_SHARE)
            best = max(best, found)
        return best


_statistics: dict[str, tuple[float, Statistics | None]] = {}


def forget_statistics() -> None:
    """Read the planner statistics again on the next search (after an ANALYZE)."""
    _statistics.clear()


def statistics() -> Statistics | None:
    """This process's copy of the product table's search statistics (None: not analysed)."""
    key = _database_key()
    hit = _statistics.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < STATISTICS_SECONDS:
        return hit[1]
    rows = db.session.execute(text(
        "SELECT reltuples FROM pg_class WHERE oid = 'product'::regclass")).scalar()
    found = db.session.execute(text(
        "SELECT attname, most_common_elems::text::text[], most_common_elem_freqs "
        "FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'product' "
        "AND attname IN ('search_vector', 'search_title_vector')")).all()
    result = None
    if rows and rows > 0 and found:
        lexemes, floor = {}, {}
        for column, names, shares in found:
            if not names:
                continue
            pairs = sorted(zip(names, shares, strict=False))
            lexemes[column] = ([name for name, _ in pairs], [share for _, share in pairs])
            floor[column] = shares[len(names)] if len(shares) > len(names) else min(shares)
        result = Statistics(float(rows), lexemes, floor) if lexemes else None
    _statistics[key] = (now, result)
    return result


def _all_share(stats: Statistics, column: str, words: list[Word], forms) -> float:
    share = 1.0
    for word in words:  # words taken as independent, like the planner does
        share *= stats.share(column, forms(word))
    return share


def estimate(words: list[Word], tier: int | None, stats: Statistics) -> float:
    """The share of products in ``tier`` of ``words`` (None: any tier)."""
    def widened(word: Word) -> list[tuple[str, bool]]:
        return [*_exact(word), *_expanded(word)]

    title = _all_share(stats, "search_title_vector", words, _exact)
    exact = max(title, _all_share(stats, "search_vector", words, _exact))
    anywhere = max(exact, _all_share(stats, "search_vector", words, widened))
    if tier == 0:
        return title
    if tier == 1:
        return exact - title
    if tier == 2:
        return anywhere - exact
    return anywhere


def _driver(words: list[Word], tier: int | None) -> tuple[str, str] | None:
    """(column, tsquery) of the query word with the fewest matches, for the GIN plan of a
    query of several words: GIN then reads that word's matches, not the intersection built
    from every word's (a common word's prefix match gathers all of its rows first)."""
    stats = statistics()
    if stats is None:
        return None
    if tier == 0:
        column, forms, query = "search_title_vector", _exact, lambda w: _tsquery(_exact(w))
    elif tier == 1:
        column, forms, query = "search_vector", _exact, lambda w: _tsquery(_exact(w))
    else:
        column, query = "search_vector", _pg_widened

        def forms(word: Word) -> list[tuple[str, bool]]:
            return [*_exact(word), *_expanded(word)]
    rarest = min(words, key=lambda word: stats.share(column, forms(word)))
    return column, query(rarest)


def walk_share(rows: float, page_rows: int = PAGE_ROWS) -> float:
    """From this share up, walking the newest-first index for ``page_rows`` rows reads fewer
    rows than the GIN plan (page / share against share x rows)."""
    return math.sqrt(page_rows / max(rows, page_rows))


def choose_plan(words: list[Word], tier: int | None, page_rows: int = PAGE_ROWS) -> str | None:
    """How a page of ``page_rows`` rows of ``tier`` is read: "walk" (the newest-first index,
    each row tested), "index" (the full-text index's matches, sorted) or None (the planner's
    choice)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return _postgres_plan(words, tier, page_rows)
    if dialect == "sqlite":
        return _sqlite_plan(words, tier, page_rows)
    return None


def _postgres_plan(words: list[Word], tier: int | None, page_rows: int) -> str | None:
    stats = statistics()
    if stats is None:
        return None
    return ("walk" if estimate(words, tier, stats) >= walk_share(stats.rows, page_rows)
            else "index")


def _sqlite_plan(words: list[Word], tier: int | None, page_rows: int) -> str:
    """SQLite: "walk" when the tier holds at least ``walk_share`` of the catalogue (counted
    through FTS5 up to that many rows, so the count costs no more than the rare plan), testing
    each row of the newest-first index on its stored terms (the portable condition, which finds
    what FTS5 finds); else "index" (FTS5's matches, sorted)."""
    rows = db.session.execute(text("SELECT max(rowid) FROM product")).scalar() or 0
    enough = math.ceil(walk_share(rows, page_rows) * rows)
    if enough < page_rows:
        return "index"
    found = db.session.execute(text(
        "SELECT count(*) FROM (SELECT 1 FROM product_fts WHERE product_fts MATCH :q LIMIT :n)"),
        {"q": fts_query(words, tier), "n": enough}).scalar()
    return "walk" if found >= enough else "index"
