from __future__ import annotations

from flask import Blueprint, current_app, request

from marketplace.accounts import service
from marketplace.accounts.schemas import LoginIn, RegisterIn, TokenOut, UserOut, user_out
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
    user, token = service.login(body.email, body.password)
    return build(TokenOut, token=token, user=user_out(user)), 201


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
