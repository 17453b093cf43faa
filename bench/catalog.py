"""How the catalogue's cost grows with its size: every browse and search endpoint at N products,
as ratios to ``/healthz`` measured in the same run.

    python -m bench.catalog [--sizes 10000,100000] [--databases sqlite,postgresql]
                            [--million] [--seconds 3] [--clients 8] [--web-workers 2]

For each database and each N it makes a fresh database, lists N products by 40 artisans through
the app's own schema (``ProductIn``), serves them with gunicorn (``--web-workers`` processes)
and loads each endpoint for ``--seconds`` with ``--clients`` concurrent connections (wrk when it
is installed, else a Python load generator), printing req/s, p50 and p99 and the ratio of req/s to
``/healthz``. ``--million`` adds 1,000,000 products on PostgreSQL.

Listing: a sample goes through ``catalog.writes.create_product`` (the service, one transaction
each); the rest through a bulk path that validates the same ``ProductIn`` and builds the same
``Product`` rows, flushed 2,000 at a time (the ORM's search-document hooks run for each). Before
the bulk load the bench checks, column by column, that the bulk path writes what the service
writes for the same input, and stops if not.

Texts carry a common word (in about 20% of titles: silver / серебро / күміс) and a rare one (in
about 0.1%: tulpar / тулпар / тұлпар), so searches can be compared at both ends. PostgreSQL is
``BENCH_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``): a
database ``sheber_bench_*`` is created there and dropped afterwards.

The machine running this is shared: absolute figures say little, the ratios within one run say
how each endpoint costs against the cheapest one. No figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ARTISANS = 40
SAMPLE = 25  # products listed through the service and compared with the bulk path
BATCH = 2000

COMMON = {"en": "silver", "ru": "серебро", "kk": "күміс"}
RARE = {"en": "tulpar", "ru": "тулпар", "kk": "тұлпар"}
NOUNS = {
    "jewellery": ("bracelet", "браслет", "білезік"), "ceramics": ("bowl", "пиала", "кесе"),
    "felt": ("rug", "ковёр", "кілем"), "textiles": ("scarf", "платок", "орамал"),
    "leather": ("belt", "ремень", "белбеу"), "wood": ("chest", "сундук", "сандық"),
    "metal": ("dish", "блюдо", "табақ"), "instruments": ("dombra", "домбра", "домбыра"),
    "other": ("ornament", "украшение", "әшекей"),
}
ADJECTIVES = (("blue", "синий", "көк"), ("red", "красный", "қызыл"),
              ("carved", "резной", "оюлы"), ("woven", "тканый", "тоқылған"),
              ("old", "старинный", "көне"), ("small", "малый", "шағын"),
              ("steppe", "степной", "дала"), ("mountain", "горный", "тау"))
MATERIALS = ("wool", "sheep wool", "camel wool", "silk", "cotton", "clay", "walnut", "birch",
             "leather", "copper", "brass", "coral", "carnelian", "natural dyes")
TECHNIQUES = ("felting", "mosaic inlay", "weaving", "embroidery", "carving", "engraving",
              "throwing", "glazing", "filigree", "stamping", "tooling", "dyeing")
CURRENCIES = ("KZT", "KZT", "KZT", "USD", "EUR")


@dataclass
class Row:
    database: str
    size: int
    endpoint: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


# --- the catalogue --------------------------------------------------------------------------

def product_spec(rng: random.Random, n: int) -> dict:
    """The n-th product's ``ProductIn`` body: kk/ru/en texts, tags, a price, a size."""
    craft = rng.choice(list(NOUNS))
    noun = NOUNS[craft]
    adjective = rng.choice(ADJECTIVES)
    words = [[adjective[i], noun[i]] for i in range(3)]
    if rng.random() < 0.2:
        for i, lang in enumerate(("en", "ru", "kk")):
            words[i].insert(0, COMMON[lang])
    if rng.random() < 0.001 or n % 997 == 0:
        for i, lang in enumerate(("en", "ru", "kk")):
            words[i].append(RARE[lang])
    title = {lang: " ".join(words[i]).capitalize() + f" №{n}"
             for i, lang in enumerate(("en", "ru", "kk"))}
    description = {"en": f"Handmade in Almaty: {' '.join(words[0])}, made to order.",
                   "ru": f"Ручная работа, Алматы: {' '.join(words[1])}.",
                   "kk": f"Алматыда қолдан жасалған: {' '.join(words[2])}."}
    currency = rng.choice(CURRENCIES)
    amount = rng.randrange(5_000, 500_000) * (100 if currency == "KZT" else 1)
    return {
        "title": title, "description": description, "craft": craft,
        "materials": rng.sample(MATERIALS, rng.randint(1, 3)),
        "techniques": rng.sample(TECHNIQUES, rng.randint(1, 2)),
        "price": {"amount": amount, "currency": currency},
        "stock": rng.randint(1, 20), "weight_g": rng.randint(50, 8_000),
        "dimensions_mm": {"l": rng.randint(50, 1500), "w": rng.randint(50, 800),
                          "h": rng.randint(5, 600)},
    }


