"""How often each piece's page is seen, for the workshop's charts, without a write per view.

A page view only adds one to a counter in the process's memory (``count_view``: a dict under a
lock, no I/O). The counts go to the database in one statement per batch, a row per piece and
day (``product_view_day``, UTC days, ``views = views + n``), on its own connection and
transaction, never the request's:

- when the batch is ``VIEW_FLUSH_SECONDS`` old (30) or holds ``VIEW_FLUSH_SIZE`` pieces (500),
  after the response that filled it has been sent (``schedule_flush``, werkzeug's
  ``call_on_close``), so no reader waits for it;
- when the process exits (``atexit``), and whenever ``flush_views`` is called.

A crash loses at most one batch of counts: acceptable for a chart of interest, and it keeps the
database out of the hot path of the most-read page. Every web process keeps its own batch; the
upsert adds them up. (Redis was not used: the default install has none, and a second store of
the same figure would need its own reconciliation.)
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from marketplace.catalog.models import Product, ProductViewDay
from marketplace.extensions import conflict_insert, db
from marketplace.ids import utcnow

log = logging.getLogger(__name__)


class ViewCounter:
    """The current batch of one process: (product id, day) -> views."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, date]] = Counter()
        self._started = time.monotonic()

    def add(self, product_id: str, day: date) -> None:
        with self._lock:
            if not self._counts:
                self._started = time.monotonic()
            self._counts[(product_id, day)] += 1

    def due(self, *, max_seconds: float, max_size: int) -> bool:
        with self._lock:
            return bool(self._counts) and (
                len(self._counts) >= max_size or time.monotonic() - self._started >= max_seconds)

    def take(self) -> dict[tuple[str, date], int]:
        with self._lock:
            taken, self._counts = dict(self._counts), Counter()
            return taken

    def put_back(self, counts: dict[tuple[str, date], int]) -> None:
        with self._lock:
            self._counts.update(counts)


def _counter() -> ViewCounter:
    counter = current_app.extensions.get("sheber.view_counter")
    if counter is None:
        counter = current_app.extensions["sheber.view_counter"] = ViewCounter()
        if not current_app.testing:  # a test's database is gone before its process ends
            atexit.register(_last_flush, db.engine, counter)
    return counter


def _last_flush(engine: Engine, counter: ViewCounter) -> None:
    try:
        write_counts(engine, counter.take())
    except Exception:  # the process is ending: nothing can retry; say what was lost
        log.warning("piece views of the last batch were not written", exc_info=True)


def count_view(product_id: str) -> bool:
    """One more view of the piece today; True when the batch is due to be written (the caller
    then passes ``schedule_flush`` the response)."""
    counter = _counter()
    counter.add(product_id, utcnow().date())
    config = current_app.config
    return counter.due(max_seconds=float(config.get("VIEW_FLUSH_SECONDS", 30)),
                       max_size=int(config.get("VIEW_FLUSH_SIZE", 500)))


def schedule_flush(response) -> None:
    """Write the batch once ``response`` has been sent (no request context is left then)."""
    counter, engine = _counter(), db.engine
    response.call_on_close(lambda: _write_or_keep(engine, counter))


def flush_views() -> int:
    """Write this process's batch now; how many (piece, day) rows it touched."""
    return _write_or_keep(db.engine, _counter())


def _write_or_keep(engine: Engine, counter: ViewCounter) -> int:
    counts = counter.take()
    try:
        return write_counts(engine, counts)
    except Exception:
        counter.put_back(counts)  # the next batch tries again
        raise


def write_counts(engine: Engine, counts: dict[tuple[str, date], int]) -> int:
    if not counts:
        return 0
    table = ProductViewDay.__table__
    with engine.begin() as connection:
        ids = {product_id for product_id, _day in counts}
        existing = set(connection.execute(
            select(Product.id).where(Product.id.in_(ids))).scalars())  # a removed piece: skip
        rows = [{"product_id": product_id, "day": day, "views": views}
                for (product_id, day), views in sorted(counts.items())
                if product_id in existing]
        if not rows:
            return 0
        statement = conflict_insert(engine.dialect.name)(table).values(rows)
        connection.execute(statement.on_conflict_do_update(
            index_elements=[table.c.product_id, table.c.day],
            set_={"views": table.c.views + statement.excluded.views}))
    return len(rows)


def views_since(days: int, *, today: date | None = None, product_ids=None):
    """A subquery: product_id and its views over the last ``days`` days (today included), of
    the pieces ``product_ids`` (a list or a subquery) or of all."""
    today = today or utcnow().date()
    query = (select(ProductViewDay.product_id, func.sum(ProductViewDay.views).label("views"))
             .where(ProductViewDay.day > today - timedelta(days=days)))
    if product_ids is not None:
        query = query.where(ProductViewDay.product_id.in_(product_ids))
    return query.group_by(ProductViewDay.product_id).subquery()
