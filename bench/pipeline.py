"""Tasks per second through the outbox -> worker round trip, against a plain Celery task.

    python -m bench.pipeline [--tasks 1000] [--concurrency 2] [--database-url URL]

For each broker (the embedded filesystem broker, and Redis when it answers at REDIS_URL or
127.0.0.1:6379) it starts a real ``celery -A workers worker`` and measures, in the same run:

- baseline: N no-op tasks sent with ``send_task``, until the worker has run all of them;
- outbox: N transactions that each ``emit`` an event and commit; the after-commit relay publishes
  it and the consumer runs it under ``run_once`` (one processed-event row each).

It prints both rates and their ratio. The database is a throw-away SQLite file unless
--database-url names an empty scratch database. No figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PING = "bench.ping"


@dataclass
class Result:
    broker: str
    baseline: float
    outbox: float
    committed: float  # transactions with an event committed (and relayed) per second


class Completions:
    """Counts the datagrams the benchmark tasks send when they finish."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        seen = 0
        while seen < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"only {seen} of {count} tasks finished in {timeout:.0f} s")
            self.socket.settimeout(left)
            try:
                self.socket.recv(16)
            except TimeoutError:
                continue
            seen += 1


def broker_settings(name: str, workdir: Path) -> dict[str, str]:
    if name == "filesystem":
        return {"CELERY_BROKER_URL": "filesystem://localhost//",
                "CELERY_BROKER_FOLDER": str(workdir / "broker")}
    return {"CELERY_BROKER_URL": redis_url(),
            "CELERY_BROKER_KEY_PREFIX": f"sheber-bench-{uuid.uuid4().hex[:8]}:"}


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def redis_answers() -> bool:
    import redis

    client = redis.Redis.from_url(redis_url(), socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def drop_redis_prefix(prefix: str) -> None:
    from workers.app import drop_redis_keys

    drop_redis_keys(redis_url(), prefix)


def start_worker(env: dict[str, str], concurrency: int, log_path: Path,
                 profile: Path | None = None) -> subprocess.Popen:
    """A real worker; with ``profile``, run under py-spy (``pip install py-spy``), which writes
    the samples of the worker and its pool processes there as collapsed stacks when the worker
    stops (``stop_worker``)."""
    command = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-I", "bench.tasks",
               "--loglevel=WARNING", f"--concurrency={concurrency}", "--without-mingle",
               "--without-gossip", "--without-heartbeat", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"]
    if profile is not None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        command = [py_spy, "record", "--subprocesses", "--format", "raw", "--rate", "200",
                   "--output", str(profile), "--", *command]
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    if "py-spy" in Path(process.args[0]).name and children.exists():
        # the worker under py-spy: stop the worker, and py-spy writes its samples and exits
        for child in children.read_text().split():
            os.kill(int(child), signal.SIGTERM)
        try:
            process.wait(timeout=60)
            return
        except subprocess.TimeoutExpired:
            pass
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its live children (a
    worker's pool processes), from /proc; 0.0 where /proc is not there. Other work on a shared
    machine does not count, so CPU per task moves less with the load than tasks per second."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        pending += [int(child) for child in children]
    return total


def noop_rate(celery, completions: Completions, tasks: int) -> float:
    """The baseline: no-op tasks per second through this broker and worker, after a warm-up
    (the worker is ready once it has run a task end to end)."""
    celery.send_task("bench.tasks.noop_task", args=[completions.port])
    completions.wait(1, timeout=120)
    started = time.perf_counter()
    for _ in range(tasks):
        celery.send_task("bench.tasks.noop_task", args=[completions.port])
    completions.wait(tasks, timeout=600)
    return tasks / (time.perf_counter() - started)


def measure(broker: str, tasks: int, concurrency: int, database_url: str | None) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"sheber-bench-{broker}-"))
    settings = broker_settings(broker, workdir)
    settings["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.db'}"
    os.environ.update(settings)  # the publishing app below reads the same environment

    from flask_migrate import upgrade

    from marketplace import create_app, outbox
    from marketplace.extensions import db

    app = create_app()
    with app.app_context():
        upgrade(revision="heads")
    outbox.register_handler(PING, "bench.tasks.ping_consumer_task")
    celery = app.extensions["celery"]
    completions = Completions()
    worker = start_worker({**os.environ, "PYTHONUNBUFFERED": "1"}, concurrency,
                          workdir / "worker.log")
    try:
        with app.app_context():
            baseline = noop_rate(celery, completions, tasks)

            started = time.perf_counter()
            for _ in range(tasks):
                outbox.emit(PING, {"port": completions.port})
                db.session.commit()
            committed = tasks / (time.perf_counter() - started)
            completions.wait(tasks, timeout=600)
            piped = tasks / (time.perf_counter() - started)
            pending = outbox.pending_count()
            db.session.remove()
            db.engine.dispose()
        if pending:
            raise SystemExit(f"{pending} events were left pending on {broker}")
    except BaseException:
        print(f"--- {broker} worker log (tail) ---\n{(workdir / 'worker.log').read_text()[-4000:]}")
        raise
    finally:
        stop_worker(worker)
        completions.socket.close()
        if "CELERY_BROKER_KEY_PREFIX" in settings:
            drop_redis_prefix(settings["CELERY_BROKER_KEY_PREFIX"])
        shutil.rmtree(workdir, ignore_errors=True)
        for key in settings:
            os.environ.pop(key, None)
    return Result(broker, baseline, piped, committed)


def brokers_to_measure() -> list[str]:
    """The embedded broker, and Redis when it answers; each run sets its own broker settings."""
    brokers = ["filesystem"]
    if redis_answers():
        brokers.append("redis")
    else:
        print(f"(Redis does not answer at {redis_url()}: embedded broker only)")
    for key in ("CELERY_BROKER_URL", "CELERY_BROKER_FOLDER", "CELERY_BROKER_KEY_PREFIX"):
        os.environ.pop(key, None)
    return brokers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database-url", help="an empty scratch database (default: SQLite)")
    args = parser.parse_args(argv)

    brokers = brokers_to_measure()

    results = [measure(broker, args.tasks, args.concurrency, args.database_url)
               for broker in brokers]
    database = "SQLite" if args.database_url is None else args.database_url.split(":")[0]
    print(f"\nOutbox -> worker round trip: {args.tasks} tasks, one worker with "
          f"{args.concurrency} processes, {database}, {os.cpu_count()} CPUs")
    print(f"{'broker':<12}{'baseline no-op task/s':>23}{'outbox event/s':>16}{'ratio':>7}"
          f"{'(emit+commit+relay/s)':>24}")
    for result in results:
        print(f"{result.broker:<12}{result.baseline:>23.0f}{result.outbox:>16.0f}"
              f"{result.outbox / result.baseline:>7.2f}{result.committed:>24.0f}")


if __name__ == "__main__":
    main()
