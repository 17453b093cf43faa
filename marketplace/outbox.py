"""Transactional outbox: an event is written in the same transaction as the state change it
follows, then a relay hands it to Celery and marks it published.

A service calls ``emit(type, payload)`` before it commits. Right after the commit the relay tries
to publish that transaction's events; if the broker is down they stay pending and the beat sweep
(``publish_pending``, every few seconds) delivers them later. Delivery is at least once, so every
consumer is keyed by the event id (``run_once``).

Consumers are Celery tasks called as ``task(event_id, payload)``; ``register_handler`` maps an
event type to task names (see ``workers/handlers.py``). This module never imports the tasks: it
sends them by name.

A consequence that must commit or roll back with the change itself (a product's materials change,
so its provenance label is no longer true) is a *reaction*: ``register_reaction`` maps an event
type to a function that ``emit`` calls with the payload, in the emitting transaction. Reactions
are how a lower domain's change reaches a higher one without importing it; they never call out
of the process (that is a task's job).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

import kombu.exceptions
from flask import current_app, has_app_context
from sqlalchemy import (
    JSON,
    Index,
    String,
    Text,
    bindparam,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace import logs
from marketplace.extensions import conflict_insert, db
from marketplace.ids import new_id, utcnow
from marketplace.transaction import use_case

log = logging.getLogger(__name__)

_UNPUBLISHED_KEY = "outbox_unpublished_ids"
_BATCH_KEY = "outbox_batch"  # the rows ``batched`` inserts together
_handlers: dict[str, list[str]] = {}
_reactions: dict[str, list[Callable[[dict], object]]] = {}

# What a broker outage looks like from the publishing side (with the transport's own connection
# errors: Redis refused, AMQP gone, the embedded broker's folder unusable). Anything else is a
# bug and must not be hidden.
BROKER_ERRORS = (kombu.exceptions.OperationalError, kombu.exceptions.ChannelError, OSError)


class OutboxEvent(db.Model):
    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "published_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedEvent(db.Model):
    """One row per (event, consumer) that has run to completion."""

    __tablename__ = "processed_event"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # any id, not only ours
    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


# the table, not the entity, in these statements built once: no ORM bookkeeping
_INSERT_EVENT = insert(OutboxEvent.__table__)
# ``_publish_claimed``'s claim: marks the events published (and locks them) and returns them
_CLAIM_EVENTS = (
    update(OutboxEvent.__table__)
    .where(OutboxEvent.__table__.c.id.in_(bindparam("ids", expanding=True)),
           OutboxEvent.__table__.c.published_at.is_(None))
    .values(published_at=bindparam("now"), attempts=OutboxEvent.__table__.c.attempts + 1,
            last_error=None)
    .returning(OutboxEvent.__table__.c.id, OutboxEvent.__table__.c.type,
               OutboxEvent.__table__.c.payload))

# ``_claim_marker``'s statement, the same on PostgreSQL and SQLite (3.35+)
_CLAIM_MARKER = text(
    "INSERT INTO processed_event (event_id, consumer, processed_at) "
    "VALUES (:event_id, :consumer, :processed_at) "
    "ON CONFLICT (event_id, consumer) DO NOTHING RETURNING event_id"
).bindparams(bindparam("processed_at", type_=ProcessedEvent.__table__.c.processed_at.type))


def register_handler(event_type: str, task_name: str) -> None:
    """Deliver events of ``event_type`` to the Celery task ``task_name(event_id, payload)``."""
    names = _handlers.setdefault(event_type, [])
    if task_name not in names:
        names.append(task_name)


def handlers_for(event_type: str) -> tuple[str, ...]:
    return tuple(_handlers.get(event_type, ()))


def register_reaction(event_type: str, reaction: Callable[[dict], object]) -> None:
    """Call ``reaction(payload)`` inside every transaction that emits ``event_type``."""
    reactions = _reactions.setdefault(event_type, [])
    if reaction not in reactions:
        reactions.append(reaction)


def reactions_for(event_type: str) -> tuple[Callable[[dict], object], ...]:
    return tuple(_reactions.get(event_type, ()))


def emit(event_type: str, payload: dict, *, session: Session | None = None) -> OutboxEvent:
    """Add an event to the caller's session; it is committed (or rolled back) with the caller's
    transaction and published right after the commit. The ids of the request, user and order
    being handled ride along under ``payload["_trace"]``."""
    json.dumps(payload)  # fail in the caller, not in the relay, on a payload JSON cannot carry
    session = session or db.session()
    trace = logs.trace()  # the consuming task logs under the same request id
    stored = {**payload, logs.TRACE_KEY: trace} if trace else payload
    event_id = new_id()
    # The row is inserted now, as a plain INSERT of the table (an append-only row the session
    # never changes again, and not audited): adding it to the session cost its unit of work
    # about five times the statement itself. The entity returned is not in the session.
    row = {"id": event_id, "type": event_type, "payload": stored, "created_at": utcnow(),
           "attempts": 0}
    batch = session.info.get(_BATCH_KEY)
    if batch is None:
        session.execute(_INSERT_EVENT, row)
    else:
        batch.append(row)
    outbox_event = OutboxEvent(id=event_id, type=event_type, payload=stored)
    session.info.setdefault(_UNPUBLISHED_KEY, []).append(event_id)
    for reaction in reactions_for(event_type):
        reaction(payload)
    return outbox_event


@contextmanager
def batched(session: Session | None = None) -> Iterator[None]:
    """The events emitted in this block are inserted together, in one statement, when it ends
    (a step that queues a mail per artisan); not before, so nothing inside reads them. If the
    block raises, none is inserted or published."""
    session = session or db.session()
    if _BATCH_KEY in session.info:  # inside another batch: that one inserts them
        yield
        return
    rows: list[dict] = []
    session.info[_BATCH_KEY] = rows
    try:
        yield
    except BaseException:
        unpublished = session.info.get(_UNPUBLISHED_KEY)
        if unpublished:
            dropped = {row["id"] for row in rows}
            unpublished[:] = [event_id for event_id in unpublished if event_id not in dropped]
        raise
    finally:
        del session.info[_BATCH_KEY]
    if rows:
        session.execute(_INSERT_EVENT, rows)


def publish_pending(limit: int = 100, *, ids: Sequence[str] | None = None,
                    older_than: timedelta | None = None) -> int:
    """Send pending events (oldest first) to their tasks and mark them published.

    Returns how many were published. Stops at the first broker error, leaving that event and the
    rest pending with ``attempts`` and ``last_error`` updated. An event type without handlers is
    marked published: it had nobody to reach.
    """
    celery = current_app.extensions["celery"]
    if ids is not None and older_than is None:
        return _publish_claimed(celery, ids)
    # Its own session: this also runs from after_commit, where the caller's session cannot
    # emit SQL. SKIP LOCKED (PostgreSQL) keeps two relays from sending the same event.
    with Session(db.engine) as session:
        query = (select(OutboxEvent).where(OutboxEvent.published_at.is_(None))
                 .order_by(OutboxEvent.created_at, OutboxEvent.id).limit(limit)
                 .with_for_update(skip_locked=True))
        if ids is not None:
            query = query.where(OutboxEvent.id.in_(ids))
        if older_than is not None:
            query = query.where(OutboxEvent.created_at <= utcnow() - older_than)
        events = session.scalars(query).all()
        sent, failure = _send_events(celery, [(event.id, event.type, event.payload)
                                              for event in events])
        now, published = utcnow(), set(sent)
        for outbox_event in events:
            if outbox_event.id in published:
                outbox_event.attempts += 1
                outbox_event.published_at, outbox_event.last_error = now, None
            elif failure is not None and outbox_event.id == failure[0]:
                outbox_event.attempts += 1
                outbox_event.last_error = _error_text(failure[1])
        session.commit()
    return len(sent)


def _publish_claimed(celery, ids: Sequence[str]) -> int:
    """The after-commit path: one UPDATE ... RETURNING claims the transaction's events (marks
    them published and locks them until this commits), then they are sent. Two round trips
    fewer than selecting, locking and updating them one by one; a broker error rolls the claim
    back and records the attempt as the sweep's path does."""
    # a connection of its own, without a Session: nothing here is an entity
    with db.engine.connect() as database:
        now = utcnow()
        claimed = database.execute(_CLAIM_EVENTS, {"ids": list(ids), "now": now}).all()
        order = {event_id: position for position, event_id in enumerate(ids)}
        claimed.sort(key=lambda row: order[row.id])
        if not claimed:
            database.commit()
            return 0
        sent, failure = _send_events(celery, [(row.id, row.type, row.payload)
                                              for row in claimed])
        if failure is None:
            database.commit()
            return len(sent)
        database.rollback()
        failed_id, exc = failure
        table = OutboxEvent.__table__
        if sent:
            database.execute(update(table).where(table.c.id.in_(sent))
                             .values(published_at=now, attempts=table.c.attempts + 1,
                                     last_error=None))
        database.execute(update(table).where(table.c.id == failed_id)
                         .values(attempts=table.c.attempts + 1,
                                 last_error=_error_text(exc)))
        database.commit()
        return len(sent)


