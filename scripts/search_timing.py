"""Per-request time of catalogue search and browse at N generated products (a quick check; the
full benchmark is bench/catalog.py).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python scripts/search_timing.py 10000 100000

For each N: a fresh database on that server (dropped afterwards), migrated, N products made
from the demo catalogue's pieces (random workshop, price and date) inserted in bulk with their
search documents, VACUUM ANALYZE, then each URL requested through the app in process: the
median and the 90th percentile of REPEAT requests after WARMUP, in milliseconds.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

URLS = [
    "/api/v1/products?q=silver",
    "/api/v1/products?q=%D0%B2%D0%BE%D0%B9%D0%BB%D0%BE%D0%BA",  # войлок
    "/api/v1/products?craft=jewellery&sort=price_asc",
    "/api/v1/products",
]
WARMUP, REPEAT = 3, 15
DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "catalogue.json"


def _database(base: str) -> tuple[str, callable]:
    url = make_url(base)
    name = f"sheber_timing_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def _fill(n: int) -> None:
    from marketplace.accounts.models import User
    from marketplace.catalog import models
    from marketplace.extensions import db
    from marketplace.ids import new_id, utcnow

    try:  # the stored search document, where this version of the app has one
        from marketplace.catalog.search import document_columns, remember_terms, vocabulary
    except ImportError:
        document_columns = None
    pieces = [p for w in json.loads(DEMO.read_text("utf-8"))["workshops"] for p in w["products"]]
    rng = random.Random(1)
    artisans = [{"id": new_id(), "email": f"a{i}@timing.test", "password_hash": "x",
                 "role": "artisan", "name": f"Artisan {i}", "country": "KZ", "locale": "kk",
                 "currency": "KZT", "created_at": utcnow()} for i in range(50)]
    db.session.execute(insert(User), artisans)
    start = utcnow() - timedelta(days=365)
    batch, terms = [], set()
    for i in range(n):
        piece = pieces[i % len(pieces)]
        price = rng.randint(300000, 40000000)
        row = {
            "id": new_id(), "artisan_id": rng.choice(artisans)["id"],
            "title": {k: f"{v} {i}" for k, v in piece["title"].items()},
            "description": piece["description"], "craft": piece["craft"],
            "materials": piece["materials"], "techniques": piece["techniques"],
            "materials_key": "|" + "".join(f"{m}|" for m in piece["materials"]),
            "techniques_key": "|" + "".join(f"{t}|" for t in piece["techniques"]),
            "price_amount": price, "price_currency": "KZT", "price_base": price, "stock": 3,
            "reserved": 0, "weight_g": 500, "length_mm": 100, "width_mm": 100,
            "height_mm": 100, "status": "active", "provenance_level": "L0",
            "created_at": start + timedelta(seconds=i * 30), "updated_at": start,
        }
        if document_columns is not None:
            columns = document_columns(row["title"], row["description"], row["materials"],
                                       row["techniques"])
            row.update(columns)
            terms |= vocabulary(columns)
        batch.append(row)
        if len(batch) == 5000:
            db.session.execute(insert(models.Product), batch)
            batch = []
    if batch:
        db.session.execute(insert(models.Product), batch)
    if document_columns is not None:
        remember_terms(db.session.connection(), terms)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def run(n: int, base: str) -> dict[str, tuple[float, float]]:
    from flask_migrate import upgrade

    from marketplace import create_app
    from marketplace.extensions import db

    url, drop = _database(base)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                          "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade(revision="heads")
            _fill(n)
            client = app.test_client()
            out = {}
            for target in URLS:
                times = []
                for attempt in range(WARMUP + REPEAT):
                    began = time.perf_counter()
                    response = client.get(target)
                    elapsed = time.perf_counter() - began
                    assert response.status_code == 200, response.get_data(as_text=True)[:300]
                    if attempt >= WARMUP:
                        times.append(elapsed * 1000)
                times.sort()
                out[target] = (statistics.median(times), times[int(len(times) * 0.9) - 1])
            db.session.remove()
            db.engine.dispose()
        return out
    finally:
        drop()


def main() -> None:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgresql"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (a database is created per N)")
    for n in [int(arg) for arg in sys.argv[1:]] or [10000]:
        for target, (p50, p90) in run(n, base).items():
            print(f"N={n:>7}  p50 {p50:8.1f} ms  p90 {p90:8.1f} ms  {target}", flush=True)


if __name__ == "__main__":
    main()
