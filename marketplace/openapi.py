"""OpenAPI 3.1 built from the pydantic models that validate requests and serialise responses
(see ``marketplace.http`` and ``marketplace.schemas``)."""

from __future__ import annotations

import inspect
import re

from flask import Blueprint, current_app, render_template_string
from flask_limiter.util import get_qualified_name
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from marketplace.extensions import limiter

bp = Blueprint("openapi", __name__, url_prefix="/api")

REF = "#/components/schemas/{model}"

_PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details. Other members may follow (say, `product_id`).",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable: `order.invalid_transition`, "
                                                  "`checkout.out_of_stock`, ..."},
        "errors": {"type": "object", "description": "Field → messages (422).",
                   "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}

# Documented error responses: status → (component name, description).
_ERRORS = {
    400: ("BadRequest", "Malformed request: a control character in the path or query, a body "
                        "that is not a JSON object or nests too deeply, or a bad signature."),
    401: ("Unauthorized", "No token, or one that is not valid."),
    403: ("Forbidden", "The signed-in user may not do this."),
    404: ("NotFound", "Not found, or not yours."),
    413: ("PayloadTooLarge", "The body is over its size limit."),
    409: ("Conflict", "Not possible in the current state (out of stock, wrong order state)."),
    422: ("ValidationFailed", "Invalid fields; `errors` names each with its messages."),
    429: ("TooManyRequests", "Rate limited: try again later."),
}

_TAGS = {
    "accounts": "Registration, tokens and the signed-in user.",
    "audit": "The append-only trail of operators' and artisans' changes.",
    "catalog": "Workshops, products, images and craft categories.",
    "checkout": "Cart, checkout, payment and Stripe's webhooks.",
    "fx": "Presentment currencies and exchange rates.",
    "orders": "Orders, cancellations and refunds.",
    "payouts": "Artisans' payouts and the operators' bank batches.",
    "community": "Favourites, reviews of delivered pieces, conversations with workshops and "
                 "made-to-order commissions.",
    "provenance": "Provenance records, verification, signed labels and pieces.",
    "shipping": "Shipping quotes, fulfilment, shipments and carriers' tracking events.",
}


class _DocumentSchema(GenerateJsonSchema):
    """Responses carry no defaults: a field with one is simply absent when it is not given."""

    def default_schema(self, schema):
        json_schema = super().default_schema(schema)
        if self.mode == "serialization":
            json_schema.pop("default", None)
        return json_schema


def _operations(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1") and not rule.rule.startswith("/webhooks"):
            continue
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, view, getattr(view, "_openapi", {}), path, method


def _models(app) -> list[tuple[type, str]]:
    models: dict[tuple[type, str], None] = {}
    for _rule, _view, spec, _path, _method in _operations(app):
        for key in ("query", "body"):
            if key in spec:
                models[(spec[key], "validation")] = None
        if "raw_body" in spec:
            models[(spec["raw_body"][0], "validation")] = None
        model = spec.get("response", (200, None))[1]
        if model is not None:
            models[(model, "serialization")] = None
    return list(models)


def _query_parameter(name: str, prop: dict, required: bool) -> dict:
    """A query parameter is a value or absent, never null."""
    schema = {key: value for key, value in prop.items()
              if key not in ("title", "description") and not (key == "default" and value is None)}
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    parameter = {"name": name, "in": "query", "required": required, "schema": schema}
    if prop.get("description"):
        parameter["description"] = prop["description"]
    return parameter


def _error(status: int) -> dict:
    return {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}


def _rate_limited(view) -> bool:
    return bool(limiter.limit_manager.decorated_limits(get_qualified_name(view)))


def _operation(rule, view, spec, method, refs: dict, defs: dict) -> dict:
    doc = inspect.cleandoc(view.__doc__ or "")
    summary = doc.splitlines()[0] if doc else rule.endpoint
    operation: dict = {
        "operationId": f"{rule.endpoint}.{method.lower()}",
        "summary": summary,
        "description": " ".join(doc.split()) or summary,
        "tags": [rule.endpoint.split(".")[0]],
        "parameters": [
            {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
            for arg in sorted(rule.arguments)
        ],
        "responses": {},
    }
    errors = {400}  # the edge refuses control characters in any path or query (marketplace.edge)
    if "query" in spec:
        query_schema = defs[refs[(spec["query"], "validation")]["$ref"].rsplit("/", 1)[1]]
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            operation["parameters"].append(_query_parameter(name, prop, name in required))
        errors.add(422)
    if "body" in spec:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(spec["body"], "validation")]}},
        }
        errors.update({400, 413, 422})
    elif "raw_body" in spec:  # read by the view itself (a signed webhook)
        model, validated = spec["raw_body"]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(model, "validation")]}},
        }
        errors.update({400, 413, 422} if validated else {400, 413})
    elif "multipart" in spec:  # files the view reads from request.files
        field, many = spec["multipart"]
        binary = {"type": "string", "format": "binary"}
        operation["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": [field],
                "properties": {field: {"type": "array", "items": binary, "minItems": 1}
                               if many else binary}}}},
        }
        errors.update({400, 413, 422})
    if rule.arguments:
        errors.add(404)
    if "auth" in spec:
        operation["security"] = [{"bearer": []}]
        roles = [role for role in spec["auth"] if role != "any"]
        operation["description"] += (f" Signed in as: {' or '.join(roles)}." if roles
                                     else " Signed in as anyone.")
        errors.update({401, 403})
        if method != "GET":
            errors.add(409)
    if _rate_limited(view):
        errors.add(429)

    status, model = spec.get("response", (200, None))
    response: dict = {"description": "Success" if status != 204 else "No content"}
    if model is not None:
        response["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
        for media_type in spec.get("alternatives", ()):
            response["content"][media_type] = {"schema": {"type": "string"}}
    elif status != 204:
        media_types = spec.get("media_types", ("application/json",))
        response["content"] = {media_type: {"schema": {"type": "string", "format": "binary"}}
                               for media_type in media_types}
    operation["responses"][str(status)] = response
    for code in sorted(errors):
        operation["responses"][str(code)] = _error(code)
    operation["responses"]["default"] = {
        "description": "Error (RFC 9457)",
        "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def _referenced(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            found.add(ref)
        for value in node.values():
            _referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, found)


def _used_components(paths: dict, components: dict) -> dict:
    """Only what the operations reach, directly or through other components (a query model
    becomes parameters, not a schema)."""
    found: set[str] = set()
    _referenced(paths, found)
    seen: set[str] = set()
    while found - seen:
        ref = sorted(found - seen)[0]
        seen.add(ref)
        _, _, section, name = ref.split("/", 3)
        _referenced(components[section][name], found)
    used: dict = {}
    for ref in sorted(seen):
        _, _, section, name = ref.split("/", 3)
        used.setdefault(section, {})[name] = components[section][name]
    return used


def _renamed(node, names: dict[str, str]):
    if isinstance(node, dict):
        return {key: (REF.format(model=names[value.rsplit("/", 1)[1]])
                      if key == "$ref" and value.rsplit("/", 1)[1] in names
                      else _renamed(value, names))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(value, names) for value in node]
    return node


def _schemas(app) -> tuple[dict, dict]:
    """Every model's schema in one namespace. Two packages' models of one name (pydantic then
    spells out their modules) are named after their package: CatalogMoneyIn, CheckoutMoneyIn."""
    refs, top = models_json_schema(_models(app), ref_template=REF,
                                   schema_generator=_DocumentSchema)
    defs = top.get("$defs", {})
    names = {}
    for name in defs:
        if "__" in name:
            parts = name.split("__")
            names[name] = parts[1].title() + parts[-1]
    defs = {names.get(name, name): _renamed(schema, names) for name, schema in defs.items()}
    return _renamed(refs, names), defs


def build_document(app) -> dict:
    refs, defs = _schemas(app)
    paths: dict = {}
    for rule, view, spec, path, method in _operations(app):
        paths.setdefault(path, {})[method.lower()] = _operation(rule, view, spec, method, refs,
                                                                defs)
    problem_content = {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}
    components = {
        "schemas": {**defs, "Problem": _PROBLEM},
        "responses": {name: {"description": description, "content": problem_content}
                      for name, description in _ERRORS.values()},
    }
    used = _used_components(paths, components)
    used["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "A token from POST /api/v1/auth/tokens or /auth/register."},
        "session": {"type": "apiKey", "in": "cookie",
                    "name": app.config.get("SESSION_COOKIE_NAME", "session"),
                    "description": "The signed session cookie of the HTML pages (their forms "
                                   "carry a CSRF token); the API accepts it too."},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sheber API", "version": "1",
                 "description": "Handmade crafts from Almaty, with verifiable provenance.",
                 "contact": {"name": "Sheber", "url": app.config["PUBLIC_URL"]}},
        "servers": [{"url": app.config["PUBLIC_URL"]}],
        "tags": [{"name": name, "description": description}
                 for name, description in _TAGS.items()],
        "paths": paths,
        "components": used,
    }


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document."""
    return build_document(current_app)


_DOCS = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sheber API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:.1rem .3rem}h2{margin-top:2rem}.m{font-weight:bold;width:4rem;
display:inline-block}</style></head><body><h1>{{ doc.info.title }}</h1>
<p>{{ doc.info.description }}
Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
{% for path, ops in doc.paths.items() %}<h2><code>{{ path }}</code></h2><ul>
{% for method, op in ops.items() %}<li><span class="m">{{ method|upper }}</span> {{ op.summary }}
{% if op.security %}(bearer token){% endif %}
{% if op.requestBody and "application/json" in op.requestBody.content %}<details>
<summary>body</summary><pre>{{
 op.requestBody.content["application/json"].schema["$ref"].split("/")[-1] }}</pre></details>
{% endif %}
</li>{% endfor %}</ul>{% endfor %}</body></html>"""


@bp.get("/docs")
def docs():
    """Browsable API documentation (no external assets)."""
    return render_template_string(_DOCS, doc=build_document(current_app))
