"""Two ``beat`` processes on one Redis (two machines, as production may run them): each periodic
job of ``workers.schedule`` is sent once per interval, never once by each; when the beat that
sends dies outright, the other takes over once the lock lapses.

The beats are real processes running ``workers.beat.RedisScheduler`` on the test's Redis
namespace, with every job of the real timetable at one short interval so that a test sees
several rounds; nothing consumes the messages, so the queues show exactly what was sent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import redis

from tests.plugins.worker import ROOT, broker_is_redis, empty_broker, worker_environment
from workers.schedule import beat_schedule

pytestmark = [pytest.mark.redis, pytest.mark.integration]

INTERVAL = 2.0
LOCK_TIMEOUT = 3

BEAT = """
import sys
import workers
from workers.schedule import beat_schedule

celery = workers.celery
interval = float(sys.argv[1])
celery.conf.beat_schedule = {name: {**entry, "schedule": interval, "options": {}}
                             for name, entry in beat_schedule().items()}
celery.Beat(loglevel="INFO").run()
"""


class Beat:
    def __init__(self, env, log_path):
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-c", BEAT, str(INTERVAL)], cwd=ROOT,
                                            env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.log()}"
            time.sleep(0.1)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def redis_namespace(app):
    if not broker_is_redis(app):
        pytest.skip("celery-redbeat schedules on Redis; the embedded broker has one beat")
    conf = app.extensions["celery"].conf
    prefix = conf.broker_transport_options["global_keyprefix"]
    client = redis.Redis.from_url(conf.broker_url)
    empty_broker(app)
    yield client, prefix
    empty_broker(app)
    client.close()


def sent(client, prefix: str) -> Counter:
    """Task name -> how many messages beat sent, then forget them for the next count."""
    counts: Counter = Counter()
    for key in client.scan_iter(match=f"{prefix}maintenance*"):
        if b"_kombu" in key:
            continue
        for raw in client.lrange(key, 0, -1):
            counts[json.loads(raw)["headers"]["task"]] += 1
        client.delete(key)
    return counts


def test_two_beats_on_one_redis_send_each_job_once_and_the_second_takes_over(
        app, client, database_url, redis_namespace, tmp_path):
    redis_client, prefix = redis_namespace
    env = {**worker_environment(app, database_url),
           "BEAT_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT)}
    jobs = {entry["task"] for entry in beat_schedule().values()}

    first = Beat(env, tmp_path / "beat-1.log")
    second = None
    try:
        first.wait_for("beat: Acquired lock", timeout=60)
        second = Beat(env, tmp_path / "beat-2.log")
        second.wait_for("beat: Starting...", timeout=60)
        sent(redis_client, prefix)  # from here on both beats run
        counted_from = time.monotonic()
        time.sleep(4 * INTERVAL + 0.5)
        both = sent(redis_client, prefix)
        elapsed = time.monotonic() - counted_from
        assert "Acquired lock" not in second.log()  # it waits on the lock
        assert set(both) == jobs, both
        rounds = elapsed / INTERVAL
        for task, count in both.items():
            # one sender: about one message per interval; two senders would send twice that
            assert 1 <= count <= rounds + 1, (task, count, rounds)

        # /healthz sees the tick the sending beat recorded
        beat = client.get("/healthz").get_json()["beat"]
        assert beat["age_seconds"] is not None and beat["age_seconds"] < 5, beat

        first.kill()  # the machine running the active beat is lost; its lock is not released
        killed = time.monotonic()
        second.wait_for("beat: Acquired lock", timeout=LOCK_TIMEOUT + 20)
        assert time.monotonic() - killed >= LOCK_TIMEOUT - 1.5  # not before the lock lapsed
        sent(redis_client, prefix)
        time.sleep(3 * INTERVAL + 0.5)
        after = sent(redis_client, prefix)
        assert set(after) == jobs, after
        assert all(1 <= count <= 3 + 1 for count in after.values()), after
    finally:
        first.stop()
        if second is not None:
            second.stop()
