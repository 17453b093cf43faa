"""The Celery app, built from the Flask config and bound to one Flask app.

``create_app`` calls ``init_celery(app)``; the result lives in ``app.extensions["celery"]``. Every
task runs inside ``app.app_context()`` and gives its database session back afterwards.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import kombu.exceptions
import redis
import stripe
from celery import Celery, Task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)
from flask import Flask
from kombu import Exchange, Queue
from sqlalchemy.exc import OperationalError

from marketplace import logs
from marketplace.errors import ExternalServiceError
from marketplace.extensions import db
from marketplace.mail import TransientMailError
from marketplace.metrics import (
    TASK_SECONDS,
    TASKS,
    pooled_registry,
    scrape_token,
    serve_metrics,
)
from marketplace.storage import StorageUnavailable
from workers.schedule import beat_schedule

log = logging.getLogger(__name__)

QUEUES = ("orders", "shipping", "payments", "mail", "maintenance", "images")
DEFAULT_QUEUE = "celery"

TASK_ROUTES = {
    "workers.orders.*": {"queue": "orders"},
    "workers.shipping.*": {"queue": "shipping"},
    "workers.payments.*": {"queue": "payments"},
    # the payouts ledger is a step of the order pipeline; ``payments`` is Stripe's alone
    "workers.payouts.*": {"queue": "orders"},
    "workers.mail.*": {"queue": "mail"},
    "workers.maintenance.*": {"queue": "maintenance"},
    "workers.catalog.*": {"queue": "images"},  # CPU-heavy: scale it on its own
}

TASK_MODULES = ("workers.mail", "workers.maintenance", "workers.shipping", "workers.orders",
                "workers.payments", "workers.payouts", "workers.catalog")

# Errors a later attempt can get past: a dropped or locked database, the broker, SMTP 4xx,
# Stripe's network and rate limits. Anything else is a bug or a permanent refusal: no retry.
TRANSIENT_ERRORS = (
    OperationalError,
    kombu.exceptions.OperationalError,
    TransientMailError,
    ExternalServiceError,
    stripe.APIConnectionError,
    stripe.RateLimitError,
    ConnectionError,
    TimeoutError,
    StorageUnavailable,
)

# For tasks that may run twice without harm: a crash mid-task puts the message back.
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}

TASK_TIME_LIMIT = 300  # seconds; CELERY_VISIBILITY_TIMEOUT must stay above this + retry backoff
RETRY_BACKOFF_MAX = 600


_process_default: Celery | None = None


def init_celery(app: Flask, *, make_default: bool = False) -> Celery:
    """The Celery app of ``app``; the process default (what ``shared_task`` tasks and Celery's
    ``current_app`` resolve to) when it is the first one built here or ``make_default``."""
    class FlaskTask(Task):
        autoretry_for = TRANSIENT_ERRORS
        retry_backoff = True
        retry_backoff_max = RETRY_BACKOFF_MAX
        retry_jitter = True
        max_retries = 8

        def __call__(self, *args, **kwargs):
            # Outbox consumers are called as (event_id, payload): log under the event's trace.
            payload = args[1] if len(args) == 2 and isinstance(args[1], dict) else {}
            tokens = logs.bind(task=self.name, task_id=self.request.id,
                               **logs.event_fields(payload))
            try:
                with app.app_context():
                    try:
                        return self.run(*args, **kwargs)
                    finally:
                        db.session.remove()
            finally:
                logs.reset(tokens)

    @after_setup_logger.connect(weak=False)
    @after_setup_task_logger.connect(weak=False)
    def _worker_logs_like_the_app(logger, **_):
        # Celery replaces the root logger's handlers in a worker: give its own ours.
        logs.adopt(logger, app)

    @worker_init.connect(weak=False)
    def _load_before_fork(**_):
        # What every process would otherwise build on its first tasks, built once in the
        # worker's main process before the pool forks: the ORM's mapper configuration, the
        # compiled mail templates and the mail languages' catalogues and locale data.
        with app.app_context():
            _preload(app)

    @worker_process_init.connect(weak=False)
    def _new_connections_after_fork(**_):
        # A pool process must not share the parent's database sockets.
        with app.app_context():
            db.engine.dispose(close=False)

    _count_tasks(app)

    # The first app built in a process is the one shared tasks and the outbox's sends use; a
    # second one (a script's or a test's other Flask app) stays its own app's, unless asked.
    global _process_default
    celery = Celery("sheber", task_cls=FlaskTask, set_as_current=False)
    celery.config_from_object(celery_settings(app))
    if make_default or _process_default is None:
        celery.set_current()
        celery.set_default()
        _process_default = celery
    app.extensions["celery"] = celery

    import workers.handlers  # noqa: F401 - registers the outbox event handlers

    return celery


def _preload(app: Flask) -> None:
    """Per-process constants the tasks use, loaded now (in an app context) rather than on the
    first task that needs each."""
    from babel import Locale
    from flask_babel import force_locale, get_translations
    from sqlalchemy.orm import configure_mappers

    from marketplace.mail import MAIL_LANGUAGES

    configure_mappers()
    env = app.jinja_env
    for name in env.list_templates(filter_func=lambda name: name.startswith("mail/")):
        env.get_template(name)
    for language in MAIL_LANGUAGES:
        Locale.parse(language)
        with force_locale(language):
            get_translations()


def _count_tasks(app: Flask) -> None:
    """Task counts and durations per queue (``marketplace.metrics``), from Celery's signals;
    ``WORKER_METRICS_PORT`` serves them from the worker's main process."""
    started: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _task_started(task_id=None, **_):
        started[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def _task_ended(task_id=None, task=None, state=None, **_):
        began = started.pop(task_id, None)
        queue = ((getattr(task.request, "delivery_info", None) or {}).get("routing_key")
                 or DEFAULT_QUEUE)
        outcome = {"SUCCESS": "succeeded", "RETRY": "retried"}.get(state, "failed")
        TASKS.labels(queue=queue, task=task.name, state=outcome).inc()
        if began is not None:
            TASK_SECONDS.labels(queue=queue, task=task.name).observe(time.perf_counter() - began)

    @worker_init.connect(weak=False)
    def _serve_worker_metrics(**_):
        serve_worker_metrics(app)

    @worker_process_shutdown.connect(weak=False)
    def _process_gone(pid=None, **_):
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid())


