"""Many products fast, stored as ``catalog.writes.create_product`` stores them.

Each product is a ``ProductIn`` body validated by the schema, turned into the row the service
writes (its derived keys, the KZT ``price_base``, the search document of
``catalog.search.document_columns``) plus what the ORM hooks and the database triggers keep
beside it: the ``search_term`` vocabulary and, on PostgreSQL, the ``product_tag`` rows.

- PostgreSQL: ``COPY`` in chunks, with the ``product_tag`` trigger disabled (its rows are
  copied too) and the non-unique indexes of ``product``, ``product_tag`` and ``search_term``
  dropped and made again afterwards from their own definitions, as pg_restore does; the
  definitions are compared with the ones before the load, and the load fails if they differ.
  Generated columns (the ``tsvector``s) are computed by the server as for any insert.
- SQLite: ``executemany`` in large transactions; its triggers (FTS5, ``product_tag``) run as
  for any insert.

``check_bulk_path`` (bench/catalog.py) proves on a sample that this writes what the service
writes, column by column.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import multiprocessing
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marketplace.ids import utcnow

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The tables whose rows a product write keeps, and whose non-unique indexes a load may rebuild.
TABLES = ("product", "product_tag", "search_term")
TAG_TRIGGER = "product_tag_sync"  # migration 0023_speed (PostgreSQL)
_EPOCH = datetime(1970, 1, 1)
_MILLISECOND = timedelta(milliseconds=1)


def ulid_at(moment: datetime) -> str:
    """An id in ``ids.new_id``'s layout for ``moment`` (48-bit ms + 80 random bits; the
    bench's need no cryptographic randomness)."""
    millis = (moment - _EPOCH) // _MILLISECOND
    value = (millis << 80) | random.getrandbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


@contextlib.contextmanager
def memoized_analysis(size: int = 1 << 18) -> Iterator[None]:
    """Cache the analyser's per-word functions (pure functions of a word) for a bulk load,
    where the same few thousand words recur in every product; restored afterwards."""
    from marketplace.catalog import analysis

    saved = {name: getattr(analysis, name)
             for name in ("fold", "listing_term", "normalize", "tokens")}
    for name, function in saved.items():
        setattr(analysis, name, functools.lru_cache(maxsize=size)(function))
    words = functools.lru_cache(maxsize=size)(lambda text: tuple(saved["tokens"](text)))
    analysis.tokens = lambda text: list(words(text))  # a fresh list, as the original returns
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(analysis, name, function)


