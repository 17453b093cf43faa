"""Beat's timetable: every entry names a real task, and each job does its work when beat's own
scheduler (celery.beat.Scheduler.tick) finds it due and sends it."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.beat import Scheduler
from sqlalchemy import select

from marketplace import outbox
from marketplace.extensions import db
from marketplace.fx.models import FxRate
from marketplace.ids import utcnow
from marketplace.orders.models import Order
from marketplace.outbox import OutboxEvent
from tests.checkout.helpers import (
    buyer_with_cart,
    do_checkout,
    fixed_rates,  # noqa: F401 (a fixture)
    fresh,
    status_of,
)
from tests.factories import make_product
from tests.plugins.worker import ROOT, empty_broker
from workers import schedule


@pytest.fixture
def celery(app):
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()  # the task modules, as `celery beat` loads them
    return celery


@pytest.fixture
def eager(celery):
    """Tasks that beat sends run here and now, so the test can look at what they did."""
    saved = celery.conf.task_always_eager, celery.conf.task_eager_propagates
    celery.conf.task_always_eager = celery.conf.task_eager_propagates = True
    yield
    celery.conf.task_always_eager, celery.conf.task_eager_propagates = saved


def run_due(celery, *names: str) -> None:
    """Make ``names`` overdue (their interval passed since the last run) and let beat's scheduler
    tick until it has sent each of them once."""
    scheduler = Scheduler(app=celery)
    assert set(names) <= set(scheduler.schedule), sorted(scheduler.schedule)
    for name, entry in scheduler.schedule.items():
        overdue = timedelta(hours=2) if name in names else timedelta(0)
        entry.last_run_at = entry.default_now() - overdue
    for _ in names:
        assert scheduler.tick() == 0  # 0: it sent a due entry and wants to be called again
    assert scheduler.tick() > 0  # nothing else was due


def test_every_entry_names_a_registered_task_on_the_maintenance_queue(celery):
    entries = celery.conf.beat_schedule
    assert {"relay-outbox", "expire-reservations", "refresh-fx-rates"} <= set(entries)
    for name, entry in entries.items():
        assert entry["task"] in celery.tasks, name
        assert celery.amqp.router.route({}, entry["task"])["queue"].name == "maintenance"


def test_intervals_are_five_seconds_a_minute_and_an_hour(celery):
    scheduler = Scheduler(app=celery)
    every = {name: entry.schedule.run_every for name, entry in scheduler.schedule.items()}
    assert every["relay-outbox"] == timedelta(seconds=5)
    assert every["expire-reservations"] == timedelta(minutes=1)
    assert every["refresh-fx-rates"] == timedelta(hours=1)


def test_every_job_is_always_scheduled_and_runs_a_known_task(celery):
    jobs = schedule.beat_schedule()
    assert set(jobs) == {"relay-outbox", "expire-reservations", "refresh-fx-rates",
                         "poll-tracking", "run-payouts", "complete-orders", "resubmit-refunds",
                         "publish-checkpoint", "purge-sessions", "reconcile-payments",
                         "purge-throttle"}
    assert all(job["task"] in celery.tasks for job in jobs.values())


# The relay's job is to put messages on the broker, which eager mode does not change.
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_beat_relays_events_the_after_commit_hook_missed(app, celery, eager, monkeypatch):
    monkeypatch.setitem(outbox._handlers, "sched_test.x",
                        ["workers.orders.sched_test_consumer_task"])
    empty_broker(app)
    missed = OutboxEvent(type="sched_test.x", payload={"n": 1},
                         created_at=utcnow() - timedelta(seconds=30))
    fresh_event = OutboxEvent(type="sched_test.x", payload={"n": 2})  # its own hook's job
    db.session.add_all([missed, fresh_event])
    db.session.commit()  # added without emit(): no after-commit publish

    run_due(celery, "relay-outbox")

    db.session.expire_all()
    assert db.session.get(OutboxEvent, missed.id).published_at is not None
    assert db.session.get(OutboxEvent, fresh_event.id).published_at is None
    with celery.connection_for_read() as connection:
        queue = connection.SimpleQueue("orders", no_ack=True)
        message = queue.get_nowait()
        assert message.headers["task"] == "workers.orders.sched_test_consumer_task"
        assert message.payload[0] == [missed.id, {"n": 1}]
        queue.close()
    empty_broker(app)


def test_beat_purges_the_throttle_counters_nobody_will_read_again(app, celery, eager):
    from marketplace.accounts import throttle
    from marketplace.accounts.models import AuthThrottle

    forgotten = utcnow() - timedelta(seconds=app.config["LOCKOUT_MAX_SECONDS"] * 2 + 60)
    db.session.add_all([
        AuthThrottle(key="a" * 64, failures=9, updated_at=forgotten,
                     locked_until=forgotten + timedelta(hours=1)),
        AuthThrottle(key="b" * 64, failures=9, updated_at=utcnow() - timedelta(minutes=5),
                     locked_until=utcnow() + timedelta(minutes=30)),  # still locked
    ])
    db.session.commit()
    assert schedule.beat_schedule()["purge-throttle"]["schedule"] <= 3600

    run_due(celery, "purge-throttle")

    db.session.expire_all()
    assert [row.key for row in db.session.execute(select(AuthThrottle)).scalars()] == ["b" * 64]
    assert throttle.purge_forgotten() == 0


def test_beat_refreshes_the_fx_rates_hourly(celery, eager):
    assert db.session.execute(select(FxRate)).first() is None
    run_due(celery, "refresh-fx-rates")
    db.session.expire_all()
    shipped = json.loads((ROOT / "data" / "fx_rates.json").read_text())["rates"]
    stored = {row.currency: Decimal(row.rate)
              for row in db.session.execute(select(FxRate)).scalars()}
    assert stored == {code: Decimal(rate) for code, rate in shipped.items()}


def test_beat_expires_lapsed_reservations(client, celery, eager, fixed_rates,  # noqa: F811
                                          stripe_emulator):
    bowl = make_product(stock=3)
    _, headers = buyer_with_cart((bowl, 2))
    order_id = do_checkout(client, headers)["order"]["id"]
    fresh(Order, order_id).reservation_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    run_due(celery, "expire-reservations")

    assert status_of(order_id) == "expired"
    product = fresh(type(bowl), bowl.id)
    assert (product.stock, product.reserved) == (3, 0)
