"""Requests that mail someone or guess a link are limited per account and per client, behind a
proxy too; registration never says whether an address has an account (its owner is mailed
instead); and an address that reads as an existing one, in another script, is taken."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.accounts import throttle
from marketplace.accounts.identity import email_skeleton, normalise_email, reads_as, skeleton
from marketplace.accounts.models import User
from marketplace.edge import TrustedProxies
from marketplace.extensions import db
from tests.factories import PASSWORD, auth_headers, make_buyer
from tests.mails.helpers import deliver_queued, html_of, links, text_of, to
from tests.storefront.helpers import post_form

THRESHOLD = 3


@pytest.fixture
def lockout(app, monkeypatch):
    monkeypatch.setitem(app.config, "LOCKOUT_THRESHOLD", THRESHOLD)
    monkeypatch.setitem(app.config, "LOCKOUT_BASE_SECONDS", 30)
    return app


def users() -> int:
    return db.session.execute(select(func.count()).select_from(User)).scalar_one()


def _reset(client, email, **kw):
    return client.post("/api/v1/auth/password-reset", json={"email": email}, **kw)


def _register(client, email, **kw):
    return client.post("/api/v1/auth/register", json={
        "email": email, "password": "a long pass phrase", "role": "buyer", "name": "Someone",
        "country": "KZ", **kw.pop("fields", {})}, **kw)


# --- password reset -----------------------------------------------------------------------

def test_reset_requests_lock_an_address_the_same_whether_it_has_an_account(lockout, client):
    known = make_buyer(email="known@example.test").email
    answers = {}
    for email in (known, "nobody@example.test"):
        answers[email] = [(r.status_code, r.get_json().get("accepted"), r.get_json().get("code"))
                          for r in (_reset(client, email) for _ in range(THRESHOLD + 1))]
    assert answers[known] == answers["nobody@example.test"] == (
        [(202, True, None)] * THRESHOLD + [(429, None, "account.locked_out")])
    locked = _reset(client, known)
    assert 25 <= int(locked.headers["Retry-After"]) <= 31


def test_reset_mails_stop_at_the_limit(lockout, client, smtp_server):
    owner = make_buyer(email="owner@example.test")
    statuses = [_reset(client, owner.email).status_code for _ in range(THRESHOLD + 2)]
    assert statuses == [202] * THRESHOLD + [429, 429]
    deliver_queued()
    assert len(to(smtp_server, owner.email)) == THRESHOLD


def test_behind_one_trusted_proxy_rotating_forwarded_for_still_hits_the_accounts_limit(
        lockout, client, monkeypatch):
    monkeypatch.setitem(lockout.config, "TRUSTED_PROXIES", "1")
    monkeypatch.setattr(lockout, "wsgi_app", TrustedProxies(lockout.wsgi_app, 1))
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    owner = make_buyer(email="target@example.test")
    statuses = [_reset(client, owner.email, environ_base=proxy,
                       headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(THRESHOLD + 1)]
    assert statuses == [202] * THRESHOLD + [429]
    # each request was counted against its own client, not the proxy: another address from
    # a fresh client still goes through
    assert _reset(client, "other@example.test", environ_base=proxy,
                  headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 202


def test_one_client_asking_for_many_addresses_is_limited(lockout, client):
    limit = THRESHOLD * throttle.IP_FACTOR
    statuses = [_reset(client, f"guess{n}@example.test").status_code for n in range(limit + 1)]
    assert statuses == [202] * limit + [429]
    assert _reset(client, "guess0@example.test",
                  environ_base={"REMOTE_ADDR": "192.0.2.77"}).status_code == 202


def test_unknown_reset_links_lock_the_client_out(lockout, client):
    limit = THRESHOLD * throttle.IP_FACTOR
    statuses = [client.post("/api/v1/auth/password-reset/confirm", json={
        "token": f"guessed-token-{n}", "password": "a new long password"}).status_code
        for n in range(limit + 1)]
    assert statuses == [422] * limit + [429]
    # the page that checks a link counts the same way
    assert client.get("/password/reset/guessed-x").status_code == 429
    other = {"REMOTE_ADDR": "192.0.2.78"}
    assert client.get("/password/reset/guessed-y", environ_base=other).status_code == 422


def test_the_forgot_password_page_shows_the_lockout(lockout, client):
    for _ in range(THRESHOLD):
        page = post_form(client, "/password/forgot", {"email": "x@example.test"})
        assert page.status_code == 200 and "reset-sent" in page.get_data(as_text=True)
    locked = post_form(client, "/password/forgot", {"email": "x@example.test"})
    assert locked.status_code == 429
    assert "Too many attempts" in locked.get_data(as_text=True)


# --- registration ---------------------------------------------------------------------------

def _shape(body: dict) -> dict:
    """What an outsider can compare: the keys and the types of the values."""
    return {key: _shape(value) if isinstance(value, dict) else type(value).__name__
            for key, value in body.items()}


def test_a_taken_address_answers_as_a_new_one_and_its_owner_is_mailed(client, smtp_server):
    owner = make_buyer(email="dana@example.test", locale="kk", name="Дана")
    new = _register(client, "fresh@example.test")
    taken = _register(client, "Dana@Example.test")
    assert new.status_code == taken.status_code == 201
    assert new.content_type == taken.content_type
    assert _shape(new.get_json()) == _shape(taken.get_json())
    body = taken.get_json()
    assert body["user"]["email"] == "dana@example.test" and body["user"]["id"] != owner.id
    assert body["token"].startswith("shb_") and len(body["token"]) == len(new.get_json()["token"])
    assert set(taken.headers.keys()) == set(new.headers.keys())
    assert "Set-Cookie" not in taken.headers
    # no session and no account for whoever asked; the owner's account is untouched
    assert client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {body['token']}"}).status_code == 401
    assert users() == 2
    assert client.post("/api/v1/auth/tokens", json={"email": owner.email,
                                                    "password": PASSWORD}).status_code == 201

    deliver_queued()
    [notice] = to(smtp_server, "dana@example.test")
    assert notice["Subject"] == "Біреу сіздің мекенжайыңызбен Sheber аккаунтын ашпақ болды"
    text = text_of(notice)
    assert "Дана" in text and "сіздікі сияқты" not in text  # the very address, not a look-alike
    urls = links(html_of(notice))
    assert any(url.endswith("/signin?email=dana%40example.test") for url in urls)
    assert any(url.endswith("/password/forgot") for url in urls)
    assert all(url in text for url in urls if "/signin" in url or "/password/" in url)
    [welcome] = to(smtp_server, "fresh@example.test")  # the new account got its welcome
    assert welcome["Subject"].startswith("Welcome to Sheber")


def test_a_weak_password_is_refused_the_same_for_a_taken_address(client):
    make_buyer(email="dana@example.test")
    weak = {"password": "qwertyuiop"}
    for email in ("dana@example.test", "fresh@example.test"):
        response = _register(client, email, fields=weak)
        assert response.status_code == 422 and "password" in response.get_json()["errors"]


def test_registrations_for_one_address_and_from_one_client_are_limited(lockout, client,
                                                                      smtp_server):
    make_buyer(email="dana@example.test", locale="ru")
    statuses = [_register(client, "dana@example.test").status_code
                for _ in range(THRESHOLD + 1)]
    assert statuses == [201] * THRESHOLD + [429]  # the owner is not mailed without end
    deliver_queued()
    assert len(to(smtp_server, "dana@example.test")) == THRESHOLD

    other = {"REMOTE_ADDR": "192.0.2.90"}
    limit = THRESHOLD * throttle.IP_FACTOR
    opened = [_register(client, f"new{n}@example.test", environ_base=other).status_code
              for n in range(limit + 1)]
    assert opened == [201] * limit + [429]
    assert _register(client, "late@example.test").status_code == 201  # another client


def test_the_signup_page_answers_a_taken_address_as_a_new_one_without_a_session(client,
                                                                               smtp_server):
    make_buyer(email="aigerim@example.test", locale="ru")
    form = {"name": "Aigerim", "password": "a long password", "role": "buyer", "country": "DE"}
    fresh_browser = client.application.test_client()
    new = post_form(fresh_browser, "/signup", {**form, "email": "new@example.test"})
    taken = post_form(client, "/signup", {**form, "email": "aigerim@example.test"})
    assert new.status_code == taken.status_code == 302
    assert new.headers["Location"] == taken.headers["Location"]
    with client.session_transaction() as session:
        assert "user_id" not in session
    with fresh_browser.session_transaction() as session:
        assert "user_id" in session
    deliver_queued()
    [notice] = to(smtp_server, "aigerim@example.test")
    assert notice["Subject"] == "Кто-то пытался открыть аккаунт Sheber с вашим адресом"


# --- look-alike addresses (UTS #39 skeletons) -------------------------------------------------

@pytest.mark.parametrize("one, other", [
    ("ѕсоре", "scope"),  # UTS #39 §4: whole-script confusables (Cyrillic and Latin)
    ("раураl", "paypal"),  # mixed-script
    ("so̷s", "søs"),  # single-script
    ("rn", "m"),
    ("аррӏе", "apple"),  # Cyrillic palochka, as stored once case-folded
])
def test_the_skeletons_of_unicode_s_examples_match(one, other):
    assert one != other and skeleton(one) == skeleton(other)


def test_different_words_keep_different_skeletons():
    assert skeleton("scope") != skeleton("slope")
    assert skeleton("айгерим") != skeleton("aigerim")  # Cyrillic that reads as itself


@pytest.mark.parametrize("look_alike, original", [
    ("ѕсоре@example.com", "scope@example.com"),  # an all-Cyrillic local part
    ("аррӏе@example.com", "apple@example.com"),
    ("АРРӀЕ@example.com", "apple@example.com"),  # capitals, folded
    ("info@аррӏе.com", "info@apple.com"),  # an all-Cyrillic domain label
])
def test_whole_script_look_alikes_read_as_the_original(look_alike, original):
    stored = normalise_email(look_alike)  # passes the mixed-script check: one script each
    assert reads_as(stored, normalise_email(original))
    assert reads_as(normalise_email(original), stored)  # whichever came first
    assert email_skeleton(stored) == email_skeleton(normalise_email(original))


def test_two_ascii_addresses_are_never_look_alikes():
    assert not reads_as("ann1@example.com", "annl@example.com")
    assert not reads_as("modern@example.com", "rnodern@example.com")


def test_a_whole_script_look_alike_registers_as_taken_and_mails_the_original(client,
                                                                             smtp_server):
    owner = make_buyer(email="scope@example.com", locale="en")
    response = _register(client, "ѕсоре@example.com")
    assert response.status_code == 201
    assert client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {response.get_json()['token']}"}).status_code == 401
    assert users() == 1
    deliver_queued()
    [notice] = to(smtp_server, owner.email)
    assert "ѕсоре@example.com, which reads the same as yours" in text_of(notice)
    # and the other way round: the Cyrillic account came first
    make_buyer(email=normalise_email("аррӏе@example.com"))
    assert _register(client, "apple@example.com").status_code == 201
    assert users() == 2


def test_ascii_addresses_with_equal_skeletons_both_open_accounts(client):
    assert _register(client, "ann1@example.com").status_code == 201
    assert _register(client, "annl@example.com").status_code == 201
    assert users() == 2


def test_an_email_change_to_a_look_alike_is_refused(client):
    make_buyer(email="scope@example.com")
    user = make_buyer(email="me@example.com")
    response = client.post("/api/v1/me/email", headers=auth_headers(user),
                           json={"email": "ѕсоре@example.com", "password": PASSWORD})
    assert response.status_code == 409


def test_the_skeleton_follows_the_address(client):
    user = make_buyer(email="scope@example.com")
    assert user.email_skeleton == email_skeleton("scope@example.com")
    user.email = None
    db.session.commit()
    assert db.session.get(User, user.id).email_skeleton is None
