"""Who owns the transaction: a use case does, never a helper.

A use case is one function decorated with ``@use_case``: it runs the work, commits once, and
rolls back (releasing every row lock) when anything raises. Helpers it calls only add, flush and
lock; they never commit. A use case called from inside another joins the outer transaction, so
composing two of them still commits once.

``lock_rows`` takes row locks in id order, so two use cases that lock the same rows never wait
on each other in opposite orders (a deadlock). Nothing that leaves the process (Stripe, a
carrier, SMTP, an FX source) may run while a use case holds a lock: record the intent, commit,
call out, and record the result in a second use case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from sqlalchemy import update

from marketplace.extensions import db
from marketplace.ids import utcnow

P = ParamSpec("P")
R = TypeVar("R")

_DEPTH_KEY = "use_case_depth"


def use_case(function: Callable[P, R]) -> Callable[P, R]:
    """Commit what ``function`` did when it returns; roll it all back when it raises."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session = db.session()
        depth = session.info.get(_DEPTH_KEY, 0)
        session.info[_DEPTH_KEY] = depth + 1
        try:
            result = function(*args, **kwargs)
            if depth == 0:
                session.commit()
            return result
        except BaseException:
            if depth == 0:
                session.rollback()
            raise
        finally:
            session.info[_DEPTH_KEY] = depth

    return wrapper


def lock_rows(model, ids: Iterable[str]) -> int:
    """Lock the rows of ``model`` with these ids, in id order, until commit or rollback.

    A no-op UPDATE rather than SELECT ... FOR UPDATE: it locks the row on PostgreSQL and takes
    the write lock on SQLite, where FOR UPDATE does not exist. Returns how many rows exist.
    """
    locked = 0
    for row_id in sorted(set(ids)):
        values = {"updated_at": utcnow()} if hasattr(model, "updated_at") else {"id": row_id}
        locked += db.session.execute(
            update(model).where(model.id == row_id).values(**values)
            .execution_options(synchronize_session=False)).rowcount
    return locked
