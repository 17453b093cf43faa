"""Sign up, sign in, sign out and the language / currency switcher."""

from __future__ import annotations

import time
from dataclasses import dataclass

from babel import Locale
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from pydantic import ValidationError

from marketplace.accounts import lifecycle as account_lifecycle
from marketplace.accounts import service as accounts
from marketplace.accounts import sessions, twofactor
from marketplace.accounts.errors import AccountError
from marketplace.accounts.models import Role
from marketplace.accounts.schemas import RegisterIn
from marketplace.accounts.throttle import LockedOut
from marketplace.checkout import service as checkout
from marketplace.errors import Unauthorized, ValidationFailed
from marketplace.extensions import limiter
from marketplace.geo import COUNTRIES
from marketplace.i18n import LANGUAGES, current_language, remember_preferences
from marketplace.money import PRESENTMENT_CURRENCIES
from marketplace.security import rotate_csrf_token
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import html_errors, page_user, safe_next

bp = html_errors(Blueprint("auth", __name__))

_KEPT_ON_SIGN_IN = ("locale", "currency")


def _auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def home_for(user) -> str:
    if twofactor.blocked(user):
        return url_for("security.security")
    if user.role == Role.ARTISAN:
        return url_for("workshop.dashboard")
    if user.role == Role.OPERATOR:
        return url_for("console.dashboard")
    return url_for("shop.catalogue")


def _start_session(user) -> None:
    # A fresh session on sign-in (no fixation); the visitor keeps their language and currency,
    # and a guest's cart joins the account's.
    kept = {key: session[key] for key in _KEPT_ON_SIGN_IN if key in session}
    guest_id = session.get("user_id") if session.get("guest") else None
    session.clear()
    session.update(kept)
    session["user_id"] = user.id
    sessions.rotate_current()
    rotate_csrf_token()
    if guest_id and guest_id != user.id:
        checkout.merge_cart(guest_id, user.id)
    if kept.get("locale") in LANGUAGES and kept["locale"] != user.locale:
        # the language chosen on the site is the one the user's mails are written in
        account_lifecycle.update_profile(user, locale=kept["locale"])


def start_guest_session(user) -> None:
    """A visitor who adds a piece without signing in shops as a guest from now on."""
    kept = {key: session[key] for key in _KEPT_ON_SIGN_IN if key in session}
    session.clear()
    session.update(kept)
    session["user_id"] = user.id
    session["guest"] = True
    sessions.rotate_current()
    rotate_csrf_token()


def countries_for_language(language: str) -> list[tuple[str, str]]:
    names = Locale.parse(language).territories
    return sorted(((code, names.get(code, fallback)) for code, fallback in COUNTRIES.items()),
                  key=lambda item: item[1])


# Offered first where a Kazakh workshop names a country: Kazakhstan, the other members of the
# Eurasian Economic Union, and the neighbours its materials most often come from.
COMMON_COUNTRIES = ("KZ", "RU", "KG", "BY", "AM", "UZ", "CN", "TR", "MN")


@dataclass(frozen=True)
class CountryChoices:
    common: list[tuple[str, str]]
    rest: list[tuple[str, str]]


def countries_common_first(language: str) -> CountryChoices:
    """The countries for a select: the common ones (in that order), then all the others."""
    every = countries_for_language(language)
    named = dict(every)
    return CountryChoices(common=[(code, named[code]) for code in COMMON_COUNTRIES],
                          rest=[item for item in every if item[0] not in COMMON_COUNTRIES])