class Catalogue:
    """What every row needs: the product columns in table order, the JSON serialiser the
    engine uses, the rates, the model's scalar defaults."""

    def __init__(self, engine, rates) -> None:
        from sqlalchemy import JSON, MetaData, Table

        from marketplace.catalog import search, writes
        from marketplace.catalog.models import Product, ProductStatus
        from marketplace.money import Money

        self._search, self._writes, self._money = search, writes, Money
        self._active = str(ProductStatus.ACTIVE)
        self.dialect = engine.dialect.name
        self.rates = rates
        self.serialize = engine.dialect._json_serializer or json.dumps
        reflected = Table("product", MetaData(), autoload_with=engine)
        # every stored column but generated ones (the server computes those)
        self.columns = [column.name for column in reflected.columns if column.computed is None]
        model = Product.__table__.columns
        # JSON as the ORM binds it: None is JSON null unless the type says SQL NULL
        self.json_columns = {c.name for c in model if isinstance(c.type, JSON)}
        self.json_nulls = {c.name for c in model
                           if isinstance(c.type, JSON) and not c.type.none_as_null}
        self.defaults = {c.name: c.default.arg for c in model
                         if c.default is not None and c.default.is_scalar}
        for name in self.defaults:
            if hasattr(self.defaults[name], "value"):  # a StrEnum default
                self.defaults[name] = str(self.defaults[name])

    def product_row(self, artisan_id: str, fields, product_id: str,
                    created_at: datetime) -> tuple[dict[str, Any], set[str]]:
        """(the columns ``create_product`` stores for ``fields`` but on sale at once, the
        search vocabulary the ORM hook remembers for it)."""
        search, writes = self._search, self._writes
        price = self._money(fields.price.amount, fields.price.currency)
        dims = fields.dimensions_mm
        title = fields.title.as_dict()
        description = fields.description.as_dict() if fields.description else {}
        row = dict(self.defaults)
        row.update(
            id=product_id, artisan_id=artisan_id, title=title, description=description,
            craft=str(fields.craft),
            materials=fields.materials, materials_key=writes._tags_key(fields.materials),
            techniques=fields.techniques, techniques_key=writes._tags_key(fields.techniques),
            price_amount=price.amount, price_currency=price.currency,
            price_base=writes.price_base(price, self.rates),
            stock=fields.stock, reserved=0, weight_g=fields.weight_g,
            length_mm=dims.l if dims else None, width_mm=dims.w if dims else None,
            height_mm=dims.h if dims else None, hs_code=fields.hs_code,
            tariff_codes=fields.tariff_codes or None, status=self._active,
            reserved_for_id=None, created_at=created_at, updated_at=created_at,
        )
        document = search.document_columns(title, description, fields.materials,
                                           fields.techniques)
        row.update(document)
        return row, search.vocabulary(document)

    def values(self, row: dict[str, Any]) -> tuple:
        """The row in column order, as the engine binds it (JSON serialised; SQLite's
        datetimes as SQLAlchemy writes them)."""
        json_columns = self.json_columns
        values = tuple([self._json(name, row[name]) if name in json_columns else row[name]
                        for name in self.columns])
        if self.dialect == "sqlite":
            values = tuple(value.strftime(SQLITE_DATETIME) if isinstance(value, datetime)
                           else value for value in values)
        return values

    def _json(self, name: str, value):
        if value is None and name not in self.json_nulls:
            return None
        return self.serialize(value)

    def prepared(self, row: dict[str, Any], vocabulary: set[str]) -> Prepared:
        """What the loader writes for a row: its values, its ``product_tag`` rows (PostgreSQL,
        where the trigger is off during a load) and its vocabulary."""
        tags = self.tag_rows(row) if self.dialect == "postgresql" else []
        return self.values(row), tags, vocabulary

    @staticmethod
    def tag_rows(row: dict[str, Any]) -> list[tuple]:
        """The ``product_tag`` rows the trigger of migration 0023_speed keeps for ``row``."""
        seen: dict[tuple[str, str], None] = {}
        for kind, column in (("material", "materials"), ("technique", "techniques")):
            for value in row[column] or []:
                if isinstance(value, str):
                    seen[(kind, value)] = None
        private = row["reserved_for_id"] is not None
        return [(kind, value, row["id"], row["status"], private, row["created_at"],
                 row["price_base"]) for kind, value in seen]


Prepared = tuple[tuple, list[tuple], set[str]]
TAG_COLUMNS = ("kind", "value", "product_id", "status", "private", "created_at", "price_base")
BATCH = 5_000  # products a generating process makes at a time


