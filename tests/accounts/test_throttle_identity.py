"""Limits that hold behind a proxy, lockout with back-off, one spelling per address, and
passwords an attacker would not try first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts import throttle
from marketplace.accounts.identity import (
    IdentityRefused,
    check_password,
    common_passwords,
    normalise_email,
)
from marketplace.accounts.models import User
from marketplace.edge import TrustedProxies, parse_trusted_proxies
from marketplace.extensions import db
from tests.factories import PASSWORD, make_buyer

WRONG = "not the password"


def _sign_in(client, email, password, **kw):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password}, **kw)


@pytest.fixture
def lockout(app, monkeypatch):
    monkeypatch.setitem(app.config, "LOCKOUT_THRESHOLD", 3)
    monkeypatch.setitem(app.config, "LOCKOUT_BASE_SECONDS", 30)
    return app


def test_an_account_locks_after_the_threshold_with_a_doubling_back_off(lockout, client,
                                                                       monkeypatch):
    buyer = make_buyer()
    for _ in range(3):
        assert _sign_in(client, buyer.email, WRONG).status_code == 401
    locked = _sign_in(client, buyer.email, PASSWORD)  # even the right password waits
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "account.locked_out"
    assert 25 <= int(locked.headers["Retry-After"]) <= 31

    real = throttle.utcnow
    monkeypatch.setattr(throttle, "utcnow", lambda: real() + timedelta(seconds=31))
    assert _sign_in(client, buyer.email, WRONG).status_code == 401  # the 4th failure
    second = _sign_in(client, buyer.email, PASSWORD)
    assert second.status_code == 429
    assert 55 <= int(second.headers["Retry-After"]) <= 61  # doubled

    monkeypatch.setattr(throttle, "utcnow", lambda: real() + timedelta(seconds=31 + 61))
    assert _sign_in(client, buyer.email, PASSWORD).status_code == 201
    assert _sign_in(client, buyer.email, WRONG).status_code == 401  # the streak was cleared


def test_an_unknown_address_locks_the_same_way_so_nothing_is_revealed(lockout, client):
    answers = []
    for email in ("nobody@example.test", make_buyer().email):
        answers.append([_sign_in(client, email, WRONG).status_code for _ in range(4)])
    assert answers[0] == answers[1] == [401, 401, 401, 429]


def test_the_address_limit_stops_one_client_guessing_many_accounts(lockout, client):
    for n in range(3 * throttle.IP_FACTOR):
        assert _sign_in(client, f"guess{n}@example.test", WRONG).status_code == 401
    assert _sign_in(client, make_buyer().email, PASSWORD).status_code == 429
    other_client = {"REMOTE_ADDR": "192.0.2.50"}
    buyer = make_buyer()
    assert _sign_in(client, buyer.email, PASSWORD,
                    environ_base=other_client).status_code == 201


def test_the_sign_in_page_shows_the_lockout(lockout, client):
    from tests.storefront.helpers import post_form

    buyer = make_buyer()
    for _ in range(3):
        post_form(client, "/signin", {"email": buyer.email, "password": WRONG})
    response = post_form(client, "/signin", {"email": buyer.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_behind_one_trusted_proxy_the_account_limit_holds_and_clients_are_told_apart(
        lockout, client, monkeypatch):
    monkeypatch.setattr(lockout, "wsgi_app", TrustedProxies(lockout.wsgi_app, 1))
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # the load balancer, the peer of every request
    buyer = make_buyer()
    # an attacker rotating X-Forwarded-For still hits the one account's counter
    for n in range(3):
        response = _sign_in(client, buyer.email, WRONG, environ_base=proxy,
                            headers={"X-Forwarded-For": f"203.0.113.{n}"})
        assert response.status_code == 401
    locked = _sign_in(client, buyer.email, PASSWORD, environ_base=proxy,
                      headers={"X-Forwarded-For": "203.0.113.99"})
    assert locked.status_code == 429

    # and the per-address limit counts the client, not the proxy they all share
    for n in range(3 * throttle.IP_FACTOR):
        _sign_in(client, f"guess{n}@example.test", WRONG, environ_base=proxy,
                 headers={"X-Forwarded-For": "198.51.100.7"})
    assert _sign_in(client, make_buyer().email, PASSWORD, environ_base=proxy,
                    headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    assert _sign_in(client, make_buyer().email, PASSWORD, environ_base=proxy,
                    headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 201


def test_a_spoofed_chain_is_believed_only_as_far_as_the_trusted_hops(app):
    seen = {}

    def inner(environ, start_response):
        seen["addr"] = environ["REMOTE_ADDR"]
        start_response("204 No Content", [])
        return [b""]

    def call(trusted, peer, forwarded):
        TrustedProxies(inner, trusted)({"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": forwarded,
                                        "wsgi.url_scheme": "http", "HTTP_HOST": "x"},
                                       lambda *a: None)
        return seen["addr"]

    assert call(1, "10.0.0.2", "6.6.6.6, 203.0.113.5") == "203.0.113.5"
    networks = parse_trusted_proxies("10.0.0.0/8, 192.0.2.7")
    assert call(networks, "10.0.0.2", "6.6.6.6, 203.0.113.5") == "203.0.113.5"
    assert call(networks, "10.0.0.2", "6.6.6.6, 203.0.113.5, 10.1.1.1") == "203.0.113.5"
    assert call(networks, "198.51.100.1", "6.6.6.6") == "198.51.100.1"  # untrusted peer


def test_trusted_proxies_is_validated(monkeypatch):
    from marketplace.config import ConfigError, load_settings

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,not-a-network")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings()


# --- e-mails --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, stored", [
    ("Aigerim@Example.KZ", "aigerim@example.kz"),
    ("ＡＩＧＥＲＩＭ@example.kz", "aigerim@example.kz"),  # fullwidth, NFKC
    ("Straße@example.de", "strasse@example.de"),  # case-folded
    ("айгерим@пример.қаз", "айгерим@xn--e1afmkfd.xn--80ao21a"),
    ("user@BÜCHER.example", "user@xn--bcher-kva.example"),
])
def test_emails_have_one_spelling(raw, stored):
    assert normalise_email(raw) == stored


@pytest.mark.parametrize("raw", ["pаypal@example.com",  # Cyrillic а
                                 "admin@exаmple.com", "admin@exаmple.com",
                                 "sсott@example.com",
                                 "alpha@gοogle.com"])  # Greek omicron
def test_addresses_that_mix_scripts_are_refused(raw):
    with pytest.raises(IdentityRefused) as refused:
        normalise_email(raw)
    assert refused.value.reason == "confusable"


def test_a_look_alike_cannot_register_beside_the_original(client):
    body = {"email": "aigerim@example.test", "password": "a long pass phrase", "role": "buyer",
            "name": "A", "country": "KZ"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    look_alike = client.post("/api/v1/auth/register",
                             json={**body, "email": "аigerim@example.test"})
    assert look_alike.status_code == 422
    same = client.post("/api/v1/auth/register", json={**body, "email": "AIGERIM@Example.Test"})
    assert same.status_code == 201  # taken: the same answer as a new account, and no account
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 1


def test_sign_in_finds_the_account_whatever_the_spelling(client):
    buyer = make_buyer(email="kairat@example.test")
    assert _sign_in(client, "KAIRAT@EXAMPLE.TEST", PASSWORD).status_code == 201
    assert _sign_in(client, "ｋａｉｒａｔ@example.test", PASSWORD).status_code == 201
    assert _sign_in(client, "kаirat@example.test", PASSWORD).status_code == 401  # Cyrillic а
    assert buyer.email == "kairat@example.test"


# --- passwords ------------------------------------------------------------------------------

def test_the_bundled_list_is_the_published_one():
    common = common_passwords()
    assert len(common) == 19640
    assert {"password", "qwertyuiop", "1q2w3e4r5t"} <= common


@pytest.mark.parametrize("password, reason", [
    ("short", "too_short"), ("123456789", "too_short"),
    ("qwertyuiop", "common"), ("Password1234", "common"), ("1q2w3e4r5t", "common"),
    ("basketball", "common"), ("BASKETBALL!", "common"),
    ("aaaaaaaaaaaa", "sequential"), ("abcdefghijkl", "sequential"),
    ("zyxwvutsrqpo", "sequential"), ("abababababab", "sequential"),
    ("sheber-sheber", "context"), ("Aigerim.K!!1", "context"),
])
def test_guessable_passwords_are_refused(password, reason):
    with pytest.raises(IdentityRefused) as refused:
        check_password(password, email="aigerim.k@example.test")
    assert refused.value.reason == reason


@pytest.mark.parametrize("password", ["correct horse battery", "тау-жолы қыста",
                                      "a long pass phrase", "x7#Lm2!qPz"])
def test_long_uncommon_passwords_pass_without_composition_rules(password):
    check_password(password, email="aigerim.k@example.test")


def test_registration_refuses_a_common_password_with_a_field_error(client):
    response = client.post("/api/v1/auth/register", json={
        "email": "new@example.test", "password": "qwertyuiop", "role": "buyer", "name": "N",
        "country": "KZ"})
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]