def _send_event(celery, producer, event_id: str, event_type: str, payload: dict) -> None:
    """One message per handler of the event, no retry (the sweep retries). What logs and
    monitors show of its arguments is the event's id and type: Celery would otherwise write
    the payload's repr (a mail's whole text, up to 1 KB of it) into every message's headers."""
    for task_name in handlers_for(event_type):
        celery.send_task(task_name, args=[event_id, payload], producer=producer, retry=False,
                         argsrepr=f"({event_id!r}, <{event_type}>)", kwargsrepr="{}")


def _send_events(celery, events: Sequence[tuple[str, str, dict]]
                 ) -> tuple[list[str], tuple[str, Exception] | None]:
    """Send each (id, type, payload), in order: on Redis in one pipelined round trip (kombu's
    publish batch), elsewhere one message at a time. Returns the ids sent and, on a broker
    error, the (id, error) of the event it stopped at; the events after it were not tried. A
    batch whose round trip fails has delivered none of them for certain: none counts as sent,
    and consumers run once per event (``run_once``) when the sweep sends them again."""
    if not events:
        return [], None
    sent: list[str] = []
    with celery.producer_or_acquire() as producer:
        connection = producer.connection
        broker_errors = (*BROKER_ERRORS, *connection.connection_errors,
                         *connection.channel_errors)
        try:
            # One attempt, no reconnect loop: this may run inside a web request, and the
            # sweep retries anyway.
            connection.ensure_connection(max_retries=0)
            with producer.batch():
                for event_id, event_type, payload in events:
                    _send_event(celery, producer, event_id, event_type, payload)
                    sent.append(event_id)
        except (kombu.exceptions.BatchPublishError, *broker_errors) as exc:
            if sent and (isinstance(exc, kombu.exceptions.BatchPublishError)
                         or producer.supports_batch_publish):
                sent = []  # the batch's messages are not known to have left
            failure = (events[len(sent)][0], exc)  # the first event not sent
        else:
            return sent, None
    log.warning("outbox: broker unavailable, %s and the events after it stay pending: %s",
                *failure)
    return sent, failure


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def pending_count() -> int:
    return db.session.execute(select(func.count()).select_from(OutboxEvent)
                              .where(OutboxEvent.published_at.is_(None))).scalar_one()


