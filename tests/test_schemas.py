"""Response bodies are validated by their output model once: ``build`` validates, ``responds``
serialises what ``build`` made without validating it again, and anything else (a plain dict, a
built body changed afterwards) is validated on the way out. Where the model allows it, the
validation gives the body as dicts in one pass (``body_validator``): exactly what the model's
validate-then-dump gives, or that path answers instead."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

import pytest
from pydantic import Field, ValidationError, computed_field, field_serializer, field_validator

from marketplace import schemas
from marketplace.catalog.models import Craft, ProductStatus
from marketplace.catalog.schemas import CraftList, ProductOut, ProductPage
from marketplace.schemas import (
    MoneyOut,
    OutModel,
    TextOut,
    Timestamp,
    body_validator,
    build,
    dump,
)


class CountingValidator:
    def __init__(self, real):
        self.real, self.calls = real, 0

    def validate_python(self, *args, **kwargs):
        self.calls += 1
        return self.real.validate_python(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_list_response_is_validated_by_its_model_once(client, monkeypatch):
    counting = CountingValidator(body_validator(CraftList))
    monkeypatch.setitem(schemas._BODY_VALIDATORS, CraftList, counting)
    by_model = CountingValidator(CraftList.__pydantic_validator__)
    monkeypatch.setattr(CraftList, "__pydantic_validator__", by_model)
    response = client.get("/api/v1/crafts")
    assert response.status_code == 200 and response.get_json()["items"]
    assert (counting.calls, by_model.calls) == (1, 0)


def test_a_built_body_changed_afterwards_is_validated_again():
    body = build(MoneyOut, amount=100, currency="KZT")
    assert dump(MoneyOut, body) is body
    body["amount"] = "100"  # not an int: the strict model refuses it on the way out
    with pytest.raises(ValueError):
        dump(MoneyOut, body)
    assert dump(MoneyOut, {"amount": 5, "currency": "EUR"}) == {"amount": 5, "currency": "EUR"}


class Line(OutModel):
    craft: Craft  # strict: a member
    status: ProductStatus = Field(strict=False)  # lax: its value will do
    price: MoneyOut
    note: TextOut = Field(None)


class Plain(OutModel):
    id: str
    count: int
    average: float | None = Field(strict=False)
    kind: Literal["a", "b"]
    at: Timestamp
    lines: list[Line]
    codes: dict[str, str]
    title: TextOut
    cover: TextOut | None
    extra: TextOut = Field(None)
    saved: bool = Field(None)


def _model_path(model, data):
    return model.model_validate(data).model_dump(mode="json", exclude_unset=True)


def _same(body, expected):
    assert body == expected
    assert json.dumps(body, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert [type(value) for value in body.values()] == [type(v) for v in expected.values()]


PLAIN = {"id": "p1", "count": 3, "average": 4, "kind": "b", "at": "2026-01-31T12:00:00Z",
         "lines": [{"craft": Craft.FELT, "status": "active",
                    "price": {"amount": 100, "currency": "KZT"}},
                   {"craft": Craft.WOOD, "status": ProductStatus.DRAFT,
                    "price": {"amount": 5, "currency": "EUR"}, "note": {"ru": "да"}}],
         "codes": {"EU": "5704900000"}, "title": {"en": "Bowl", "kk": "Кесе"}, "cover": None,
         "saved": False}


def test_a_body_read_in_one_pass_is_what_the_models_dump_gives():
    expected = _model_path(Plain, PLAIN)
    _same(body_validator(Plain).validate_python(PLAIN), expected)  # no fallback taken
    body = build(Plain, **PLAIN)
    _same(body, expected)
    assert body["average"] == 4.0 and type(body["average"]) is float  # as the model dumps it
    assert type(body["lines"][0]["craft"]) is str and body["lines"][0]["status"] == "active"
    assert "extra" not in body and body["cover"] is None  # unset stays absent, None stays
    assert "note" not in body["lines"][0]
    assert body["lines"] is not PLAIN["lines"] and body["codes"] is not PLAIN["codes"]
    _same(dump(Plain, dict(PLAIN)), expected)


@pytest.mark.parametrize("change", [
    {"count": "3"}, {"count": True}, {"kind": "c"}, {"lines": ({"craft": "felt"},)},
    {"title": {"en": "Bowl", "fr": "Bol"}}, {"surplus": 1}, {"cover": {"en": 5}},
    {"lines": [{**PLAIN["lines"][0], "craft": "felt"}]},  # strict: a member, not its value
], ids=repr)
def test_what_the_one_pass_refuses_the_model_refuses_with_its_own_error(change):
    data = {**PLAIN, **change}
    with pytest.raises(ValidationError) as expected:
        Plain.model_validate(data)
    with pytest.raises(ValidationError) as raised:
        build(Plain, **data)
    assert raised.value.errors() == expected.value.errors()


@pytest.mark.parametrize("change", [
    {"average": float("nan")},  # the model's dump decides what a non-finite float becomes
    {"title": TextOut(en="Bowl")},  # a model instance where a dict is read
    {"lines": [Line(craft=Craft.FELT, status="active", price=MoneyOut(amount=1, currency="KZT"))]},
], ids=repr)
def test_what_only_the_model_reads_it_reads_and_dumps(change):
    data = {**PLAIN, **change}
    body, expected = build(Plain, **data), _model_path(Plain, data)
    assert json.dumps(body, sort_keys=True) == json.dumps(expected, sort_keys=True)


class Aliased(OutModel):
    from_: str = Field(alias="from")


class Dated(OutModel):
    day: date


class Either(OutModel):
    value: int | str


class Checked(OutModel):
    name: str

    @field_validator("name")
    @classmethod
    def _upper(cls, value):
        return value.upper()


class Serialised(OutModel):
    name: str

    @field_serializer("name")
    def _lower(self, value):
        return value.lower()


class Computed(OutModel):
    name: str

    @computed_field
    @property
    def length(self) -> int:
        return len(self.name)


class Loose(OutModel):
    data: dict[str, Any]


class Nests(OutModel):
    inner: Dated


@pytest.mark.parametrize("model, data", [
    (Aliased, {"from": "a"}), (Dated, {"day": date(2026, 1, 31)}), (Either, {"value": 5}),
    (Checked, {"name": "a"}), (Serialised, {"name": "A"}), (Computed, {"name": "abc"}),
    (Loose, {"data": {"day": date(2026, 1, 31)}}), (Nests, {"inner": {"day": date(2026, 1, 31)}}),
], ids=lambda value: getattr(value, "__name__", ""))
def test_a_model_that_dumps_otherwise_than_it_validates_keeps_its_own_path(model, data):
    assert body_validator(model) is None
    assert build(model, **data) == _model_path(model, data)


def test_the_catalogues_bodies_are_read_in_one_pass():
    assert body_validator(ProductPage) is not None
    assert body_validator(ProductOut) is not None
