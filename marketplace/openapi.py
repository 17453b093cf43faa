"""OpenAPI 3.1 built from the pydantic models that validate requests (see ``marketplace.http``)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, render_template_string

bp = Blueprint("openapi", __name__, url_prefix="/api")

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array",
                                                              "items": {"type": "string"}}},
    },
}


def _schema_ref(model, components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(app) -> dict:
    components: dict = {"Problem": _PROBLEM}
    paths: dict = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1") and not rule.rule.startswith("/webhooks"):
            continue
        view = app.view_functions[rule.endpoint]
        spec = getattr(view, "_openapi", {})
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            doc = (view.__doc__ or "").strip().splitlines()
            operation: dict = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": doc[0] if doc else rule.endpoint,
                "tags": [rule.endpoint.split(".")[0]],
                "parameters": [
                    {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
                    for arg in sorted(rule.arguments)
                ],
                "responses": {},
            }
            if "query" in spec:
                query_schema = spec["query"].model_json_schema()
                for name, prop in query_schema.get("properties", {}).items():
                    operation["parameters"].append({
                        "name": name, "in": "query",
                        "required": name in query_schema.get("required", []),
                        "schema": prop,
                    })
            if "body" in spec:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {
                        "schema": _schema_ref(spec["body"], components)}},
                }
            status, model = spec.get("response", (200, None))
            response: dict = {"description": "Success"}
            if model is not None:
                response["content"] = {"application/json": {
                    "schema": _schema_ref(model, components)}}
            operation["responses"][str(status)] = response
            operation["responses"]["default"] = {
                "description": "Error (RFC 9457)",
                "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}},
            }
            if "auth" in spec:
                operation["security"] = [{"bearer": []}]
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sheber API", "version": "1",
                 "description": "Handmade crafts from Almaty, with verifiable provenance."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
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
{% if op.requestBody %}<details><summary>body</summary><pre>{{
 op.requestBody.content["application/json"].schema["$ref"].split("/")[-1] }}</pre></details>
{% endif %}
</li>{% endfor %}</ul>{% endfor %}</body></html>"""


@bp.get("/docs")
def docs():
    """Browsable API documentation (no external assets)."""
    return render_template_string(_DOCS, doc=build_document(current_app))