def _artisans(count: int) -> list:
    from argon2 import PasswordHasher

    from marketplace.accounts import service as accounts
    from marketplace.catalog import writes
    from marketplace.extensions import db

    # Still argon2id, at the lowest cost: none of these accounts is about passwords.
    saved, accounts._hasher = accounts._hasher, PasswordHasher(time_cost=1, memory_cost=1024,
                                                               parallelism=1)
    artisans = []
    try:
        for n in range(count):
            user = accounts.create_user(email=f"artisan-{n}@bench.test",
                                        password="bench-pass-1", role="artisan",
                                        name=f"Master {n}", country="KZ", locale="ru",
                                        currency="KZT")
            db.session.commit()
            writes.save_profile(user, {"workshop_name": f"Workshop {n}",
                                       "bio": {"en": "Almaty"}, "city": "Almaty",
                                       "country": "KZ", "crafts": ["felt"]})
            artisans.append(user)
    finally:
        accounts._hasher = saved
    return artisans


def bulk_product(artisan_id: str, fields, rates):
    """The row ``writes.create_product`` makes for ``fields`` (a validated ``ProductIn``),
    without its transaction; checked against it by ``check_bulk_path``."""
    from marketplace.catalog import writes
    from marketplace.catalog.models import Product, ProductStatus
    from marketplace.money import Money

    price = Money(fields.price.amount, fields.price.currency)
    return Product(
        artisan_id=artisan_id,
        title=fields.title.as_dict(),
        description=fields.description.as_dict() if fields.description else {},
        craft=str(fields.craft),
        materials=fields.materials, materials_key=writes._tags_key(fields.materials),
        techniques=fields.techniques, techniques_key=writes._tags_key(fields.techniques),
        price_amount=price.amount, price_currency=price.currency,
        price_base=writes.price_base(price, rates),
        stock=fields.stock, reserved=0, weight_g=fields.weight_g,
        length_mm=fields.dimensions_mm.l, width_mm=fields.dimensions_mm.w,
        height_mm=fields.dimensions_mm.h, hs_code=fields.hs_code,
        status=ProductStatus.ACTIVE,
    )


_IGNORED_COLUMNS = {"id", "created_at", "updated_at"}


def check_bulk_path(artisans, specs) -> None:
    """List each spec through the service and through the bulk path; every stored column
    (but id and timestamps) must be equal."""
    from sqlalchemy import select

    from marketplace.catalog import writes
    from marketplace.catalog.models import Product
    from marketplace.catalog.schemas import ProductIn
    from marketplace.extensions import db
    from marketplace.fx.service import current_rates

    table = Product.__table__
    for n, spec in enumerate(specs):
        artisan = artisans[n % len(artisans)]
        by_service = writes.create_product(artisan, dict(spec)).id
        bulk = bulk_product(artisan.id, ProductIn.model_validate(spec), current_rates())
        db.session.add(bulk)
        db.session.commit()
        rows = {row.id: row._mapping for row in db.session.execute(
            select(table).where(table.c.id.in_([by_service, bulk.id])))}
        service_row, bulk_row = rows[by_service], rows[bulk.id]
        # The service keeps a listing without a photo a draft; the bench's pieces have no photos
        # and are put on sale directly, so the status may differ for that reason alone.
        missing = writes.missing_for_sale(db.session.get(Product, by_service))
        if missing != ["photo"]:
            raise SystemExit(f"the service would not sell this piece for more than its photo: "
                             f"{missing}")
        different = {column: (service_row[column], bulk_row[column])
                     for column in service_row
                     if column not in _IGNORED_COLUMNS | {"status"}
                     and service_row[column] != bulk_row[column]}
        if different:
            raise SystemExit(f"the bulk path writes other values than the service: {different}")


