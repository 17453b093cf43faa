"""Accounts people trust: a welcome, password reset by a mailed single-use token, e-mail change
with confirmation, guests, preferences that follow the user, and deletion.

A reset token lives one hour (``PASSWORD_RESET_TTL``) and works once; using it sets the new
password, revokes every bearer token, ends every browser session
(``service.end_all_sessions_and_tokens``) and spends the user's other reset tokens.
Deleting an account anonymises what identifies the person (name, e-mail, password, addresses,
tokens); higher domains anonymise their own rows in the same transaction (``ACCOUNT_DELETED``
reactions) and keep what tax law requires on orders (data/accounts/retention.json).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import delete, select, update

from marketplace import mail, outbox
from marketplace.accounts import service, throttle
from marketplace.accounts.errors import AccountError
from marketplace.accounts.models import AccountToken, Address, Role, TokenPurpose, User
from marketplace.errors import Conflict, Forbidden, ValidationFailed
from marketplace.extensions import db
from marketplace.i18n import currency_for_country
from marketplace.ids import utcnow
from marketplace.transaction import use_case

PASSWORD_RESET_TTL = timedelta(hours=1)
EMAIL_CHANGE_TTL = timedelta(hours=24)
UNUSABLE_PASSWORD = "!"  # never an argon2 hash: verify_password is always False

# Outbox events (reactions run in the same transaction).
ACCOUNT_CREATED = "account.created"  # {"user_id"}: a real account (not a guest) was opened
ACCOUNT_DELETED = "account.deleted"  # {"user_id"}: anonymise what you keep about this user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_url() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/")


# --- opening accounts --------------------------------------------------------------------------

def _account_fields(fields: dict) -> dict:
    """What an account is opened with: the fields given, in the currency of its country unless
    one was chosen."""
    return {**fields,
            "currency": fields.get("currency") or currency_for_country(fields.get("country"))}


@use_case
def sign_up(**fields) -> User:
    """A new account; its welcome mail is queued by the ``ACCOUNT_CREATED`` reaction (which
    knows about guest orders this address may claim)."""
    user = service.create_user(**_account_fields(fields))
    outbox.emit(ACCOUNT_CREATED, {"user_id": user.id})
    return user


@dataclass(frozen=True)
class Registration:
    """What a registration answers: the account and its first token. When the address was
    taken, ``user`` is a stand-in (never stored) and ``token`` opens nothing: the answer reads
    the same, and the address's owner was mailed instead (``created`` is False)."""

    user: User
    token: str
    created: bool


def register(**fields) -> Registration:
    """Open an account, unless the address (or one that reads the same) has one already: then
    its owner gets a mail saying someone tried ("sign in or reset your password"), and the
    caller gets an answer of the same form, with no session. Every attempt counts against the
    address and the client (``throttle``), so nobody mails an owner, or opens accounts,
    without end."""
    address = service.normalise_email(fields.get("email") or "")
    throttle.attempt("register", address)
    return _register(**{**fields, "email": address})


@use_case
def _register(**fields) -> Registration:
    owner = service.account_reading_as(fields["email"])
    if owner is None:
        user = sign_up(**fields)
        return Registration(user=user, token=service.issue_token(user), created=True)
    # the same checks and the same work as a new account, so neither answer nor time differ
    service.validate_password(fields["password"], email=fields["email"])
    service.hash_password(fields["password"])
    mail.queue_template("registration_attempt", to=owner.email, locale=owner.locale,
                        name=owner.name, attempted_email=fields["email"], to_email=owner.email,
                        signin_url=f"{public_url()}/signin?{urlencode({'email': owner.email})}",
                        reset_url=f"{public_url()}/password/forgot")
    opened = _account_fields(fields)
    del opened["password"]
    stand_in = service.new_user(password_hash=UNUSABLE_PASSWORD, **opened)
    return Registration(user=stand_in, token=service.TOKEN_PREFIX + secrets.token_urlsafe(32),
                        created=False)


