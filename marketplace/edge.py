"""What every request must be before any view sees it: no control characters in the path or the
query, no NUL in a form or JSON body, JSON no deeper than ``JSON_MAX_DEPTH`` and no larger than
``JSON_MAX_BYTES``, no number a database column cannot hold. A request that is not refused
here may still be wrong, but it cannot reach a ``RecursionError`` or a database ``DataError``.

``load_json`` is the one JSON reader for request bodies (``http.json_body``, signed webhooks).
"""

from __future__ import annotations

import json
import math
import re

from flask import Flask, current_app, request

from marketplace.errors import DomainError, RequestError

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_BYTES = 1024 * 1024
# C0 controls and DEL, and the C1 controls: never part of a path or a query value we serve.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_JSON_TYPES = ("application/json",)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefusedInput(DomainError):
    status = 400
    type = "refused-input"
    title = "Refused input"
    code = RequestError.CONTROL_CHARACTERS


class BodyTooLarge(DomainError):
    status = 413
    type = "body-too-large"
    title = "Body too large"
    code = RequestError.BODY_TOO_LARGE


def _limits() -> tuple[int, int]:
    config = current_app.config
    return (config.get("JSON_MAX_BYTES", DEFAULT_MAX_BYTES),
            config.get("JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest, counted without parsing (strings skipped)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _check_values(data) -> None:
    """No NUL in any string or key, no integer beyond 64 bits, no float that is not finite."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise RefusedInput("The body contains a NUL character.",
                                   code=RequestError.CONTROL_CHARACTERS)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise RefusedInput("The body contains a number beyond 64 bits.",
                                   code=RequestError.NUMBER_OUT_OF_RANGE)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise RefusedInput("The body contains a number beyond range.",
                                   code=RequestError.NUMBER_OUT_OF_RANGE)
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def load_json(raw: bytes | str, *, lenient: bool = False):
    """Parse a request body: 413 over the size limit, 400 too deep, not JSON, or carrying a NUL
    or an out-of-range number. ``lenient`` leaves a body that is not JSON at all to the view
    (which names its own error) and returns None."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    max_bytes, max_depth = _limits()
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"A JSON body may be at most {max_bytes} bytes.",
                           code=RequestError.BODY_TOO_LARGE)
    if json_depth(raw) > max_depth:
        raise RefusedInput(f"The JSON body nests deeper than {max_depth} levels.",
                           code=RequestError.JSON_TOO_DEEP)
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        if lenient:
            return None
        raise RefusedInput("The body is not valid JSON.",
                           code=RequestError.MALFORMED_JSON) from None
    _check_values(data)
    return data


def _refuse_controls(where: str, value: str) -> None:
    if _CONTROL.search(value):
        raise RefusedInput(f"The {where} contains a control character.",
                           code=RequestError.CONTROL_CHARACTERS)


def check_request() -> None:
    _refuse_controls("path", request.path)
    for key, values in request.args.lists():
        _refuse_controls("query", key)
        for value in values:
            _refuse_controls("query", value)
            if len(value) > 2000:
                raise RefusedInput("A query value is longer than 2000 characters.",
                                   code=RequestError.BAD)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    mimetype = request.mimetype
    if mimetype in _FORM_TYPES:
        for key, values in request.form.lists():
            # a part whose name Werkzeug cannot read (a CR in it) comes back with the key None
            if "\x00" in (key or "") or any("\x00" in (value or "") for value in values):
                raise RefusedInput("The form contains a NUL character.",
                                   code=RequestError.CONTROL_CHARACTERS)
    elif mimetype in _JSON_TYPES or mimetype.endswith("+json"):
        raw = request.get_data(cache=True)
        if raw.strip():
            load_json(raw, lenient=True)


def init_app(app: Flask) -> None:
    # before CSRF and sessions' users: nothing reads a refused request
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)


# --- the client's address behind proxies ----------------------------------------------------

def parse_trusted_proxies(value: str | None) -> int | tuple:
    """``TRUSTED_PROXIES``: a count of proxies in front of the app ("1"), or their addresses and
    networks ("10.0.0.0/8, 192.0.2.7"); unset or "0" trusts no forwarded header."""
    import ipaddress

    text = (value or "").strip()
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


class TrustedProxies:
    """Werkzeug's ProxyFix, told how many hops to believe: a fixed count, or per request the
    trailing hops (the peer, then X-Forwarded-For from the right) whose addresses are trusted."""

    def __init__(self, app, trusted: int | tuple):
        from werkzeug.middleware.proxy_fix import ProxyFix

        self.app = app
        self.trusted = trusted
        self._fixes: dict[int, ProxyFix] = {}
        self._proxy_fix = ProxyFix

    def _fix(self, hops: int):
        if hops not in self._fixes:
            self._fixes[hops] = self._proxy_fix(self.app, x_for=hops, x_proto=hops,
                                                x_host=0, x_port=0, x_prefix=0)
        return self._fixes[hops]

    def _trusted(self, address: str) -> bool:
        import ipaddress

        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def _hops(self, environ) -> int:
        if isinstance(self.trusted, int):
            return self.trusted
        if not self._trusted(environ.get("REMOTE_ADDR", "")):
            return 0
        chain = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if part.strip()]
        hops = 1
        # each trusted address in the chain vouches for the one to its left
        for address in reversed(chain[1:]):
            if not self._trusted(address):
                break
            hops += 1
        return min(hops, len(chain))

    def __call__(self, environ, start_response):
        hops = self._hops(environ)
        if hops <= 0:
            return self.app(environ, start_response)
        return self._fix(hops)(environ, start_response)


def init_proxies(app: Flask) -> None:
    trusted = parse_trusted_proxies(app.config.get("TRUSTED_PROXIES"))
    if trusted:
        app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)
