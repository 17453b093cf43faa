"""Domain errors and their RFC 9457 ``application/problem+json`` rendering.

Services raise ``DomainError`` subclasses; one handler renders every error, HTTP ones included.

Every error carries a stable ``code`` (``order.invalid_transition``, ``checkout.out_of_stock``):
the class gives a generic one, each package names its own in its ``errors.py`` and passes it as
``code=``. Clients and pages choose their message by code, never by exception class or title.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://sheber.kz/problems/"


class ErrorCodes(StrEnum):
    """A package's error codes, each with a one-line meaning: ``NAME = "package.reason", "..."``.

    Members are plain strings (``code=AccountError.EMAIL_TAKEN`` writes ``"account.email_taken"``);
    ``member.doc`` is what the README and the OpenAPI document say about the code.
    """

    def __new__(cls, value: str, doc: str = ""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.doc = doc
        return member


class RequestError(ErrorCodes):
    """The request itself (``marketplace.http``, ``marketplace.security``)."""

    BAD = "request.bad", "The request was refused; `detail` says why (400)."
    MALFORMED = "request.malformed", "The request cannot be read (400)."
    MALFORMED_JSON = "request.malformed_json", "The body is not valid JSON (400)."
    NOT_AN_OBJECT = "request.not_an_object", "The JSON body is not an object (400)."
    JSON_TOO_DEEP = "request.json_too_deep", "The JSON body nests too deeply (400)."
    BODY_TOO_LARGE = "request.body_too_large", "The JSON body is over its size limit (413)."
    CONTROL_CHARACTERS = ("request.control_characters",
                          "A control character in the path or query, or a NUL in the body (400).")
    NUMBER_OUT_OF_RANGE = ("request.number_out_of_range",
                           "A number beyond 64 bits, or not finite (400).")
    CSRF_FAILED = "request.csrf_failed", "A form's CSRF token is missing or stale (400)."
    INVALID = "request.invalid", "Fields failed validation; `errors` maps each to messages (422)."
    INVALID_CURSOR = "request.invalid_cursor", "The `cursor` is not one we issued (422)."
    NOT_FOUND = "request.not_found", "No such thing, or it is not yours to see (404)."
    CONFLICT = "request.conflict", "The thing changed meanwhile or is in the wrong state (409)."


class AuthError(ErrorCodes):
    """Who is asking (``marketplace.http``)."""

    REQUIRED = "auth.required", "No valid bearer token or session (401)."
    FORBIDDEN = "auth.forbidden", "The caller may not do this (403)."
    ROLE_REQUIRED = "auth.role_required", "The caller's role may not use this endpoint (403)."


class UpstreamError(ErrorCodes):
    """A service we call (Stripe, a carrier) failed."""

    FAILED = "upstream.failed", "An external service failed; retrying later may succeed (502)."
    STRIPE_FAILED = ("upstream.stripe_failed",
                     "Stripe did not complete the request; retrying may succeed (502).")


class HttpError(ErrorCodes):
    """Plain HTTP errors raised outside the services: ``http.`` and the status's name."""

    BAD_REQUEST = "http.bad_request", "The request cannot be read (400)."
    NOT_FOUND = "http.not_found", "No such route (404)."
    METHOD_NOT_ALLOWED = "http.method_not_allowed", "The route does not take this method (405)."
    NOT_ACCEPTABLE = "http.not_acceptable", "No representation matches `Accept` (406)."
    REQUEST_ENTITY_TOO_LARGE = ("http.request_entity_too_large",
                                "The body is over the size limit (413).")
    UNSUPPORTED_MEDIA_TYPE = "http.unsupported_media_type", "The body's type is not taken (415)."
    TOO_MANY_REQUESTS = "http.too_many_requests", "Rate limited; `Retry-After` says when (429)."
    INTERNAL_SERVER_ERROR = ("http.internal_server_error",
                             "An unexpected failure on our side; it has been logged (500).")


class DomainError(Exception):
    status = 400
    type = "bad-request"
    title = "Bad request"
    code: str = RequestError.BAD

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
    code = RequestError.INVALID


class Unauthorized(DomainError):
    status = 401
    type = "unauthorized"
    title = "Authentication required"
    code = AuthError.REQUIRED


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = "Forbidden"
    code = AuthError.FORBIDDEN


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"
    code = RequestError.NOT_FOUND


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"
    code = RequestError.CONFLICT


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
    code = UpstreamError.FAILED


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


def domain_problem(error: DomainError) -> Response:
    """The problem response of a domain error (also a WSGI app, for a server without Flask)."""
    return problem(error.status, error.title, error.detail, type_=error.type, code=error.code,
                   errors=error.errors, **error.extra)


def _slug(title: str) -> str:
    return "-".join(title.lower().split())


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        return domain_problem(error)

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
