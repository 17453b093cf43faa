"""Server-side browser sessions: the cookie carries only a random key; what the session holds
(who is signed in, the CSRF token, the language) lives in Redis when ``REDIS_URL`` is set, else
in the ``web_session`` table. Deleting the record ends the session, wherever its cookie was
copied to.

A session lives ``SESSION_IDLE_MINUTES`` after its last request and never longer than
``SESSION_ABSOLUTE_HOURS`` after it was created. It gets a new key when its user signs in or
out (no fixation), and ends for every device on a password change or "sign out everywhere"
(``end_user_sessions``). A visitor whose session holds nothing gets no record and no cookie.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask, current_app, has_request_context, request, session
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, insert, select, update
from werkzeug.datastructures import CallbackDict

from marketplace.accounts.models import WebSession
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.transaction import use_case

KEY_BYTES = 32
_KEY_LENGTH = 43  # token_urlsafe(32)
TOUCH_EVERY = timedelta(seconds=60)  # last-seen is written at most this often


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Record:
    """What the store keeps about one session besides its data."""

    id: str
    user_id: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    data: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({
            "id": self.id, "user_id": self.user_id, "created_at": self.created_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "expires_at": self.expires_at.isoformat(), "ip": self.ip,
            "user_agent": self.user_agent, "data": self.data,
        })

    @classmethod
    def from_json(cls, raw: bytes | str) -> Record:
        value = json.loads(raw)
        return cls(id=value["id"], user_id=value["user_id"],
                   created_at=datetime.fromisoformat(value["created_at"]),
                   last_seen_at=datetime.fromisoformat(value["last_seen_at"]),
                   expires_at=datetime.fromisoformat(value["expires_at"]), ip=value["ip"],
                   user_agent=value["user_agent"], data=value["data"])


class ServerSession(CallbackDict, SessionMixin):
    """The request's session: a dict that notes changes, plus what to do with its record."""

    def __init__(self, initial: dict | None = None, key: str | None = None,
                 record: Record | None = None):
        def on_update(_self):
            _self.modified = True

        super().__init__(initial or {}, on_update)
        self.key = key
        self.record = record
        self.modified = False
        self.rotate_requested = False
        self.ended = False

    def rotate(self) -> None:
        """Keep the data under a new key; the old key stops working."""
        self.rotate_requested = True
        self.modified = True

    def end(self) -> None:
        """Forget the data and delete the record; the cookie is removed."""
        self.clear()
        self.ended = True


# --- stores -------------------------------------------------------------------------------

class DatabaseStore:
    """The ``web_session`` table, through the request's own database session: writes join the
    caller's transaction (a password change ends sessions in the same commit); the session
    interface commits its own."""

    @staticmethod
    def _record(row: WebSession) -> Record:
        return Record(id=row.id, user_id=row.user_id, created_at=row.created_at,
                      last_seen_at=row.last_seen_at, expires_at=row.expires_at, ip=row.ip,
                      user_agent=row.user_agent, data=dict(row.data or {}))

    def load(self, key_hash: str) -> Record | None:
        row = db.session.execute(
            select(WebSession).where(WebSession.key_hash == key_hash)).scalar_one_or_none()
        return None if row is None else self._record(row)

    def save(self, key_hash: str, record: Record, *, new: bool) -> None:
        values = {"user_id": record.user_id, "data": record.data,
                  "last_seen_at": record.last_seen_at}
        if new:
            db.session.execute(insert(WebSession).values(
                id=record.id, key_hash=key_hash, created_at=record.created_at,
                expires_at=record.expires_at, ip=record.ip, user_agent=record.user_agent,
                **values))
        else:
            db.session.execute(update(WebSession).where(WebSession.key_hash == key_hash)
                               .values(**values).execution_options(synchronize_session=False))

    def touch(self, key_hash: str, record: Record) -> None:
        db.session.execute(update(WebSession).where(WebSession.key_hash == key_hash)
                           .values(last_seen_at=record.last_seen_at)
                           .execution_options(synchronize_session=False))

    def delete(self, key_hash: str, record: Record | None = None) -> None:
        db.session.execute(delete(WebSession).where(WebSession.key_hash == key_hash)
                           .execution_options(synchronize_session=False))

    def for_user(self, user_id: str) -> list[tuple[str, Record]]:
        rows = db.session.execute(select(WebSession).where(WebSession.user_id == user_id)
                                  .order_by(WebSession.created_at)).scalars().all()
        return [(row.key_hash, self._record(row)) for row in rows]

    def purge_expired(self, now: datetime, idle: timedelta) -> int:
        return db.session.execute(delete(WebSession).where(
            (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - idle)
        ).execution_options(synchronize_session=False)).rowcount


