"""Field checks shared by every domain's request schemas (pydantic validators)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from marketplace.geo import COUNTRIES, normalise_phone, postal_code_problem, required_fields
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


# Request fields: ``country: CountryCode``, ``currency: PresentmentCurrency | None = None``.
# CountryCode carries its length: given with Field() on an optional field, pydantic would check
# it after the code, and "USA" would answer "unknown code" instead of "at most 2 characters".
CountryCode = Annotated[str, StringConstraints(min_length=2, max_length=2),
                        AfterValidator(country_code)]
PresentmentCurrency = Annotated[str, AfterValidator(presentment_currency)]


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



class PostalAddress(BaseModel):
    """A delivery address, checked by its country's rules (data/geo/addresses.json): the postal
    code's format, the fields the country needs, and the phone number (``phonenumbers``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    # country before postal_code, region and phone: their checks depend on it
    country: CountryCode
    postal_code: str | None = Field(default=None, max_length=12, validate_default=True)
    region: str | None = Field(default=None, max_length=100, validate_default=True)
    phone: str = Field(min_length=6, max_length=24)

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = " ".join(value.upper().split()) if value else None
        country = info.data.get("country")
        if country:
            problem = postal_code_problem(country, value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str, info: ValidationInfo) -> str:
        return normalise_phone(value, info.data.get("country"))

    @field_validator("region", mode="after")
    @classmethod
    def _region(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if country and not value and "region" in required_fields(country):
            raise ValueError(f"required for {country}")
        return value or None


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def email_address(value: str) -> str:
    """An e-mail address, lower-cased (the form accounts store)."""
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError("not a valid email address")
    return value
