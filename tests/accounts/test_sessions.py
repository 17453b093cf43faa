"""Sessions that can be ended: the cookie is only a key to a record kept on the server (Redis
when REDIS_URL is set, else the database), so a copied cookie dies with its record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts import service as accounts
from marketplace.accounts import sessions
from marketplace.accounts.models import ApiToken, WebSession
from marketplace.extensions import db
from marketplace.ids import utcnow
from tests.factories import PASSWORD, auth_headers, make_buyer
from tests.storefront.helpers import HTML, csrf_token, post_form, sign_in

COOKIE = "session"


def _cookie(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _with_cookie(app, value: str):
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def test_the_cookie_is_a_random_key_and_the_data_stays_on_the_server(app, client):
    sign_in(client, make_buyer())
    value = _cookie(client)
    assert value and len(value) == 43
    assert "user_id" not in value and "." not in value  # not a signed payload
    if not app.config.get("REDIS_URL"):
        assert db.session.execute(select(WebSession)).scalars().one().user_id is not None


def test_a_cookie_copied_before_sign_out_is_dead_after_it(app, client):
    buyer = make_buyer()
    sign_in(client, buyer)
    stolen = _cookie(client)
    thief = _with_cookie(app, stolen)
    assert thief.get("/api/v1/me").status_code == 200
    assert thief.get("/cart", headers=HTML).status_code == 200

    assert post_form(client, "/signout").status_code == 302
    assert _cookie(client) != stolen
    assert thief.get("/api/v1/me").status_code == 401
    assert thief.get("/cart", headers=HTML).status_code == 302  # to the sign-in page
    assert client.get("/api/v1/me").status_code == 401


def test_sign_in_gives_a_new_key_so_a_planted_one_is_useless(app, client):
    csrf_token(client)  # an anonymous session with a key, as an attacker could plant
    planted = _cookie(client)
    assert planted
    sign_in(client, make_buyer())
    assert _cookie(client) != planted
    assert _with_cookie(app, planted).get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me").status_code == 200


def test_a_visitor_who_stores_nothing_gets_no_cookie(client):
    response = client.get("/api/v1/products")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert _cookie(client) is None


def test_a_garbage_cookie_is_an_anonymous_visitor(app):
    for value in ("x", "A" * 43, "é" * 43, "a.b.c", "\x00" * 43):
        other = app.test_client()
        other.set_cookie(COOKIE, value)
        assert other.get("/api/v1/me").status_code == 401


def test_idle_and_absolute_lifetimes_end_a_session(app, client, monkeypatch):
    buyer = make_buyer()
    sign_in(client, buyer)
    assert client.get("/api/v1/me").status_code == 200
    real = sessions.utcnow
    monkeypatch.setattr(sessions, "utcnow", lambda: real() + timedelta(
        minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    assert client.get("/api/v1/me").status_code == 401
    monkeypatch.setattr(sessions, "utcnow", real)

    # a session never idle still ends at the absolute lifetime
    hours = app.config["SESSION_ABSOLUTE_HOURS"]
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", hours * 60 * 10)
    sign_in(client, buyer)
    monkeypatch.setattr(sessions, "utcnow", lambda: real() + timedelta(hours=hours, minutes=-1))
    assert client.get("/api/v1/me").status_code == 200
    monkeypatch.setattr(sessions, "utcnow", lambda: real() + timedelta(hours=hours, minutes=1))
    assert client.get("/api/v1/me").status_code == 401


def test_sign_out_everywhere_ends_every_session_and_token(app, client):
    buyer = make_buyer()
    sign_in(client, buyer)
    laptop = app.test_client()
    sign_in(laptop, buyer)
    token_headers = auth_headers(buyer)
    assert len(sessions.user_sessions(buyer.id)) == 2

    response = client.post("/api/v1/auth/signout-everywhere",
                           headers={"X-CSRF-Token": _csrf(client)})
    assert response.status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    assert laptop.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=token_headers).status_code == 401
    assert sessions.user_sessions(buyer.id) == []


def _csrf(client) -> str:
    with client.session_transaction() as session:
        return session["csrf_token"]


def test_the_shared_function_ends_sessions_and_tokens_in_the_callers_transaction(app, client):
    buyer, other = make_buyer(), make_buyer()
    sign_in(client, buyer)
    headers = auth_headers(buyer)
    kept = auth_headers(other)
    ended = accounts.end_all_sessions_and_tokens(buyer.id)
    assert ended == 2
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=kept).status_code == 200


def test_sessions_are_listed_and_one_can_be_ended(app, client):
    buyer = make_buyer()
    sign_in(client, buyer)
    phone = app.test_client()
    sign_in(phone, buyer)
    listed = client.get("/api/v1/auth/sessions").get_json()["items"]
    assert len(listed) == 2
    assert [item["current"] for item in listed] == [True, False]
    phone_id = listed[1]["id"]
    response = client.delete(f"/api/v1/auth/sessions/{phone_id}",
                             headers={"X-CSRF-Token": _csrf(client)})
    assert response.status_code == 204
    assert phone.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me").status_code == 200
    again = client.delete(f"/api/v1/auth/sessions/{phone_id}",
                          headers={"X-CSRF-Token": _csrf(client)})
    assert again.status_code == 404


def test_someone_elses_session_cannot_be_ended(app, client):
    victim = make_buyer()
    sign_in(client, victim)
    victim_session = sessions.user_sessions(victim.id)[0].id
    attacker = auth_headers(make_buyer())
    response = client.delete(f"/api/v1/auth/sessions/{victim_session}", headers=attacker)
    assert response.status_code == 404
    assert client.get("/api/v1/me").status_code == 200


# --- tokens ---------------------------------------------------------------------------------

def test_tokens_expire(app, client, monkeypatch):
    buyer = make_buyer()
    created = client.post("/api/v1/auth/tokens", json={
        "email": buyer.email, "password": PASSWORD, "name": "laptop", "expires_in_days": 2})
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.get_json()['token']}"}
    row = db.session.execute(select(ApiToken).where(ApiToken.name == "laptop")).scalar_one()
    assert row.expires_at - utcnow() < timedelta(days=2, minutes=1)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    real = accounts.utcnow
    monkeypatch.setattr(accounts, "utcnow", lambda: real() + timedelta(days=2, minutes=1))
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_default_token_lifetime_is_the_setting(app):
    buyer = make_buyer()
    accounts.issue_token(buyer)
    row = db.session.execute(select(ApiToken)).scalar_one()
    lifetime = row.expires_at - row.created_at
    assert abs(lifetime - timedelta(days=app.config["API_TOKEN_TTL_DAYS"])) < timedelta(minutes=1)


@pytest.mark.parametrize("days", [0, 366, "x"])
def test_a_token_lifetime_out_of_range_is_refused(client, days):
    buyer = make_buyer()
    response = client.post("/api/v1/auth/tokens", json={
        "email": buyer.email, "password": PASSWORD, "expires_in_days": days})
    assert response.status_code == 422


def test_tokens_are_listed_and_revocable_by_id(client):
    buyer = make_buyer()
    first = auth_headers(buyer)
    second = auth_headers(buyer)
    listed = client.get("/api/v1/auth/tokens", headers=first).get_json()["items"]
    assert len(listed) == 2
    current = [item for item in listed if item["current"]]
    other = [item for item in listed if not item["current"]]
    assert len(current) == len(other) == 1
    assert "token" not in current[0]
    assert client.delete(f"/api/v1/auth/tokens/{other[0]['id']}",
                         headers=first).status_code == 204
    assert client.get("/api/v1/me", headers=second).status_code == 401
    assert client.get("/api/v1/me", headers=first).status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{other[0]['id']}",
                         headers=first).status_code == 404


def test_someone_elses_token_cannot_be_revoked(client):
    victim = make_buyer()
    victim_headers = auth_headers(victim)
    victim_token = db.session.execute(select(ApiToken.id)).scalar_one()
    attacker = auth_headers(make_buyer())
    assert client.delete(f"/api/v1/auth/tokens/{victim_token}",
                         headers=attacker).status_code == 404
    assert client.get("/api/v1/me", headers=victim_headers).status_code == 200


def test_the_purge_deletes_expired_rows_of_the_table(app, client, monkeypatch):
    from workers.maintenance import purge_sessions_task

    monkeypatch.setitem(app.extensions, "sheber.session_store", sessions.DatabaseStore())
    sign_in(client, make_buyer())
    sign_in(app.test_client(), make_buyer())
    assert purge_sessions_task.run() == 0
    real = sessions.utcnow
    monkeypatch.setattr(sessions, "utcnow", lambda: real() + timedelta(
        minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    assert purge_sessions_task.run() == 2
    assert db.session.execute(select(WebSession)).first() is None
