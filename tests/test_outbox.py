"""Transactional outbox: events commit with the state change, reach their task's queue right
after the commit, wait out a broker outage, and are consumed once per consumer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace import outbox
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.outbox import OutboxEvent, ProcessedEvent
from tests.factories import make_buyer
from tests.plugins.worker import broker_is_redis, empty_broker
from tests.statements import sent_statements

HAPPENED = "outbox_test.happened"
TASK = "workers.orders.outbox_test_consumer_task"  # routed to the orders queue by name


@pytest.fixture(autouse=True)
def _empty_broker(app):
    empty_broker(app)


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setitem(outbox._handlers, HAPPENED, [TASK])


def queued(app, queue_name: str) -> list[tuple[str, list]]:
    """(task name, args) of each message waiting in ``queue_name``, removing them."""
    celery = app.extensions["celery"]
    found = []
    with celery.connection_for_read() as connection:
        queue = connection.SimpleQueue(queue_name, no_ack=True)
        while True:
            try:
                message = queue.get_nowait()
            except queue.Empty:
                break
            found.append((message.headers["task"], message.payload[0]))
        queue.close()
    return found


def events() -> list[OutboxEvent]:
    """This module's events (``outbox_test.*``): not those a late webhook of an earlier test's
    Stripe emulator may commit meanwhile."""
    db.session.expire_all()
    return db.session.execute(select(OutboxEvent).where(OutboxEvent.type.startswith("outbox_test."))
                              .order_by(OutboxEvent.created_at, OutboxEvent.id)).scalars().all()


def test_an_event_commits_or_rolls_back_with_the_state_change(app, handler):
    buyer = make_buyer()
    buyer.name = "Renamed"
    outbox.emit(HAPPENED, {"user_id": buyer.id})
    db.session.rollback()
    assert events() == []
    assert db.session.get(User, buyer.id).name != "Renamed"

    buyer.name = "Renamed"
    event = outbox.emit(HAPPENED, {"user_id": buyer.id})
    db.session.commit()
    assert [e.id for e in events()] == [event.id]
    assert db.session.get(User, buyer.id).name == "Renamed"


def test_a_committed_event_is_sent_to_its_task_right_after_the_commit(app, handler):
    event = outbox.emit(HAPPENED, {"order_id": "ord_1", "amount": 1250})
    db.session.commit()

    assert queued(app, "orders") == [(TASK, [event.id, {"order_id": "ord_1", "amount": 1250}])]
    [row] = events()
    assert row.published_at is not None and row.attempts == 1 and row.last_error is None


def test_events_emitted_in_a_batch_are_inserted_together_and_sent_after_the_commit(app,
                                                                                    handler):
    with sent_statements() as statements, outbox.batched():
        first = outbox.emit(HAPPENED, {"n": 1})
        second = outbox.emit(HAPPENED, {"n": 2})
        assert statements == []  # nothing inserted until the batch ends
    assert len(statements) == 1
    db.session.commit()

    assert [(task, args[0]) for task, args in queued(app, "orders")] == [
        (TASK, first.id), (TASK, second.id)]
    assert all(row.published_at is not None for row in events())


def test_a_batch_that_raises_inserts_and_sends_none_of_its_events(app, handler):
    with pytest.raises(RuntimeError), outbox.batched():
        outbox.emit(HAPPENED, {"n": 1})
        raise RuntimeError("the step failed")
    db.session.commit()

    assert events() == []
    assert queued(app, "orders") == []


def test_a_broker_outage_leaves_events_pending_and_the_commit_intact(app, handler,
                                                                      dead_broker_app):
    with dead_broker_app.app_context():
        outbox.emit(HAPPENED, {"n": 1})
        outbox.emit(HAPPENED, {"n": 2})
        db.session.commit()  # must not raise: the data is committed, the event waits

    rows = events()
    assert [row.payload["n"] for row in rows] == [1, 2]
    assert all(row.published_at is None for row in rows)
    assert rows[0].attempts == 1 and rows[0].last_error
    assert outbox.pending_count() == 2

    assert outbox.publish_pending() == 2
    assert [args[1]["n"] for _, args in queued(app, "orders")] == [1, 2]
    assert outbox.pending_count() == 0
    assert outbox.publish_pending() == 0
    assert queued(app, "orders") == []


@pytest.fixture
def redis_broker(app):
    if not broker_is_redis(app):
        pytest.skip("the embedded broker sends one message at a time: it has no round trip")


@pytest.mark.redis
def test_on_redis_a_transactions_events_reach_the_broker_in_one_round_trip(app, handler,
                                                                            redis_broker,
                                                                            monkeypatch):
    import redis.client

    round_trips = []
    execute = redis.client.Pipeline.execute

    def counted(pipeline, *args, **kwargs):
        round_trips.append(len(pipeline.command_stack))
        return execute(pipeline, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    sent = [outbox.emit(HAPPENED, {"n": n}).id for n in range(3)]
    db.session.commit()

    assert round_trips == [3]  # three LPUSHes, one pipeline
    assert [args[0] for _, args in queued(app, "orders")] == sent
    assert all(row.published_at is not None for row in events())


@pytest.mark.redis
def test_a_round_trip_that_fails_leaves_all_its_events_pending(app, handler, redis_broker,
                                                               monkeypatch):
    """Redis drops the connection while the pipeline is sent: no event of it is known to have
    left, so none is marked published; the sweep sends them all, once."""
    import redis.client
    import redis.exceptions

    def dropped(pipeline, *args, **kwargs):
        raise redis.exceptions.ConnectionError("Connection closed by server.")

    with monkeypatch.context() as patched:
        patched.setattr(redis.client.Pipeline, "execute", dropped)
        outbox.emit(HAPPENED, {"n": 1})
        outbox.emit(HAPPENED, {"n": 2})
        db.session.commit()  # must not raise: the data is committed, the events wait

    rows = events()
    assert all(row.published_at is None for row in rows)
    assert rows[0].attempts == 1 and "BatchPublishError" in rows[0].last_error
    assert queued(app, "orders") == []
    assert outbox.publish_pending() == 2
    assert [args[1]["n"] for _, args in queued(app, "orders")] == [1, 2]
    assert outbox.pending_count() == 0


def test_the_relay_sends_the_oldest_events_first_up_to_its_limit(app, handler, dead_broker_app):
    with dead_broker_app.app_context():
        for n in range(5):
            outbox.emit(HAPPENED, {"n": n})
            db.session.commit()

    assert outbox.publish_pending(limit=3) == 3
    assert outbox.publish_pending(limit=3) == 2
    assert [args[1]["n"] for _, args in queued(app, "orders")] == [0, 1, 2, 3, 4]


def test_an_event_nobody_handles_is_marked_published(app):
    outbox.emit("outbox_test.unheard", {"x": 1})
    db.session.commit()
    [row] = events()
    assert row.published_at is not None
    assert queued(app, "orders") == [] and queued(app, "celery") == []


def test_a_payload_json_cannot_carry_is_refused_before_anything_is_written(app):
    with pytest.raises(TypeError):
        outbox.emit(HAPPENED, {"when": object()})
    db.session.commit()
    assert events() == []


def test_run_once_runs_a_consumer_once_per_event(app):
    buyer = make_buyer(name="Aigerim")

    def rename():
        db.session.get(User, buyer.id).name += "!"

    assert outbox.run_once("evt_1", "rename", rename) is True
    assert outbox.run_once("evt_1", "rename", rename) is False
    assert outbox.run_once("evt_1", "another-consumer", rename) is True
    assert outbox.run_once("evt_2", "rename", rename) is True
    db.session.expire_all()
    assert db.session.get(User, buyer.id).name == "Aigerim!!!"


def test_a_failed_consumer_leaves_no_trace_and_can_run_again(app):
    buyer = make_buyer(name="Aigerim")

    def rename_then_fail():
        db.session.get(User, buyer.id).name = "Half-done"
        raise ConnectionError("carrier API down")

    with pytest.raises(ConnectionError):
        outbox.run_once("evt_1", "rename", rename_then_fail)
    db.session.expire_all()
    assert db.session.get(User, buyer.id).name == "Aigerim"
    assert db.session.execute(select(func.count()).select_from(ProcessedEvent)).scalar_one() == 0

    assert outbox.run_once("evt_1", "rename", lambda: None) is True
