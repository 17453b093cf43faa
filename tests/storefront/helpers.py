"""Shared steps for HTML page tests: get a CSRF token, sign in through the form."""

from __future__ import annotations

from tests.factories import PASSWORD

HTML = {"Accept": "text/html"}


def csrf_token(client) -> str:
    client.get("/signin", headers=HTML)
    with client.session_transaction() as session:
        return session["csrf_token"]


def post_form(client, path: str, data: dict | None = None, **kw):
    data = {"csrf_token": csrf_token(client), **(data or {})}
    return client.post(path, data=data, headers=HTML, **kw)


def sign_in(client, user) -> None:
    response = post_form(client, "/signin", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def choose(client, *, language: str | None = None, currency: str | None = None) -> None:
    with client.session_transaction() as session:
        if language:
            session["locale"] = language
        if currency:
            session["currency"] = currency