@use_case
def create_guest(*, locale: str = "en", currency: str = "USD", country: str = "US") -> User:
    """A guest buyer: no e-mail, no password; its orders keep the address they are paid with."""
    user = User(email=None, password_hash=UNUSABLE_PASSWORD, role=str(Role.BUYER), name="",
                country=country.upper(), locale=locale, currency=currency.upper(),
                is_guest=True)
    db.session.add(user)
    db.session.flush()
    return user


def queue_welcome(user: User, *, claim_url: str | None = None, claim_count: int = 0) -> None:
    mail.queue_template("welcome", to=user.email, locale=user.locale, name=user.name,
                        role=user.role, claim_url=claim_url, claim_count=claim_count)


# --- preferences --------------------------------------------------------------------------------

@use_case
def update_profile(user: User, *, locale: str | None = None, currency: str | None = None,
                   name: str | None = None, country: str | None = None) -> User:
    """Change what the user chose (the site's language switcher and ``PATCH /api/v1/me``)."""
    user = db.session.get(User, user.id)
    if locale is not None:
        user.locale = locale
    if currency is not None:
        user.currency = currency.upper()
    if name is not None:
        user.name = name
    if country is not None:
        user.country = country.upper()
    return user


def _require_account(user: User) -> None:
    if user.is_guest or user.deleted_at is not None:
        raise Forbidden("A guest checkout has no account to change; sign up first.",
                        code=AccountError.GUEST_ONLY_ACCOUNT)


def _check_password(user: User, password: str) -> None:
    if not service.verify_password(user.password_hash, password or ""):
        raise Forbidden("The current password does not match.", code=AccountError.PASSWORD_WRONG,
                        errors={"password": ["does not match"]})


# --- mailed single-use tokens ---------------------------------------------------------------------

def _issue(user: User, purpose: TokenPurpose, ttl: timedelta, *,
           new_email: str | None = None) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + ttl
    db.session.add(AccountToken(user_id=user.id, purpose=str(purpose), token_hash=_digest(token),
                                new_email=new_email, expires_at=expires_at))
    return token, expires_at


def _spend(token: str, purpose: TokenPurpose) -> AccountToken:
    """Mark a valid token used (once: a conditional UPDATE), or raise TOKEN_INVALID."""
    now = utcnow()
    row = db.session.execute(select(AccountToken).where(
        AccountToken.token_hash == _digest(token or ""),
        AccountToken.purpose == str(purpose))).scalar_one_or_none()
    spent = row is not None and db.session.execute(
        update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None),
                                   AccountToken.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount == 1
    if not spent:
        raise ValidationFailed("This link is unknown, has been used or has expired.",
                               code=AccountError.TOKEN_INVALID,
                               errors={"token": ["invalid or expired"]})
    return row


def request_password_reset(email: str) -> bool:
    """Mail a reset link to the account with ``email``, if there is one; the caller answers the
    same either way (nobody learns which addresses have accounts), in about the same time (the
    mail is written either way). Each request counts against the address and the client
    (``throttle``: 429 while locked, for known and unknown addresses alike). True if a mail was
    queued."""
    address = service.normalise_email(email or "")
    throttle.attempt("reset", address)
    return _mail_reset_link(address)


@use_case
def _mail_reset_link(address: str) -> bool:
    user = db.session.execute(select(User).where(
        User.email == address, User.is_guest.is_(False),
        User.deleted_at.is_(None))).scalar_one_or_none()
    if user is None:
        mail.render_mail("password_reset", locale="en", name="",
                         reset_url=f"{public_url()}/password/reset/{secrets.token_urlsafe(32)}",
                         expires_at=utcnow() + PASSWORD_RESET_TTL)
        return False
    token, expires_at = _issue(user, TokenPurpose.PASSWORD_RESET, PASSWORD_RESET_TTL)
    mail.queue_template("password_reset", to=user.email, locale=user.locale, name=user.name,
                        reset_url=f"{public_url()}/password/reset/{token}",
                        expires_at=expires_at)
    return True


