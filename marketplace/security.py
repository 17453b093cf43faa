"""CSRF protection for HTML forms and security headers for every response.

The API (``/api/``) and webhooks (``/webhooks/``) authenticate with bearer tokens or
signatures, so they need no token; but an API call that carries no bearer token while the
browser's session is signed in would act through the cookie, and is checked like a form.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, render_template, request, session
from flask_babel import gettext as _

from marketplace.errors import DomainError, RequestError, problem

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_EXEMPT_PREFIXES = ("/api/", "/webhooks/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Stripe.js in production also talks to these hosts (Stripe's documented CSP requirements).
STRIPE_EXTRA = {
    "connect": ("https://api.stripe.com",),
    "frame": ("https://hooks.stripe.com",),
}


class CsrfFailed(DomainError):
    status = 400
    type = "csrf-failed"
    title = "The form has expired"
    code = RequestError.CSRF_FAILED


def csrf_token() -> str:
    """The visitor's CSRF token, created on first use and kept for the whole session."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def rotate_csrf_token() -> str:
    """A new token, e.g. after signing in, so a token seen before sign-in stops working."""
    session.pop(CSRF_FIELD, None)
    return csrf_token()


def check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    if request.path.startswith(CSRF_EXEMPT_PREFIXES) and (
            request.headers.get("Authorization") or not session.get("user_id")):
        return  # an API call that would ride on the session cookie is checked like a form
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfFailed("The form was missing its security token or the token was stale. "
                         "Reload the page and try again.", code=RequestError.CSRF_FAILED)


def csrf_failed_response(error: CsrfFailed):
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        html = render_template(
            "storefront/error.html", status=error.status, title=_("The form has expired"),
            detail=_("The form was missing its security token or the token was stale. "
                     "Reload the page and try again."))
        return html, error.status
    return problem(error.status, error.title, error.detail, type_=error.type, code=error.code)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def media_origins(config) -> tuple[str, ...]:
    """Where pages load photos from besides the app: the CDN, the S3 endpoint, or AWS S3."""
    if config.get("MEDIA_BASE_URL"):
        return tuple(filter(None, [_origin(config["MEDIA_BASE_URL"])]))
    if not config.get("STORAGE_URL"):
        return ()
    if config.get("S3_ENDPOINT_URL"):
        return tuple(filter(None, [_origin(config["S3_ENDPOINT_URL"])]))
    return ("https://*.amazonaws.com",)  # presigned URLs of AWS S3 itself


@functools.lru_cache(maxsize=8)
def content_security_policy(stripe_js_url: str | None, media: tuple[str, ...] = ()) -> str:
    stripe = _origin(stripe_js_url or "")
    script = ["'self'"]
    connect = ["'self'"]
    frame = ["'self'"]
    if stripe:
        script.append(stripe)
        connect.append(stripe)
        frame.append(stripe)
        if stripe == "https://js.stripe.com":
            connect.extend(STRIPE_EXTRA["connect"])
            frame.extend(STRIPE_EXTRA["frame"])
    directives = {
        "default-src": ["'self'"],
        "script-src": script,
        "connect-src": connect,
        "frame-src": frame,
        "img-src": ["'self'", "data:", *media],
        "style-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


# Browser features the site never uses are off for it and for every frame it embeds; the Payment
# Request API stays for Stripe's card element (wallets).
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
                      "magnetometer=(), microphone=(), usb=(), display-capture=(), "
                      'payment=(self "https://js.stripe.com")')
HSTS = "max-age=63072000; includeSubDomains"  # two years; production only (HTTPS there)
SERVER_NAME = "sheber"  # no product or version banner


def _quiet_development_server() -> None:
    """The development server says only ``Server: sheber``, not Werkzeug's and Python's
    versions (gunicorn in production says ``gunicorn``, without a version)."""
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.version_string = lambda self: SERVER_NAME


# API answers are JSON plus the self-contained docs page (inline styles, no scripts at all).
API_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def init_app(app: Flask) -> None:
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD

    app.errorhandler(CsrfFailed)(csrf_failed_response)
    _quiet_development_server()
    production = app.config.get("SHEBER_ENV") == "production"

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if request.path.startswith("/api/"):
            policy = API_POLICY
        else:  # read per response: tests point STRIPE_JS_URL at an emulator started later
            policy = content_security_policy(current_app.config.get("STRIPE_JS_URL"),
                                             media_origins(current_app.config))
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        headers["Server"] = SERVER_NAME
        return response
