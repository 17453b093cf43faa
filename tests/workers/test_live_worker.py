"""A real ``celery -A workers worker`` consumes outbox events: exactly once, through broker
outages and killed processes. The consumer here is the mail pipeline (event ``mail.requested`` ->
``send_mail_task`` -> a real SMTP server), so "applied twice" would be a second mail."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from marketplace import mail
from marketplace.extensions import db
from marketplace.mail import SentMail
from marketplace.outbox import OutboxEvent, publish_pending
from tests.plugins.worker import broker_is_redis

pytestmark = pytest.mark.integration


def queue_mail(subject: str) -> str:
    event_id = mail.queue_mail(to="buyer@example.test", subject=subject, text=f"About {subject}")
    db.session.commit()
    return event_id


def deliver_again(app, event_id: str) -> None:
    """What a relay race or a redelivery does: the same event reaches the consumer again."""
    event = db.session.get(OutboxEvent, event_id)
    app.extensions["celery"].send_task("workers.mail.send_mail_task",
                                       args=[event.id, event.payload])
    time.sleep(0.01)  # the embedded broker orders messages by millisecond


def subjects(messages) -> list[str]:
    return [message["Subject"] for message in messages]


def outbox_rows() -> list[OutboxEvent]:
    db.session.expire_all()
    return db.session.execute(select(OutboxEvent)).scalars().all()


def test_a_committed_event_is_consumed_exactly_once_by_a_real_worker(app, smtp_server,
                                                                      live_worker):
    event_id = queue_mail("Order confirmed")
    [message] = smtp_server.wait_for(1)
    assert message["Message-ID"] == mail.message_id_for(event_id, app.config["MAIL_SENDER"])

    deliver_again(app, event_id)
    queue_mail("Barrier")  # one worker process, one queue: it runs after the duplicate
    assert subjects(smtp_server.wait_for(2)) == ["Order confirmed", "Barrier"]
    assert smtp_server.rcpt_count == 2

    db.session.expire_all()
    row = db.session.get(SentMail, event_id)
    assert row.sent_at is not None and row.attempts == 1
    assert all(event.published_at is not None for event in outbox_rows())


def test_events_wait_out_a_broker_outage_then_beat_delivers_each_once(app, smtp_server,
                                                                     start_worker,
                                                                     dead_broker_app):
    start_worker(beat=True)
    with dead_broker_app.app_context():
        ids = [queue_mail(f"Order {n} paid") for n in range(5)]

    rows = outbox_rows()
    assert len(rows) == 5
    assert all(row.published_at is None and row.attempts == 1 for row in rows)
    assert smtp_server.messages == []

    # The broker is reachable again for the worker's beat: its relay sweep publishes them.
    delivered = smtp_server.wait_for(5, timeout=60)
    assert sorted(subjects(delivered)) == [f"Order {n} paid" for n in range(5)]
    assert all(row.published_at is not None for row in outbox_rows())
    assert publish_pending() == 0

    for event_id in ids:
        deliver_again(app, event_id)
    queue_mail("Barrier")
    assert subjects(smtp_server.wait_for(6))[5:] == ["Barrier"]
    assert len(smtp_server.messages) == 6


def test_a_pool_process_killed_mid_task_is_redelivered_and_mails_once(app, smtp_server,
                                                                      live_worker):
    smtp_server.stall_next_rcpt(60)
    event_id = queue_mail("Pack two bowls")
    assert smtp_server.rcpt_started.wait(30), live_worker.log()
    live_worker.kill_pool_process()

    [message] = smtp_server.wait_for(1, timeout=60)
    assert message["Message-ID"] == mail.message_id_for(event_id, app.config["MAIL_SENDER"])
    assert smtp_server.rcpt_count == 2  # the task really started twice
    queue_mail("Barrier")
    assert subjects(smtp_server.wait_for(2)) == ["Pack two bowls", "Barrier"]


@pytest.mark.redis
def test_a_worker_killed_outright_is_redelivered_after_the_visibility_timeout(app, smtp_server,
                                                                              start_worker):
    if not broker_is_redis(app):
        pytest.skip("the embedded broker drops a message whose whole worker is SIGKILLed; "
                    "Redis keeps it unacknowledged and redelivers it")
    worker = start_worker(CELERY_VISIBILITY_TIMEOUT=3)
    smtp_server.stall_next_rcpt(120)
    event_id = queue_mail("Ship to Berlin")
    assert smtp_server.rcpt_started.wait(30), worker.log()
    worker.kill()

    replacement = start_worker(CELERY_VISIBILITY_TIMEOUT=3)
    [message] = smtp_server.wait_for(1, timeout=90)
    assert message["Message-ID"] == mail.message_id_for(event_id, app.config["MAIL_SENDER"])
    assert smtp_server.rcpt_count == 2
    queue_mail("Barrier")
    assert subjects(smtp_server.wait_for(2)) == ["Ship to Berlin", "Barrier"], replacement.log()
