"""Response models every package shares, and the base that makes a response its own schema.

Views serialise what they return through their output model (``marketplace.http.responds``):
a key the model does not declare, or a value of another type, fails instead of reaching a client
undocumented. A key that is sometimes absent is declared ``= Field(None)`` and left unset; it is
then omitted, never sent as null, because responses are dumped with ``exclude_unset``.

A body is validated and dumped in one pass where the model allows it (``body_validator``): the
model's own validation schema with each model read as a dict of its fields, which gives the
JSON ``model_dump(mode="json", exclude_unset=True)`` gives without making the model instances.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import SchemaValidator
from typing_extensions import TypeAliasType

# ISO 8601 UTC, as ``marketplace.ids.isoformat`` writes it: 2025-01-31T12:00:00Z
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]

# Any JSON value. Only for data whose shape is not ours: Stripe.js's payloads, and stored
# objects shown exactly as stored (a hash-chained event's data, a label row altered after it
# was signed).
JsonValue = TypeAliasType(
    "JsonValue", "str | int | float | bool | None | list[JsonValue] | dict[str, JsonValue]")


class OutModel(BaseModel):
    """Strict: an int stays an int, a list is a list; nothing is coerced on the way out."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Built(dict):
    """A JSON body ``build`` made, with the model that validated it, so that serialising it
    through the same model (``responds``) does not validate it again. Changing it forgets the
    model: a body altered afterwards is validated as any other dict."""

    __slots__ = ("model",)

    def __init__(self, model: type[OutModel] | None, body: dict):
        super().__init__(body)
        self.model = model

    def _forget(self) -> None:
        self.model = None

    def __setitem__(self, key, value):
        self._forget()
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._forget()
        super().__delitem__(key)

    def __ior__(self, other):
        self._forget()
        return super().__ior__(other)

    def clear(self):
        self._forget()
        super().clear()

    def pop(self, *args):
        self._forget()
        return super().pop(*args)

    def popitem(self):
        self._forget()
        return super().popitem()

    def setdefault(self, key, default=None):
        self._forget()
        return super().setdefault(key, default)

    def update(self, *args, **kwargs):
        self._forget()
        super().update(*args, **kwargs)


# Validation schemas whose validated value, as a dict, JSON-encodes to exactly what the model's
# dump gives: every other kind (a date, a union, an alias, a custom serialiser, a validator
# function...) keeps the model's own validate-then-dump.
_SCALARS = {"str", "int", "bool", "literal", "none"}
_enum_value = attrgetter("_value_")
_MODEL_CONFIG = {"strict", "extra_fields_behavior", "title"}


class _NotPlain(Exception):
    pass


def _as_dicts(schema: dict) -> dict:
    """``schema`` (a model's core schema) with each model, and every model in it, validated into
    a dict of the fields given (``exclude_unset``) instead of a model instance; _NotPlain if a
    part of it would dump otherwise than as validated."""
    kind = schema["type"]
    if "serialization" in schema:  # dumped by a function of its own
        raise _NotPlain(kind)
    if kind == "literal" and not all(type(value) in (str, int, bool, type(None))
                                     for value in schema["expected"]):
        raise _NotPlain(kind)
    if kind in _SCALARS:
        return schema
    if kind == "float":  # a non-finite float: the model's path says what it becomes
        return {**schema, "allow_inf_nan": False}
    if kind == "enum" and schema.get("sub_type") == "str":  # the member's value, as dumped
        enum = {key: value for key, value in schema.items() if key != "ref"}
        wrapped = {"type": "function-after", "schema": enum,
                   "function": {"type": "no-info", "function": _enum_value}}
        return wrapped | ({"ref": schema["ref"]} if "ref" in schema else {})
    if kind == "nullable":
        return {**schema, "schema": _as_dicts(schema["schema"])}
    if kind == "list" and "items_schema" in schema:
        return {**schema, "items_schema": _as_dicts(schema["items_schema"])}
    if kind == "dict" and "keys_schema" in schema and "values_schema" in schema:
        return {**schema, "keys_schema": _as_dicts(schema["keys_schema"]),
                "values_schema": _as_dicts(schema["values_schema"])}
    if kind == "definition-ref":
        return schema
    if kind == "definitions":
        return {**schema, "schema": _as_dicts(schema["schema"]),
                "definitions": [_as_dicts(definition) for definition in schema["definitions"]]}
    if kind == "model":
        config = schema.get("config", {})
        fields = schema["schema"]
        if (set(config) - _MODEL_CONFIG or config.get("extra_fields_behavior") != "forbid"
                or fields["type"] != "model-fields" or fields.get("computed_fields")
                or fields.get("extras_schema") is not None or "serialization" in fields
                or schema.get("custom_init") or schema.get("root_model")
                or schema.get("post_init") or "serialization" in schema):
            raise _NotPlain(schema.get("ref"))
        out = {"type": "typed-dict", "fields": {name: _field(field) for name, field in
                                                 fields["fields"].items()},
               "extra_behavior": "forbid", "config": config}
        if "ref" in schema:
            out["ref"] = schema["ref"]
        return out
    raise _NotPlain(kind)


def _field(field: dict) -> dict:
    if set(field) - {"type", "schema", "metadata"}:  # an alias, an exclusion
        raise _NotPlain(field)
    schema, required = field["schema"], True
    if schema["type"] == "default":  # absent unless given, as exclude_unset dumps it
        schema, required = schema["schema"], False
    return {"type": "typed-dict-field", "schema": _as_dicts(schema), "required": required}


_BODY_VALIDATORS: dict[type, SchemaValidator | None] = {}  # per model class (made from code)


def body_validator(model: type[OutModel]) -> SchemaValidator | None:
    """A validator of ``model``'s bodies into the dicts its JSON dump gives, or None when a part
    of the model dumps otherwise than as validated."""
    try:
        return _BODY_VALIDATORS[model]
    except KeyError:
        try:
            validator = SchemaValidator(_as_dicts(model.__pydantic_core_schema__))
        except _NotPlain:
            validator = None
        return _BODY_VALIDATORS.setdefault(model, validator)


def _body(model: type[OutModel], data: dict) -> dict:
    validator = body_validator(model)
    if validator is not None:
        try:
            return validator.validate_python(data)
        except ValidationError:
            pass  # the model's own path answers (or raises its own error)
    return model.model_validate(data).model_dump(mode="json", exclude_unset=True)


def dump(model: type[OutModel], data: Any) -> dict:
    """``data`` (a dict or a model) as the JSON body that ``model`` documents, validated once."""
    if isinstance(data, Built) and data.model is model:
        return data
    if isinstance(data, model):
        return data.model_dump(mode="json", exclude_unset=True)
    if isinstance(data, dict):
        return _body(model, data)
    return model.model_validate(data).model_dump(mode="json", exclude_unset=True)


def build(model: type[OutModel], **fields: Any) -> dict:
    """The JSON body of ``model(**fields)``; keys not given stay absent."""
    return Built(model, _body(model, fields))


class MoneyOut(OutModel):
    amount: int = Field(description="Minor units (tiyn, cents).")
    currency: str = Field(description="ISO 4217 code.")


class TextOut(OutModel):
    """Text keyed by language; only the languages it is written in are present."""

    en: str = Field(None)
    ru: str = Field(None)
    kk: str = Field(None)


class EtaDaysOut(OutModel):
    min: int = Field(description="days")
    max: int = Field(description="days")


class DimensionsOut(OutModel):
    l: int = Field(description="millimetres")  # noqa: E741 - the contract's field name
    w: int = Field(description="millimetres")
    h: int = Field(description="millimetres")
