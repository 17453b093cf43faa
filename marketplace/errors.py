"""Domain errors and their RFC 9457 ``application/problem+json`` rendering.

Services raise ``DomainError`` subclasses; one handler renders every error, HTTP ones included.

Every error carries a stable ``code`` (``order.invalid_transition``, ``checkout.out_of_stock``):
the class gives a generic one, each package names its own in its ``errors.py`` and passes it as
``code=``. Clients and pages choose their message by code, never by exception class or title.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://sheber.kz/problems/"


class DomainError(Exception):
    status = 400
    type = "bad-request"
    title = "Bad request"
    code = "request.bad"

    def __init__(self, detail: str | None = None, *, code: str | None = None,
                 errors: dict | None = None, **extra):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.code = str(code or self.code)
        self.errors = errors
        self.extra = extra


class ValidationFailed(DomainError):
    status = 422
    type = "validation-error"
    title = "Validation failed"
    code = "request.invalid"


class Unauthorized(DomainError):
    status = 401
    type = "unauthorized"
    title = "Authentication required"
    code = "auth.required"


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = "Forbidden"
    code = "auth.forbidden"


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"
    code = "request.not_found"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"
    code = "request.conflict"


class OutOfStock(Conflict):
    type = "out-of-stock"
    title = "Not enough stock"
    code = "checkout.out_of_stock"


class InvalidTransition(Conflict):
    type = "invalid-state"
    title = "Not allowed in the current state"
    code = "order.invalid_transition"


class ExternalServiceError(DomainError):
    status = 502
    type = "upstream-error"
    title = "An external service failed"
    code = "upstream.failed"


def problem(status: int, title: str, detail: str | None = None, *, type_: str | None = None,
            code: str | None = None, errors: dict | None = None, headers: dict | None = None,
            **extra) -> Response:
    body = {
        "type": PROBLEM_BASE + (type_ or _slug(title)),
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code or "http." + _slug(title).replace("-", "_"),
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _slug(title: str) -> str:
    return "-".join(title.lower().split())


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        return problem(error.status, error.title, error.detail, type_=error.type,
                       code=error.code, errors=error.errors, **error.extra)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if _wants_html() and error.code in (403, 404, 405):
            return error
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        detail = error.description
        if error.code == 429:
            detail = f"Too many requests: limit {error.description}. Try again later."
        return problem(error.code or 500, error.name, detail, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal server error",
                       "Something went wrong on our side; it has been logged.")


def _wants_html() -> bool:
    if request.path.startswith("/api/") or request.path.startswith("/webhooks/"):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"