def load_catalogue(size: int, seed: int = 17) -> dict:
    """N products (the service for a checked sample, the bulk path for the rest); returns
    what the endpoints need: an artisan id, a material and a technique."""
    from marketplace.catalog.schemas import ProductIn
    from marketplace.extensions import db
    from marketplace.fx.service import current_rates

    rng = random.Random(seed)
    artisans = _artisans(ARTISANS)
    specs = (product_spec(rng, n) for n in range(size))
    sample = [next(specs) for _ in range(min(SAMPLE, size // 2))]
    check_bulk_path(artisans, sample)
    artisan_ids = [artisan.id for artisan in artisans]
    done = 2 * len(sample)
    rates = current_rates()
    started = time.perf_counter()
    while done < size:
        batch = []
        for _ in range(min(BATCH, size - done)):
            spec = next(specs)
            batch.append(bulk_product(artisan_ids[done % ARTISANS],
                                      ProductIn.model_validate(spec), rates))
            done += 1
        db.session.add_all(batch)
        db.session.commit()
        db.session.expunge_all()
        if done % 20_000 < BATCH:
            print(f"  {done:>9,} products ({done / (time.perf_counter() - started):,.0f}/s)",
                  flush=True)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    return {"artisan": artisan_ids[3], "material": "camel wool", "technique": "embroidery"}


# --- databases ------------------------------------------------------------------------------

def fresh_database(kind: str, workdir: Path):
    """(url, drop) for an empty database of ``kind``."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'catalog.db'}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES)
    name = f"sheber_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :n"), {"n": name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def postgres_answers() -> bool:
    from sqlalchemy import create_engine

    engine = create_engine(os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES,
                           connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except Exception:  # noqa: BLE001 - any failure: not measured
        return False
    finally:
        engine.dispose()


# --- serving and loading --------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(database_url: str, workdir: Path, web_workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CELERY_", "PROMETHEUS_", "REDIS_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, WEB_WORKERS=str(web_workers),
               WEB_BIND=f"127.0.0.1:{port}", RATELIMIT_ENABLED="0", LOG_LEVEL="WARNING",
               CELERY_BROKER_URL="filesystem://", CELERY_BROKER_FOLDER=str(workdir / "broker"),
               PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"))
    (workdir / "metrics").mkdir(exist_ok=True)
    log = (workdir / "gunicorn.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "marketplace:create_app()"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5).read()
            return server, base
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server)
                raise SystemExit((workdir / "gunicorn.log").read_text()[-3000:]) from None
            time.sleep(0.3)


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read())


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def load_with_wrk(url: str, seconds: float, clients: int) -> tuple[float, float, float, int]:
    output = subprocess.run(
        ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{max(1, round(seconds))}s",
         "--timeout", "30s", "--latency", url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {int(p): float(v) * _UNITS[u] for p, v, u in _WRK_LATENCY.findall(output)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", output)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    return rate, latency.get(50, float("nan")), latency.get(99, float("nan")), failed


def load_with_python(url: str, seconds: float, clients: int) -> tuple[float, float, float, int]:
    """``clients`` threads, each sending one request after the other for ``seconds``."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client():
        mine, failed = [], 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    response.read()
            except OSError:
                failed += 1
                continue
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if not latencies:
        return 0.0, float("nan"), float("nan"), errors[0]
    ranked = sorted(latencies)
    p99 = ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))]
    return len(latencies) / elapsed, statistics.median(ranked), p99, errors[0]


