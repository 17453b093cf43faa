"""Lockout with exponential back-off for guessable secrets (passwords, one-time codes, reset
links), and for requests that mail someone (password reset, registration), per account and per
client address.

Each failure counts against a key (``signin:account:<email>``, ``signin:ip:<address>``,
``otp:account:<user id>``, ``reset:account:<email>``, ``register:ip:<address>``...), stored
as a SHA-256 so the table names nobody. From
``LOCKOUT_THRESHOLD`` failures on (four times that for an address, which many people may share)
the key is locked for ``LOCKOUT_BASE_SECONDS`` × 2^(failures − threshold), at most
``LOCKOUT_MAX_SECONDS``; a success clears the account's key. Unknown accounts count the same as
known ones, so the answer never says whether an e-mail exists.

The counters are kept in the database, in their own transaction (a refused sign-in rolls back
its own, the count must stay), so every web process sees the same ones.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import delete, select

from marketplace.accounts.errors import AccountError
from marketplace.accounts.models import AuthThrottle
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.transaction import use_case

IP_FACTOR = 4


class LockedOut(DomainError):
    status = 429
    type = "locked-out"
    title = "Too many attempts"
    code = AccountError.LOCKED_OUT

    def __init__(self, retry_after: int):
        super().__init__(f"Too many attempts. Try again in {retry_after} seconds.",
                         code=AccountError.LOCKED_OUT, retry_after=retry_after)
        self.retry_after = retry_after


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _settings() -> tuple[int, int, int]:
    config = current_app.config
    return (config.get("LOCKOUT_THRESHOLD", 5), config.get("LOCKOUT_BASE_SECONDS", 30),
            config.get("LOCKOUT_MAX_SECONDS", 3600))


def keys(action: str, account: str | None) -> list[tuple[str, int]]:
    """The keys one attempt counts against, with each one's threshold."""
    threshold, _, _ = _settings()
    found = []
    if account:
        found.append((f"{action}:account:{account}", threshold))
    if has_request_context() and request.remote_addr:
        found.append((f"{action}:ip:{request.remote_addr}", threshold * IP_FACTOR))
    return found


def _enabled() -> bool:
    return current_app.config.get("LOCKOUT_ENABLED", True)


def check(action: str, account: str | None) -> None:
    """429 with ``retry_after`` while any of the attempt's keys is locked."""
    if not _enabled():
        return
    now = utcnow()
    hashes = [_digest(key) for key, _ in keys(action, account)]
    rows = db.session.execute(select(AuthThrottle).where(AuthThrottle.key.in_(hashes))
                              ).scalars().all()
    waits = [(row.locked_until - now).total_seconds() for row in rows
             if row.locked_until is not None and row.locked_until > now]
    if waits:
        raise LockedOut(max(1, int(max(waits)) + 1))


def _lock_for(failures: int, threshold: int) -> timedelta | None:
    _, base, cap = _settings()
    if failures < threshold:
        return None
    return timedelta(seconds=min(cap, base * 2 ** min(failures - threshold, 30)))


@use_case
def failed(action: str, account: str | None) -> None:
    """Count one failure against each key (own transaction: call it before raising)."""
    if not _enabled():
        return
    now = utcnow()
    for key, threshold in keys(action, account):
        digest = _digest(key)
        row = db.session.get(AuthThrottle, digest)
        if row is None:
            row = AuthThrottle(key=digest, failures=0)
            db.session.add(row)
        elif row.updated_at < now - timedelta(seconds=_settings()[2] * 2):
            row.failures = 0  # an old streak is forgotten
        row.failures += 1
        row.updated_at = now
        wait = _lock_for(row.failures, threshold)
        row.locked_until = now + wait if wait else None


def attempt(action: str, account: str | None) -> None:
    """For requests where every one counts, not only the failures (each reset request or
    registration mails someone): 429 while locked, else the request is counted. Call it before
    the request's own use case, so the count stays whatever that one does."""
    check(action, account)
    failed(action, account)


@use_case
def succeeded(action: str, account: str | None) -> None:
    """The account's streak ends (the address's does not: it may be guessing many)."""
    if account:
        db.session.execute(delete(AuthThrottle).where(
            AuthThrottle.key == _digest(f"{action}:account:{account}")))


@use_case
def purge(older_than: datetime) -> int:
    return db.session.execute(delete(AuthThrottle).where(AuthThrottle.updated_at < older_than)
                              ).rowcount


def purge_forgotten() -> int:
    """Delete the counters ``failed`` would reset anyway (no failure for twice the longest
    lock, so no lock left either); beat runs it hourly. Returns how many went."""
    return purge(utcnow() - timedelta(seconds=_settings()[2] * 2))


def init_app(app) -> None:
    from marketplace.errors import problem

    @app.errorhandler(LockedOut)
    def _locked_out(error: LockedOut):
        return problem(error.status, error.title, error.detail, type_=error.type,
                       code=error.code, headers={"Retry-After": str(error.retry_after)},
                       **error.extra)
