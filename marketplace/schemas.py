"""Response models every package shares, and the base that makes a response its own schema.

Views serialise what they return through their output model (``marketplace.http.responds``):
a key the model does not declare, or a value of another type, fails instead of reaching a client
undocumented. A key that is sometimes absent is declared ``= Field(None)`` and left unset; it is
then omitted, never sent as null, because responses are dumped with ``exclude_unset``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
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


def dump(model: type[OutModel], data: Any) -> dict:
    """``data`` (a dict or a model) as the JSON body that ``model`` documents, validated once."""
    if isinstance(data, Built) and data.model is model:
        return data
    if isinstance(data, model):
        return data.model_dump(mode="json", exclude_unset=True)
    return model.model_validate(data).model_dump(mode="json", exclude_unset=True)


def build(model: type[OutModel], **fields: Any) -> dict:
    """The JSON body of ``model(**fields)``; keys not given stay absent."""
    return Built(model, model(**fields).model_dump(mode="json", exclude_unset=True))


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