def endpoints(base: str, facts: dict) -> list[tuple[str, str]]:
    api = f"{base}/api/v1/products"
    first = get_json(f"{api}?lang=en")
    product_id = first["items"][0]["id"]
    cursor, page = None, first
    for _ in range(20):  # to page 21, by the cursors the API hands out
        cursor = page["next_cursor"]
        page = get_json(f"{api}?lang=en&cursor={urllib.parse.quote(cursor)}")
    named = [("/healthz", f"{base}/healthz"), ("list", f"{api}?lang=en"),
             ("page 21", f"{api}?lang=en&cursor={urllib.parse.quote(cursor)}"),
             ("product", f"{api}/{product_id}?lang=en")]
    filters = {
        "craft": "craft=felt", "material": f"material={urllib.parse.quote(facts['material'])}",
        "technique": f"technique={urllib.parse.quote(facts['technique'])}",
        "artisan": f"artisan={facts['artisan']}", "verified": "verified=true",
        "price range": "min_price=2000000&max_price=6000000&currency=KZT",
        "ships_to": "ships_to=DE",
    }
    for name, query in filters.items():
        for sort in ("newest", "price_asc", "price_desc"):
            named.append((f"{name} × {sort}", f"{api}?lang=en&{query}&sort={sort}"))
    for lang in ("ru", "en", "kk"):
        for kind, words in (("rare", RARE), ("common", COMMON)):
            named.append((f"search {kind} {lang} ({words[lang]})",
                          f"{api}?lang={lang}&q={urllib.parse.quote(words[lang])}"))
    return named


def measure(kind: str, size: int, args) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix=f"sheber-bench-catalog-{kind}-"))
    database_url, drop = fresh_database(kind, workdir)
    saved = {key: os.environ.get(key) for key in ("DATABASE_URL", "CELERY_BROKER_URL",
                                                  "CELERY_BROKER_FOLDER", "REDIS_URL")}
    os.environ.update(DATABASE_URL=database_url, CELERY_BROKER_URL="filesystem://",
                      CELERY_BROKER_FOLDER=str(workdir / "broker"))
    os.environ.pop("REDIS_URL", None)
    server = None
    try:
        from flask_migrate import upgrade

        from marketplace import create_app
        from marketplace.extensions import db

        app = create_app()
        started = time.perf_counter()
        with app.app_context():
            upgrade(revision="heads")
            facts = load_catalogue(size)
            db.session.remove()
            db.engine.dispose()
        print(f"{kind}: {size:,} products listed in {time.perf_counter() - started:.0f} s",
              flush=True)
        server, base = serve(database_url, workdir, args.web_workers)
        load = load_with_wrk if shutil.which("wrk") else load_with_python
        rows = []
        for name, url in endpoints(base, facts):
            load(url, 1, args.clients)  # warm: caches, plans, connections
            rate, p50, p99, errors = load(url, args.seconds, args.clients)
            rows.append(Row(kind, size, name, rate, p50, p99, errors))
            print(f"  {name:<36}{rate:>9.1f} req/s  p50 {p50:>8.1f} ms  p99 {p99:>8.1f} ms",
                  flush=True)
        return rows
    finally:
        if server is not None:
            stop(server)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def print_table(rows: list[Row], args) -> None:
    tool = "wrk" if shutil.which("wrk") else "a Python load generator"
    print(f"\nCatalogue endpoints: {args.clients} clients ({tool}), {args.seconds:g} s each, "
          f"gunicorn with {args.web_workers} workers, {os.cpu_count()} CPUs (shared: compare "
          "the ratios, which are to /healthz in the same run)")
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.database, row.size), []).append(row)
    for (database, size), group in groups.items():
        baseline = next(row.requests_per_second for row in group if row.endpoint == "/healthz")
        print(f"\n{database}, {size:,} products")
        print(f"{'endpoint':<38}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'× /healthz':>12}"
              f"{'errors':>8}")
        for row in group:
            print(f"{row.endpoint:<38}{row.requests_per_second:>9.1f}{row.p50_ms:>9.1f}"
                  f"{row.p99_ms:>9.1f}{row.requests_per_second / baseline:>12.3f}"
                  f"{row.errors:>8}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated product counts (default 10000,100000)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--million", action="store_true",
                        help="also 1,000,000 products on PostgreSQL (long)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per endpoint")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args(argv)

    sizes = [int(size) for size in args.sizes.split(",") if size]
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if "postgresql" in databases and not postgres_answers():
        print("(PostgreSQL does not answer at BENCH_POSTGRES_URL: SQLite only)")
        databases.remove("postgresql")
    runs = [(kind, size) for kind in databases for size in sizes]
    if args.million and "postgresql" in databases:
        runs.append(("postgresql", 1_000_000))
    rows: list[Row] = []
    for kind, size in runs:
        rows += measure(kind, size, args)
    print_table(rows, args)


if __name__ == "__main__":
    main()
