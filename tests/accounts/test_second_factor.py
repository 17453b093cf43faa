"""Operators behind a second factor: TOTP codes from pyotp, single-use recovery codes, and no
operator action without one when OPERATOR_2FA_REQUIRED is on."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from marketplace.accounts import twofactor
from marketplace.accounts.models import RecoveryCode, User
from marketplace.config import load_settings
from marketplace.extensions import db
from tests.factories import PASSWORD, auth_headers, make_buyer, make_operator
from tests.storefront.helpers import HTML, post_form


@pytest.fixture
def required(app, monkeypatch):
    monkeypatch.setitem(app.config, "OPERATOR_2FA_REQUIRED", True)
    return app


def _token(client, user, otp=None):
    body = {"email": user.email, "password": PASSWORD}
    if otp is not None:
        body["otp"] = otp
    return client.post("/api/v1/auth/tokens", json=body)


def _code(secret: str, *, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + steps * 30)


def test_required_by_default_in_production_and_not_in_development(monkeypatch):
    monkeypatch.delenv("SHEBER_ENV", raising=False)
    assert load_settings().flask_config(__import__("pathlib").Path("/tmp"))[
        "OPERATOR_2FA_REQUIRED"] is False
    from marketplace.config import Settings

    assert Settings(SHEBER_ENV="production").flask_config(
        __import__("pathlib").Path("/tmp"))["OPERATOR_2FA_REQUIRED"] is True
    problems = Settings(SHEBER_ENV="production", OPERATOR_2FA_REQUIRED=False).production_problems()
    assert any("OPERATOR_2FA_REQUIRED" in problem for problem in problems)


def test_an_operator_without_a_second_factor_cannot_act_when_it_is_required(required, client):
    operator = make_operator()
    old_headers = auth_headers(operator)  # a token from before the rule
    refused = _token(client, operator)
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "account.second_factor_required"
    assert client.get("/api/v1/operator/provenance", headers=old_headers).status_code == 401
    # the console is closed; the sign-in lands on the enrolment page
    response = post_form(client, "/signin", {"email": operator.email, "password": PASSWORD})
    assert response.headers["Location"] == "/account/security"
    assert client.get("/console/", headers=HTML).status_code == 302
    page = client.get("/account/security", headers=HTML).get_data(as_text=True)
    assert "Set up a second factor" in page


def test_enrolment_through_the_api_then_tokens_take_otp(required, client):
    operator = make_operator()
    # operators who must enrol have no token yet (they enrol with a session or the command
    # line), so a buyer enrols through the API here
    buyer = make_buyer()
    twofactor_headers = auth_headers(buyer)
    begun = client.post("/api/v1/auth/second-factor", headers=twofactor_headers)
    assert begun.status_code == 201
    body = begun.get_json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Sheber:")
    assert body["qr_svg"].lstrip().startswith("<?xml") or "<svg" in body["qr_svg"]
    wrong = client.post("/api/v1/auth/second-factor/confirm", headers=twofactor_headers,
                        json={"otp": "000000" if _code(body["secret"]) != "000000" else "111111"})
    assert wrong.status_code == 401
    confirmed_at = time.time()
    used = pyotp.TOTP(body["secret"]).at(confirmed_at)
    confirmed = client.post("/api/v1/auth/second-factor/confirm", headers=twofactor_headers,
                            json={"otp": used})
    assert confirmed.status_code == 201
    codes = confirmed.get_json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.execute(select(RecoveryCode.code_hash)).scalars().all()
    assert not set(codes) & set(stored)  # only digests are kept

    assert _token(client, buyer).get_json()["code"] == "account.otp_required"
    # the code that confirmed was used: the same step is refused, the next one works
    assert _token(client, buyer, used).status_code == 401
    following = pyotp.TOTP(body["secret"]).at(confirmed_at + 30)
    assert _token(client, buyer, following).status_code == 201
    assert _token(client, buyer, codes[0]).status_code == 201
    assert _token(client, buyer, codes[0]).status_code == 401  # single use
    assert operator  # untouched


def test_the_cli_enrols_an_operator_and_prints_the_secret_once(required, runner, client):
    result = runner.invoke(args=["users", "create-operator", "ops@sheber.kz",
                                 "--password", "a long operator pass", "--name", "Ops"])
    assert result.exit_code == 0, result.output
    secret = re.search(r"secret: ([A-Z2-7]+)", result.output).group(1)
    operator = db.session.execute(select(User).where(User.email == "ops@sheber.kz")).scalar_one()
    assert twofactor.enabled(operator)
    body = {"email": "ops@sheber.kz", "password": "a long operator pass"}
    assert client.post("/api/v1/auth/tokens", json=body).status_code == 401
    token = client.post("/api/v1/auth/tokens", json={**body, "otp": _code(secret)})
    assert token.status_code == 201
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    assert client.get("/api/v1/operator/provenance", headers=headers).status_code == 200


def test_the_sign_in_page_asks_for_the_code_and_enrols_on_the_security_page(required, client):
    operator = make_operator()
    post_form(client, "/signin", {"email": operator.email, "password": PASSWORD})
    page = post_form(client, "/account/security/2fa/begin").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    db.session.expire_all()
    secret = db.session.get(User, operator.id).totp_secret
    assert secret in page
    done = post_form(client, "/account/security/2fa/confirm", {"otp": _code(secret)})
    assert done.status_code == 200
    assert "recovery codes" in done.get_data(as_text=True)
    assert client.get("/console/", headers=HTML).status_code == 200
    post_form(client, "/signout")

    response = post_form(client, "/signin", {"email": operator.email, "password": PASSWORD})
    assert response.headers["Location"].startswith("/signin/code")
    assert client.get("/console/", headers=HTML).status_code == 302  # not signed in yet
    wrong = post_form(client, "/signin/code", {"otp": "12345x"})
    assert wrong.status_code == 401
    right = post_form(client, "/signin/code", {"otp": _code(secret, steps=1)})
    assert right.status_code == 302
    assert client.get("/console/", headers=HTML).status_code == 200


def test_codes_are_rate_limited(required, app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOCKOUT_THRESHOLD", 3)
    operator = make_operator()
    secret, _codes = twofactor.enrol_now(operator.id)
    statuses = [_token(client, operator, "000000").status_code for _ in range(4)]
    assert statuses[:3] == [401, 401, 401] and statuses[3] == 429
    assert _token(client, operator, _code(secret)).status_code == 429


def test_the_code_limit_holds_behind_a_proxy_with_a_rotating_forwarded_for(required, app,
                                                                          client, monkeypatch):
    from marketplace.edge import TrustedProxies

    monkeypatch.setitem(app.config, "LOCKOUT_THRESHOLD", 3)
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", "1")
    monkeypatch.setattr(app, "wsgi_app", TrustedProxies(app.wsgi_app, 1))
    operator = make_operator()
    secret, _codes = twofactor.enrol_now(operator.id)
    body = {"email": operator.email, "password": PASSWORD}
    statuses = [client.post("/api/v1/auth/tokens", json={**body, "otp": "000000"},
                            environ_base={"REMOTE_ADDR": "10.0.0.2"},
                            headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(4)]
    assert statuses == [401, 401, 401, 429]  # each from a "new" client, one account's count
    assert client.post("/api/v1/auth/tokens", json={**body, "otp": _code(secret)},
                       environ_base={"REMOTE_ADDR": "10.0.0.2"},
                       headers={"X-Forwarded-For": "203.0.113.200"}).status_code == 429


def test_operators_cannot_turn_it_off_while_required(required, client):
    operator = make_operator()
    secret, _codes = twofactor.enrol_now(operator.id)
    post_form(client, "/signin", {"email": operator.email, "password": PASSWORD})
    post_form(client, "/signin/code", {"otp": _code(secret)})
    response = post_form(client, "/account/security/2fa/disable", {"otp": _code(secret, steps=1)})
    assert response.status_code == 403
    assert twofactor.enabled(db.session.get(User, operator.id))
