"""/api/v1/docs/: the API's reference, drawn from its OpenAPI document as an ordinary portal page — the portal's
own template and styles (accessible, under its Content-Security-Policy, in the reader's language for the page
around it), no third-party viewer and nothing from a CDN. The document itself is /api/v1/schema/."""

import functools

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


@functools.cache
def api_schema() -> dict:
    """The OpenAPI document (made once per process: it follows the code, not the data)."""
    return SchemaGenerator().get_schema(request=None, public=True)


def _type(schema: dict, components: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"{_type(schema.get('items', {}), components)}[]"
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"] if value not in ("", None))
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema:
            return " | ".join(_type(part, components) for part in schema[combined])
    kind = schema.get("type", "object")
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _fields(schema: dict, components: dict) -> list[dict]:
    """The properties of an object schema (following one $ref), as rows: name, type, required, description."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if schema.get("type") == "array":
        return _fields(schema.get("items", {}), components)
    required = set(schema.get("required", []))
    return [{"name": name, "type": _type(prop, components), "required": name in required,
             "read_only": prop.get("readOnly", False), "description": prop.get("description", "")}
            for name, prop in schema.get("properties", {}).items()]


def _bodies(content: dict, components: dict) -> list[dict]:
    return [{"type": media, "schema": _type(body.get("schema", {}), components),
             "fields": _fields(body.get("schema", {}), components)} for media, body in (content or {}).items()]


@functools.cache
def api_reference() -> dict:
    """The document as the page draws it: its operations by tag, each with parameters, body and answers."""
    schema = api_schema()
    components = schema.get("components", {}).get("schemas", {})
    tags: dict[str, list] = {}
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            tags.setdefault((operation.get("tags") or ["api"])[0], []).append({
                "id": operation.get("operationId", f"{method}-{path}"), "method": method.upper(), "path": path,
                "summary": operation.get("summary", ""), "description": operation.get("description", ""),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": _type(p.get("schema", {}), components), "description": p.get("description", "")}
                               for p in operation.get("parameters", [])],
                "body": _bodies(operation.get("requestBody", {}).get("content"), components),
                "responses": [{"status": status, "description": answer.get("description", ""),
                               "bodies": _bodies(answer.get("content"), components)}
                              for status, answer in operation.get("responses", {}).items()],
            })
    return {"info": schema.get("info", {}), "tags": sorted(tags.items())}


def api_docs(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/api_docs.html", {"reference": api_reference()})
