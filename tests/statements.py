"""What tests read of the SQL the app sends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event

from marketplace.extensions import db


@contextmanager
def sent_statements(keep: Callable[[str], bool] = lambda statement: True
                    ) -> Iterator[list[tuple[str, object]]]:
    """The (statement, parameters) the engine sends inside the block, those ``keep`` accepts,
    in order."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if keep(statement):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
