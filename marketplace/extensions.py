"""Extensions are created unbound here and bound to an app in ``create_app``."""

import json
import logging
import re
import sqlite3
import sys

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, MetaData, any_, bindparam
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql as _postgresql
from sqlalchemy.dialects import sqlite as _sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

# Deterministic constraint names so that Alembic migrations are the same on every database.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_scan_json = json.JSONDecoder().scan_once


def load_stored_json(data: str | bytes):
    """A JSON column's value as the database hands it over (PostgreSQL: UTF-8 bytes; SQLite:
    text). Values the app wrote (``json.dumps``) begin and end with the value itself, so
    ``json.loads``' own scanner reads them without its wrapper (encoding detection, whitespace
    skipping), about three times faster on a listing's small titles and tags; anything else
    (whitespace around the value, not JSON at all) goes to ``json.loads`` as before, which
    answers the same or raises the same error."""
    text = data if isinstance(data, str) else bytes(data).decode()
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


# JSON columns are read with load_stored_json (a list page reads five per product).
db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention),
                engine_options={"json_deserializer": load_stored_json})
migrate = Migrate(compare_type=True, render_as_batch=True)
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# Tables that exist on one database engine only and are managed by hand in migrations
# (SQLite FTS5 virtual tables and their shadow tables); autogenerate must ignore them.
UNMANAGED_TABLE_PREFIXES = ("product_fts",)
# PostgreSQL-only generated tsvector columns of product (migration 0015, catalog/search.py).
UNMANAGED_COLUMNS = ("search_vector", "search_title_vector")


class _InList(ColumnElement):
    """``column IN (the list bound as name)``; see ``in_list``."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is, never compared with true
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("expanding", InternalTraversal.dp_clauseelement),
                           ("array", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, name: str):
        self.column = column
        self.expanding = bindparam(name, expanding=True)
        self.array = bindparam(name, type_=_postgresql.ARRAY(column.type))


@compiles(_InList)
def _in_list_expanded(element, compiler, **kw):
    return compiler.process(element.column.in_(element.expanding), **kw)


@compiles(_InList, "postgresql")
def _in_list_array(element, compiler, **kw):
    return compiler.process(element.column == any_(element.array), **kw)


def in_list(column, name: str = "ids"):
    """``column`` is one of the list passed as the parameter ``name`` (a statement built once
    and executed with ``{name: [...]}``). PostgreSQL gets the list as one array parameter
    (``= ANY(:name)``), so the statement is the same whatever the list's length and nothing is
    rendered per item at execution; other databases, an expanding ``IN``."""
    return _InList(column, name)


def conflict_insert(dialect_name: str):
    """The ``insert`` of a database that knows ``ON CONFLICT`` (``on_conflict_do_nothing`` /
    ``on_conflict_do_update``): PostgreSQL's or SQLite's; None for any other, whose callers
    take their own portable path."""
    return {"postgresql": _postgresql.insert, "sqlite": _sqlite.insert}.get(dialect_name)


def include_in_migrations(obj, name, type_, reflected, compare_to) -> bool:
    # Indexes too: PostgreSQL's full-text GIN expression index is named product_fts_*.
    if type_ == "column" and name in UNMANAGED_COLUMNS:
        return False
    return not (type_ in ("table", "index") and name
                and name.startswith(UNMANAGED_TABLE_PREFIXES))


@sa_event.listens_for(Engine, "connect")
def _sqlite_write_ahead_log(dbapi_connection, _record) -> None:
    """SQLite (development, tests, ``make run``) in write-ahead-log mode with ``synchronous =
    NORMAL``: a commit appends to the log without waiting for the disk (durable across a crash of
    the process, not of the machine's power), and readers never wait for the writer. Every
    commit otherwise waits for an fsync, which is what the order pipeline's small transactions
    mostly waited for. Production runs PostgreSQL."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# --- PostgreSQL: statements planned once per connection ---------------------------------------
#
# psycopg prepares a statement on its own after its fifth run on a connection, and forgets every
# prepared statement of the connection at each ROLLBACK (an object one names may be gone). A
# request that only read ends with the ROLLBACK of the session's close, so nothing ever stayed
# prepared and PostgreSQL planned every statement on every run: a list's lookup (six tables,
# rows by primary key) costs its backend about 1.2 ms of CPU a run, 0.25 ms once prepared.
# So: only the statements marked ``prepared`` are prepared (their best plan does not depend on
# their parameters, unlike a browse filter's, whose plan must follow the value asked for), and a
# request's transaction that wrote nothing ends with COMMIT, which leaves the database as
# ROLLBACK would and keeps the connection's prepared statements.

# a WITH query reads unless it names a data-modifying command (a CTE may write)
_READ_ONLY = re.compile(
    r"\s*(?:SELECT|SET\s+LOCAL|WITH\b(?![\s\S]*\b(?:INSERT|UPDATE|DELETE|MERGE)\b))\b",
    re.IGNORECASE)
_LOCKS_ROWS = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b",
                         re.IGNORECASE)
