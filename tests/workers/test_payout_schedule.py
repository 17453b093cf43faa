"""The daily payout run, from beat's own schedule code (not a hand call)."""

from __future__ import annotations

from datetime import timedelta

from celery.beat import Scheduler

from marketplace.extensions import db
from marketplace.payouts import service
from marketplace.payouts.models import Payout, PayoutBatch
from tests.payouts.helpers import artisan_with_account, deliver, paid_order, piece
from tests.workers.test_schedule import celery, eager  # noqa: F401 (fixtures)


def run_payouts_when_due(celery) -> None:  # noqa: F811
    """Make the daily entry a day overdue and let beat's scheduler send it (and nothing else)."""
    scheduler = Scheduler(app=celery)
    for name, entry in scheduler.schedule.items():
        overdue = timedelta(days=1, hours=1) if name == "run-payouts" else timedelta(0)
        entry.last_run_at = entry.default_now() - overdue
    assert scheduler.tick() == 0  # it sent the due entry
    assert scheduler.tick() > 0  # nothing else was due


def test_payouts_run_daily_on_the_maintenance_queue(celery):  # noqa: F811
    scheduler = Scheduler(app=celery)
    assert scheduler.schedule["run-payouts"].schedule.run_every == timedelta(days=1)
    task = celery.conf.beat_schedule["run-payouts"]["task"]
    assert celery.amqp.router.route({}, task)["queue"].name == "maintenance"


def test_beat_pays_the_balances_due_and_the_next_day_pays_nothing_twice(celery, eager):  # noqa: F811
    artisan = artisan_with_account()
    order = paid_order((piece(artisan, 1_500_000), 2, 2_700))
    service.record_order(order.id)
    deliver(order, days_ago=15)

    run_payouts_when_due(celery)
    run_payouts_when_due(celery)

    db.session.expire_all()
    [batch] = db.session.execute(db.select(PayoutBatch)).scalars().all()
    [payout] = db.session.execute(db.select(Payout)).scalars().all()
    assert (payout.batch_id, payout.amount) == (batch.id, 2_640_000)
    assert {f.name for f in batch.files} == {"transfers.csv", "pain.001.xml"}