def _signup_errors(exc: ValidationError) -> dict[str, str]:
    messages = {
        "email": _("Enter a valid email address."),
        "password": _("Use a password of at least 10 characters."),
        "role": _("Choose whether you buy or make crafts."),
        "name": _("Enter your name."),
        "country": _("Choose your country."),
    }
    errors = {}
    for item in exc.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        errors[field] = messages.get(field, _("Check this field."))
        if field == "password" and item["type"] == "value_error" \
                and "at least" not in item["msg"]:
            errors[field] = _("This password is too easy to guess: avoid common passwords, "
                              "runs like 1234567890, and your own address.")
        elif field == "email" and "scripts" in item["msg"]:
            errors[field] = _("This address mixes letters of different alphabets. "
                              "Type it in one alphabet.")
    return errors


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def signup():
    form = {"role": "buyer", "country": "", "name": "", "email": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in ("name", "email", "role",
                                                                   "country")}
        try:
            # a currency the visitor chose stays; else the buyer's country's (sign_up)
            chosen = session.get("currency") if session.get("currency") in (
                PRESENTMENT_CURRENCIES) else None
            fields = RegisterIn(password=request.form.get("password", ""),
                                locale=current_language(), currency=chosen, **form)
            registration = account_lifecycle.register(**fields.model_dump())
        except ValidationError as exc:
            errors, status = _signup_errors(exc), 422
        except LockedOut as refused:
            errors, status = {"email": message_for(refused)}, refused.status
        else:
            # A taken address answers the same (its owner was mailed), without a session.
            user = registration.user
            if registration.created:
                _start_session(user)
            flash(_("Welcome to Sheber, %(name)s.", name=user.name), "success")
            return redirect(safe_next(request.args.get("next"), home_for(user)))
    return render_template("storefront/signup.html", form=form, errors=errors,
                           countries=countries_for_language(current_language())), status


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def signin():
    email = ""
    error = None
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        try:
            user = accounts.authenticate(email, request.form.get("password", ""))
        except (Unauthorized, LockedOut) as refused:
            error, status = message_for(refused), refused.status
        else:
            if twofactor.enabled(user):
                # the password held; the session is given only once the code does too
                session["pending_2fa"] = {"user_id": user.id, "at": int(time.time())}
                return redirect(url_for("auth.signin_code", next=request.args.get("next")))
            _start_session(user)
            return redirect(safe_next(request.args.get("next"), home_for(user)))
    elif page_user() is not None and not page_user().is_guest:
        return redirect(safe_next(request.args.get("next"), home_for(page_user())))
    email = email or request.args.get("email", "")
    return render_template("storefront/signin.html", email=email, error=error), status


PENDING_SECONDS = 300


@bp.route("/signin/code", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def signin_code():
    """The second step of signing in, for accounts with a second factor."""
    pending = session.get("pending_2fa") or {}
    user = accounts.get_user(pending.get("user_id", "")) if pending else None
    if user is None or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop("pending_2fa", None)
        return redirect(url_for("auth.signin", next=request.args.get("next")))
    error, status = None, 200
    if request.method == "POST":
        try:
            twofactor.verify(user, request.form.get("otp", ""))
        except (Unauthorized, LockedOut) as refused:
            error, status = message_for(refused), refused.status
        else:
            _start_session(user)
            return redirect(safe_next(request.args.get("next"), home_for(user)))
    return render_template("storefront/signin_code.html", error=error), status


@bp.post("/signout")
def signout():
    kept = {key: session[key] for key in _KEPT_ON_SIGN_IN if key in session}
    session.clear()
    session.update(kept)
    sessions.rotate_current()  # the old key, wherever it was copied to, is dead
    flash(_("You have signed out."), "info")
    return redirect(url_for("shop.catalogue"))


@bp.post("/preferences")
def preferences():
    """The language and currency switcher in the page header."""
    language, currency = request.form.get("language"), request.form.get("currency")
    remember_preferences(language=language, currency=currency)
    user = page_user()
    if user is not None:  # the account's mails follow the language chosen here
        account_lifecycle.update_profile(
            user, locale=language if language in LANGUAGES else None,
            currency=currency if currency in PRESENTMENT_CURRENCIES else None)
    return redirect(safe_next(request.form.get("next"), url_for("shop.catalogue")))


# --- password reset ---------------------------------------------------------------------------

@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def forgot_password():
    """Ask for a reset link; the page says the same whether the address has an account."""
    sent = False
    email = ""
    error, status = None, 200
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        try:
            account_lifecycle.request_password_reset(email)
        except LockedOut as refused:
            error, status = message_for(refused), refused.status
        except ValidationFailed:
            sent = True  # an address that cannot be one has no account: the same answer
        else:
            sent = True
    return render_template("storefront/password_forgot.html", sent=sent, email=email,
                           error=error), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def reset_password(token: str):
    error = None
    status = 200
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_again", ""):
            error, status = _("The two passwords differ."), 422
        else:
            try:
                user = account_lifecycle.reset_password(token, password)
            except LockedOut as refused:
                error, status = message_for(refused), refused.status
            except ValidationFailed as refused:
                status = refused.status
                error = (_("Use a password of at least 10 characters.")
                         if refused.code == AccountError.PASSWORD_TOO_SHORT
                         else message_for(refused))
            else:
                session.clear()
                flash(_("Your password has been changed. Sign in with the new one."), "success")
                return redirect(url_for("auth.signin", email=user.email))
    else:
        try:
            if not account_lifecycle.reset_token_valid(token):
                error = message_for(ValidationFailed("", code=AccountError.TOKEN_INVALID))
                status = 422
        except LockedOut as refused:
            error, status = message_for(refused), refused.status
    return render_template("storefront/password_reset.html", token=token, error=error), status
