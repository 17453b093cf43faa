"""The audit trail: every change an operator or an artisan makes to the database through a
request (money, provenance, stock, shipments, FX and the rest) is recorded, in the same
transaction, as one append-only ``audit_event`` row: who (user id and role), when, from where
(client address, user agent, request id), what (method, path, table, row id, insert / update /
delete) and the row's values before and after.

It is recorded where every write passes, the session's flush, so an endpoint added tomorrow is
covered without a line of its own. Bulk ``UPDATE``/``DELETE`` statements are recorded with
their new values and the rows' ids they matched. Infrastructure tables (sessions, tokens, the
outbox, mail) are not audited. Rows are never updated or deleted: the session refuses it, and
PostgreSQL and SQLite triggers refuse it too.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from flask import has_request_context, request
from sqlalchemy import JSON, String, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace import logs
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow

AUDITED_ROLES = frozenset({"operator", "artisan"})
NOT_AUDITED = frozenset({
    "audit_event", "web_session", "api_token", "auth_throttle", "recovery_code", "outbox_event",
    "processed_event", "sent_mail", "stripe_event", "search_term", "cart", "cart_item",
})
_SECRET_COLUMNS = frozenset({"password_hash", "totp_secret", "token_hash", "key_hash",
                             "code_hash", "private_key", "secret"})


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[str | None] = mapped_column(String(26), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(128))
    method: Mapped[str | None] = mapped_column(String(10))
    path: Mapped[str | None] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(16))  # insert, update, delete
    entity: Mapped[str] = mapped_column(String(64), index=True)  # the table
    entity_id: Mapped[str | None] = mapped_column(String(200), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class AuditTrailIsAppendOnly(RuntimeError):
    pass


def _json(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return _json(value.value)
    if isinstance(value, dict):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json(item) for item in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def _actor():
    """The request's user when an operator or artisan acts, else None (nothing recorded)."""
    if not has_request_context():
        return None
    user = request.environ.get("sheber.user")
    if user is None or getattr(user, "role", None) not in AUDITED_ROLES:
        return None
    return user


def _where() -> dict:
    return {"ip": request.remote_addr, "user_agent": (request.user_agent.string or "")[:200]
            or None, "request_id": logs.current().get("request_id"),
            "method": request.method, "path": request.full_path.rstrip("?")[:500]}


def _row_id(obj) -> str | None:
    identity = inspect(obj).identity or tuple(
        getattr(obj, column.key, None) for column in inspect(obj).mapper.primary_key)
    return ",".join(str(part) for part in identity) if identity else None


def _columns(obj) -> dict:
    mapper = inspect(obj).mapper
    return {attr.key: _json(getattr(obj, attr.key)) for attr in mapper.column_attrs
            if attr.key not in _SECRET_COLUMNS}


def _changes(obj) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes() or attr.key in _SECRET_COLUMNS:
            continue
        before[attr.key] = _json(history.deleted[0]) if history.deleted else None
        after[attr.key] = _json(history.added[0]) if history.added else None
    return before, after


def _audited(obj) -> bool:
    table = getattr(type(obj), "__tablename__", None)
    return table is not None and table not in NOT_AUDITED


def _before_flush(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise AuditTrailIsAppendOnly("audit events are never changed or deleted")
    actor = _actor()
    if actor is None:
        return
    where = _where()
    rows = []
    for obj in session.new:
        if _audited(obj):
            rows.append(("insert", obj, None, None))
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after and set(after) != {"updated_at"}:
                rows.append(("update", obj, before, after))
    for obj in session.deleted:
        if _audited(obj):
            rows.append(("delete", obj, _columns(obj), None))
    for action, obj, before, after in rows:
        session.info.setdefault("audit_pending", []).append((action, obj))
        if action != "insert":
            session.add(AuditEvent(actor_id=actor.id, actor_role=actor.role, action=action,
                                   entity=obj.__tablename__, entity_id=_row_id(obj),
                                   before=before, after=after, **where))


def _after_flush(session: Session, _context) -> None:
    # inserts are recorded once flushed, when their ids and defaults are known
    pending = session.info.pop("audit_pending", [])
    actor = _actor()
    if actor is None or not pending:
        return
    where = _where()
    for action, obj in pending:
        if action == "insert":
            session.add(AuditEvent(actor_id=actor.id, actor_role=actor.role, action="insert",
                                   entity=obj.__tablename__, entity_id=_row_id(obj),
                                   before=None, after=_columns(obj), **where))


def _bulk_statement(orm_execute_state) -> None:
    """``session.execute(update(...)/delete(...))``: recorded with the values and the ids."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    actor = _actor()
    if actor is None:
        return
    statement = orm_execute_state.statement
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name is None or name in NOT_AUDITED:
        return
    values = {}
    if orm_execute_state.is_update:
        values = {getattr(key, "key", str(key)): _json(getattr(value, "value", str(value)))
                  for key, value in (getattr(statement, "_values", None) or {}).items()}
        if set(values) <= {"updated_at", "id"}:
            return  # a lock_rows no-op
    session = orm_execute_state.session
    session.add(AuditEvent(actor_id=actor.id, actor_role=actor.role,
                           action="update" if orm_execute_state.is_update else "delete",
                           entity=name, entity_id=None,
                           before={"where": str(statement.whereclause)[:1000]}
                           if statement.whereclause is not None else None,
                           after=values or None, **_where()))


def init_app(app) -> None:
    if getattr(init_app, "_installed", False):
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush_postexec", _after_flush)
    event.listen(Session, "do_orm_execute", _bulk_statement)
    init_app._installed = True


def search(*, actor_id: str | None = None, entity: str | None = None,
           entity_id: str | None = None, action: str | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 50,
           cursor: str | None = None) -> tuple[list[AuditEvent], str | None]:
    """Newest first, filtered; keyset-paged by (at, id)."""
    from sqlalchemy import and_, or_, select

    from marketplace.errors import RequestError, ValidationFailed
    from marketplace.http import decode_cursor, encode_cursor

    query = select(AuditEvent)
    for column, value in ((AuditEvent.actor_id, actor_id), (AuditEvent.entity, entity),
                          (AuditEvent.entity_id, entity_id), (AuditEvent.action, action)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if cursor:
        values = decode_cursor(cursor)
        try:
            at, last_id = datetime.fromisoformat(values[0]), str(values[1])
        except (IndexError, TypeError, ValueError):
            raise ValidationFailed("The cursor is not valid.", errors={"cursor": ["invalid"]},
                                   code=RequestError.INVALID_CURSOR) from None
        query = query.where(or_(AuditEvent.at < at, and_(AuditEvent.at == at,
                                                          AuditEvent.id < last_id)))
    rows = db.session.execute(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                              .limit(limit + 1)).scalars().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].at.isoformat(), rows[-1].id])
    return list(rows), next_cursor
