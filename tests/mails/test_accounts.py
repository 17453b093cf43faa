"""Accounts people trust, read from the real SMTP sink: the welcome mail, password reset by a
single-use token that expires in an hour and ends every session and token, e-mail change with
confirmation, "download my data" and deletion that keeps what tax law requires."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from marketplace.accounts.models import AccountToken, User
from marketplace.extensions import db
from marketplace.ids import utcnow
from tests.factories import PASSWORD, auth_headers, make_buyer
from tests.mails.helpers import assert_inlined, deliver_queued, html_of, links, text_of, to
from tests.storefront.helpers import sign_in


def register(client, **fields):
    body = {"email": "dana@example.test", "password": PASSWORD, "role": "buyer",
            "name": "Дана", "country": "KZ", "locale": "ru", **fields}
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def reset_link(message) -> str:
    [url] = [link for link in links(html_of(message)) if "/password/reset/" in link]
    assert url in text_of(message)
    return url.rsplit("/", 1)[1]


def test_welcome_mail_in_the_language_chosen_and_currency_from_the_country(client, smtp_server):
    account = register(client)
    assert account["user"]["currency"] == "KZT"  # from the country: Kazakhstan
    deliver_queued()
    [welcome] = to(smtp_server, "dana@example.test")
    assert welcome["Subject"] == "Добро пожаловать в Sheber, Дана"
    assert "Ваш аккаунт готов" in text_of(welcome)
    assert_inlined(html_of(welcome))


def test_password_reset_works_once_within_the_hour_and_ends_every_session(client, app,
                                                                        smtp_server):
    user = make_buyer(email="aru@example.test", locale="kk")
    headers = auth_headers(user)
    browser = app.test_client()
    sign_in(browser, user)
    assert browser.get("/orders").status_code == 200

    answer = client.post("/api/v1/auth/password-reset", json={"email": "ARU@example.test"})
    assert answer.status_code == 202 and answer.get_json() == {"accepted": True}
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.test"})
    assert unknown.status_code == 202 and unknown.get_json() == {"accepted": True}
    deliver_queued()
    [mail] = to(smtp_server, "aru@example.test")
    assert len(smtp_server.messages) == 1  # nothing to the unknown address
    assert mail["Subject"] == "Sheber құпиясөзін қалпына келтіру"
    token = reset_link(mail)

    # the page shows the form; a too short password changes nothing
    assert client.get(f"/password/reset/{token}").status_code == 200
    short = client.post("/api/v1/auth/password-reset/confirm",
                        json={"token": token, "password": "short"})
    assert short.status_code == 422

    done = client.post("/api/v1/auth/password-reset/confirm",
                       json={"token": token, "password": "a brand new secret"})
    assert done.status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # token revoked
    assert browser.get("/orders").status_code == 302  # the session is over
    again = client.post("/api/v1/auth/password-reset/confirm",
                        json={"token": token, "password": "another new secret"})
    assert again.status_code == 422 and again.get_json()["code"] == "account.token_invalid"
    signed = client.post("/api/v1/auth/tokens", json={"email": "aru@example.test",
                                                      "password": "a brand new secret"})
    assert signed.status_code == 201


def test_a_reset_token_expires_after_one_hour(client, smtp_server):
    make_buyer(email="old@example.test")
    client.post("/api/v1/auth/password-reset", json={"email": "old@example.test"})
    deliver_queued()
    token = reset_link(to(smtp_server, "old@example.test")[0])
    row = db.session.execute(select(AccountToken)).scalar_one()
    assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    late = client.post("/api/v1/auth/password-reset/confirm",
                       json={"token": token, "password": "a brand new secret"})
    assert late.status_code == 422 and late.get_json()["code"] == "account.token_invalid"


def test_email_change_needs_the_password_and_the_new_address_confirmed(client, smtp_server):
    user = make_buyer(email="first@example.test", locale="en")
    headers = auth_headers(user)
    wrong = client.post("/api/v1/me/email", headers=headers,
                        json={"email": "second@example.test", "password": "not it at all"})
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "account.password_wrong"
    asked = client.post("/api/v1/me/email", headers=headers,
                        json={"email": "Second@Example.test", "password": PASSWORD})
    assert asked.status_code == 202
    assert client.get("/api/v1/me", headers=headers).get_json()["email"] == "first@example.test"
    deliver_queued()
    [mail] = to(smtp_server, "second@example.test")
    assert mail["Subject"] == "Confirm your new Sheber e-mail address"
    [url] = [link for link in links(html_of(mail)) if "/account/email/" in link]
    token = url.rsplit("/", 1)[1]
    confirmed = client.post("/api/v1/me/email/confirm", json={"token": token})
    assert confirmed.status_code == 200
    assert confirmed.get_json()["email"] == "second@example.test"
    assert client.post("/api/v1/me/email/confirm", json={"token": token}).status_code == 422


def test_language_follows_the_api_and_the_site(client, app):
    user = make_buyer(email="lang@example.test", locale="en")
    headers = auth_headers(user)
    patched = client.patch("/api/v1/me", headers=headers, json={"locale": "kk"})
    assert patched.status_code == 200 and patched.get_json()["locale"] == "kk"
    browser = app.test_client()
    sign_in(browser, user)
    page = browser.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    browser.post("/preferences", data={"language": "ru", "currency": "EUR", "next": "/",
                                       "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "ru"


def test_export_and_deletion_keep_what_tax_law_requires(client):
    user = make_buyer(email="gone@example.test")
    headers = auth_headers(user)
    saved = client.post("/api/v1/me/addresses", headers=headers, json={
        "name": "Anna Schmidt", "line1": "Invalidenstrasse 1", "city": "Berlin",
        "postal_code": "10115", "country": "DE", "phone": "030 1234567"})
    assert saved.status_code == 201
    exported = client.get("/api/v1/me/export", headers=headers)
    assert exported.status_code == 200
    document = exported.get_json()
    assert document["account"]["email"] == "gone@example.test"
    assert document["addresses"][0]["phone"] == "+49301234567"
    assert document["orders"] == []

    refused = client.delete("/api/v1/me", headers=headers, json={"password": "wrong one"})
    assert refused.status_code == 403
    deleted = client.delete("/api/v1/me", headers=headers, json={"password": PASSWORD})
    assert deleted.status_code == 204
    db.session.expire_all()
    row = db.session.get(User, user.id)
    assert row.email is None and row.name == "" and row.deleted_at is not None
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    login = client.post("/api/v1/auth/tokens", json={"email": "gone@example.test",
                                                     "password": PASSWORD})
    assert login.status_code == 401
    # the address can be used again for a new account
    assert client.post("/api/v1/auth/register", json={
        "email": "gone@example.test", "password": PASSWORD, "role": "buyer", "name": "New",
        "country": "DE"}).status_code == 201
