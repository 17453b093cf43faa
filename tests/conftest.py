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
    name = f"sheber_test_{uuid.uuid4().hex[:12]}"
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


def clean_database() -> None:
    from marketplace.fx.service import invalidate_rates_cache

    invalidate_rates_cache()  # the rows it holds are about to go
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        # append-only tables refuse DELETE by trigger: lift the triggers while emptying them
        triggers = db.session.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        for name, _ in triggers:
            db.session.execute(text(f'DROP TRIGGER "{name}"'))
        for table in tables:
            db.session.execute(table.delete())
        # the search tables the (lifted) triggers keep: else their rows outlive the products
        for name in ("product_fts", "product_fts_terms"):
            db.session.execute(text(f"DELETE FROM {name}"))
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
