from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, request

from marketplace.accounts import service, sessions, twofactor
from marketplace.accounts.errors import AccountError
from marketplace.accounts.schemas import (
    ApiTokensOut,
    LoginIn,
    OtpIn,
    RecoveryCodesOut,
    RegisterIn,
    SecondFactorBeginOut,
    SessionsOut,
    TokenOut,
    UserOut,
    session_out,
    token_out,
    user_out,
)
from marketplace.errors import NotFound
from marketplace.extensions import limiter
from marketplace.http import auth_required, current_user, json_body, responds
from marketplace.schemas import build

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")


def _auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


@bp.post("/auth/register")
@limiter.limit(_auth_limit)
@json_body(RegisterIn)
@responds(TokenOut, 201)
def register(body: RegisterIn):
    """Register a buyer or an artisan and get a token."""
    user, token = service.register(**body.model_dump())
    return build(TokenOut, user=user_out(user), token=token), 201


@bp.post("/auth/tokens")
@limiter.limit(_auth_limit)
@json_body(LoginIn)
@responds(TokenOut, 201)
def create_token(body: LoginIn):
    """Sign in: exchange email and password for a bearer token."""
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    user, token = service.login(body.email, body.password, otp=body.otp, name=body.name,
                                ttl=ttl)
    return build(TokenOut, token=token, user=user_out(user)), 201


@bp.get("/auth/tokens")
@auth_required()
@responds(ApiTokensOut)
def list_tokens():
    """Your bearer tokens that still work (not the secrets: those are shown once)."""
    current = service.current_token_id(request)
    return build(ApiTokensOut, items=[token_out(row, current)
                                      for row in service.live_tokens(current_user().id)])


@bp.delete("/auth/tokens/<token_id>")
@auth_required()
@responds(None, 204)
def revoke_token(token_id: str):
    """Revoke one of your tokens."""
    service.revoke_token_by_id(current_user().id, token_id)
    return "", 204


@bp.get("/auth/sessions")
@auth_required()
@responds(SessionsOut)
def list_sessions():
    """Your signed-in browser sessions."""
    current = sessions.current_session_id()
    return build(SessionsOut, items=[session_out(record, current)
                                     for record in sessions.user_sessions(current_user().id)])


@bp.delete("/auth/sessions/<session_id>")
@auth_required()
@responds(None, 204)
def end_session(session_id: str):
    """Sign one of your browser sessions out."""
    if not sessions.end_session(current_user().id, session_id):
        raise NotFound("No such session.", code=AccountError.SESSION_NOT_FOUND)
    return "", 204


@bp.post("/auth/signout-everywhere")
@auth_required()
@responds(None, 204)
def sign_out_everywhere():
    """End every browser session and revoke every token of yours, this one included."""
    service.end_all_sessions_and_tokens(current_user().id)
    return "", 204


@bp.delete("/auth/tokens/current")
@auth_required()
@responds(None, 204)
def revoke_current_token():
    """Revoke the token used for this request."""
    token = service.bearer_token(request)
    if token:
        service.revoke_token(token)
    return "", 204


@bp.get("/me")
@auth_required()
@responds(UserOut)
def me():
    """The signed-in user, with role."""
    return user_out(current_user())


@bp.post("/auth/second-factor")
@limiter.limit(_auth_limit)
@auth_required()
@responds(SecondFactorBeginOut, 201)
def begin_second_factor():
    """Begin enrolling a TOTP second factor: the secret and its QR code, shown once."""
    user = current_user()
    secret = twofactor.begin(user.id)
    uri = twofactor.provisioning_uri(user, secret)
    return build(SecondFactorBeginOut, secret=secret, otpauth_uri=uri,
                 qr_svg=twofactor.qr_svg(uri)), 201


@bp.post("/auth/second-factor/confirm")
@limiter.limit(_auth_limit)
@auth_required()
@json_body(OtpIn)
@responds(RecoveryCodesOut, 201)
def confirm_second_factor(body: OtpIn):
    """Turn the second factor on with a code from the app; the recovery codes, shown once."""
    codes = twofactor.confirm(current_user().id, body.otp)
    return build(RecoveryCodesOut, recovery_codes=codes), 201


@bp.post("/auth/second-factor/disable")
@limiter.limit(_auth_limit)
@auth_required()
@json_body(OtpIn)
@responds(None, 204)
def disable_second_factor(body: OtpIn):
    """Turn the second factor off (not for operators while it is required)."""
    twofactor.disable(current_user().id, body.otp)
    return "", 204
