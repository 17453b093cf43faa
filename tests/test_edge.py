"""The bad inputs that used to reach a 500, each refused at the edge with a problem+json 4xx."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from marketplace.edge import json_depth
from marketplace.http import encode_cursor
from tests.factories import PASSWORD, auth_headers, make_buyer, make_operator
from tests.storefront.helpers import HTML, csrf_token

DEEP = "[" * 1000 + "]" * 1000


def _code(response) -> str:
    return response.get_json()["code"]


@pytest.mark.parametrize("body", [DEEP, '{"a":' * 1000 + "1" + "}" * 1000,
                                  '{"email": ' + DEEP + "}"])
def test_json_nested_deeper_than_the_limit_is_a_400_even_unauthenticated(client, body):
    for path in ("/api/v1/auth/tokens", "/api/v1/auth/register"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400
        assert _code(response) == "request.json_too_deep"
    # a view that reads the body whatever its declared type
    response = client.post("/api/v1/auth/tokens", data=body, content_type="text/plain")
    assert response.status_code == 400


def test_json_at_the_depth_limit_is_read_and_one_more_is_refused(app, client):
    limit = app.config.get("JSON_MAX_DEPTH", 32)
    nested = "[" * (limit - 1) + "]" * (limit - 1)
    at_limit = '{"email": ' + nested + ', "password": "x"}'
    response = client.post("/api/v1/auth/tokens", data=at_limit, content_type="application/json")
    assert response.status_code == 422  # read, then refused field by field
    over = '{"email": [' + nested + '], "password": "x"}'
    response = client.post("/api/v1/auth/tokens", data=over, content_type="application/json")
    assert _code(response) == "request.json_too_deep"


def test_depth_counting_skips_brackets_inside_strings():
    assert json_depth(b'{"a": "[[[[[[[[", "b": [1, {"c": "]]]\\"[["}]}') == 3


def test_a_json_body_over_the_size_limit_is_a_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "JSON_MAX_BYTES", 1000)
    body = json.dumps({"email": "a@example.test", "password": "x" * 1000})
    response = client.post("/api/v1/auth/tokens", data=body, content_type="application/json")
    assert response.status_code == 413
    assert _code(response) == "request.body_too_large"


@pytest.mark.parametrize("query", ["material=%00", "technique=a%00b", "artisan=%00", "q=%00",
                                   "craft=%0D", "lang=%7F", "%00=x", "q=%C2%85"])
def test_control_characters_in_the_query_are_a_400(client, query):
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 400
    assert _code(response) == "request.control_characters"


@pytest.mark.parametrize("path", ["/api/v1/products/%00", "/api/v1/shipments/%00",
                                  "/api/v1/provenance/%00", "/api/v1/orders/a%0Ab",
                                  "/products/%00"])
def test_control_characters_in_the_path_are_a_400(client, path):
    headers = auth_headers(make_operator())
    response = client.get(path, headers=headers)
    assert response.status_code == 400


def test_a_nul_in_a_login_email_is_refused_as_json_and_as_a_form(client):
    buyer = make_buyer()
    response = client.post("/api/v1/auth/tokens",
                           json={"email": buyer.email + "\x00", "password": PASSWORD})
    assert response.status_code == 400
    assert _code(response) == "request.control_characters"
    form = {"csrf_token": csrf_token(client), "email": "a\x00@example.test", "password": "x"}
    assert client.post("/signin", data=form, headers=HTML).status_code == 400



def test_a_form_part_without_a_name_or_value_is_read_past(app):
    """Found by schemathesis on the multipart photo upload: a part the multipart parser gives
    back without a name (or value) made the NUL check a TypeError (500)."""
    from flask import request
    from werkzeug.datastructures import MultiDict

    from marketplace import edge

    with app.test_request_context("/api/v1/reviews/x/photos", method="POST",
                                  content_type="multipart/form-data; boundary=b"):
        request.form = MultiDict([(None, "true"), ("file", None), ("ok", "1")])
        edge.check_request()  # nothing to refuse: no NUL anywhere
        request.form = MultiDict([(None, "a\x00b")])
        with pytest.raises(edge.RefusedInput):
            edge.check_request()


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_integers_beyond_64_bits_in_a_body_are_a_400(client, value):
    headers = auth_headers(make_buyer())
    response = client.post("/api/v1/cart/items", headers=headers,
                           json={"product_id": "x", "quantity": value})
    assert response.status_code == 400
    assert _code(response) == "request.number_out_of_range"


def test_nan_and_infinity_are_not_json(client):
    response = client.post("/api/v1/auth/tokens", data='{"email": NaN, "password": Infinity}',
                           content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("values", [["price_asc", 2**63, "x"], ["price_asc", -(2**64), "x"],
                                    ["newest", "2026-01-01T00:00:00", 2**70],
                                    ["relevance", 1e308 * 10, "x"], [["nested"]], ["x\x00"],
                                    list(range(20))])
def test_cursors_out_of_range_are_refused(client, values):
    response = client.get(f"/api/v1/products?cursor={encode_cursor(values)}")
    assert response.status_code == 422
    assert _code(response) == "request.invalid_cursor"


def test_a_query_integer_beyond_64_bits_is_a_4xx(client):
    response = client.get(f"/api/v1/products?limit={2**70}")
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("target", ["/%0D//evil.example", "/%0A/x", "/ok%09", "/\u0085x"])
def test_a_header_unsafe_next_is_dropped_or_refused(client, target):
    buyer = make_buyer()
    form = {"csrf_token": csrf_token(client), "email": buyer.email, "password": PASSWORD}
    response = client.post(f"/signin?next={target}", data=form, headers=HTML)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert response.headers["Location"] == "/"


def test_a_header_unsafe_next_is_dropped_by_the_page_helper(app):
    from marketplace.storefront.pages import safe_next

    with app.test_request_context():
        assert safe_next("/\r//evil.example", "/") == "/"
        assert safe_next("/a\u0085//evil.example", "/") == "/"
        assert safe_next("/" + "a" * 3000, "/") == "/"
        assert safe_next("/cart", "/") == "/cart"


def _stripe_signature(app, payload: bytes) -> str:
    timestamp = int(time.time())
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    signed = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload,
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signed}"


@pytest.mark.parametrize("payload", [b"[]", b'[{"id": "evt_1", "type": "x"}]', b'"event"',
                                     b"12"])
def test_a_signed_stripe_payload_that_is_not_an_object_is_a_400(app, client, payload):
    response = client.post("/api/v1/webhooks/stripe", data=payload,
                           content_type="application/json",
                           headers={"Stripe-Signature": _stripe_signature(app, payload)})
    assert response.status_code == 400


# --- headers --------------------------------------------------------------------------------

def test_every_answer_carries_the_policies_and_no_version_banner(client):
    for path in ("/", "/api/v1/products", "/no-such-page"):
        response = client.get(path)
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "default-src" in response.headers["Content-Security-Policy"]
        assert response.headers["Server"] == "sheber"
        assert "Strict-Transport-Security" not in response.headers  # development: http


def test_hsts_in_production(app, monkeypatch):
    from celery import current_app as celery_current_app

    from marketplace import create_app
    from workers.mail import send_mail_task

    monkeypatch.setenv("SHEBER_ENV", "development")
    production = create_app({"TESTING": True, "SHEBER_ENV": "production",
                             "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    response = production.test_client().get("/api/v1/crafts")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")
    # a second app keeps its own Celery app; the process's tasks stay with the first one
    assert production.extensions["celery"] is not app.extensions["celery"]
    assert celery_current_app._get_current_object() is app.extensions["celery"]
    assert send_mail_task.app is app.extensions["celery"]


def test_the_development_server_names_no_versions(app):
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/v1/crafts") as answer:
            banner = answer.headers.get_all("Server")
    finally:
        server.shutdown()
    assert banner and all("Werkzeug" not in value and "Python" not in value for value in banner)
