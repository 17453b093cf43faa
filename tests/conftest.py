"""Shared fixtures: an app on a freshly migrated database (SQLite file by default, a new
PostgreSQL database when DATABASE_URL is set), cleaned between tests."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from marketplace import create_app
from marketplace.extensions import db, limiter
from workers.app import drop_redis_keys

# Fixtures for a real SMTP server, real Celery workers and the Stripe emulator with the app on
# a live port, usable from any test package.
pytest_plugins = ["tests.plugins.smtp", "tests.plugins.worker", "tests.plugins.s3",
                  "tests.stripe_emulator"]


def _fresh_database_url(tmp_path_factory) -> tuple[str, callable]:
    base = os.environ.get("DATABASE_URL")
    if not base or base.startswith("sqlite"):
        path = tmp_path_factory.mktemp("db") / "sheber-test.db"
        return f"sqlite:///{path}", lambda: None
    url = make_url(base)
    # TEST_DATABASE_PREFIX keeps the databases of runs sharing a server apart by name
    name = f"{os.environ.get('TEST_DATABASE_PREFIX', 'sheber_test')}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url, drop = _fresh_database_url(tmp_path_factory)
    yield url
    drop()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from flask_migrate import upgrade

    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads")),
        # never write a signing key into the repository's instance/ folder from a test
        "PROVENANCE_KEY_FILE": str(tmp_path_factory.mktemp("keys") / "provenance_signing_key"),
        "TRANSPARENCY_KEY_FILE": str(tmp_path_factory.mktemp("keys") / "transparency_signing_key"),
        "RATELIMIT_AUTH": "10000 per minute",
        # concurrent test runs may share one Redis: keep their rate-limit counters apart
        "RATELIMIT_KEY_PREFIX": f"sheber-test-{uuid.uuid4().hex[:8]}",
        "SESSION_KEY_PREFIX": f"sheber-test-{uuid.uuid4().hex[:8]}:",
        "SERVER_NAME": None,
    })
    with app.app_context():
        upgrade(revision="heads")
    yield app
    with app.app_context():
        db.engine.dispose()
    if app.config.get("REDIS_URL"):  # the browser sessions and rate-limit counters it left
        drop_redis_keys(app.config["REDIS_URL"], app.config["SESSION_KEY_PREFIX"],
                        app.config["RATELIMIT_KEY_PREFIX"])


def _filled_tables() -> list[str]:
    """The tables holding rows, children before parents, in one statement: most tests write a
    few, and emptying only those is what keeps a test's clean-up in milliseconds (TRUNCATE of
    every table took about a second and a half on PostgreSQL, most of that pass's time)."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    query = " UNION ALL ".join(
        f"SELECT {index} WHERE EXISTS (SELECT 1 FROM \"{name}\")"
        for index, name in enumerate(tables))
    return [tables[index] for index in sorted(db.session.execute(text(query)).scalars())]


def clean_database() -> None:
    from marketplace.catalog.search import forget_known_forms
    from marketplace.fx.service import invalidate_rates_cache

    invalidate_rates_cache()  # the rows it holds are about to go
    forget_known_forms()  # and the vocabulary they know
    filled = _filled_tables()
    if not filled:
        db.session.rollback()
        return
    if db.engine.dialect.name == "postgresql":
        if db.session.execute(text("SELECT current_setting('is_superuser')")).scalar() == "on":
            # append-only tables refuse DELETE by trigger, and the rows go in any order:
            # triggers and foreign-key checks sit out this transaction
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
            for name in filled:
                db.session.execute(text(f'DELETE FROM "{name}"'))
        else:  # only a superuser may lift triggers; TRUNCATE bypasses them
            names = ", ".join(f'"{name}"' for name in filled)
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        # append-only tables refuse DELETE by trigger: lift the triggers while emptying them
        triggers = db.session.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        for name, _ in triggers:
            db.session.execute(text(f'DROP TRIGGER "{name}"'))
        for name in filled:
            db.session.execute(text(f'DELETE FROM "{name}"'))
        # the search tables the (lifted) triggers keep: else their rows outlive the products
        for table, fts in (("product", "product_fts"), ("search_term", "product_fts_terms")):
            if table in filled:
                db.session.execute(text(f"DELETE FROM {fts}"))
        for _, sql in triggers:
            db.session.execute(text(sql))
    db.session.commit()


@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield
        db.session.rollback()
        clean_database()
        db.session.remove()
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
