from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from marketplace.errors import ValidationFailed
from marketplace.fx.service import parse_rate
from marketplace.schemas import OutModel, Timestamp


def _positive_decimal(value) -> str:
    try:
        return str(parse_rate(value))
    except ValidationFailed as exc:
        raise ValueError(exc.errors["rate"][0]) from None


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: Annotated[str, BeforeValidator(_positive_decimal)] = Field(
        description="Units of the currency per one US dollar, as a decimal string: \"515.25\"."
    )

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.rate)


class RateOut(OutModel):
    currency: str
    per_usd: str = Field(description="Effective units of this currency per one US dollar.")
    source_rate: str
    override: str | None
    source: str
    as_of: Timestamp


class CurrencyOut(OutModel):
    code: str
    exponent: int
    per_usd: str = Field(description="Units of this currency for one US dollar.")
    per_kzt: str = Field(description="Units of this currency for one tenge.")
    kzt_per_unit: str = Field(description="Tenge for one unit of this currency.")
    overridden: bool
    source: str
    as_of: Timestamp


class CurrenciesOut(OutModel):
    items: list[CurrencyOut]
    base: str
    listing_currencies: list[str]
