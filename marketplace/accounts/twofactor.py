"""A second factor: TOTP (RFC 6238, 30-second steps, 6 digits) with single-use recovery codes.

Operators must have one when ``OPERATOR_2FA_REQUIRED`` is on (the default in production, off
in development): without it they get no token and no signed-in page but the one where they
enrol. Artisans and buyers may enrol too. Enrolment is two steps: ``begin`` stores a fresh
secret and shows it (and its QR code) once; ``confirm`` with a code from the app turns it on
and returns ten recovery codes, of which only SHA-256 digests are kept. A code is accepted once
(the last step used is stored) and failures lock out with back-off like passwords do.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import time

import pyotp
from flask import current_app
from sqlalchemy import select

from marketplace.accounts import throttle
from marketplace.accounts.errors import AccountError
from marketplace.accounts.models import RecoveryCode, Role, User
from marketplace.errors import Conflict, Forbidden, Unauthorized
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.transaction import use_case

ISSUER = "Sheber"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def required_for(user: User) -> bool:
    return user.role == Role.OPERATOR and bool(current_app.config.get("OPERATOR_2FA_REQUIRED"))


def enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def blocked(user: User) -> bool:
    """True when this user must enrol before acting."""
    return required_for(user) and not enabled(user)


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def qr_data_uri(uri: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(uri).encode()).decode()


@use_case
def begin(user_id: str) -> str:
    """A new secret for the user, not yet active; returns it (shown once)."""
    user = db.session.get(User, user_id)
    if enabled(user):
        raise Conflict("A second factor is already on; turn it off first.",
                       code=AccountError.SECOND_FACTOR_ALREADY_ON)
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    return user.totp_secret


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_digest(code)))
        codes.append(code)
    return codes


def _totp_step(user: User, code: str) -> int | None:
    """The time step the code belongs to (now, or one step either side), if it is valid."""
    if not user.totp_secret or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(user.totp_secret)
    now = time.time()
    for offset in (0, -1, 1):
        moment = now + offset * totp.interval
        if secrets.compare_digest(totp.at(moment), code):
            return int(moment // totp.interval)
    return None


def confirm(user_id: str, code: str) -> list[str]:
    """Turn the begun secret on with a code from the app; returns the recovery codes.
    (Not one use case: a wrong code's failure count must be committed, not rolled back.)"""
    user = db.session.get(User, user_id)
    if enabled(user):
        raise Conflict("A second factor is already on.",
                       code=AccountError.SECOND_FACTOR_ALREADY_ON)
    if not user.totp_secret:
        raise Conflict("Begin the enrolment first.", code=AccountError.SECOND_FACTOR_NOT_BEGUN)
    verify(user, code)
    return _enable(user_id)


@use_case
def _enable(user_id: str) -> list[str]:
    user = db.session.get(User, user_id)
    user.totp_enabled_at = utcnow()
    return _new_recovery_codes(user)


def verify(user: User, code: str | None) -> None:
    """Accept one TOTP code (never the same step twice) or one unused recovery code; 401 else,
    and 429 after repeated failures."""
    code = (code or "").strip()
    throttle.check("otp", user.id)
    step = _totp_step(user, code)
    if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
        _accepted(user.id, step)
        db.session.refresh(user)
        return
    if step is None and len(code) >= 10 and _use_recovery_code(user.id, code):
        return
    throttle.failed("otp", user.id)
    raise Unauthorized("The code is wrong or was used already.",
                       code=AccountError.OTP_INVALID)


@use_case
def _accepted(user_id: str, step: int) -> None:
    db.session.get(User, user_id).totp_last_step = step
    throttle.succeeded("otp", user_id)


@use_case
def _use_recovery_code(user_id: str, code: str) -> bool:
    row = db.session.execute(select(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _digest(code),
        RecoveryCode.used_at.is_(None))).scalar_one_or_none()
    if row is None:
        return False
    row.used_at = utcnow()
    throttle.succeeded("otp", user_id)
    return True


def disable(user_id: str, code: str) -> None:
    user = db.session.get(User, user_id)
    if not enabled(user):
        return
    if required_for(user):
        raise Forbidden("Operators keep their second factor.",
                        code=AccountError.SECOND_FACTOR_REQUIRED)
    verify(user, code)
    _disable(user_id)


@use_case
def _disable(user_id: str) -> None:
    user = db.session.get(User, user_id)
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))


def check_at_sign_in(user: User, code: str | None) -> None:
    """At token creation: an enrolled user gives a code; a user who must enrol cannot sign in
    for a token until they have."""
    if enabled(user):
        if not code:
            raise Unauthorized("This account has a second factor: send `otp` as well.",
                               code=AccountError.OTP_REQUIRED)
        verify(user, code)
    elif required_for(user):
        raise Forbidden("Operators need a second factor: enrol on the account's security page "
                        "or with `flask users enrol-2fa`.",
                        code=AccountError.SECOND_FACTOR_REQUIRED)


def remaining_recovery_codes(user_id: str) -> int:
    return len(db.session.execute(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))).all())


@use_case
def enrol_now(user_id: str) -> tuple[str, list[str]]:
    """Enrol at once, from the command line (whoever runs it holds the server): the secret and
    the recovery codes, to be shown once."""
    user = db.session.get(User, user_id)
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    user.totp_enabled_at = utcnow()
    return user.totp_secret, _new_recovery_codes(user)
