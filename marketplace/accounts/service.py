"""Accounts: registration, password checks, bearer tokens, operators."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update

from marketplace.accounts import sessions, throttle, twofactor
from marketplace.accounts.errors import AccountError
from marketplace.accounts.identity import (
    IdentityRefused,
    check_password,
    email_skeleton,
    lookup_email,
    reads_as,
)
from marketplace.accounts.identity import normalise_email as _normalise_email
from marketplace.accounts.models import ApiToken, Role, User
from marketplace.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.transaction import use_case

_hasher = PasswordHasher()  # argon2id, memory-hard
# Verified against when the email is unknown so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("sheber-timing-equaliser")

TOKEN_PREFIX = "shb_"
TOKEN_TOUCH_EVERY = timedelta(seconds=60)  # last use is written at most this often


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """The stored spelling (NFKC, case-folded, IDNA domain); refuses look-alike addresses."""
    try:
        return _normalise_email(email)
    except IdentityRefused as refused:
        raise ValidationFailed("The email address is not usable.",
                               errors={"email": [str(refused)]},
                               code=AccountError.EMAIL_REFUSED) from None


def validate_password(password: str, *, email: str | None = None) -> None:
    """NIST 800-63B: long enough, not common, not sequential, not the site or the address."""
    try:
        check_password(password, email=email)
    except IdentityRefused as refused:
        raise ValidationFailed("The password is too easy to guess.",
                               errors={"password": [str(refused)]},
                               code=AccountError.PASSWORD_REFUSED,
                               reason=refused.reason) from None


def account_reading_as(address: str) -> User | None:
    """The live account whose (stored) address is this one, or one that reads the same
    (``identity.reads_as``: the same UTS #39 skeleton, in another script)."""
    candidates = db.session.execute(select(User).where(
        or_(User.email == address, User.email_skeleton == email_skeleton(address)),
        User.deleted_at.is_(None)).order_by(User.created_at)).scalars().all()
    exact = [user for user in candidates if user.email == address]
    return next(iter(exact + [user for user in candidates
                              if user.email and reads_as(address, user.email)]), None)


@use_case
def create_user(*, email: str, password: str, role: Role | str, name: str, country: str,
                locale: str = "en", currency: str = "USD") -> User:
    email = normalise_email(email)
    validate_password(password, email=email)
    if account_reading_as(email) is not None:
        raise Conflict("An account with this email already exists.", errors={"email": ["taken"]},
                       code=AccountError.EMAIL_TAKEN)
    user = new_user(email=email, password_hash=hash_password(password), role=role, name=name,
                    country=country, locale=locale, currency=currency)
    db.session.add(user)
    db.session.flush()
    return user


def new_user(*, email: str, password_hash: str, role: Role | str, name: str, country: str,
             locale: str = "en", currency: str = "USD") -> User:
    """An account's row as ``create_user`` stores it, not yet added to the session: id and
    creation time set, so that one never stored (a registration's stand-in) reads the same."""
    return User(id=new_id(), email=email, password_hash=password_hash, role=str(Role(role)),
                name=name, country=country.upper(), locale=locale, currency=currency.upper(),
                created_at=utcnow(), is_guest=False)


def _token_ttl() -> timedelta:
    from flask import current_app

    return timedelta(days=current_app.config.get("API_TOKEN_TTL_DAYS", 30))


def _client_address() -> str | None:
    from flask import has_request_context, request

    return request.remote_addr if has_request_context() else None


@use_case
def issue_token(user: User, *, name: str = "", ttl: timedelta | None = None) -> str:
    """A new bearer token, valid for ``ttl`` (``API_TOKEN_TTL_DAYS`` by default)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), name=name[:100],
                            created_ip=_client_address(),
                            expires_at=utcnow() + min(ttl or _token_ttl(), _token_ttl())))
    return token


def authenticate(email: str, password: str) -> User:
    """The user with this address and password; 401 for either wrong (which one is not said),
    429 while the address or the client is locked out after repeated failures."""
    address = lookup_email(email)
    throttle.check("signin", address)
    user = db.session.execute(select(User).where(User.email == address)).scalar_one_or_none()
    if user is not None and (user.is_guest or user.deleted_at is not None):
        user = None
    if user is None:
        verify_password(_DUMMY_HASH, password)
    if user is None or not verify_password(user.password_hash, password):
        throttle.failed("signin", address)
        raise Unauthorized("Wrong email or password.", code=AccountError.INVALID_CREDENTIALS)
    throttle.succeeded("signin", address)
    return user


def login(email: str, password: str, *, otp: str | None = None, name: str = "",
          ttl: timedelta | None = None) -> tuple[User, str]:
    """A token for the address and password, and the second factor's code when it has one."""
    user = authenticate(email, password)
    twofactor.check_at_sign_in(user, otp)
    return user, issue_token(user, name=name, ttl=ttl)


def _live_token(token: str) -> ApiToken | None:
    if not token.isascii() or len(token) > 200:
        return None
    now = utcnow()
    return db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token),
                               ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
    ).scalar_one_or_none()


# What an operator who must enrol a second factor may still reach with their session.
ENROLMENT_ENDPOINTS = frozenset({"security.security", "security.begin_2fa", "security.confirm_2fa",
                                 "auth.signout", "accounts.me", "accounts.begin_second_factor",
                                 "accounts.confirm_second_factor"})


def user_for_token(token: str) -> User | None:
    row = _live_token(token)
    if row is None or twofactor.blocked(row.user):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_TOUCH_EVERY:
        _touch_token(row.id, now)
    return row.user


@use_case
def _touch_token(token_id: str, now) -> None:
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id)
                       .values(last_used_at=now).execution_options(synchronize_session=False))


def current_token_id(request) -> str | None:
    token = bearer_token(request)
    row = _live_token(token) if token else None
    return row.id if row else None


def live_tokens(user_id: str) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None),
                               ApiToken.expires_at > utcnow())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


@use_case
def revoke_token_by_id(user_id: str, token_id: str) -> None:
    """Revoke one of the user's own tokens; 404 for any other id (someone else's included)."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise NotFound("No such token.", code=AccountError.TOKEN_NOT_FOUND)
    row.revoked_at = utcnow()


@use_case
def end_all_sessions_and_tokens(user_id: str, *, keep_current_session: bool = False) -> int:
    """Sign the user out everywhere: every browser session ends and every bearer token is
    revoked, in the caller's transaction. For a password change or reset, and "sign out
    everywhere". Returns how many sessions and tokens ended."""
    ended = sessions.end_all_sessions(user_id, keep_current=keep_current_session)
    ended += db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    return ended


@use_case
def revoke_token(token: str) -> None:
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token))
    ).scalar_one_or_none()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def user_from_request(request) -> User | None:
    """Bearer token for the API; the signed session cookie for HTML pages."""
    token = bearer_token(request)
    if token:
        return user_for_token(token)
    from flask import session

    user_id = session.get("user_id")
    user = db.session.get(User, user_id) if user_id else None
    if user is None or user.deleted_at is not None:
        return None
    if user is not None and twofactor.blocked(user) and request.endpoint not in \
            ENROLMENT_ENDPOINTS:
        return None  # signed in, but only to enrol a second factor
    return user


def get_user(user_id: str) -> User | None:
    return db.session.get(User, user_id)
