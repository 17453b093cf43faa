"""Logs you can follow: every record carries the request, user, order and task it belongs to.

Production writes one JSON object per line; development writes human lines. A request takes its
id from a sane ``X-Request-ID`` header (or makes one) and answers with it. The ids live in
context variables that a ``logging.Filter`` copies onto each record; ``outbox.emit`` stores them
in the event's payload under ``_trace`` and the worker binds them again for the task run, so a
task's lines carry the id of the request that caused them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime

from flask import Flask, Response, has_request_context, request

from marketplace.ids import new_id

REQUEST_ID_HEADER = "X-Request-ID"
TRACE_KEY = "_trace"  # the reserved payload key of outbox events
FIELDS = ("request_id", "user_id", "order_id", "task", "task_id")
TRACED = ("request_id", "user_id", "order_id")  # what travels with an outbox event

_vars: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"sheber_log_{name}", default=None) for name in FIELDS
}
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TOKENS = "sheber.log_tokens"  # request.environ key: how to undo this request's bindings
_HANDLER_MARK = "_sheber_logs"


def bind(**fields: str | None) -> dict[str, Token]:
    """Set context fields (``None`` clears one) for the rest of this request or task run.

    Inside a request the bindings are undone when the request ends; elsewhere pass the returned
    tokens to ``reset``.
    """
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log fields: {', '.join(sorted(unknown))}")
    tokens = {name: _vars[name].set(value) for name, value in fields.items()}
    if has_request_context():
        # The first token of each field restores what was there before the request.
        first = request.environ.setdefault(_TOKENS, {})
        for name, token in tokens.items():
            first.setdefault(name, token)
    return tokens


def reset(tokens: dict[str, Token]) -> None:
    for name, token in tokens.items():
        try:
            _vars[name].reset(token)
        except RuntimeError:  # undone already (a task run inside the request reset its own)
            pass
        except ValueError:  # bound in another context (a copied one): clear ours
            _vars[name].set(None)


def current() -> dict[str, str]:
    """The fields bound now (only those with a value)."""
    values = {name: var.get() for name, var in _vars.items()}
    return {name: value for name, value in values.items() if value}


def trace() -> dict[str, str]:
    """What an outbox event carries along: the request, user and order ids bound now."""
    fields = current()
    return {name: fields[name] for name in TRACED if name in fields}


def event_fields(payload: dict) -> dict[str, str | None]:
    """What a task consuming an outbox event binds: the ``trace()`` its emitter stored, and the
    payload's own order id first."""
    stored = payload.get(TRACE_KEY)
    stored = stored if isinstance(stored, dict) else {}
    fields = {name: sane_id(stored.get(name)) for name in TRACED}
    fields["order_id"] = sane_id(payload.get("order_id")) or fields["order_id"]
    return fields


def sane_id(value: object) -> str | None:
    """``value`` if it may go into a log line and a header as it is: at most 128 characters of
    ``[A-Za-z0-9._:-]``; else None."""
    if isinstance(value, str) and _SANE.fullmatch(value):
        return value
    return None


class ContextFilter(logging.Filter):
    """Puts the bound fields on every record (an ``extra=`` given by the caller wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601 UTC), level, logger, message, the context fields
    and ``exc_info`` as text."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
            "order_id": getattr(record, "order_id", None),
        }
        if getattr(record, "task", None):
            entry["task"] = record.task
            entry["task_id"] = getattr(record, "task_id", None)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request_id=… user_id=…] message`` for a developer's terminal."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = [f"{name}={getattr(record, name)}" for name in FIELDS
                  if getattr(record, name, None)]
        record.context = f" [{' '.join(fields)}]" if fields else ""
        return super().formatMessage(record)


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test capture, a redirected stream)."""

    def __init__(self):
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr


def log_format(config) -> str:
    """``LOG_FORMAT`` (json|text); without it JSON in production, text elsewhere."""
    chosen = config.get("LOG_FORMAT") or (
        "json" if config.get("SHEBER_ENV") == "production" else "text")
    if chosen not in FORMATTERS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATTERS)}, got {chosen!r}")
    return chosen


def formatter_for(app: Flask) -> logging.Formatter:
    return FORMATTERS[log_format(app.config)]()


def adopt(logger: logging.Logger, app: Flask) -> None:
    """Give ``logger``'s handlers our formatter and filter (for handlers someone else made, such
    as Celery's worker handlers)."""
    for handler in logger.handlers:
        handler.setFormatter(formatter_for(app))
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())


def configure(app: Flask) -> None:
    """Send the root logger's records to stderr in the app's format and ``LOG_LEVEL``. Safe to
    call again: our handler is made once and then only given the new format and level."""
    formatter = formatter_for(app)
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _HANDLER_MARK, False)), None)
    if handler is None:
        handler = _StderrHandler()
        setattr(handler, _HANDLER_MARK, True)
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(formatter)
    level = app.config.get("LOG_LEVEL") or "INFO"
    root.setLevel(level.upper() if isinstance(level, str) else level)


def configured() -> bool:
    """Whether an app has set up logging in this process (our handler is on the root logger)."""
    return any(getattr(h, _HANDLER_MARK, False) for h in logging.getLogger().handlers)


def init_app(app: Flask) -> None:
    configure(app)
    app.before_request(_start_request)
    app.after_request(_answer_with_request_id)
    app.teardown_request(_end_request)


def _start_request() -> None:
    view_args = request.view_args or {}
    bind(request_id=sane_id(request.headers.get(REQUEST_ID_HEADER)) or new_id(),
         user_id=None, order_id=sane_id(view_args.get("order_id")), task=None, task_id=None)


def _answer_with_request_id(response: Response) -> Response:
    # No id only when our before_request never ran (a test request context): still answer one.
    response.headers[REQUEST_ID_HEADER] = _vars["request_id"].get() or new_id()
    return response


def _end_request(_exc: BaseException | None) -> None:
    tokens = request.environ.pop(_TOKENS, None)
    if tokens:
        reset(tokens)
