"""Every API error is RFC 9457 application/problem+json, whatever raised it."""

import logging

import pytest
from flask import Flask

from marketplace.errors import register_error_handlers
from marketplace.extensions import limiter
from tests.factories import auth_headers, make_artisan, make_buyer

PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert set(body) >= PROBLEM_FIELDS and body["status"] == status
    assert body["type"].startswith("https://")
    return body


def test_400_malformed_json(client):
    response = client.post("/api/v1/products", data="{not json",
                           content_type="application/json",
                           headers=auth_headers(make_artisan()))
    assert_problem(response, 400)


def test_400_json_that_is_not_an_object(client):
    response = client.post("/api/v1/auth/tokens", json=["a", "list"])
    assert_problem(response, 400)


def test_401_without_a_token(client):
    assert_problem(client.get("/api/v1/me"), 401)
    assert_problem(client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401)


def test_403_for_the_wrong_role(client):
    response = client.post("/api/v1/products", json={}, headers=auth_headers(make_buyer()))
    assert_problem(response, 403)


def test_404_for_unknown_things_and_routes(client):
    assert_problem(client.get("/api/v1/products/unknown"), 404)
    assert_problem(client.get("/api/v1/no-such-route"), 404)


def test_405_for_a_wrong_method(client):
    body = assert_problem(client.delete("/api/v1/crafts"), 405)
    assert body["title"] == "Method Not Allowed"


def test_409_for_a_state_conflict(client):
    registration = {"email": "twice@example.test", "password": "long enough password",
                    "role": "buyer", "name": "Twice", "country": "DE"}
    client.post("/api/v1/auth/register", json=registration)
    other = client.post("/api/v1/auth/register", json={**registration,
                                                        "email": "other@example.test"})
    headers = {"Authorization": f"Bearer {other.get_json()['token']}"}
    assert_problem(client.post("/api/v1/me/email", headers=headers, json={
        "email": "twice@example.test", "password": "long enough password"}), 409)


def test_413_for_a_body_over_the_limit(client, app):
    body = b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}"
    response = client.post("/api/v1/products", data=body, content_type="application/json",
                           headers=auth_headers(make_artisan()))
    assert_problem(response, 413)


def test_422_lists_every_invalid_field(client):
    response = client.post("/api/v1/products", json={"craft": "plastic", "stock": -1},
                           headers=auth_headers(make_artisan()))
    body = assert_problem(response, 422)
    assert {"title", "craft", "stock", "price"} <= set(body["errors"])
    assert all(isinstance(messages, list) for messages in body["errors"].values())


def test_429_when_rate_limited(client, app):
    app.config["RATELIMIT_AUTH"] = "2 per minute"
    try:
        responses = [client.post("/api/v1/auth/tokens",
                                 json={"email": "x@example.test", "password": "nope"})
                     for _ in range(3)]
    finally:
        app.config["RATELIMIT_AUTH"] = "10000 per minute"
        limiter.reset()
    body = assert_problem(responses[-1], 429)
    assert "Too many requests" in body["detail"]


@pytest.fixture
def failing_app():
    # A throwaway app with the real error handlers: routes cannot be added to the shared app
    # once it has served a request.
    app = Flask("failing")
    register_error_handlers(app)

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals")

    return app


def test_500_is_a_generic_problem_that_leaks_nothing_and_is_logged(failing_app, caplog):
    with caplog.at_level(logging.ERROR, logger="marketplace.errors"):
        response = failing_app.test_client().get("/api/v1/boom")
    body = assert_problem(response, 500)
    assert "secret internals" not in response.get_data(as_text=True)
    assert body["title"] == "Internal server error"
    assert any("secret internals" in record.exc_text for record in caplog.records
               if record.exc_text)
