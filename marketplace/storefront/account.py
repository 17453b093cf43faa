"""The buyer's account pages: saved addresses, e-mail change, "download my data", deletion, and
claiming guest orders."""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from pydantic import ValidationError

from marketplace.accounts import addresses, export
from marketplace.accounts import lifecycle as accounts
from marketplace.accounts.schemas import AddressIn
from marketplace.errors import Conflict, DomainError, Forbidden, ValidationFailed
from marketplace.http import attachment
from marketplace.i18n import current_language
from marketplace.orders import guests
from marketplace.storefront.auth import countries_for_language
from marketplace.storefront.buy import ADDRESS_FIELDS, _address_errors
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import html_errors, page_user, roles_required

bp = html_errors(Blueprint("account", __name__, url_prefix="/account"))


def _account_user():
    user = page_user()
    if user.is_guest:
        raise Forbidden("A guest checkout has no account; sign up first.")
    return user


def _render(form=None, errors=None, status: int = 200, email_error: str | None = None,
            delete_error: str | None = None):
    user = _account_user()
    form = form or dict.fromkeys(ADDRESS_FIELDS, "")
    if not form.get("country"):
        form["country"] = user.country
    return render_template(
        "storefront/account.html", user=user, saved=addresses.list_addresses(user),
        form=form, errors=errors or {}, email_error=email_error, delete_error=delete_error,
        countries=countries_for_language(current_language())), status


@bp.get("/")
@roles_required("buyer", "artisan", "operator")
def home():
    return _render()


@bp.post("/addresses")
@roles_required("buyer")
def add_address():
    form = {field: request.form.get(field, "").strip() for field in ADDRESS_FIELDS}
    form["label"] = request.form.get("label", "").strip()
    try:
        checked = AddressIn(**{key: value or None for key, value in form.items()})
    except ValidationError as exc:
        return _render(form, _address_errors(exc), 422)
    fields = checked.model_dump()
    fields.pop("is_default")
    try:
        addresses.add_address(_account_user(), fields,
                              default=bool(request.form.get("is_default")))
    except Conflict as refused:
        flash(message_for(refused), "error")
    else:
        flash(_("Address saved."), "success")
    return redirect(url_for("account.home"))


@bp.post("/addresses/<address_id>/default")
@roles_required("buyer")
def default_address(address_id: str):
    addresses.update_address(_account_user(), address_id, {}, default=True)
    return redirect(url_for("account.home"))


@bp.post("/addresses/<address_id>/delete")
@roles_required("buyer")
def delete_address(address_id: str):
    addresses.delete_address(_account_user(), address_id)
    flash(_("Address removed."), "info")
    return redirect(url_for("account.home"))


@bp.post("/email")
@roles_required("buyer", "artisan", "operator")
def change_email():
    try:
        accounts.request_email_change(_account_user(), request.form.get("email", ""),
                                      request.form.get("password", ""))
    except ValueError:
        return _render(status=422, email_error=_("Enter a valid email address."))
    except (ValidationFailed, Forbidden, Conflict) as refused:
        return _render(status=refused.status, email_error=message_for(refused))
    flash(_("We have sent a link to the new address: follow it to confirm the change."), "info")
    return redirect(url_for("account.home"))


@bp.get("/email/<token>")
def confirm_email(token: str):
    try:
        accounts.confirm_email_change(token)
    except DomainError as refused:
        flash(message_for(refused), "error")
    else:
        flash(_("Your email address has been changed."), "success")
    return redirect(url_for("account.home") if page_user() else url_for("auth.signin"))


@bp.get("/export")
@roles_required("buyer", "artisan", "operator")
def export_data():
    """Download my data: the same JSON document as ``GET /api/v1/me/export``."""
    user = _account_user()
    body = json.dumps(export.export_data(user), ensure_ascii=False, indent=2)
    return attachment(body, f"sheber-data-{user.id}.json", "application/json")


@bp.post("/delete")
@roles_required("buyer", "artisan", "operator")
def delete_account():
    if request.form.get("confirm") != "1":
        return _render(status=422, delete_error=_("Tick the box to confirm."))
    try:
        accounts.delete_account(_account_user(), request.form.get("password", ""))
    except (Forbidden, ValidationFailed) as refused:
        return _render(status=refused.status, delete_error=message_for(refused))
    kept = {key: session[key] for key in ("locale", "currency") if key in session}
    session.clear()
    session.update(kept)
    flash(_("Your account has been deleted."), "info")
    return redirect(url_for("shop.catalogue"))


@bp.get("/claim/<token>")
@roles_required("buyer")
def claim(token: str):
    """The welcome mail's link: this address's guest orders join the account."""
    try:
        claimed = guests.claim_with_token(_account_user(), token)
    except ValidationFailed as refused:
        flash(message_for(refused), "error")
    else:
        flash(ngettext("%(num)s order added to your account.",
                       "%(num)s orders added to your account.", claimed), "success")
    return redirect(url_for("buy.order_list"))