def serve_worker_metrics(app: Flask):
    """Serve this worker's task metrics on ``WORKER_METRICS_PORT`` (the pool's processes added
    up under ``PROMETHEUS_MULTIPROC_DIR``), to holders of ``METRICS_TOKEN`` as the web app's
    ``/metrics`` does: production without a token serves none. Returns the server, or None."""
    port = app.config.get("WORKER_METRICS_PORT")
    if not port:
        return None
    served, token = scrape_token(app.config)
    if not served:
        log.warning("WORKER_METRICS_PORT is set but METRICS_TOKEN is not: production serves "
                    "no worker metrics without a token")
        return None
    from prometheus_client import REGISTRY

    registry = pooled_registry()
    return serve_metrics(int(port), REGISTRY if registry is None else registry, token)


def celery_settings(app: Flask) -> dict:
    config = app.config
    broker_url = config.get("CELERY_BROKER_URL") or "filesystem://localhost//"
    transport_options: dict = {"visibility_timeout": config["CELERY_VISIBILITY_TIMEOUT"]}
    transport = None
    if broker_url.startswith("filesystem://"):
        transport = "workers.broker:Transport"
        transport_options.update(_filesystem_folders(app))
    if broker_url.startswith(("redis://", "rediss://")):
        transport_options["socket_connect_timeout"] = 5
        # kombu 5.7 sweeps for messages of a dead worker only every interval x throttle seconds
        # (10 x 10 by default): redeliver soon after the visibility timeout instead.
        transport_options["unacked_restore_interval"] = max(
            1, min(10, int(config["CELERY_VISIBILITY_TIMEOUT"])))
        transport_options["unacked_restore_throttle"] = 1
        prefix = config.get("CELERY_BROKER_KEY_PREFIX")
        if prefix is None and app.testing:
            prefix = _throwaway_redis_namespace(broker_url)
        if prefix:
            transport_options["global_keyprefix"] = prefix
    return {
        "broker_url": broker_url,
        "broker_transport": transport,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5,
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        "task_default_queue": DEFAULT_QUEUE,
        "task_queues": [Queue(name, Exchange(name), routing_key=name)
                        for name in (*QUEUES, DEFAULT_QUEUE)],
        "task_routes": TASK_ROUTES,
        "imports": TASK_MODULES,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # The embedded broker keeps a binding file per worker forever; nobody inspects it anyway.
        "worker_enable_remote_control": not broker_url.startswith("filesystem://"),
        "task_time_limit": TASK_TIME_LIMIT,
        "task_soft_time_limit": TASK_TIME_LIMIT - 30,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule(),
        "beat_schedule_filename": str(Path(app.instance_path) / "celerybeat-schedule"),
        **_beat_settings(app, broker_url, transport_options),
    }


