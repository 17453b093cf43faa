"""Prometheus metrics that any layer may count; ``marketplace.health`` serves them at /metrics.

Counters and histograms are prometheus-client objects. Under gunicorn or a prefork Celery worker
each process counts in its own files under ``PROMETHEUS_MULTIPROC_DIR`` (set it, to an empty
folder of its own, in the environment of every process of one machine before they start; the
``gunicorn.conf.py`` of the repository does it for web processes) and a scrape adds them up.
Without it (``flask run``, tests) the process counts in memory.

A count that follows a change in the database is made after the commit (``count_after_commit``),
so a rolled-back transaction counts nothing.
"""

from __future__ import annotations

import hmac
import os
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.errors import Unauthorized, domain_problem
from marketplace.extensions import db

_PENDING_KEY = "metrics_after_commit"

# seconds: a page served from an index is a few ms, a PDF render a few hundred
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUEST_SECONDS = Histogram(
    "sheber_http_request_duration_seconds",
    "Time to answer an HTTP request, by Flask endpoint, method and status code.",
    ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS)
TASKS = Counter(
    "sheber_celery_tasks",
    "Celery tasks that ended, by queue, task name and state (succeeded, failed, retried).",
    ["queue", "task", "state"])
TASK_SECONDS = Histogram(
    "sheber_celery_task_duration_seconds",
    "Time a Celery task ran in the worker, by queue and task name.",
    ["queue", "task"], buckets=LATENCY_BUCKETS)
RESERVATIONS = Counter(
    "sheber_reservations",
    "Stock reservations committed, by what happened to them (held, converted, released, "
    "sold_without_hold).",
    ["outcome"])
PAYMENTS = Counter(
    "sheber_payments",
    "Stripe payment outcomes applied to orders (paid, payment_failed, refunded, flagged, ...).",
    ["outcome"])


def count_after_commit(counter: Counter, amount: float = 1, /, **labels: str) -> None:
    """Add ``amount`` to ``counter`` once the current transaction commits (nothing if it rolls
    back)."""
    db.session().info.setdefault(_PENDING_KEY, []).append((counter, labels, amount))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter, labels, amount in session.info.pop(_PENDING_KEY, ()):
        (counter.labels(**labels) if labels else counter).inc(amount)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


# --- who may scrape: the web app's /metrics and a worker's metrics port ask the same ------------

def scrape_token(config) -> tuple[bool, str | None]:
    """(served, token): whether metrics are served at all (production serves them to holders
    of ``METRICS_TOKEN`` only, so not without one), and the token a scrape must send (None:
    any scrape may read them)."""
    token = config.get("METRICS_TOKEN") or None
    return token is not None or config.get("SHEBER_ENV") != "production", token


def pooled_registry() -> CollectorRegistry | None:
    """The counts of every process of this machine added up (``PROMETHEUS_MULTIPROC_DIR``);
    None when each process counts in memory."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def scrape_allowed(authorization: str | None, token: str) -> bool:
    """Whether a scrape's ``Authorization`` header sends ``token`` (``METRICS_TOKEN``) as its
    bearer token."""
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                              token.encode())


def scrape_refused() -> Unauthorized:
    return Unauthorized("Send the metrics token as a bearer token.")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        """A scrape every few seconds is not worth a log line."""


def serve_metrics(port: int, registry: CollectorRegistry, token: str | None,
                  address: str = "0.0.0.0") -> ThreadingWSGIServer:
    """Serve ``registry`` in Prometheus's text format on ``port`` from a daemon thread (a
    worker's metrics: it has no Flask app serving). With ``token`` a scrape must send it as
    its bearer token, as the web app's ``/metrics`` asks; without, anyone who reaches the port
    may read it. Returns the server (``shutdown()`` stops it)."""
    exposition = make_wsgi_app(registry)

    def guarded(environ, start_response):
        if token is not None and not scrape_allowed(environ.get("HTTP_AUTHORIZATION"), token):
            return domain_problem(scrape_refused())(environ, start_response)
        return exposition(environ, start_response)

    server = make_server(address, port, guarded, ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