def reset_token_valid(token: str) -> bool:
    """Whether a reset link still works; an unknown one counts against the client, as a wrong
    one at ``reset_password`` does (429 while locked)."""
    throttle.check("reset-link", None)
    row = db.session.execute(select(AccountToken.id).where(
        AccountToken.token_hash == _digest(token or ""),
        AccountToken.purpose == str(TokenPurpose.PASSWORD_RESET),
        AccountToken.used_at.is_(None), AccountToken.expires_at > utcnow())).first()
    if row is None:
        throttle.failed("reset-link", None)
    return row is not None


def reset_password(token: str, new_password: str) -> User:
    """Set a new password with a mailed token: every token and session of the user ends. A
    client that keeps sending unknown tokens is locked out (429) like one guessing passwords."""
    throttle.check("reset-link", None)
    try:
        return _reset_password(token, new_password)
    except ValidationFailed as refused:
        if refused.code == AccountError.TOKEN_INVALID:
            throttle.failed("reset-link", None)
        raise


@use_case
def _reset_password(token: str, new_password: str) -> User:
    if not 10 <= len(new_password or "") <= 200:
        raise ValidationFailed("Use a password of at least 10 characters.",
                               code=AccountError.PASSWORD_TOO_SHORT,
                               errors={"password": ["at least 10 characters"]})
    row = _spend(token, TokenPurpose.PASSWORD_RESET)
    user = db.session.get(User, row.user_id)
    user.password_hash = service.hash_password(new_password)
    end_sessions(user)
    db.session.execute(update(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == str(TokenPurpose.PASSWORD_RESET),
        AccountToken.used_at.is_(None)).values(used_at=utcnow())
        .execution_options(synchronize_session=False))
    return user


def end_sessions(user: User) -> None:
    """Every bearer token revoked and every browser session ended (server-side sessions)."""
    service.end_all_sessions_and_tokens(user.id)


@use_case
def request_email_change(user: User, new_email: str, password: str) -> None:
    """Mail a confirmation link to the new address; the account keeps its address until the
    link is followed."""
    user = db.session.get(User, user.id)
    _require_account(user)
    _check_password(user, password)
    new_email = service.normalise_email(new_email)
    if service.account_reading_as(new_email) is not None:
        raise Conflict("An account with this email already exists.", errors={"email": ["taken"]},
                       code=AccountError.EMAIL_TAKEN)
    token, expires_at = _issue(user, TokenPurpose.EMAIL_CHANGE, EMAIL_CHANGE_TTL,
                               new_email=new_email)
    mail.queue_template("email_change", to=new_email, locale=user.locale, name=user.name,
                        new_email=new_email, old_email=user.email, expires_at=expires_at,
                        confirm_url=f"{public_url()}/account/email/{token}")


@use_case
def confirm_email_change(token: str) -> User:
    row = _spend(token, TokenPurpose.EMAIL_CHANGE)
    user = db.session.get(User, row.user_id)
    if db.session.execute(select(User.id).where(User.email == row.new_email,
                                                User.id != user.id)).first():
        raise Conflict("An account with this email already exists.", errors={"email": ["taken"]},
                       code=AccountError.EMAIL_TAKEN)
    user.email = row.new_email
    return user


# --- deletion ----------------------------------------------------------------------------------

@use_case
def delete_account(user: User, password: str) -> None:
    """Anonymise the account: what identifies the person goes, the rows that others' records
    point to stay (orders keep what tax law requires: data/accounts/retention.json)."""
    user = db.session.get(User, user.id)
    _require_account(user)
    _check_password(user, password)
    anonymise(user)


def anonymise(user: User) -> None:
    end_sessions(user)
    user.email = None
    user.name = ""
    user.password_hash = UNUSABLE_PASSWORD
    user.deleted_at = utcnow()
    db.session.execute(delete(Address).where(Address.user_id == user.id))
    db.session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))
    outbox.emit(ACCOUNT_DELETED, {"user_id": user.id})