BEAT_TICK_KEY = "sheber:beat:last-tick"


def _beat_settings(app: Flask, broker_url: str, transport_options: dict) -> dict:
    """On Redis, celery-redbeat with its lock (two beats never both send); on the embedded
    broker, Celery's file scheduler (``workers/beat.py``). Each records its last tick."""
    if not broker_url.startswith(("redis://", "rediss://")):
        folder = Path(transport_options["data_folder_in"]).parent if transport_options.get(
            "data_folder_in") else Path(app.instance_path)
        return {"beat_scheduler": "workers.beat:FileScheduler",
                "sheber_beat_tick_file": str(folder / "celerybeat.tick")}
    prefix = transport_options.get("global_keyprefix") or ""
    lock_timeout = max(3, int(app.config["BEAT_LOCK_TIMEOUT_SECONDS"]))
    return {
        "beat_scheduler": "workers.beat:RedisScheduler",
        "redbeat_redis_url": broker_url,
        "redbeat_redis_options": {"socket_connect_timeout": 5, "socket_timeout": 5,
                                  "retry_period": 60},
        "redbeat_key_prefix": f"{prefix}redbeat:",
        "redbeat_lock_timeout": lock_timeout,
        # beat renews the lock every tick: tick well inside the lock's lifetime
        "beat_max_loop_interval": max(1, min(5, lock_timeout // 3)),
        "sheber_beat_tick_key": prefix + BEAT_TICK_KEY,
    }


def _filesystem_folders(app: Flask) -> dict:
    folder = app.config.get("CELERY_BROKER_FOLDER")
    if folder is None and app.testing:
        # Tests must not leave messages for the developer's `make run` worker to pick up.
        folder = tempfile.mkdtemp(prefix="sheber-broker-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    root = Path(folder or Path(app.instance_path) / "broker")
    queue, processed, control = root / "queue", root / "processed", root / "control"
    for path in (queue, processed, control):
        path.mkdir(parents=True, exist_ok=True)
    # One folder for in and out: producers and workers share this machine's disk. With prefetch 1
    # a worker process waits one poll after each task: kombu's default 1 s poll would cap it at
    # one task a second; 10 ms costs about 2% of a core while idle.
    return {"data_folder_in": str(queue), "data_folder_out": str(queue),
            "processed_folder": str(processed), "control_folder": str(control),
            "store_processed": False, "polling_interval": 0.01}


def _throwaway_redis_namespace(broker_url: str) -> str:
    """A key prefix of its own for one test process, so that test runs sharing a Redis (and the
    developer's worker) never consume each other's messages; removed at exit."""
    prefix = f"sheber-test-{uuid.uuid4().hex[:12]}:"
    atexit.register(drop_redis_keys, broker_url, prefix)
    return prefix


def drop_redis_keys(url: str, *prefixes: str) -> None:
    """Delete every key under these prefixes (a test run's namespaces in a shared Redis). A
    Redis that is gone has nothing left to clean: that is no error."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        for prefix in prefixes:
            keys = list(client.scan_iter(match=prefix + "*", count=500))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
    except redis.RedisError:
        pass
    finally:
        client.close()
