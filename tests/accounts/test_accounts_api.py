from sqlalchemy import func, select

from marketplace.accounts.models import ApiToken, User
from marketplace.extensions import db
from tests.factories import PASSWORD, auth_headers, make_buyer

REGISTRATION = {
    "email": "aigerim@example.test", "password": "a long enough password", "role": "buyer",
    "name": "Aigerim", "country": "de", "currency": "eur",
}


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_register_returns_user_and_working_token(client):
    response = client.post("/api/v1/auth/register", json=REGISTRATION)
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["role"] == "buyer"
    assert body["user"]["country"] == "DE"
    assert body["user"]["currency"] == "EUR"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == "aigerim@example.test"


def test_tokens_are_stored_hashed_never_in_clear(client):
    token = client.post("/api/v1/auth/register", json=REGISTRATION).get_json()["token"]
    stored = db.session.execute(select(ApiToken.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_passwords_are_hashed_with_argon2(client):
    client.post("/api/v1/auth/register", json=REGISTRATION)
    user = db.session.execute(select(User)).scalar_one()
    assert user.password_hash.startswith("$argon2id$")


def test_a_duplicate_email_answers_as_a_registration_and_opens_nothing(client):
    first = client.post("/api/v1/auth/register", json=REGISTRATION)
    again = client.post("/api/v1/auth/register",
                        json={**REGISTRATION, "email": "AIGERIM@example.test"})
    assert again.status_code == 201
    assert again.content_type == first.content_type == "application/json"
    assert set(again.get_json()) == {"user", "token"}
    assert again.get_json()["user"]["id"] != first.get_json()["user"]["id"]
    assert client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {again.get_json()['token']}"}).status_code == 401
    assert count(User) == 1


def test_register_validation_lists_fields_and_writes_nothing(client):
    response = client.post("/api/v1/auth/register", json={
        "email": "not-an-email", "password": "short", "role": "operator", "name": "",
        "country": "XX", "currency": "BTC",
    })
    assert response.status_code == 422
    body = response.get_json()
    assert response.content_type == "application/problem+json"
    assert set(body["errors"]) >= {"email", "password", "role", "name", "country", "currency"}
    assert count(User) == 0


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/register", data="{nope",
                           content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["status"] == 400


def test_login_with_wrong_password_is_401(client):
    make_buyer(email="b@example.test")
    response = client.post("/api/v1/auth/tokens",
                           json={"email": "b@example.test", "password": "wrong password"})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


def test_login_then_revoke_token(client):
    make_buyer(email="b@example.test")
    token = client.post("/api/v1/auth/tokens",
                        json={"email": "b@example.test", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_me_without_token_is_401(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


def test_me_shows_role(client):
    buyer = make_buyer()
    assert client.get("/api/v1/me", headers=auth_headers(buyer)).get_json()["role"] == "buyer"


def test_login_is_rate_limited_per_client(app, client):
    app.config["RATELIMIT_AUTH"] = "3 per minute"
    try:
        codes = [client.post("/api/v1/auth/tokens",
                             json={"email": "x@example.test", "password": "nope"}).status_code
                 for _ in range(4)]
    finally:
        app.config["RATELIMIT_AUTH"] = "10000 per minute"
    assert codes == [401, 401, 401, 429]


def test_create_operator_command(runner):
    result = runner.invoke(args=["users", "create-operator", "op@sheber.kz",
                                 "--password", "operator password 1"])
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User)).scalar_one()
    assert user.role == "operator"
