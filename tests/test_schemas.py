"""Response bodies are validated by their output model once: ``build`` validates, ``responds``
serialises what ``build`` made without validating it again, and anything else (a plain dict, a
built body changed afterwards) is validated on the way out."""

from __future__ import annotations

import pytest

from marketplace.catalog.schemas import CraftList
from marketplace.schemas import MoneyOut, build, dump


class CountingValidator:
    def __init__(self, real):
        self.real, self.calls = real, 0

    def validate_python(self, *args, **kwargs):
        self.calls += 1
        return self.real.validate_python(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_list_response_is_validated_by_its_model_once(client, monkeypatch):
    counting = CountingValidator(CraftList.__pydantic_validator__)
    monkeypatch.setattr(CraftList, "__pydantic_validator__", counting)
    response = client.get("/api/v1/crafts")
    assert response.status_code == 200 and response.get_json()["items"]
    assert counting.calls == 1


def test_a_built_body_changed_afterwards_is_validated_again():
    body = build(MoneyOut, amount=100, currency="KZT")
    assert dump(MoneyOut, body) is body
    body["amount"] = "100"  # not an int: the strict model refuses it on the way out
    with pytest.raises(ValueError):
        dump(MoneyOut, body)
    assert dump(MoneyOut, {"amount": 5, "currency": "EUR"}) == {"amount": 5, "currency": "EUR"}
