"""The OpenAPI document: the catalogue is listed, and the whole document is exact (valid, every
reference resolves, every object typed, every operation described, Spectral's oas rules)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
from pydantic import ValidationError

from marketplace.http import responds
from marketplace.schemas import MoneyOut, TextOut, dump

CATALOGUE_PATHS = {
    "/api/v1/artisans/me": {"get", "put"},
    "/api/v1/artisans/{artisan_id}": {"get"},
    "/api/v1/products": {"get", "post"},
    "/api/v1/products/{product_id}": {"get", "patch", "delete"},
    "/api/v1/products/{product_id}/images": {"post"},
    "/api/v1/crafts": {"get"},
    "/api/v1/currencies": {"get"},
    "/api/v1/operator/fx/{currency}": {"put", "delete"},
}


def test_openapi_lists_the_catalogue_with_request_schemas(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    for path, methods in CATALOGUE_PATHS.items():
        assert methods <= set(document["paths"][path]), path

    schemas = document["components"]["schemas"]
    create = document["paths"]["/api/v1/products"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    product_in = schemas[ref.rsplit("/", 1)[1]]
    # a listing may start as a draft: stock, weight and size can come later
    assert set(product_in["required"]) == {"title", "craft", "price"}
    assert {"stock", "weight_g", "dimensions_mm"} <= set(product_in["properties"])
    assert create["security"] == [{"bearer": []}]
    assert "201" in create["responses"]

    patch = document["paths"]["/api/v1/products/{product_id}"]["patch"]
    assert "requestBody" in patch
    profile = document["paths"]["/api/v1/artisans/me"]["put"]
    assert profile["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ProfileIn")

    listing = document["paths"]["/api/v1/products"]["get"]
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert {"q", "craft", "material", "technique", "artisan", "verified", "min_price",
            "max_price", "currency", "ships_to", "sort", "limit", "cursor", "lang"} <= names
    assert listing["responses"]["default"]["content"]["application/problem+json"]


def test_api_docs_render(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/api/v1/products" in page and "Sheber API" in page


# --- the document is exact: valid, self-contained, typed, described ----------------------------

ROOT = Path(__file__).resolve().parents[1]
SPECTRAL = ROOT / ".cache" / "node" / "node_modules" / ".bin" / "spectral"
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _untyped_objects(node, where="#"):
    """Object schemas that say nothing about their members: ``{"type": "object"}`` alone, or
    ``additionalProperties`` true or ``{}``."""
    if isinstance(node, list):
        for index, value in enumerate(node):
            yield from _untyped_objects(value, f"{where}/{index}")
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    is_object = types == "object" or (isinstance(types, list) and "object" in types)
    extra = node.get("additionalProperties")
    untyped_members = is_object and not node.get("properties") and not isinstance(extra, dict)
    if extra is True or extra == {} or untyped_members:
        yield where
    for key, value in node.items():
        if key not in ("example", "examples", "default", "enum", "const"):
            yield from _untyped_objects(value, f"{where}/{key}")


def test_the_document_passes_openapi_spec_validator(document):
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_every_reference_points_into_components_and_resolves(document):
    assert "$defs" not in json.dumps(document)
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/"), ref
        _, _, section, name = ref.split("/", 3)
        assert name in document["components"][section], ref


def test_no_object_schema_is_untyped(document):
    assert list(_untyped_objects(document)) == []


def test_the_walker_finds_untyped_objects():
    bare = {"a": {"type": "object"}, "b": {"type": "object", "additionalProperties": True},
            "c": {"properties": {"x": {"type": "object", "additionalProperties": {}}}},
            "d": {"type": "object", "additionalProperties": {"type": "string"}},
            "e": {"type": "object", "properties": {"x": {"type": "string"}}}}
    assert list(_untyped_objects(bare)) == [
        "#/a", "#/b", "#/c/properties/x"]


def test_responses_are_typed_models_with_the_fields_endpoints_return(document):
    schemas = document["components"]["schemas"]
    order = schemas["OrderOut"]
    assert {"payment", "refunds", "shipping_address", "flagged_reason"} <= set(
        order["properties"])
    assert {"payment", "refunds", "shipping_address"}.isdisjoint(order["required"])
    assert order["properties"]["lines"]["items"] == {"$ref": "#/components/schemas/OrderLineOut"}
    assert order["properties"]["payment"]["$ref"] == "#/components/schemas/PaymentSummaryOut"
    refund = document["paths"]["/api/v1/operator/orders/{order_id}/refunds"]["post"]
    refund_schema = schemas[refund["responses"]["201"]["content"]["application/json"]["schema"][
        "$ref"].rsplit("/", 1)[1]]
    assert refund_schema["properties"]["refunds"]["items"]["$ref"] == (
        "#/components/schemas/OrderRefundOut")
    checkout = schemas["CheckoutOut"]
    assert checkout["properties"]["order"]["$ref"] == "#/components/schemas/OrderOut"
    product = document["paths"]["/api/v1/products"]["post"]
    product_in = product["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    provenance = schemas[product_in.rsplit("/", 1)[1]]["properties"]["provenance"]
    assert {"$ref": "#/components/schemas/RecordIn"} in provenance["anyOf"]


def test_every_operation_has_a_tag_id_summary_and_description(document):
    tags = {tag["name"] for tag in document["tags"]}
    ids = []
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("tags") and set(operation["tags"]) <= tags, where
        assert operation.get("summary"), where
        assert operation.get("description"), where
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)) > 40


def test_signed_webhooks_document_the_body_they_verify(document):
    schemas = document["components"]["schemas"]
    for path, name, required in (("/api/v1/webhooks/stripe", "StripeEventIn", {"id", "type"}),
                                 ("/api/v1/carriers/{carrier}/events", "CarrierEventIn",
                                  {"id", "tracking_number", "status", "occurred_at"})):
        body = document["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        ref = body["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{name}"
        assert set(schemas[name]["required"]) == required
    stripe_event = schemas["StripeEventIn"]["properties"]
    assert {"object", "created", "livemode", "data", "api_version"} <= set(stripe_event)


def test_errors_are_documented_as_problem_json_with_a_code(document):
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert "errors" in problem["properties"]
    responses = document["components"]["responses"]
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        documented = operation["responses"]
        if "security" in operation:
            assert {"401", "403"} <= set(documented), where
        if "{" in path:
            assert "404" in documented, where
        if "requestBody" in operation:
            assert "400" in documented, where
            # Stripe's signed event is stored as it is: one that is not an event is a 400
            if path != "/api/v1/webhooks/stripe":
                assert "422" in documented, where
        for status, response in documented.items():
            if status.startswith(("4", "5")):
                name = response["$ref"].rsplit("/", 1)[1]
                assert "application/problem+json" in responses[name]["content"], where
    assert "429" in document["paths"]["/api/v1/auth/tokens"]["post"]["responses"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"]["in"] == "cookie"
    pdf = document["paths"]["/api/v1/shipments/{shipment_id}/label.pdf"]["get"]
    assert set(pdf["responses"]["200"]["content"]) == {"application/pdf"}


def test_a_view_cannot_answer_with_what_its_model_does_not_say():
    @responds(MoneyOut, 201)
    def documented():
        return {"amount": 100, "currency": "KZT"}, 201, {"Location": "/x"}

    @responds(MoneyOut)
    def extra_field():
        return {"amount": 100, "currency": "KZT", "note": "undocumented"}

    @responds(MoneyOut)
    def wrong_type():
        return {"amount": "100", "currency": "KZT"}

    assert documented() == ({"amount": 100, "currency": "KZT"}, 201, {"Location": "/x"})
    for view in (extra_field, wrong_type):
        with pytest.raises(ValidationError):
            view()
    assert dump(TextOut, {"ru": "Пиала"}) == {"ru": "Пиала"}  # absent stays absent, not null


def _spectral() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Spectral runs on Node.js: node and npm are not installed here")
    if not SPECTRAL.exists():
        subprocess.run(["make", "-s", "spectral"], cwd=ROOT, check=True, timeout=600)
    return SPECTRAL


def test_spectral_oas_ruleset_finds_no_errors(document, tmp_path):
    spectral = _spectral()
    served = tmp_path / "openapi.json"
    served.write_text(json.dumps(document))
    report = tmp_path / "spectral.json"
    done = subprocess.run(
        [str(spectral), "lint", str(served), "--ruleset", str(ROOT / ".spectral.yaml"),
         "--format", "json", "--output", str(report), "--fail-severity", "error"],
        capture_output=True, text=True, timeout=300)
    results = json.loads(report.read_text() or "[]")
    errors = [r for r in results if r["severity"] == 0]
    warnings = [f"{r['code']} at {'.'.join(map(str, r['path']))}" for r in results
                if r["severity"] == 1]
    assert errors == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    print("spectral warnings:", warnings or "none")


def test_photo_uploads_document_their_multipart_bodies(document):
    for path, many in (("/api/v1/products/{product_id}/images", False),
                       ("/api/v1/reviews/{review_id}/photos", True)):
        body = document["paths"][path]["post"]["requestBody"]
        schema = body["content"]["multipart/form-data"]["schema"]
        assert body["required"] is True and schema["required"] == ["file"]
        field = schema["properties"]["file"]
        binary = field["items"] if many else field
        assert binary == {"type": "string", "format": "binary"}
        assert (field["type"] == "array") is many