@dataclass
class Encoded:
    """A batch as COPY's text format (PostgreSQL), made where it was generated."""

    count: int
    products: bytes
    tags: bytes
    terms: set[str]


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_field(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat(" ")
    return str(value)


def encode(batch: list[Prepared]) -> Encoded:
    products, tags, terms = [], [], set()
    for values, tag_rows, vocabulary in batch:
        products.append("\t".join(map(_copy_field, values)))
        tags.extend("\t".join(map(_copy_field, tag)) for tag in tag_rows)
        terms |= vocabulary
    return Encoded(len(batch), "".join(f"{line}\n" for line in products).encode(),
                   "".join(f"{line}\n" for line in tags).encode(), terms)


_SHARED: tuple = ()  # (catalogue, artisan ids, start, make specs) for forked processes


def _prepare(job: tuple[int, int, list[dict] | None]) -> list[Prepared] | Encoded:
    from marketplace.catalog.schemas import ProductIn

    catalogue, artisan_ids, start, make_specs = _SHARED
    offset, count, specs = job
    if specs is None:
        specs = make_specs(offset, count)
    batch = []
    for n, spec in enumerate(specs, offset):
        created_at = start + timedelta(milliseconds=n)
        row, vocabulary = catalogue.product_row(artisan_ids[n % len(artisan_ids)],
                                                ProductIn.model_validate(spec),
                                                ulid_at(created_at), created_at)
        batch.append(catalogue.prepared(row, vocabulary))
    return encode(batch) if catalogue.dialect == "postgresql" else batch


def generate(specs: Iterable[dict] | Callable[[int, int], list[dict]], artisan_ids: list[str],
             catalogue: Catalogue, start: datetime | None = None, offset: int = 0,
             jobs: int = 1, count: int | None = None) -> Iterator[list[Prepared] | Encoded]:
    """Batches of rows for the specs, each validated by ``ProductIn``, in order; the artisans
    take turns (the n-th product is ``artisan_ids[(offset + n) % len]``), created a millisecond
    apart from ``start``. ``specs`` is an iterable, or ``make(offset, count)`` giving the specs
    of products offset.. (with ``count`` products in all), so that each process makes its own.
    ``jobs`` > 1: that many forked processes prepare them (they inherit the analyser, memoized
    or not, and touch no connection)."""
    global _SHARED

    def work():
        position = offset
        if callable(specs):
            while position < offset + count:
                size = min(BATCH, offset + count - position)
                yield position, size, None
                position += size
            return
        source = iter(specs)
        while batch := list(itertools.islice(source, BATCH)):
            yield position, len(batch), batch
            position += len(batch)

    make = specs if callable(specs) else None
    saved, _SHARED = _SHARED, (catalogue, artisan_ids, start or utcnow(), make)
    try:
        if jobs <= 1:
            yield from map(_prepare, work())
        else:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                yield from pool.imap(_prepare, work(), chunksize=1)
    finally:
        _SHARED = saved


# --- loading -------------------------------------------------------------------------------

class Progress:
    def __init__(self, total: int, every: int = 50_000) -> None:
        self.total, self.every, self.done, self.started = total, every, 0, time.perf_counter()

    def add(self, count: int) -> None:
        self.done += count
        if self.done % self.every >= count and self.done < self.total:
            return
        elapsed = time.perf_counter() - self.started
        print(f"  {self.done:>9,} / {self.total:,} products ({self.done / elapsed:,.0f}/s, "
              f"{elapsed:.0f} s)", flush=True)


def load(engine, batches: Iterable[list[Prepared]], total: int, catalogue: Catalogue,
         *, rebuild_indexes: bool = True, quiet: bool = False) -> None:
    """Store the prepared rows (``generate``, or ``Catalogue.prepared``) with the fast path
    of the engine's database."""
    progress = None if quiet else Progress(total)
    if engine.dialect.name == "postgresql":
        _load_postgres(engine, batches, catalogue, progress, rebuild_indexes)
    else:
        _load_sqlite(engine, batches, catalogue, progress)


def _load_sqlite(engine, batches, catalogue: Catalogue, progress: Progress | None) -> None:
    columns = ", ".join(f'"{name}"' for name in catalogue.columns)
    marks = ", ".join("?" for _ in catalogue.columns)
    insert = f"INSERT INTO product ({columns}) VALUES ({marks})"
    for batch in batches:
        terms: set[str] = set()
        for _, _, vocabulary in batch:
            terms |= vocabulary
        with engine.begin() as connection:
            cursor = connection.connection.cursor()
            cursor.executemany(insert, [values for values, _, _ in batch])
            cursor.executemany("INSERT OR IGNORE INTO search_term (term) VALUES (?)",
                               [(term,) for term in sorted(terms)])
        if progress:
            progress.add(len(batch))


def index_definitions(connection) -> dict[str, str]:
    """{index name: definition} of every index of the bench tables, as PostgreSQL reports it."""
    return dict(connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = ANY(%s)", [list(TABLES)]).fetchall())


def _droppable(connection) -> list[str]:
    """The indexes of the bench tables that no constraint owns, not unique and not partial
    (PostgreSQL does not print a partial index's predicate as it was written, so made again
    from its printed definition it would print differently: those stay)."""
    return [name for (name,) in connection.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY(%s) AND t.relnamespace = current_schema()::regnamespace "
        "AND NOT i.indisunique AND NOT i.indisprimary AND i.indpred IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [list(TABLES)]).fetchall()]


def _build_indexes(engine, definitions: list[str], workers: int = 2) -> None:
    """Make the indexes again, ``workers`` at a time (largest first: the GIN ones)."""
    pending = sorted(definitions, key=lambda d: (" gin " not in d.lower(), d))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True
            connection = raw.driver_connection
            connection.execute("SET maintenance_work_mem = '1GB'")
            while True:
                with lock:
                    if not pending or failures:
                        return
                    definition = pending.pop(0)
                connection.execute(definition)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            failures.append(exc)
        finally:
            raw.invalidate()  # autocommit and session settings: never back into the pool

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def foreign_keys(connection) -> dict[tuple[str, str], str]:
    """{(table, constraint): definition} of the foreign keys of the bench tables."""
    return {(table, name): definition for table, name, definition in connection.execute(
        "SELECT t.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class t ON t.oid = k.conrelid WHERE k.contype = 'f' AND t.relname = ANY(%s) "
        "AND t.relnamespace = current_schema()::regnamespace", [list(TABLES)]).fetchall()}


def _trigger_states(connection) -> dict[str, str]:
    return dict(connection.execute(
        "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'product'::regclass "
        "AND NOT tgisinternal").fetchall())


def _schema(connection) -> tuple:
    return (index_definitions(connection), foreign_keys(connection), _trigger_states(connection))


def _load_postgres(engine, batches, catalogue: Catalogue, progress: Progress | None,
                   rebuild_indexes: bool) -> None:
    raw = engine.raw_connection()
    connection = raw.driver_connection  # psycopg 3
    try:
        connection.autocommit = True
        before = _schema(connection)
        dropped = _droppable(connection) if rebuild_indexes else []
        # foreign keys checked once for all rows afterwards rather than row by row
        keys = foreign_keys(connection) if rebuild_indexes else {}
        known = {term for (term,) in connection.execute("SELECT term FROM search_term")}
        with connection.transaction():
            for table, name in keys:
                connection.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            for name in dropped:
                connection.execute(f'DROP INDEX "{name}"')
            connection.execute(f"ALTER TABLE product DISABLE TRIGGER {TAG_TRIGGER}")
        connection.execute("SET synchronous_commit = off")
        product_copy = (f"COPY product ({', '.join(catalogue.columns)}) FROM STDIN")
        tag_copy = f"COPY product_tag ({', '.join(TAG_COLUMNS)}) FROM STDIN"
        try:
            for batch in batches:
                if not isinstance(batch, Encoded):
                    batch = encode(batch)
                with connection.transaction(), connection.cursor() as cursor:
                    with cursor.copy(product_copy) as copy:
                        copy.write(batch.products)
                    with cursor.copy(tag_copy) as copy:
                        copy.write(batch.tags)
                    fresh = batch.terms - known
                    known |= fresh
                    with cursor.copy("COPY search_term (term) FROM STDIN") as copy:
                        for term in sorted(fresh):
                            copy.write_row((term,))
                if progress:
                    progress.add(batch.count)
        finally:
            connection.execute(f"ALTER TABLE product ENABLE TRIGGER {TAG_TRIGGER}")
            started = time.perf_counter()
            if dropped:
                _build_indexes(engine, [before[0][name] for name in dropped])
            for (table, name), definition in keys.items():
                connection.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            if progress and (dropped or keys):
                print(f"  {len(dropped)} indexes and {len(keys)} foreign keys made again in "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
        after = _schema(connection)
        if after != before:
            changed = [sorted(set(old.items()) ^ set(new.items()))
                       for old, new in zip(before, after, strict=True)]
            raise SystemExit(f"the schema after the load differs from the migrated one: "
                             f"indexes {changed[0]}, foreign keys {changed[1]}, "
                             f"triggers {changed[2]}")
    finally:
        # autocommit and SET synchronous_commit = off: the pool must never hand this one out
        raw.invalidate()
