"""Beat's schedulers: each records its last tick where ``/healthz`` and ``/metrics`` read it.

- On Redis (production): ``RedisScheduler``, celery-redbeat's scheduler. The timetable lives in
  Redis and a lock (``BEAT_LOCK_TIMEOUT_SECONDS``, renewed every tick) lets exactly one beat
  send: run ``celery -A workers beat`` on two machines and the second waits on the lock, taking
  over when the first stops renewing it. Every job of ``workers.schedule`` is loaded into Redis
  at start (jobs removed from it are dropped there too).
- On the embedded broker (``make run``): ``FileScheduler``, Celery's own persistent scheduler
  with its schedule file in ``instance/``; one machine, one beat.
"""

from __future__ import annotations

import time

from celery.beat import PersistentScheduler
from redbeat import RedBeatScheduler
from redbeat.schedulers import get_redis


class RedisScheduler(RedBeatScheduler):
    def tick(self, *args, **kwargs):
        delay = super().tick(*args, **kwargs)
        # Only the lock holder gets here: the other beat waits on the lock in beat_init.
        get_redis(self.app).set(self.app.conf.sheber_beat_tick_key, repr(time.time()))
        return delay


class FileScheduler(PersistentScheduler):
    def tick(self, *args, **kwargs):
        delay = super().tick(*args, **kwargs)
        with open(self.app.conf.sheber_beat_tick_file, "w") as file:
            file.write(repr(time.time()))
        return delay