def run_once(event_id: str, consumer: str, work: Callable[[], object]) -> bool:
    """Run ``work`` for this event unless ``consumer`` already completed it; False if skipped.

    The marker is flushed before ``work`` and committed with it, so the work and the marker
    commit together (if ``work`` commits, the marker goes in that same commit) and a failure
    rolls both back for a retry. A concurrent duplicate waits on the marker's key and skips.
    """
    session = db.session
    if not _claim_marker(session, event_id, consumer):
        return False
    try:
        # The work's own use cases join this transaction: the marker and the work commit once.
        use_case(work)()
    except IntegrityError:
        session.rollback()
        if session.get(ProcessedEvent, (event_id, consumer)) is not None:
            return False
        raise
    except BaseException:
        session.rollback()
        raise
    return True


def _claim_marker(session, event_id: str, consumer: str) -> bool:
    """Write the marker unless it is there: one ``INSERT ... ON CONFLICT DO NOTHING`` where the
    database knows it (a concurrent duplicate waits on the key, then finds it), else a read
    and an insert. False if the consumer has already run (or is running) for this event."""
    if conflict_insert(session.get_bind().dialect.name) is not None:
        # As text: SQLAlchemy compiles a dialect's ``insert(...).on_conflict_do_nothing()``
        # again for every execution (it has no cache key), once per consumer task.
        return session.execute(_CLAIM_MARKER, {
            "event_id": event_id, "consumer": consumer, "processed_at": utcnow()}
        ).first() is not None
    if session.get(ProcessedEvent, (event_id, consumer)) is not None:
        return False
    session.add(ProcessedEvent(event_id=event_id, consumer=consumer))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    return True


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    ids = session.info.pop(_UNPUBLISHED_KEY, None)
    if not ids or not has_app_context() or "celery" not in current_app.extensions:
        return
    try:
        publish_pending(limit=len(ids), ids=ids)
    except Exception:  # noqa: BLE001 - the caller's data is committed; the beat sweep retries
        log.exception("outbox: publishing after commit failed; the sweep will retry %s", ids)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_UNPUBLISHED_KEY, None)
