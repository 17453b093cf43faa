"""Does every error carry a stable code that clients and pages can rely on, and do pages pick
their words by that code?"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import types
from pathlib import Path

from flask import Flask

from marketplace.error_codes import all_codes, code_enums
from marketplace.errors import (
    AuthError,
    DomainError,
    ErrorCodes,
    HttpError,
    RequestError,
    UpstreamError,
    register_error_handlers,
)
from marketplace.extensions import limiter
from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)
from tests.factories import (
    PASSWORD,
    auth_headers,
    make_artisan,
    make_buyer,
    make_operator,
    make_product,
)
from tests.storefront.helpers import HTML, choose, csrf_token, post_form, sign_in

CODE = re.compile(r"^[a-z]+\.[a-z_]+$")

# Modules whose DomainErrors name their code; a package stands for all of its modules.
CONVERTED = (
    "marketplace.accounts", "marketplace.fx", "marketplace.payouts",
    "marketplace.errors", "marketplace.http", "marketplace.validation", "marketplace.security",
    "marketplace.storage", "marketplace.mail", "marketplace.money",
    "marketplace.storefront.auth", "marketplace.storefront.forms",
    "marketplace.orders", "marketplace.checkout", "marketplace.inventory",
    "marketplace.shipping.packing", "marketplace.shipping.parcels",
    "marketplace.shipping.tracking", "marketplace.integrations",
    "marketplace.catalog", "marketplace.provenance",
)


def problem_code(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    code = response.get_json()["code"]
    assert CODE.match(code) and code in all_codes(), code
    return code


# --- the registry --------------------------------------------------------------------------

def test_codes_are_dotted_lower_snake_case_and_documented():
    members = [member for enum in code_enums() for member in enum]
    assert len(members) > 50
    assert [m.value for m in members if not CODE.match(m.value)] == []
    assert [m.value for m in members if not m.doc] == []


def test_no_two_enums_share_a_code():
    values = [member.value for enum in code_enums() for member in enum.__members__.values()]
    assert len(values) == len(set(values))


def test_every_package_errors_module_is_in_the_registry():
    import marketplace

    root = Path(marketplace.__file__).parent
    on_disk = {f"marketplace.{path.parent.name}.errors" for path in root.glob("*/errors.py")}
    assert len(on_disk) >= 8
    assert on_disk <= {enum.__module__ for enum in code_enums()}


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def test_every_error_class_defaults_to_a_registered_code():
    import marketplace

    for info in pkgutil.walk_packages(marketplace.__path__, "marketplace."):
        importlib.import_module(info.name)
    unregistered = {cls.__name__: cls.code for cls in _all_subclasses(DomainError)
                    if cls.__module__.startswith("marketplace.") and cls.code not in all_codes()}
    assert unregistered == {}


# --- raise sites ---------------------------------------------------------------------------

def _modules(names) -> list:
    modules = []
    for name in names:
        module = importlib.import_module(name)
        modules.append(module)
        if hasattr(module, "__path__"):
            modules += [importlib.import_module(info.name)
                        for info in pkgutil.walk_packages(module.__path__, name + ".")]
    return modules


def _resolve(node: ast.expr, namespace: dict):
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)  # only modules and classes: no request proxies
        if isinstance(base, type | types.ModuleType):
            return getattr(base, node.attr, None)
    return None


def _has_package_code(cls: type) -> bool:
    """A class whose own ``code`` is a package's (not one of the kernel's generic ones)."""
    generic = {member.value for enum in (RequestError, AuthError, UpstreamError, HttpError)
               for member in enum}
    return cls.code in all_codes() and cls.code not in generic


def errors_without_code(source: str, namespace: dict, filename: str) -> list[str]:
    """Each construction of a DomainError subclass in ``source`` that names no registered
    ``code=`` and whose class carries no package code of its own, as ``file:line``."""
    missing = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        cls = _resolve(node.func, namespace)
        if not (isinstance(cls, type) and issubclass(cls, DomainError)):
            continue
        code = next((kw.value for kw in node.keywords if kw.arg == "code"), None)
        value = _resolve(code, namespace) if code is not None else None
        if code is None and _has_package_code(cls):
            continue
        if code is None or (isinstance(value, str) and value not in all_codes()):
            missing.append(f"{filename}:{node.lineno} {cls.__name__}")
    return missing


def test_the_scan_finds_an_error_without_a_code():
    namespace = {"NotFound": importlib.import_module("marketplace.errors").NotFound,
                 "Codes": type("Codes", (), {"GONE": "nobody.knows_this"})}
    assert errors_without_code("raise NotFound('No such thing.')", namespace, "x") == [
        "x:1 NotFound"]
    assert errors_without_code("raise NotFound('x', code=Codes.GONE)", namespace, "x") == [
        "x:1 NotFound"]
    assert errors_without_code("raise KeyError('x')", namespace, "x") == []
    namespace["OutOfStock"] = importlib.import_module("marketplace.errors").OutOfStock
    assert errors_without_code("raise OutOfStock('gone')", namespace, "x") == []


def test_converted_modules_raise_every_domain_error_with_its_code():
    missing, scanned = [], 0
    for module in _modules(CONVERTED):
        source = Path(module.__file__).read_text()
        missing += errors_without_code(source, vars(module), module.__name__)
        scanned += source.count("code=")
    assert scanned > 30  # the scan really read the raise sites
    assert missing == []


# --- problem+json bodies -------------------------------------------------------------------

def test_plain_http_and_kernel_errors_carry_codes(client, app):
    artisan = auth_headers(make_artisan())
    assert problem_code(client.post("/api/v1/products", data="{not json",
                                    content_type="application/json", headers=artisan),
                        400) == "request.malformed_json"
    assert problem_code(client.post("/api/v1/auth/tokens", json=["a"]), 400) == (
        "request.not_an_object")
    assert problem_code(client.get("/api/v1/me"), 401) == "auth.required"
    assert problem_code(client.post("/api/v1/products", json={},
                                    headers=auth_headers(make_buyer())), 403) == (
        "auth.role_required")
    assert problem_code(client.get("/api/v1/no-such-route"), 404) == "http.not_found"
    assert problem_code(client.delete("/api/v1/crafts"), 405) == "http.method_not_allowed"
    body = b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}"
    assert problem_code(client.post("/api/v1/products", data=body,
                                    content_type="application/json", headers=artisan),
                        413) == "http.request_entity_too_large"
    response = client.post("/api/v1/products", json={"craft": "plastic"}, headers=artisan)
    assert problem_code(response, 422) == "request.invalid"
    assert "craft" in response.get_json()["errors"]
    assert problem_code(client.get("/api/v1/operator/payouts/batches?cursor=%%%",
                                   headers=auth_headers(make_operator())),
                        422) == "request.invalid_cursor"


def test_rate_limits_and_unexpected_failures_carry_codes(client, app):
    app.config["RATELIMIT_AUTH"] = "1 per minute"
    try:
        responses = [client.post("/api/v1/auth/tokens",
                                 json={"email": "x@example.test", "password": "nope"})
                     for _ in range(2)]
    finally:
        app.config["RATELIMIT_AUTH"] = "10000 per minute"
        limiter.reset()
    assert problem_code(responses[-1], 429) == "http.too_many_requests"

    failing = Flask("failing")  # the shared app takes no new routes once it has served
    register_error_handlers(failing)
    failing.add_url_rule("/api/v1/boom", "boom", lambda: 1 / 0)
    with failing.app_context():
        response = failing.test_client().get("/api/v1/boom")
    assert problem_code(response, 500) == "http.internal_server_error"


def test_a_session_call_without_its_csrf_token_names_the_code(client):
    sign_in(client, make_buyer())
    response = client.post("/api/v1/cart/items", json={"product_id": "x", "quantity": 1},
                           headers={"Accept": "application/json"})
    assert problem_code(response, 400) == "request.csrf_failed"


def test_the_pay_endpoint_of_the_pay_page_carries_codes(client):
    sign_in(client, make_buyer())
    headers = {"Accept": "application/json", "X-CSRF-Token": csrf_token(client)}
    assert problem_code(client.post("/orders/nothing/pay", json={}, headers=headers),
                        422) == "checkout.payment_method_required"
    missing = client.post("/orders/nothing/pay", json={"payment_method": "pm_card_visa"},
                          headers=headers)
    assert problem_code(missing, 404) in ("request.not_found", "order.not_found")


REGISTRATION = {"email": "twice@example.test", "password": "long enough password",
                "role": "buyer", "name": "Twice", "country": "DE"}


def test_accounts_name_a_taken_email_change_and_wrong_credentials(client):
    assert client.post("/api/v1/auth/register", json=REGISTRATION).status_code == 201
    # registering it again says nothing (the owner is mailed); changing to it is a conflict
    assert client.post("/api/v1/auth/register", json=REGISTRATION).status_code == 201
    other = client.post("/api/v1/auth/register", json={**REGISTRATION,
                                                        "email": "other@example.test"})
    response = client.post("/api/v1/me/email", json={"email": REGISTRATION["email"],
                                                      "password": REGISTRATION["password"]},
                           headers={"Authorization": f"Bearer {other.get_json()['token']}"})
    assert problem_code(response, 409) == "account.email_taken"
    assert response.get_json()["detail"] == "An account with this email already exists."
    wrong = client.post("/api/v1/auth/tokens", json={"email": REGISTRATION["email"],
                                                      "password": "not the password"})
    assert problem_code(wrong, 401) == "account.invalid_credentials"
    nobody = client.post("/api/v1/auth/tokens", json={"email": "nobody@example.test",
                                                       "password": PASSWORD})
    assert problem_code(nobody, 401) == "account.invalid_credentials"


def test_fx_overrides_name_what_is_wrong(client, fixed_rates):  # noqa: F811
    operator = auth_headers(make_operator())
    assert problem_code(client.put("/api/v1/operator/fx/USD", json={"rate": "1"},
                                   headers=operator), 422) == "fx.quote_currency"
    assert problem_code(client.put("/api/v1/operator/fx/XYZ", json={"rate": "1"},
                                   headers=operator), 422) == "fx.currency_unsupported"
    assert problem_code(client.put("/api/v1/operator/fx/KWD", json={"rate": "0.3"},
                                   headers=operator), 404) == "fx.not_in_source"
    # the body's own validation (pydantic) is a plain field error, as for every body
    response = client.put("/api/v1/operator/fx/EUR", json={"rate": "-3"}, headers=operator)
    assert problem_code(response, 422) == "request.invalid"
    assert "rate" in response.get_json()["errors"]


def test_payouts_name_an_empty_run_and_an_unavailable_rail(client):
    operator = auth_headers(make_operator())
    response = client.post("/api/v1/operator/payouts/batches", json={}, headers=operator)
    assert problem_code(response, 409) == "payout.nothing_payable"
    assert response.get_json()["detail"] == "No artisan has a payable balance now."
    assert problem_code(client.post("/api/v1/operator/payouts/batches",
                                    json={"rail": "stripe_connect"}, headers=operator),
                        422) == "payout.rail_unavailable"
    assert problem_code(client.get("/api/v1/operator/payouts/batches/nothing",
                                   headers=operator), 404) == "payout.batch_not_found"


def test_catalog_and_provenance_name_what_is_wrong(client):
    artisan = make_artisan()
    headers = auth_headers(artisan)
    body = {"title": {"en": "Bowl"}, "craft": "ceramics", "price": {"amount": 1000,
            "currency": "KZT"}, "stock": 1, "weight_g": 400,
            "dimensions_mm": {"l": 10, "w": 10, "h": 10}, "provenance": {"no_such_field": 1}}
    response = client.post("/api/v1/products", json=body, headers=headers)
    assert problem_code(response, 422) == "provenance.record_invalid"
    assert set(response.get_json()["errors"]) == {"provenance.no_such_field"}
    product = make_product(artisan, status="archived")
    assert problem_code(client.patch(f"/api/v1/products/{product.id}", json={"stock": 2},
                                     headers=headers), 409) == "catalog.product_archived"
    assert problem_code(client.get("/api/v1/products/nothing"), 404) == (
        "catalog.product_not_found")
    assert problem_code(client.get("/api/v1/provenance/NOSUCHCODE"), 404) == (
        "provenance.label_not_found")


# --- pages ---------------------------------------------------------------------------------

def test_pages_say_a_taken_email_in_the_visitors_language(client):
    make_buyer(email="taken@example.test")
    sign_in(client, make_buyer())
    choose(client, language="ru")
    response = post_form(client, "/account/email", {"email": "taken@example.test",
                                                    "password": PASSWORD})
    assert response.status_code == 409
    assert "Аккаунт с этим адресом электронной почты уже существует." in (
        response.get_data(as_text=True))


def test_console_and_workshop_forms_word_refusals_by_code_in_russian(client,
                                                                      fixed_rates):  # noqa: F811
    sign_in(client, make_operator())
    choose(client, language="ru")
    rate = post_form(client, "/console/fx/EUR", {"rate": "-3", "action": "set"})
    assert rate.status_code == 422
    assert "Введите положительное десятичное число, например 515.25." in (
        rate.get_data(as_text=True))
    post_form(client, "/signout")
    sign_in(client, make_artisan())  # no workshop profile yet: payout.profile_required
    choose(client, language="ru")
    account = post_form(client, "/workshop/payouts/account",
                        {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"})
    assert account.status_code == 302
    profile = client.get(account.headers["Location"], headers=HTML).get_data(as_text=True)
    assert "Сначала создайте профиль мастерской." in profile


def test_a_code_no_page_knows_gets_the_sentence_for_its_status(app):
    from flask_babel import refresh

    from marketplace.errors import Conflict
    from marketplace.storefront.messages import message_for

    unknown = Conflict("Something moved.", code="nobody.knows_this")
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        refresh()
        assert message_for(unknown) == ("За это время данные изменились. Вернитесь, обновите "
                                        "страницу и попробуйте снова.")
        assert message_for(unknown, default="Своё слово") == "Своё слово"
    with app.test_request_context(headers={"Accept-Language": "kk"}):
        refresh()
        taken = Conflict("x", code="account.email_taken")
        assert message_for(taken, default="not this") == (
            "Бұл электрондық поштамен тіркелгі бұрыннан бар.")


def test_error_code_enums_are_strings_with_docs():
    class Sample(ErrorCodes):
        ONE = "sample.one", "The first."

    assert Sample.ONE == "sample.one" and str(Sample.ONE) == "sample.one"
    assert Sample.ONE.doc == "The first."
    assert DomainError("x", code=Sample.ONE).code == "sample.one"
