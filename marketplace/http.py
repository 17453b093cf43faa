"""Small helpers shared by every blueprint: body/query validation, auth, cursors.

Schemas are pydantic models; the decorators record them on the view so that
``marketplace.openapi`` builds the OpenAPI document from the same models that validate input
and serialise output.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Callable, Iterable

from flask import Response, current_app, request
from pydantic import BaseModel, ValidationError

from marketplace import logs
from marketplace.edge import INT64_MAX, INT64_MIN, load_json
from marketplace.errors import (
    AuthError,
    DomainError,
    Forbidden,
    RequestError,
    Unauthorized,
    ValidationFailed,
)
from marketplace.schemas import dump


class MalformedRequest(DomainError):
    status = 400
    type = "malformed-request"
    title = "Malformed request"
    code = RequestError.MALFORMED


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for item in exc.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        errors.setdefault(field, []).append(message)
    return errors


def parse_model(model: type[BaseModel], data) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The request has invalid fields.",
                               errors=validation_errors(exc), code=RequestError.INVALID) from None


def _record(fn: Callable, key: str, value) -> None:
    spec = fn.__dict__.setdefault("_openapi", {})
    spec[key] = value


def json_body(model: type[BaseModel]):
    """Parse the JSON body into ``model`` (400 if not JSON, 422 per field) as ``body=``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            raw = request.get_data(cache=True)
            data = load_json(raw or b"null")
            if not isinstance(data, dict):
                raise MalformedRequest("The body must be a JSON object.",
                                       code=RequestError.NOT_AN_OBJECT)
            kwargs["body"] = parse_model(model, data)
            return view(*args, **kwargs)

        _record(wrapper, "body", model)
        return wrapper

    return decorate


def raw_body(model: type[BaseModel], *, validated: bool = False):
    """Document the JSON body ``model`` describes for a view that reads the bytes itself: a
    signed webhook verifies its signature over them before anything is parsed. ``validated``:
    the view then parses the body with ``model`` (422 per field)."""

    def decorate(view):
        _record(view, "raw_body", (model, validated))
        return view

    return decorate


def multipart_body(field: str = "file", *, many: bool = False):
    """Document a ``multipart/form-data`` body of file field ``field`` (several when ``many``)
    for a view that reads ``request.files`` itself (photo uploads)."""

    def decorate(view):
        _record(view, "multipart", (field, many))
        return view

    return decorate


def query_args(model: type[BaseModel]):
    """Validate the query string into ``model`` as ``query=``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            data = {key: request.args.get(key) for key in request.args}
            query = parse_model(model, data)
            out_of_range = [name for name, value in query if isinstance(value, int)
                            and not isinstance(value, bool)
                            and not INT64_MIN <= value <= INT64_MAX]
            if out_of_range:
                raise ValidationFailed("A number is out of range.",
                                       errors={name: ["out of range"] for name in out_of_range},
                                       code=RequestError.INVALID)
            kwargs["query"] = query
            return view(*args, **kwargs)

        _record(wrapper, "query", model)
        return wrapper

    return decorate


def responds(model: type[BaseModel] | None = None, status: int = 200, *,
             media_types: tuple[str, ...] = ("application/json",),
             alternatives: tuple[str, ...] = ()):
    """Document the success response and serialise the view's JSON through ``model``: the body
    is exactly what the OpenAPI document says (see ``marketplace.schemas``). ``media_types``
    names what a view without a model answers with (a PDF, a bank file); ``alternatives``, what
    a view with a model may answer instead when asked (``?format=csv``), returned as a
    ``Response`` of its own."""

    def decorate(view):
        if model is None:
            _record(view, "response", (status, None))
            _record(view, "media_types", media_types)
            return view

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            result = view(*args, **kwargs)
            if isinstance(result, tuple) and isinstance(result[0], dict | BaseModel):
                return (dump(model, result[0]), *result[1:])
            if isinstance(result, dict | BaseModel):
                return dump(model, result)
            return result

        _record(wrapper, "response", (status, model))
        if alternatives:
            _record(wrapper, "alternatives", alternatives)
        return wrapper

    return decorate


def attachment(body, filename: str, content_type: str, *, private: bool = False) -> Response:
    """A download: ``body`` saved as ``filename``; ``private``: no cache may keep it."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if private:
        headers["Cache-Control"] = "private, no-store"
    return Response(body, content_type=content_type, headers=headers)


def current_user():
    """The authenticated user (bearer token or session), or None. Cached per request.

    Cached on the request, not on ``g``: an app context (and its ``g``) may outlive a request.
    """
    if "sheber.user" not in request.environ:
        loader = current_app.extensions["sheber.user_loader"]
        request.environ["sheber.user"] = loader(request)
        logs.bind(user_id=getattr(request.environ["sheber.user"], "id", None))
    return request.environ["sheber.user"]


def init_user_loader(app, loader) -> None:
    """Who the request's user is: accounts (a higher layer) registers this at app creation,
    as Flask-Login's ``user_loader`` does, so this kernel module never imports it."""
    app.extensions["sheber.user_loader"] = loader


def auth_required(*roles: str):
    """401 without a valid token/session; 403 when the user's role is not among ``roles``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                raise Unauthorized("A valid bearer token is required.",
                                   code=AuthError.REQUIRED)
            if roles and user.role not in roles:
                raise Forbidden(f"This action needs the role {' or '.join(roles)}.",
                                code=AuthError.ROLE_REQUIRED)
            return view(*args, **kwargs)

        _record(wrapper, "auth", roles or ("any",))
        return wrapper

    return decorate


def encode_cursor(values: Iterable) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("The cursor is not valid.", errors={"cursor": ["invalid"]},
                               code=RequestError.INVALID_CURSOR) from None
    if not isinstance(values, list) or len(values) > 8 or not all(
            map(_cursor_value_in_range, values)):
        raise ValidationFailed("The cursor is not valid.", errors={"cursor": ["invalid"]},
                               code=RequestError.INVALID_CURSOR)
    return values


def _cursor_value_in_range(value, depth: int = 0) -> bool:
    """What a database column can compare with: 64-bit integers, finite floats, short text, and
    short lists of them (a relevance cursor's (tier, created_at))."""
    if isinstance(value, list):
        return depth == 0 and len(value) <= 8 and all(
            _cursor_value_in_range(item, depth + 1) for item in value)
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 256 and not any(ord(char) < 32 for char in value)
    return False
