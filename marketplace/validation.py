"""Field checks shared by every domain's request schemas (pydantic validators)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketplace.geo import COUNTRIES
from marketplace.money import EXPONENTS, PRESENTMENT_CURRENCIES


def country_code(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; None passes through for optional fields."""
    if value is None:
        return None
    value = value.strip().upper()
    if value not in COUNTRIES:
        raise ValueError("unknown ISO 3166-1 country code")
    return value


def presentment_currency(value: str | None) -> str | None:
    """A currency buyers may see and pay in, upper-cased; None passes through."""
    if value is None:
        return None
    value = value.strip().upper()
    if value not in PRESENTMENT_CURRENCIES:
        raise ValueError(f"unsupported currency; use one of {', '.join(PRESENTMENT_CURRENCIES)}")
    return value


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(strict=True, gt=0, le=10**12)
    currency: str = Field(min_length=3, max_length=3)

    @field_validator("currency")
    @classmethod
    def _known(cls, value: str) -> str:
        value = value.upper()
        if value not in EXPONENTS:
            raise ValueError("unsupported currency")
        return value

