"""CSRF on every HTML form, cookie flags, security headers, role gates."""

import pytest

from tests.factories import PASSWORD, auth_headers, make_artisan, make_buyer, make_operator
from tests.storefront.helpers import HTML, csrf_token, post_form, sign_in

FORMS = ["/signin", "/signup", "/signout", "/preferences"]


@pytest.mark.parametrize("path", FORMS)
def test_form_posts_without_a_csrf_token_are_refused(client, path):
    csrf_token(client)  # the session has a token; the form just does not send it
    response = client.post(path, data={"language": "ru"}, headers=HTML)
    assert response.status_code == 400
    assert "text/html" in response.content_type


@pytest.mark.parametrize("path", FORMS)
def test_form_posts_with_a_wrong_csrf_token_are_refused(client, path):
    csrf_token(client)
    response = client.post(path, data={"csrf_token": "forged"}, headers=HTML)
    assert response.status_code == 400


def test_csrf_refusal_is_problem_json_for_non_html_clients(client):
    response = client.post("/signin", data={"email": "a@b.cd"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.get_json()["type"].endswith("/csrf-failed")


def test_a_token_from_another_session_does_not_work(app, client):
    other = app.test_client()
    stolen = csrf_token(other)
    csrf_token(client)
    buyer = make_buyer()
    response = client.post("/signin", data={"csrf_token": stolen, "email": buyer.email,
                                            "password": PASSWORD}, headers=HTML)
    assert response.status_code == 400


def test_csrf_token_in_a_header_is_accepted(client):
    token = csrf_token(client)
    response = client.post("/preferences", data={"language": "ru"},
                           headers={**HTML, "X-CSRF-Token": token})
    assert response.status_code == 302


def test_api_routes_need_no_csrf_token(client):
    response = client.post("/api/v1/auth/tokens", json={"email": "x@example.test",
                                                       "password": "nope"})
    assert response.status_code == 401  # reached the view: not refused by the CSRF check


def test_an_api_call_riding_on_the_session_cookie_needs_the_csrf_token(client):
    buyer = make_buyer()
    sign_in(client, buyer)
    forged = client.delete("/api/v1/auth/tokens/current", headers={"Accept": "application/json"})
    assert forged.status_code == 400
    assert forged.get_json()["type"].endswith("/csrf-failed")
    with_token = client.delete("/api/v1/auth/tokens/current",
                               headers={"X-CSRF-Token": csrf_token(client)})
    assert with_token.status_code == 204
    bearer = client.get("/api/v1/me", headers=auth_headers(buyer))
    assert bearer.status_code == 200


def test_session_cookie_is_httponly_and_samesite(client):
    response = client.get("/signin", headers=HTML)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_carry_security_headers_and_csp_allows_only_self_and_stripe_js(app, client):
    response = client.get("/signin", headers=HTML)
    csp = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    stripe_origin = "http://127.0.0.1:8420"
    assert app.config["STRIPE_JS_URL"].startswith(stripe_origin)
    assert directives["script-src"] == f"'self' {stripe_origin}"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "*" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_csp_for_real_stripe_allows_stripes_documented_hosts_only():
    from marketplace.security import content_security_policy

    csp = content_security_policy("https://js.stripe.com/v3/")
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self' https://js.stripe.com"
    assert directives["connect-src"] == "'self' https://js.stripe.com https://api.stripe.com"


def test_anonymous_visitors_are_sent_to_sign_in_from_role_pages(client):
    for path in ("/workshop/", "/console/"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/signin?next=")


@pytest.mark.parametrize("path, allowed", [("/workshop/", "artisan"), ("/console/", "operator")])
def test_role_pages_are_forbidden_to_other_roles(client, path, allowed):
    users = {"buyer": make_buyer(), "artisan": make_artisan(), "operator": make_operator()}
    for role, user in users.items():
        sign_in(client, user)
        response = client.get(path, headers=HTML)
        assert response.status_code == (200 if role == allowed else 403), role
        post_form(client, "/signout")
