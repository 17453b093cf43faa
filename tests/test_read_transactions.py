"""A PostgreSQL transaction that only read ends with COMMIT at the end of its app context, so
that the connection keeps the statements ``extensions.prepared`` marks prepared (psycopg
forgets them at every ROLLBACK); anything that wrote, locked, waits for a commit or failed is
rolled back as before. SQLite is left as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select, text

from marketplace.catalog.models import Product
from marketplace.extensions import _LOCKS_ROWS, _READ_ONLY, db, prepared
from marketplace.fx.models import FxRate
from marketplace.ids import utcnow
from marketplace.metrics import RESERVATIONS, count_after_commit
from tests.factories import make_artisan, make_product

_BY_ID = prepared(select(Product.id).where(Product.id == bindparam("pid")))


def _ends(app, work) -> tuple[list[str], object]:
    """Run ``work(session)`` in an app context of its own (an error raised out of it, as out of
    a failed task); return the transaction ends its psycopg connection saw, and that
    connection."""
    seen: list[str] = []
    patched = None
    try:
        with app.app_context():
            session = db.session()
            patched = session.connection().connection.dbapi_connection
            for name in ("commit", "rollback"):
                original = getattr(patched, name)

                def ended(original=original, name=name, raw=patched):
                    if raw.pgconn.transaction_status != 0:  # not idle: it ends a transaction
                        seen.append(name)
                    return original()
                setattr(patched, name, ended)
            work(session)
    except RuntimeError:
        pass
    finally:
        for name in ("commit", "rollback"):
            if patched is not None:
                patched.__dict__.pop(name, None)
    return seen, patched


def _prepared_names(raw) -> list[str]:
    names = [row[0] for row in raw.execute(
        "SELECT statement FROM pg_prepared_statements").fetchall()]
    raw.commit()
    return names


@pytest.fixture
def _postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's transactions end as they always did")


@pytest.mark.usefixtures("_postgresql")
def test_a_read_ends_with_commit_and_the_marked_statement_stays_prepared(app):
    product = make_product(make_artisan())
    db.session.commit()
    seen, raw = _ends(app, lambda s: s.execute(_BY_ID, {"pid": product.id}).all())
    assert seen == ["commit"]
    assert any("FROM product" in name and "$1" in name for name in _prepared_names(raw))


@pytest.mark.usefixtures("_postgresql")
def test_a_read_through_a_with_query_ends_with_commit_too(app):
    """A search's RUM page is a WITH query (its candidates are read once, used twice): it
    leaves the lookup statements of the same request prepared."""
    product = make_product(make_artisan())
    db.session.commit()
    seen, raw = _ends(app, lambda s: (
        s.execute(text("WITH found AS (SELECT id, updated_at FROM product) "
                       "SELECT id FROM found")).all(),
        s.execute(_BY_ID, {"pid": product.id}).all()))
    assert seen == ["commit"]
    assert any("FROM product" in name and "$1" in name for name in _prepared_names(raw))


@pytest.mark.parametrize("work", [
    lambda s: s.execute(text("SELECT id FROM product FOR UPDATE")).all(),
    lambda s: s.execute(text("SELECT id FROM product FOR NO KEY UPDATE")).all(),
    lambda s: s.execute(insert(FxRate).values(currency="XTS", rate="1", source="test",
                                              as_of=text("now()"), updated_at=text("now()"))),
    lambda s: s.execute(text("WITH gone AS (DELETE FROM fx_rate WHERE false RETURNING 1) "
                             "SELECT 1")).all(),
    lambda s: (s.execute(text("SELECT 1")), s.add(FxRate(currency="XTT", rate="1",
                                                         source="test", as_of=utcnow()))),
    lambda s: (s.execute(text("SELECT 1")), count_after_commit(RESERVATIONS, outcome="held")),
    lambda s: (s.execute(text("SELECT 1")), (_ for _ in ()).throw(RuntimeError("failed"))),
], ids=["for update", "for no key update", "insert", "writing cte", "unflushed object",
        "a count waiting for the commit", "an error"])
@pytest.mark.usefixtures("_postgresql")
def test_what_wrote_locked_waits_or_failed_is_rolled_back(app, work):
    seen, _raw = _ends(app, work)
    assert seen == ["rollback"]
    assert db.session.execute(text("SELECT count(*) FROM fx_rate WHERE currency IN ('XTS', 'XTT')")
                              ).scalar() == 0


def test_set_local_plain_selects_and_reading_with_queries_read_everything_else_writes():
    for statement in ("SELECT 1", "  select id from product", "SET LOCAL pg_trgm.x = 0.3",
                      "SELECT id FROM product WHERE note = 'for update'",
                      "WITH a AS (SELECT updated_at FROM x) SELECT * FROM a",
                      "with a as (select 1)\nselect * from a join b on b.deleted_at is null"):
        assert _READ_ONLY.match(statement)
    for statement in ("INSERT INTO x VALUES (1)", "UPDATE x SET a = 1", "DELETE FROM x",
                      "WITH a AS (DELETE FROM x RETURNING 1) SELECT * FROM a",
                      "WITH a AS (SELECT 1) UPDATE x SET b = 1",
                      "WITH a AS (SELECT 1)\nINSERT INTO x SELECT * FROM a",
                      "with a as (select 1) merge into x using a on true "
                      "when matched then do nothing",
                      "WITHOUT", "SET search_path = x",
                      "CREATE TABLE x (a int)", "LOCK TABLE x"):
        assert not _READ_ONLY.match(statement)
    for statement in ("SELECT 1 FROM x FOR UPDATE", "SELECT 1 FROM x FOR SHARE SKIP LOCKED",
                      "SELECT 1 FROM x FOR NO KEY UPDATE", "SELECT 1 FROM x for key share"):
        assert _LOCKS_ROWS.search(statement)


@pytest.mark.parametrize(("setting", "kept"), [(None, True), ("1", True), ("0", False)])
@pytest.mark.usefixtures("_postgresql")
def test_database_prepared_statements_off_prepares_nothing(app, monkeypatch, tmp_path,
                                                           setting, kept):
    from sqlalchemy import create_engine

    from marketplace.config import Settings

    product = make_product(make_artisan())
    db.session.commit()
    monkeypatch.delenv("DATABASE_PREPARED_STATEMENTS", raising=False)
    if setting is not None:
        monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", setting)
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    options = Settings().flask_config(tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], **options)
    try:
        with engine.connect() as connection:
            for _ in range(3):
                assert connection.execute(_BY_ID, {"pid": product.id}).scalar() == product.id
            names = _prepared_names(connection.connection.dbapi_connection)
    finally:
        engine.dispose()
    assert any("FROM product" in name and "$1" in name for name in names) is kept
