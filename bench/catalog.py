"""How the catalogue's cost grows with its size: every browse and search endpoint at N products,
as ratios to ``/healthz`` measured in the same run.

    python -m bench.catalog [--sizes 10000,100000] [--databases sqlite,postgresql]
                            [--million] [--seconds 3] [--clients 8] [--web-workers 2]
                            [--jobs 2] [--keep] [--reuse-database NAME] [--generate-only]
                            [--only WORD,...]

For each database and each N it makes a fresh database, lists N products by 40 artisans through
the app's own schema (``ProductIn``), serves them with gunicorn (``--web-workers`` processes)
and loads each endpoint for ``--seconds`` with ``--clients`` concurrent connections (wrk when it
is installed, else a Python load generator), printing req/s, p50 and p99 and the ratio of req/s to
``/healthz``. ``--million`` adds 1,000,000 products on PostgreSQL.

Listing: a sample goes through ``catalog.writes.create_product`` (the service, one transaction
each); the rest through the bulk path of ``bench/bulk.py`` (``--jobs`` processes validate the
same ``ProductIn`` and build the same rows, search document and vocabulary included; PostgreSQL
loads them with COPY, its non-unique indexes made again afterwards; SQLite with executemany in
large transactions), printing products/s as it goes. Before the bulk load the bench checks that
the bulk path writes what the service writes for the same input: every stored column (the
generated tsvectors too), the ``product_tag`` rows, the FTS5 row and the words added to the
``search_term`` vocabulary; it stops if anything differs.

PostgreSQL is ``BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``): a database ``sheber_bench_*`` is
created there and dropped afterwards, unless ``--keep``. ``--reuse-database NAME`` generates
into NAME and keeps it, or, when NAME already holds a finished catalogue of that size (its
database comment says so), skips the listing and measures it as it is (after any newer
migrations); with several sizes NAME carries ``{size}`` (``sheber_bench_{size}``: 10k, 100k,
1m). ``--generate-only`` makes the catalogues and measures nothing; ``--only`` measures the
endpoints whose names contain one of its words (and ``/healthz``, the baseline).

Texts carry a common word (in about 20% of titles: silver / серебро / күміс) and a rare one (in
about 0.1%: tulpar / тулпар / тұлпар), so searches can be compared at both ends; also a word
only descriptions hold (almaty), a typo (silvre) and the common word sorted by price.
One product on sale in 100 is then verified as an operator verifies one (its record, a signed
label and its transparency log entry, through the provenance services), so that the verified
filter's pages are read from real rows, not found empty.

The machine running this is shared: absolute figures say little, the ratios within one run say
how each endpoint costs against the cheapest one. No figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import functools
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
from datetime import timedelta
from pathlib import Path

from bench import bulk
from marketplace.ids import utcnow

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ARTISANS = 40
SAMPLE = 25  # products listed through the service and compared with the bulk path
VERIFIED_EVERY = 100  # one product in 100 verified by an operator (``verify_share``)

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


_IGNORED_COLUMNS = {"id", "created_at", "updated_at"}


def _stored(connection, table, column, value) -> list[dict]:
    """The rows of ``table`` where ``column`` is ``value``, every column as the text the
    database stores (JSON as serialised, tsvectors as the server made them)."""
    from sqlalchemy import Text, cast, select

    query = select(*(cast(c, Text).label(c.name) for c in table.columns)).where(
        table.c[column] == value)
    return [dict(row._mapping) for row in connection.execute(query)]


def _tag_rows(connection, table, product: dict) -> set[tuple]:
    """A product's ``product_tag`` rows, with the values copied from the product marked as
    such (the sample's service rows are drafts of other ids and times)."""
    own = {"product_id": product["id"], "status": product["status"],
           "created_at": product["created_at"]}
    return {tuple(sorted((name, "(the product's)" if own.get(name, object()) == value else value)
                         for name, value in row.items()))
            for row in _stored(connection, table, "product_id", product["id"])}


def _search_terms(connection) -> set[str]:
    from sqlalchemy import text

    return set(connection.execute(text("SELECT term FROM search_term")).scalars())


def check_bulk_path(artisans, specs) -> None:
    """List each spec through the service and through the bulk path (``bench.bulk``, one row);
    every stored column (but id and timestamps) must be equal, and so must what the ORM hooks
    and triggers keep beside it: the ``product_tag`` rows, the FTS5 row on SQLite, and the words
    added to the ``search_term`` vocabulary. Stops the bench (SystemExit) if anything differs."""
    from sqlalchemy import MetaData, Table, text

    from marketplace.catalog import writes
    from marketplace.catalog.models import Product
    from marketplace.catalog.schemas import ProductIn
    from marketplace.extensions import db
    from marketplace.fx.service import current_rates

    engine = db.engine
    catalogue = bulk.Catalogue(engine, current_rates())
    metadata = MetaData()
    product = Table("product", metadata, autoload_with=engine)
    product_tag = Table("product_tag", metadata, autoload_with=engine)
    sqlite = engine.dialect.name == "sqlite"
    for n, spec in enumerate(specs):
        artisan = artisans[n % len(artisans)]
        before = _search_terms(db.session)
        by_service = writes.create_product(artisan, dict(spec)).id
        # The service keeps a listing without a photo a draft; the bench's pieces have no photos
        # and are put on sale directly, so the status may differ for that reason alone.
        missing = writes.missing_for_sale(db.session.get(Product, by_service))
        if missing != ["photo"]:
            raise SystemExit(f"the service would not sell this piece for more than its photo: "
                             f"{missing}")
        service_terms = _search_terms(db.session) - before
        db.session.commit()  # nothing open while the bulk path alters the tables
        now = utcnow()
        row, vocabulary = catalogue.product_row(artisan.id, ProductIn.model_validate(spec),
                                                bulk.ulid_at(now), now)
        if vocabulary - before - service_terms:
            raise SystemExit(f"the bulk path adds other search terms than the service: "
                             f"{sorted(vocabulary - before - service_terms)}")
        if service_terms - vocabulary:
            raise SystemExit(f"the bulk path misses search terms the service adds: "
                             f"{sorted(service_terms - vocabulary)}")
        bulk.load(engine, [[catalogue.prepared(row, vocabulary)]], 1, catalogue,
                  rebuild_indexes=False, quiet=True)
        with engine.connect() as connection:
            if vocabulary - _search_terms(connection):
                raise SystemExit(f"the bulk path did not store its search terms: "
                                 f"{sorted(vocabulary - _search_terms(connection))}")
            (service_row,) = _stored(connection, product, "id", by_service)
            (bulk_row,) = _stored(connection, product, "id", row["id"])
            different = {column: (service_row[column], bulk_row[column])
                         for column in service_row
                         if column not in _IGNORED_COLUMNS | {"status"}
                         and service_row[column] != bulk_row[column]}
            if different:
                raise SystemExit(f"the bulk path writes other values than the service: "
                                 f"{different}")
            service_tags = _tag_rows(connection, product_tag, service_row)
            bulk_tags = _tag_rows(connection, product_tag, bulk_row)
            if service_tags != bulk_tags or not bulk_tags:
                raise SystemExit(f"the bulk path keeps other product_tag rows than the "
                                 f"service: {sorted(service_tags ^ bulk_tags)}")
            if sqlite:
                fts = [connection.execute(text(
                    "SELECT title, tags, body, alt FROM product_fts WHERE product_id = :id"),
                    {"id": product_id}).all() for product_id in (by_service, row["id"])]
                if fts[0] != fts[1] or len(fts[1]) != 1:
                    raise SystemExit(f"the bulk path indexes other FTS5 text than the "
                                     f"service: {fts}")


def spec_batch(seed: int, offset: int, count: int) -> list[dict]:
    """The specs of products offset .. offset + count - 1 (a generator of its own per batch,
    so that each generating process makes its batches' specs)."""
    rng = random.Random(seed * 1_000_003 + offset)
    return [product_spec(rng, n) for n in range(offset, offset + count)]


def load_catalogue(size: int, seed: int = 17, jobs: int = 2) -> dict:
    """N products by 40 artisans (the service for a checked sample, the bulk path for the
    rest); returns what the endpoints need: an artisan id, a material and a technique."""
    from marketplace.extensions import db
    from marketplace.fx.service import current_rates

    artisans = _artisans(ARTISANS)
    sample = spec_batch(seed, 0, min(SAMPLE, size // 2))
    check_bulk_path(artisans, sample)
    artisan_ids = [artisan.id for artisan in artisans]
    done = 2 * len(sample)
    catalogue = bulk.Catalogue(db.engine, current_rates())
    db.session.remove()  # nothing open while the bulk path alters the tables
    # The rest back-dated a millisecond apart, so that the sample stays the newest.
    start = utcnow() - timedelta(milliseconds=size + 1000)
    started = time.perf_counter()
    with bulk.memoized_analysis():
        rows = bulk.generate(functools.partial(spec_batch, seed), artisan_ids, catalogue,
                             start=start, offset=done, jobs=jobs, count=size - done)
        bulk.load(db.engine, rows, size - done, catalogue)
    elapsed = time.perf_counter() - started
    print(f"  bulk path: {size - done:,} products in {elapsed:.0f} s "
          f"({(size - done) / max(elapsed, 1e-9):,.0f}/s)", flush=True)
    verify_share()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    return catalogue_facts()


def verify_share(every: int = VERIFIED_EVERY) -> int:
    """One product on sale in ``every`` (spread over the catalogue's age) verified as an operator
    verifies one: its artisan's record (``put_record``, ``submit_record``), then the operator's
    approval at L1 (``decide``: a signed label, its transparency log entry), so that the
    verified filter's pages hold products with records and labels as the site's do."""
    from sqlalchemy import select

    from marketplace.accounts import service as accounts
    from marketplace.accounts.models import User
    from marketplace.catalog.models import ArtisanProfile, Product, ProductStatus
    from marketplace.extensions import db
    from marketplace.provenance import records
    from marketplace.provenance.seed import demo_record

    operator = accounts.create_user(email="operator@bench.test", password="bench-pass-1",
                                    role="operator", name="Bench operator", country="KZ",
                                    locale="ru", currency="KZT")
    db.session.commit()
    chosen = db.session.execute(
        select(Product.id).where(Product.status == ProductStatus.ACTIVE)
        .order_by(Product.created_at, Product.id)).scalars().all()[::every]
    evidence = [{"type": "studio_visit", "note": "Bench: workshop visited."},
                {"type": "material_receipt", "note": "Bench: material receipts checked."}]
    started = time.perf_counter()
    for product_id in chosen:
        product = db.session.get(Product, product_id)
        artisan = db.session.get(User, product.artisan_id)
        record = demo_record(product, artisan, db.session.get(ArtisanProfile, artisan.id))
        records.put_record(product.id, record, artisan_id=artisan.id)
        records.submit_record(product.id, artisan_id=artisan.id)
        records.decide(product.id, operator_id=operator.id, decision="approve", level="L1",
                       evidence=evidence, note="Bench verification.")
    elapsed = time.perf_counter() - started
    print(f"  verified: {len(chosen):,} products (1 in {every}) through the provenance "
          f"services in {elapsed:.0f} s", flush=True)
    return len(chosen)


def catalogue_facts() -> dict:
    """What the endpoints need of a generated catalogue (also of one made in an earlier run)."""
    from sqlalchemy import select

    from marketplace.accounts.models import User
    from marketplace.extensions import db

    artisan = db.session.execute(
        select(User.id).where(User.email == "artisan-3@bench.test")).scalar_one()
    return {"artisan": artisan, "material": "camel wool", "technique": "embroidery"}


# --- databases ------------------------------------------------------------------------------

# the database's comment (a catalogue kept by an earlier version of this bench is made again)
COMPLETE = f"sheber bench catalogue: {{size}} products, 1 in {VERIFIED_EVERY} verified, complete"


def size_label(size: int) -> str:
    """10k, 100k, 1m: how kept databases are named (``sheber_bench_1m``)."""
    for unit, suffix in ((1_000_000, "m"), (1_000, "k")):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def _admin():
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES)
    return base, create_engine(base, isolation_level="AUTOCOMMIT")


def complete_database(name: str, size: int) -> bool:
    """Whether the PostgreSQL database ``name`` holds a finished catalogue of ``size``."""
    from sqlalchemy import text

    _, admin = _admin()
    try:
        with admin.connect() as connection:
            comment = connection.execute(text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = :n"), {"n": name}).scalar()
    finally:
        admin.dispose()
    return comment == COMPLETE.format(size=size)


def mark_complete(database_url: str, size: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            name = connection.execute(text("SELECT current_database()")).scalar()
            connection.exec_driver_sql(
                f"COMMENT ON DATABASE \"{name}\" IS '{COMPLETE.format(size=size)}'")
    finally:
        engine.dispose()


def database_for(kind: str, size: int, workdir: Path, args):
    """(url, reused, drop) for the run's database of ``kind`` and ``size``: a fresh one (dropped
    afterwards unless ``--keep``), or with ``--reuse-database`` the named one, kept, and
    reused when a finished catalogue of this size is there."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'catalog.db'}", False, lambda: None
    from sqlalchemy import text

    base, admin = _admin()
    name = reuse_name(args, size) or f"sheber_bench_{uuid.uuid4().hex[:10]}"
    url = base.set(database=name).render_as_string(hide_password=False)
    if args.reuse_database and complete_database(name, size):
        admin.dispose()
        return url, True, lambda: None
    with admin.connect() as connection:
        if args.reuse_database:  # unfinished or of another size: made again
            _terminate(connection, name)
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        if args.keep or args.reuse_database:
            print(f"  (kept: PostgreSQL database {name})", flush=True)
            return
        with admin.connect() as connection:
            _terminate(connection, name)
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return url, False, drop


def _terminate(connection, name: str) -> None:
    from sqlalchemy import text

    connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})


def reuse_name(args, size: int) -> str | None:
    """``--reuse-database`` for this size: the name, with ``{size}`` replaced (10k, 1m)."""
    if not args.reuse_database:
        return None
    return args.reuse_database.format(size=size_label(size))


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


def endpoints(base: str, facts: dict, get_json=get_json) -> list[tuple[str, str]]:
    """(name, url) of every endpoint measured; ``get_json`` reads a page (to follow cursors)."""
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
        "unverified": "verified=false",
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
    # a word only descriptions hold (every piece's: no title tier to fill the page), a typo
    # (found through the vocabulary's trigrams), and a common word sorted by price
    named += [("search description only (almaty)", f"{api}?lang=en&q=almaty"),
              ("search typo (silvre)", f"{api}?lang=en&q=silvre"),
              ("search common × price_asc", f"{api}?lang=en&q={COMMON['en']}&sort=price_asc")]
    return named


def selected(named: list[tuple[str, str]], only: str) -> list[tuple[str, str]]:
    """The endpoints ``--only`` keeps: those whose names contain one of its comma-separated
    words, and ``/healthz``, the baseline of every ratio (all when ``only`` is empty)."""
    words = [word for word in only.split(",") if word]
    return [(name, url) for name, url in named
            if not words or name == "/healthz" or any(word in name for word in words)]


def measure(kind: str, size: int, args) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix=f"sheber-bench-catalog-{kind}-"))
    database_url, reused, drop = database_for(kind, size, workdir, args)
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
            upgrade(revision="heads")  # a reused catalogue gets the migrations made since
            facts = catalogue_facts() if reused else load_catalogue(size, jobs=args.jobs)
            db.session.remove()
            db.engine.dispose()
        if reused:
            print(f"{kind}: {size:,} products of {reuse_name(args, size)} reused", flush=True)
        else:
            if kind == "postgresql" and (args.keep or args.reuse_database):
                mark_complete(database_url, size)
            print(f"{kind}: {size:,} products listed in {time.perf_counter() - started:.0f} s",
                  flush=True)
        if args.generate_only:
            return []
        server, base = serve(database_url, workdir, args.web_workers)
        load = load_with_wrk if shutil.which("wrk") else load_with_python
        rows = []
        for name, url in selected(endpoints(base, facts), args.only):
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
    parser.add_argument("--jobs", type=int, default=2,
                        help="processes that generate the products (default 2)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL databases made (their names are printed)")
    parser.add_argument("--reuse-database", metavar="NAME",
                        help="PostgreSQL: generate into NAME and keep it, or reuse it when it "
                             "holds a finished catalogue of the size; '{size}' in NAME is "
                             "replaced by 10k, 100k, 1m (needed for more than one size)")
    parser.add_argument("--generate-only", action="store_true",
                        help="make the catalogues, measure nothing")
    parser.add_argument("--only", default="",
                        help="comma-separated words: measure only the endpoints whose names "
                             "contain one (/healthz, the baseline, always)")
    args = parser.parse_args(argv)

    sizes = [int(size) for size in args.sizes.split(",") if size]
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if "postgresql" in databases and not postgres_answers():
        print("(PostgreSQL does not answer at BENCH_POSTGRES_URL: SQLite only)")
        databases.remove("postgresql")
    runs = [(kind, size) for kind in databases for size in sizes]
    if args.million and "postgresql" in databases:
        runs.append(("postgresql", 1_000_000))
    postgres_sizes = {size for kind, size in runs if kind == "postgresql"}
    if (args.reuse_database and len(postgres_sizes) > 1
            and "{size}" not in args.reuse_database):
        parser.error("--reuse-database needs '{size}' in the name for more than one size")
    rows: list[Row] = []
    for kind, size in runs:
        rows += measure(kind, size, args)
    if rows:
        print_table(rows, args)


if __name__ == "__main__":
    main()
