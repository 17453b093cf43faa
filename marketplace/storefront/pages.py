"""What every HTML blueprint shares: the signed-in user, role gates, HTML error pages."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from marketplace import listings
from marketplace.catalog.models import Product
from marketplace.errors import DomainError, Forbidden, RequestError
from marketplace.fx.service import RateTable
from marketplace.http import current_user
from marketplace.i18n import current_currency, current_language
from marketplace.security import csrf_failed_response


def page_user():
    """The signed-in user of an HTML page, or None."""
    return current_user()


def roles_required(*roles: str):
    """Anonymous visitors go to the sign-in page; a signed-in user without the role gets 403."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = page_user()
            if user is None:
                # after signing in, a form comes back to the page it was on, not to its POST
                back = (request.full_path.rstrip("?") if request.method == "GET"
                        else safe_next(request.form.get("next"), "") or None)
                return redirect(url_for("auth.signin", next=back))
            if roles and user.role not in roles:
                raise Forbidden("This page is not available for your account.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def present_listings(products: list[Product], *, currency: str | None = None,
                     rates: RateTable | None = None) -> list[dict]:
    """``listings.present`` in the page's language and in ``currency`` (default: the page's)."""
    return listings.present(products, lang=current_language(),
                            currency=currency or current_currency(), rates=rates)


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site, so a crafted link cannot bounce a visitor elsewhere."""
    if not target or len(target) > 2000 or any(
            ord(char) < 32 or 127 <= ord(char) < 160 for char in target):
        return default  # a control character would split the Location header
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def _status_text(status: int) -> tuple[str, str]:
    if status == 404:
        return _("Page not found"), _("There is nothing here, or it is not yours to see.")
    if status == 403:
        return _("Not allowed"), _("Your account cannot open this page.")
    if status == 409:
        return _("That cannot be done now"), _("The item changed in the meantime. "
                                               "Go back, reload and try again.")
    if status == 401:
        return _("Please sign in"), _("Sign in to continue.")
    return _("Something went wrong"), _("Please go back and try again.")


def render_error(status: int):
    title, detail = _status_text(status)
    return render_template("storefront/error.html", status=status, title=title,
                           detail=detail), status


def html_errors(blueprint: Blueprint) -> Blueprint:
    """Domain errors on HTML pages become HTML error pages with the same status."""

    @blueprint.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        if error.code == RequestError.CSRF_FAILED:  # blueprint handlers win over the app's
            return csrf_failed_response(error)
        return render_error(error.status)

    return blueprint
