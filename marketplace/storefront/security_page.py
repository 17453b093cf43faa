"""The account's security page (/account/security): signed-in sessions and API tokens, each
revocable, "sign out everywhere", and the second factor's enrolment."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from marketplace.accounts import service as accounts
from marketplace.accounts import sessions, twofactor
from marketplace.accounts.throttle import LockedOut
from marketplace.errors import Conflict, Forbidden, NotFound, Unauthorized
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import html_errors, page_user, roles_required

bp = html_errors(Blueprint("security", __name__, url_prefix="/account"))


def _page(status: int = 200, **extra):
    user = page_user()
    return render_template(
        "storefront/security.html", user=user, sessions=sessions.user_sessions(user.id),
        current_session=sessions.current_session_id(), tokens=accounts.live_tokens(user.id),
        second_factor=twofactor.enabled(user), must_enrol=twofactor.blocked(user),
        recovery_left=twofactor.remaining_recovery_codes(user.id), **extra), status


@bp.get("/security")
@roles_required()
def security():
    return _page()


@bp.post("/security/sessions/<session_id>/end")
@roles_required()
def end_session(session_id: str):
    if sessions.end_session(page_user().id, session_id):
        flash(_("That session has been signed out."), "info")
    return redirect(url_for("security.security"))


@bp.post("/security/tokens/<token_id>/revoke")
@roles_required()
def revoke_token(token_id: str):
    try:
        accounts.revoke_token_by_id(page_user().id, token_id)
    except NotFound:
        pass
    else:
        flash(_("The token has been revoked."), "info")
    return redirect(url_for("security.security"))


@bp.post("/security/signout-everywhere")
@roles_required()
def sign_out_everywhere():
    accounts.end_all_sessions_and_tokens(page_user().id)
    flash(_("You have been signed out on every device."), "info")
    return redirect(url_for("auth.signin"))


@bp.post("/security/2fa/begin")
@roles_required()
def begin_2fa():
    user = page_user()
    try:
        secret = twofactor.begin(user.id)
    except Conflict as refused:
        flash(message_for(refused), "error")
        return redirect(url_for("security.security"))
    uri = twofactor.provisioning_uri(user, secret)
    return _page(enrolling=True, secret=secret, qr=twofactor.qr_data_uri(uri))


@bp.post("/security/2fa/confirm")
@roles_required()
def confirm_2fa():
    user = page_user()
    try:
        codes = twofactor.confirm(user.id, request.form.get("otp", ""))
    except (Unauthorized, LockedOut, Conflict) as refused:
        secret = user.totp_secret
        qr = twofactor.qr_data_uri(twofactor.provisioning_uri(user, secret)) if secret else None
        return _page(refused.status, enrolling=bool(secret), secret=secret, qr=qr,
                     error=message_for(refused))
    return _page(recovery_codes=codes)


@bp.post("/security/2fa/disable")
@roles_required()
def disable_2fa():
    try:
        twofactor.disable(page_user().id, request.form.get("otp", ""))
    except (Unauthorized, LockedOut, Forbidden) as refused:
        return _page(refused.status, error=message_for(refused))
    flash(_("The second factor is off."), "info")
    return redirect(url_for("security.security"))
