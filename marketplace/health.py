"""Operations endpoints: ``/healthz`` (liveness, dependencies, outbox lag, beat's last tick) and
``/metrics`` (Prometheus), with the request-latency hooks that feed it.

``/metrics`` is protected by ``METRICS_TOKEN``: when set, a scrape must send
``Authorization: Bearer <token>``; when unset it is served in development only (production
answers 404). Under gunicorn every worker process writes its counts to
``PROMETHEUS_MULTIPROC_DIR`` and a scrape of any of them adds them all up.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import redis
from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from marketplace.errors import HttpError, NotFound
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.metrics import (
    HTTP_REQUEST_SECONDS,
    pooled_registry,
    scrape_allowed,
    scrape_refused,
    scrape_token,
)
from marketplace.outbox import OutboxEvent

bp = Blueprint("health", __name__)



def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "down" for a health probe
        db.session.rollback()
        return False


def broker_ok() -> bool:
    celery = current_app.extensions.get("celery")
    if celery is None:
        return True
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        return False


def outbox_backlog() -> tuple[int, float]:
    """(events not yet published, seconds the oldest of them has waited; 0 when none)."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(OutboxEvent.created_at))
        .where(OutboxEvent.published_at.is_(None))).one()
    # End the read: a probe holds no snapshot open. COMMIT, which ends a transaction that only
    # read as ROLLBACK does, keeps the connection's prepared statements (extensions.prepared).
    db.session.commit()
    if not count or oldest is None:
        return 0, 0.0
    return count, max(0.0, (utcnow() - oldest).total_seconds())


# --- beat's last tick: workers/beat.py writes it where the Celery config says -------------

_redis_clients: dict = {}


def _redis(url: str):
    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2)
    return client


def last_beat_tick() -> float | None:
    """Unix time of beat's last tick as recorded by whichever scheduler runs; None if never."""
    celery = current_app.extensions.get("celery")
    if celery is None:
        return None
    conf = celery.conf
    try:
        if conf.get("sheber_beat_tick_key"):
            value = _redis(conf.broker_url).get(conf.sheber_beat_tick_key)
        else:
            with open(conf.sheber_beat_tick_file, "rb") as file:
                value = file.read()
        return float(value) if value else None
    except (OSError, ValueError, redis.RedisError):
        return None


@bp.get("/healthz")
def healthz():
    """Liveness and dependencies: 503 when the database or the broker is down. Also reports the
    outbox backlog and beat's last tick, which do not change the status (web serves without
    them; alert on them from /metrics)."""
    database = database_ok()
    broker = broker_ok()
    status = "ok" if database and broker else "degraded"
    body: dict = {"status": status, "database": "ok" if database else "down",
                  "broker": "ok" if broker else "down"}
    if database:
        try:
            pending, lag = outbox_backlog()
            body["outbox"] = {"pending": pending, "lag_seconds": round(lag, 3)}
        except Exception:  # noqa: BLE001 - a probe reports what it can (a schema not migrated)
            db.session.rollback()
            body["outbox"] = None
    tick = last_beat_tick()
    body["beat"] = {"last_tick": None if tick is None else
                    datetime.fromtimestamp(tick, UTC).isoformat(timespec="seconds"),
                    "age_seconds": None if tick is None else round(max(0.0, time.time() - tick),
                                                                   1)}
    return body, 200 if status == "ok" else 503


# --- /metrics ------------------------------------------------------------------------------

class _OperationsCollector:
    """Read at scrape time: the outbox backlog and lag, and beat's last tick."""

    def collect(self):
        pending, lag = outbox_backlog()
        yield GaugeMetricFamily("sheber_outbox_pending_events",
                                "Outbox events committed but not yet published.", value=pending)
        yield GaugeMetricFamily("sheber_outbox_lag_seconds",
                                "Age of the oldest unpublished outbox event (0: none).",
                                value=lag)
        tick = last_beat_tick()
        if tick is not None:
            yield GaugeMetricFamily("sheber_beat_last_tick_timestamp_seconds",
                                    "Unix time of beat's last tick.", value=tick)


def _registry() -> CollectorRegistry:
    registry = pooled_registry()
    if registry is None:
        registry = CollectorRegistry()
        registry.register(_ProcessMetrics())
    registry.register(_OperationsCollector())
    return registry


class _ProcessMetrics:
    """This process's own metrics (single-process mode)."""

    def collect(self):
        yield from PROCESS_REGISTRY.collect()


def _check_metrics_access() -> None:
    served, token = scrape_token(current_app.config)
    if not served:
        raise NotFound("No such route.", code=HttpError.NOT_FOUND)
    if token is not None and not scrape_allowed(request.headers.get("Authorization"), token):
        raise scrape_refused()


@bp.get("/metrics")
def metrics():
    """Prometheus text format: request latency by endpoint, task counts and durations per
    queue, reservation and payment counters, outbox backlog and lag, beat's last tick."""
    _check_metrics_access()
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


@bp.before_app_request
def _start_timer():
    g._metrics_started = time.perf_counter()


@bp.after_app_request
def _observe_latency(response):
    started = g.pop("_metrics_started", None)
    if started is not None:
        HTTP_REQUEST_SECONDS.labels(endpoint=request.endpoint or "unmatched",
                                    method=request.method,
                                    status=str(response.status_code)).observe(
            time.perf_counter() - started)
    return response
