"""Real Celery workers for integration tests: ``celery -A workers worker`` subprocesses on the
test app's broker (the embedded filesystem broker, or Redis when REDIS_URL is set) and the test
database.

The test app's broker namespace (a temporary folder, or a Redis key prefix) is private to this
test process; it is emptied before and after each test so no message outlives its test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def broker_is_redis(app) -> bool:
    return app.extensions["celery"].conf.broker_url.startswith(("redis://", "rediss://"))


def worker_environment(app, database_url: str) -> dict[str, str]:
    conf = app.extensions["celery"].conf
    options = conf.broker_transport_options
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CELERY_", "MAIL_"))}
    env.update({
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": conf.broker_url,
        "MAIL_SENDER": app.config["MAIL_SENDER"],
        "PYTHONUNBUFFERED": "1",
    })
    if "data_folder_in" in options:
        env["CELERY_BROKER_FOLDER"] = str(Path(options["data_folder_in"]).parent)
    if options.get("global_keyprefix"):
        env["CELERY_BROKER_KEY_PREFIX"] = options["global_keyprefix"]
    if app.config.get("UPLOAD_FOLDER"):  # the photos the test app stored
        env["UPLOAD_FOLDER"] = app.config["UPLOAD_FOLDER"]
    if app.config.get("STRIPE_API_BASE"):  # the session's Stripe emulator, when it runs
        env["STRIPE_API_BASE"] = app.config["STRIPE_API_BASE"]
    if app.config.get("MAIL_SERVER"):
        env["MAIL_SERVER"] = app.config["MAIL_SERVER"]
        env["MAIL_PORT"] = str(app.config["MAIL_PORT"])
        env["MAIL_TIMEOUT_SECONDS"] = str(app.config["MAIL_TIMEOUT_SECONDS"])
    return env


def empty_broker(app) -> None:
    """Drop every queued and unacknowledged message in this process's namespace (bindings stay:
    the publisher remembers having declared them)."""
    conf = app.extensions["celery"].conf
    options = conf.broker_transport_options
    if "data_folder_in" in options:
        for message in Path(options["data_folder_in"]).glob("*.msg"):
            message.unlink(missing_ok=True)
        return
    prefix = options.get("global_keyprefix")
    assert prefix, "refusing to empty a shared Redis without a private key prefix"
    client = redis.Redis.from_url(conf.broker_url)
    try:
        keys = [key for key in client.scan_iter(match=prefix + "*", count=500)
                if b"_kombu.binding" not in key]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class LiveWorker:
    def __init__(self, env: dict[str, str], log_path: Path, *, beat_schedule: Path | None,
                 queues: tuple[str, ...] = ()):
        self.env = env
        self.log_path = log_path
        self.beat_schedule = beat_schedule
        self.queues = queues  # empty: every queue
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> LiveWorker:
        command = [sys.executable, "-m", "celery", "-A", "workers", "worker", "--loglevel=INFO",
                   "--pool=prefork", "--concurrency=1", "--without-mingle", "--without-gossip",
                   "--without-heartbeat", "-n", f"pytest-{uuid.uuid4().hex[:8]}@%h"]
        if self.beat_schedule is not None:
            command += ["--beat", "--schedule", str(self.beat_schedule)]
        if self.queues:
            command += ["--queues", ",".join(self.queues)]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while " ready." not in self.log()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the worker did not start:\n{self.log()[offset:]}")
            time.sleep(0.1)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pool_process_ids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill_pool_process(self) -> None:
        """SIGKILL the process running tasks; the worker itself survives and notices."""
        for pid in self.pool_process_ids():
            os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole worker, as a machine dying would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: the worker stops its pool
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def start_worker(app, database_url, tmp_path):
    """``start_worker(beat=False, **env) -> LiveWorker``: a running worker sharing the test's
    database and broker; extra keyword arguments become environment variables."""
    workers: list[LiveWorker] = []
    empty_broker(app)

    def start(*, beat: bool = False, **env) -> LiveWorker:
        environment = worker_environment(app, database_url)
        environment.update({key: str(value) for key, value in env.items()})
        n = len(workers) + 1
        worker = LiveWorker(environment, tmp_path / f"worker-{n}.log",
                            beat_schedule=tmp_path / f"beat-{n}" if beat else None)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()
    empty_broker(app)


@pytest.fixture
def live_worker(start_worker) -> LiveWorker:
    return start_worker()


@pytest.fixture(scope="session")
def payments_worker(app, database_url, stripe_emulator, tmp_path_factory) -> LiveWorker:
    """One worker for the whole session on the ``payments`` queue only: Stripe's webhooks are
    applied by a task, as in production, while the rest of the order pipeline stays still for
    tests that look at a paid order (tests of the pipeline start a worker of their own)."""
    worker = LiveWorker(worker_environment(app, database_url),
                        tmp_path_factory.mktemp("payments-worker") / "worker.log",
                        beat_schedule=None, queues=("payments",))
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def dead_broker_app(app, database_url, tmp_path):
    """A second app on the test database whose broker cannot be reached: Redis on a dead port,
    or an embedded broker whose queue folder is not a folder. Use it inside
    ``with dead_broker_app.app_context():``."""
    from marketplace import create_app
    from marketplace.extensions import db

    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
              "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}}
    if broker_is_redis(app):
        config["CELERY_BROKER_URL"] = "redis://127.0.0.1:1/0"
    else:
        config.update(CELERY_BROKER_URL="filesystem://",
                      CELERY_BROKER_FOLDER=str(tmp_path / "dead-broker"))
    dead = create_app(config)
    if not broker_is_redis(app):
        queue = Path(dead.extensions["celery"].conf.broker_transport_options["data_folder_out"])
        queue.rmdir()
        queue.write_text("not a folder")
    yield dead
    with dead.app_context():
        db.engine.dispose()
