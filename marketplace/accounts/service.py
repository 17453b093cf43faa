"""Accounts: registration, password checks, bearer tokens, operators."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from marketplace.accounts.errors import AccountError
from marketplace.accounts.models import ApiToken, Role, User
from marketplace.errors import Conflict, Unauthorized
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.transaction import use_case

_hasher = PasswordHasher()  # argon2id, memory-hard
# Verified against when the email is unknown so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("sheber-timing-equaliser")

TOKEN_PREFIX = "shb_"


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
    return email.strip().lower()


@use_case
def create_user(*, email: str, password: str, role: Role | str, name: str, country: str,
                locale: str = "en", currency: str = "USD") -> User:
    email = normalise_email(email)
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise Conflict("An account with this email already exists.", errors={"email": ["taken"]},
                       code=AccountError.EMAIL_TAKEN)
    user = User(email=email, password_hash=hash_password(password), role=str(Role(role)),
                name=name, country=country.upper(), locale=locale, currency=currency.upper())
    db.session.add(user)
    db.session.flush()
    return user


@use_case
def issue_token(user: User) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token)))
    return token


@use_case
def register(**fields) -> tuple[User, str]:
    """A new account (with its welcome mail) and its first token, in one transaction."""
    from marketplace.accounts import lifecycle

    user = lifecycle.sign_up(**fields)
    return user, issue_token(user)


def authenticate(email: str, password: str) -> User:
    user = db.session.execute(
        select(User).where(User.email == normalise_email(email))
    ).scalar_one_or_none()
    if user is None or user.is_guest or user.deleted_at is not None:
        verify_password(_DUMMY_HASH, password)
        raise Unauthorized("Wrong email or password.", code=AccountError.INVALID_CREDENTIALS)
    if not verify_password(user.password_hash, password):
        raise Unauthorized("Wrong email or password.", code=AccountError.INVALID_CREDENTIALS)
    return user


def login(email: str, password: str) -> tuple[User, str]:
    user = authenticate(email, password)
    return user, issue_token(user)


def user_for_token(token: str) -> User | None:
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token),
                               ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    return row.user if row else None


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
    if user.credentials_changed_at is not None and not session_outlives(
            session.get("signed_in_at"), user.credentials_changed_at):
        return None  # signed in before a password reset: that session is over
    return user


def session_outlives(signed_in_at: float | None, changed_at) -> bool:
    """Was a session (``signed_in_at``, unix seconds) opened after ``changed_at`` (naive UTC)?"""
    from datetime import UTC

    if not signed_in_at:
        return False
    return float(signed_in_at) >= changed_at.replace(tzinfo=UTC).timestamp()


def get_user(user_id: str) -> User | None:
    return db.session.get(User, user_id)