_WROTE = "sheber_wrote"  # in a connection's info: its transaction ran a statement that writes


# Statements built once: a module-level statement with bound parameters (``_NAME = select(...)
# .where(... == bindparam("id"))``) is for the hot paths that run it on every request or task
# (the paid move, the pipeline's steps, the list pages), where building a statement and its
# cache key costs more Python than its run. Code that runs now and then builds its statements
# where it uses them, which reads better.


def prepared(statement):
    """``statement`` (built once), prepared on each PostgreSQL connection that runs it, so that
    it is planned once per connection, not on every run. Only for statements whose best plan is
    the same whatever their parameters' values (rows by primary key): a prepared statement's
    plan may become one plan for every value."""
    return statement.execution_options(prepare=True)


@sa_event.listens_for(Engine, "connect")
def _prepare_only_what_is_marked(dbapi_connection, _record) -> None:
    # psycopg; a connection made with no threshold (DATABASE_PREPARED_STATEMENTS off) prepares
    # nothing, not even what is marked
    if getattr(dbapi_connection, "prepare_threshold", None) is not None:
        dbapi_connection.prepare_threshold = sys.maxsize  # never by its own count


@sa_event.listens_for(Engine, "do_execute")
def _execute_prepared(cursor, statement, parameters, context):
    if context.execution_options.get("prepare") and hasattr(cursor.connection,
                                                            "prepare_threshold"):
        cursor.execute(statement, parameters, prepare=True)
        return True
    return None


@sa_event.listens_for(Engine, "begin")
def _transaction_begins(connection) -> None:
    connection.info.pop(_WROTE, None)


@sa_event.listens_for(Engine, "before_cursor_execute")
def _note_writes(connection, cursor, statement, parameters, context, executemany) -> None:
    if executemany or not _READ_ONLY.match(statement) or _LOCKS_ROWS.search(statement):
        connection.info[_WROTE] = True


def end_unwritten_transactions(app) -> None:
    """At the end of each app context (a request, a task), end a PostgreSQL transaction that
    wrote nothing with COMMIT instead of the session's ROLLBACK: every statement it ran read
    (``SELECT`` or a ``WITH`` query that names no INSERT, UPDATE, DELETE or MERGE, without a
    row lock, or ``SET LOCAL``), the session holds nothing unflushed and
    nothing waits for a commit or a rollback (``session.info``: outbox events, counts, audit
    entries). Registered after the session's own teardown, so it runs first."""

    @app.teardown_appcontext
    def _commit_unwritten(exc) -> None:
        if exc is not None or not db.session.registry.has():
            return
        session = db.session()
        if (not session.in_transaction() or session.get_bind().dialect.name != "postgresql"
                or session.new or session.deleted or session.dirty
                or any(session.info.values())):
            return
        if session.connection().info.get(_WROTE):
            return
        try:
            session.commit()
        except Exception:  # noqa: BLE001 - the session's close rolls back, as it always did
            logging.getLogger(__name__).warning("ending a read-only transaction failed",
                                                exc_info=True)
