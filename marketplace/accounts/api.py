from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, request

from marketplace.accounts import addresses, export, lifecycle, service, sessions, twofactor
from marketplace.accounts.errors import AccountError
from marketplace.accounts.schemas import (
    AcceptedOut,
    AccountExportOut,
    AddressIn,
    AddressListOut,
    AddressOut,
    AddressPatch,
    ApiTokensOut,
    EmailChangeIn,
    GuestIn,
    LoginIn,
    OtpIn,
    PasswordIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProfilePatch,
    RecoveryCodesOut,
    RegisterIn,
    SecondFactorBeginOut,
    SessionsOut,
    TokenIn,
    TokenOut,
    UserOut,
    address_out,
    session_out,
    token_out,
    user_out,
)
from marketplace.errors import NotFound
from marketplace.extensions import limiter
from marketplace.http import auth_required, current_user, json_body, parse_model, responds
from marketplace.schemas import build
from marketplace.validation import PostalAddress

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")


def _auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


@bp.post("/auth/register")
@limiter.limit(_auth_limit)
@json_body(RegisterIn)
@responds(TokenOut, 201)
def register(body: RegisterIn):
    """Register a buyer or an artisan and get a token. An address that has an account already
    (or reads the same as one) gets an answer of the same form, whose token opens nothing,
    while its owner is mailed that someone tried: the answer never says which addresses have
    accounts. 429 after repeated attempts for one address or from one client."""
    registration = lifecycle.register(**body.model_dump())
    return build(TokenOut, user=user_out(registration.user), token=registration.token), 201


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


@bp.patch("/me")
@auth_required()
@json_body(ProfilePatch)
@responds(UserOut)
def update_me(body: ProfilePatch):
    """Change your language (your mails follow it), currency, name or country."""
    user = lifecycle.update_profile(current_user(), **body.model_dump(exclude_none=True))
    return user_out(user)


@bp.post("/auth/guest")
@limiter.limit(_auth_limit)
@json_body(GuestIn)
@responds(TokenOut, 201)
def create_guest(body: GuestIn):
    """A guest buyer's token: fill a cart and check out with an e-mail address, no password."""
    user = lifecycle.create_guest(**body.model_dump())
    return build(TokenOut, user=user_out(user), token=service.issue_token(user)), 201


@bp.post("/auth/password-reset")
@limiter.limit(_auth_limit)
@json_body(PasswordResetIn)
@responds(AcceptedOut, 202)
def request_password_reset(body: PasswordResetIn):
    """Mail a single-use reset link (valid one hour) if an account has this address; the
    answer is the same either way. 429 after repeated requests for one address or from one
    client, whether or not it has an account."""
    lifecycle.request_password_reset(body.email)
    return build(AcceptedOut, accepted=True), 202


@bp.post("/auth/password-reset/confirm")
@limiter.limit(_auth_limit)
@json_body(PasswordResetConfirmIn)
@responds(None, 204)
def confirm_password_reset(body: PasswordResetConfirmIn):
    """Set a new password with the mailed token; every token and session of the account ends.
    429 for a client after repeated unknown tokens."""
    lifecycle.reset_password(body.token, body.password)
    return "", 204


@bp.post("/me/email")
@auth_required()
@limiter.limit(_auth_limit)
@json_body(EmailChangeIn)
@responds(AcceptedOut, 202)
def request_email_change(body: EmailChangeIn):
    """Mail a confirmation link to the new address; the old one stays until it is followed."""
    lifecycle.request_email_change(current_user(), body.email, body.password)
    return build(AcceptedOut, accepted=True), 202


@bp.post("/me/email/confirm")
@json_body(TokenIn)
@responds(UserOut)
def confirm_email_change(body: TokenIn):
    """Follow the mailed confirmation: the account signs in with the new address from now."""
    return user_out(lifecycle.confirm_email_change(body.token))


@bp.get("/me/export")
@auth_required()
@responds(AccountExportOut)
def export_me():
    """Download my data: the account, saved addresses and orders as one JSON document."""
    return export.export_data(current_user())


@bp.delete("/me")
@auth_required()
@json_body(PasswordIn)
@responds(None, 204)
def delete_me(body: PasswordIn):
    """Delete the account: personal data is anonymised; orders keep what tax law requires."""
    lifecycle.delete_account(current_user(), body.password)
    return "", 204


# --- saved addresses ----------------------------------------------------------------------------

@bp.get("/me/addresses")
@auth_required("buyer")
@responds(AddressListOut)
def list_addresses():
    """Your saved delivery addresses, the default first."""
    return build(AddressListOut, items=[address_out(a)
                                        for a in addresses.list_addresses(current_user())])


@bp.post("/me/addresses")
@auth_required("buyer")
@json_body(AddressIn)
@responds(AddressOut, 201)
def add_address(body: AddressIn):
    """Save an address (checked by its country's rules); the first one is the default."""
    fields = body.model_dump()
    default = fields.pop("is_default")
    return address_out(addresses.add_address(current_user(), fields, default=default)), 201


@bp.patch("/me/addresses/<address_id>")
@auth_required("buyer")
@json_body(AddressPatch)
@responds(AddressOut)
def update_address(address_id: str, body: AddressPatch):
    """Change a saved address or make it the default; the result is checked as a whole."""
    user = current_user()
    current = addresses.own_address(user, address_id)
    changes = body.model_dump(exclude_unset=True)
    default = changes.pop("is_default", None)
    label = changes.pop("label", current.label)
    merged = {key: getattr(current, key) for key in addresses.FIELDS if key != "label"}
    merged.update(changes)
    checked = parse_model(PostalAddress, merged).model_dump()
    return address_out(addresses.update_address(user, address_id, {**checked, "label": label},
                                                default=default))


@bp.delete("/me/addresses/<address_id>")
@auth_required("buyer")
@responds(None, 204)
def delete_address(address_id: str):
    """Forget a saved address (another becomes the default)."""
    addresses.delete_address(current_user(), address_id)
    return "", 204