class RedisStore:
    """One key per session expiring with it, and a set per user naming their sessions."""

    def __init__(self, url: str, prefix: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5)
        self.prefix = prefix

    def _key(self, key_hash: str) -> str:
        return f"{self.prefix}session:{key_hash}"

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}user-sessions:{user_id}"

    def load(self, key_hash: str) -> Record | None:
        raw = self.redis.get(self._key(key_hash))
        return Record.from_json(raw) if raw else None

    def _ttl(self, record: Record) -> int:
        idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
        left = (record.expires_at - utcnow()).total_seconds()
        return max(1, int(min(idle, left)))

    def save(self, key_hash: str, record: Record, *, new: bool) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._key(key_hash), record.to_json(), ex=self._ttl(record))
        if record.user_id:
            pipe.sadd(self._user_key(record.user_id), key_hash)
            pipe.expire(self._user_key(record.user_id),
                        current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600)
        pipe.execute()

    def touch(self, key_hash: str, record: Record) -> None:
        self.save(key_hash, record, new=False)

    def delete(self, key_hash: str, record: Record | None = None) -> None:
        pipe = self.redis.pipeline()
        pipe.delete(self._key(key_hash))
        if record is not None and record.user_id:
            pipe.srem(self._user_key(record.user_id), key_hash)
        pipe.execute()

    def for_user(self, user_id: str) -> list[tuple[str, Record]]:
        found = []
        for member in self.redis.smembers(self._user_key(user_id)):
            key_hash = member.decode()
            record = self.load(key_hash)
            if record is None or record.user_id != user_id:
                self.redis.srem(self._user_key(user_id), key_hash)
            else:
                found.append((key_hash, record))
        return sorted(found, key=lambda item: item[1].created_at)

    def purge_expired(self, now: datetime, idle: timedelta) -> int:
        return 0  # Redis expires each key itself


def store():
    app = current_app._get_current_object()
    if "sheber.session_store" not in app.extensions:
        url = app.config.get("REDIS_URL")
        app.extensions["sheber.session_store"] = (
            RedisStore(url, app.config.get("SESSION_KEY_PREFIX") or "sheber:")
            if url else DatabaseStore())
    return app.extensions["sheber.session_store"]


# --- the interface Flask calls ------------------------------------------------------------

def _lifetimes(app: Flask) -> tuple[timedelta, timedelta]:
    return (timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]),
            timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"]))


def _alive(record: Record, now: datetime, idle: timedelta) -> bool:
    return record.expires_at > now and record.last_seen_at + idle > now


def _commit() -> None:
    if isinstance(store(), DatabaseStore):
        db.session.commit()


class ServerSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request) -> ServerSession:
        key = request.cookies.get(self.get_cookie_name(app))
        if not key or len(key) != _KEY_LENGTH or not key.replace("-", "").replace(
                "_", "").isalnum() or not key.isascii():
            return ServerSession()
        key_hash = _digest(key)
        record = store().load(key_hash)
        if record is None:
            return ServerSession()
        idle, _absolute = _lifetimes(app)
        if not _alive(record, utcnow(), idle):
            store().delete(key_hash, record)
            _commit()
            return ServerSession()
        return ServerSession(record.data, key=key, record=record)

    def save_session(self, app: Flask, session: ServerSession, response) -> None:
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        old_hash = _digest(session.key) if session.key else None

        if session.ended or (not session and session.key):
            if old_hash:
                store().delete(old_hash, session.record)
                _commit()
            if session.key or request.cookies.get(name):
                response.delete_cookie(name, domain=domain, path=path,
                                       secure=self.get_cookie_secure(app),
                                       httponly=self.get_cookie_httponly(app),
                                       samesite=self.get_cookie_samesite(app))
            return
        if not session:
            return  # nothing to keep: no record, no cookie

        now = utcnow()
        idle, absolute = _lifetimes(app)
        data = dict(session)
        user_id = data.get("user_id")
        record = session.record
        new = record is None or session.rotate_requested
        if new:
            if old_hash:
                store().delete(old_hash, record)
            key = secrets.token_urlsafe(KEY_BYTES)
            record = Record(id=new_id(), user_id=user_id, created_at=now, last_seen_at=now,
                            expires_at=now + absolute, ip=request.remote_addr,
                            user_agent=(request.user_agent.string or "")[:200] or None,
                            data=data)
            store().save(_digest(key), record, new=True)
            session.key, session.record = key, record
            response.set_cookie(name, key, expires=record.expires_at, domain=domain, path=path,
                                secure=self.get_cookie_secure(app),
                                httponly=self.get_cookie_httponly(app),
                                samesite=self.get_cookie_samesite(app))
        elif session.modified:
            record.data, record.user_id, record.last_seen_at = data, user_id, now
            store().save(old_hash, record, new=False)
        elif now - record.last_seen_at >= TOUCH_EVERY:
            record.last_seen_at = now
            store().touch(old_hash, record)
        _commit()
        response.vary.add("Cookie")


def init_app(app: Flask) -> None:
    app.session_interface = ServerSessionInterface()


# --- what accounts and pages call ---------------------------------------------------------

def rotate_current() -> None:
    """Give the current session a new key (at sign-in and sign-out)."""
    if has_request_context() and isinstance(session._get_current_object(), ServerSession):
        session.rotate()


def current_session_id() -> str | None:
    if not has_request_context():
        return None
    current = session._get_current_object()
    record = getattr(current, "record", None)
    return record.id if record is not None else None


def user_sessions(user_id: str) -> list[Record]:
    """The user's live sessions, oldest first."""
    now = utcnow()
    idle, _ = _lifetimes(current_app)
    return [record for _hash, record in store().for_user(user_id)
            if _alive(record, now, idle)]


@use_case
def end_session(user_id: str, session_id: str) -> bool:
    """End one of the user's sessions by its public id; False when there is none."""
    for key_hash, record in store().for_user(user_id):
        if record.id == session_id:
            store().delete(key_hash, record)
            if current_session_id() == session_id:
                session.end()
            return True
    return False


@use_case
def end_all_sessions(user_id: str, *, keep_current: bool = False) -> int:
    """End every session of the user (in Redis and in the table alike); the current request's
    own session too, unless ``keep_current``. Returns how many ended."""
    current = current_session_id()
    ended = 0
    stores = [store()]
    if not isinstance(stores[0], DatabaseStore):
        stores.append(DatabaseStore())  # rows left from before Redis was configured
    for each in stores:
        for key_hash, record in each.for_user(user_id):
            if keep_current and record.id == current:
                continue
            each.delete(key_hash, record)
            ended += 1
    if not keep_current and current is not None and session.get("user_id") == user_id:
        session.end()
    return ended


@use_case
def purge_expired() -> int:
    """Delete the table's sessions past either lifetime (Redis expires its own)."""
    idle, _ = _lifetimes(current_app)
    return DatabaseStore().purge_expired(utcnow(), idle)
