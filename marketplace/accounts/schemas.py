from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core.core_schema import ValidationInfo

from marketplace.accounts.identity import check_password, normalise_email
from marketplace.accounts.models import Role
from marketplace.schemas import JsonValue, OutModel, Timestamp, build
from marketplace.validation import (
    CountryCode,
    PostalAddress,
    PresentmentCurrency,
    email_address,
)

LANGUAGES = ("en", "ru", "kk")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=10, max_length=200)
    role: Literal["buyer", "artisan"]
    name: str = Field(min_length=1, max_length=200)
    country: CountryCode
    locale: Literal["en", "ru", "kk"] = "en"
    currency: PresentmentCurrency | None = Field(default=None, description=(
        "Prices are shown and paid in it; by default the currency of ``country``, if buyers "
        "can pay in it, else USD."))

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError("not a valid email address")
        return normalise_email(value)  # one spelling; look-alike addresses refused

    @field_validator("password")
    @classmethod
    def _password(cls, value: str, info: ValidationInfo) -> str:
        check_password(value, email=info.data.get("email"))
        return value


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)
    otp: str | None = Field(None, max_length=20, description=(
        "The second factor's current code (or a recovery code), for accounts that have one."))
    name: str = Field("", max_length=100, description="A label for the token, e.g. the device.")
    expires_in_days: int | None = Field(
        None, ge=1, le=365, description="Shorter than the site's token lifetime, if wanted.")


class UserOut(OutModel):
    id: str
    email: str | None = Field(description="null for a guest")
    role: Role = Field(strict=False)
    name: str
    country: str
    locale: str
    currency: str
    created_at: Timestamp
    is_guest: bool = False


class TokenOut(OutModel):
    token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    user: UserOut


def user_out(user) -> dict:
    from marketplace.ids import isoformat

    return build(UserOut, id=user.id, email=user.email, role=user.role, name=user.name,
                 country=user.country, locale=user.locale, currency=user.currency,
                 created_at=isoformat(user.created_at), is_guest=bool(user.is_guest))


class ProfilePatch(BaseModel):
    """What a user may change about themselves; their mails follow ``locale``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    locale: Literal["en", "ru", "kk"] | None = None
    currency: PresentmentCurrency | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    country: CountryCode | None = None


class GuestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    locale: Literal["en", "ru", "kk"] = "en"
    currency: PresentmentCurrency = "USD"
    country: CountryCode = "US"


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254)


class PasswordResetConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200)
    password: str = Field(min_length=10, max_length=200)


class EmailChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return email_address(value)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=500)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=200)


class AcceptedOut(OutModel):
    accepted: bool = Field(description="Always true: whether an account exists is not said.")


class AddressIn(PostalAddress):
    label: str | None = Field(default=None, max_length=60, description="e.g. Home, Office")
    is_default: bool = False


class AddressPatch(BaseModel):
    """Fields to change; the result is checked as a whole address of its country."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str | None = Field(default=None, max_length=60)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    line1: str | None = Field(default=None, min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    postal_code: str | None = Field(default=None, max_length=12)
    phone: str | None = Field(default=None, min_length=6, max_length=24)
    is_default: bool | None = None


class AddressOut(OutModel):
    id: str
    label: str | None
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str | None
    country: str
    phone: str | None
    is_default: bool


class AddressListOut(OutModel):
    items: list[AddressOut]


def address_out(address) -> dict:
    return build(AddressOut, id=address.id, label=address.label, name=address.name,
                 line1=address.line1, line2=address.line2, city=address.city,
                 region=address.region, postal_code=address.postal_code,
                 country=address.country, phone=address.phone,
                 is_default=bool(address.is_default))


class ExportAccountOut(OutModel):
    id: str
    email: str | None
    name: str
    role: str
    country: str
    locale: str
    currency: str
    created_at: Timestamp


class ExportAddressOut(AddressOut):
    pass


class AccountExportOut(OutModel):
    """Everything Sheber keeps about the signed-in person, as one JSON document."""

    format: Literal["sheber-account-export/1"]
    exported_at: Timestamp
    account: ExportAccountOut
    addresses: list[ExportAddressOut]
    orders: list[dict[str, JsonValue]] = Field(default_factory=list)
    reviews: list[dict[str, JsonValue]] = Field(
        default_factory=list, description="Reviews written, or received by a workshop.")
    favourites: list[dict[str, JsonValue]] = Field(default_factory=list)
    conversations: list[dict[str, JsonValue]] = Field(
        default_factory=list, description="With their messages and commissions.")


class ApiTokenOut(OutModel):
    id: str
    name: str
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    created_ip: str | None
    current: bool = Field(description="The token this request was made with.")


class ApiTokensOut(OutModel):
    items: list[ApiTokenOut]


class SessionOut(OutModel):
    id: str
    created_at: Timestamp
    last_seen_at: Timestamp
    expires_at: Timestamp
    ip: str | None
    user_agent: str | None
    current: bool = Field(description="The browser session this request was made with.")


class SessionsOut(OutModel):
    items: list[SessionOut]


def token_out(row, current_id: str | None) -> dict:
    from marketplace.ids import isoformat

    return build(ApiTokenOut, id=row.id, name=row.name, created_at=isoformat(row.created_at),
                 expires_at=isoformat(row.expires_at), last_used_at=isoformat(row.last_used_at),
                 created_ip=row.created_ip, current=row.id == current_id)


def session_out(record, current_id: str | None) -> dict:
    from marketplace.ids import isoformat

    return build(SessionOut, id=record.id, created_at=isoformat(record.created_at),
                 last_seen_at=isoformat(record.last_seen_at),
                 expires_at=isoformat(record.expires_at), ip=record.ip,
                 user_agent=record.user_agent, current=record.id == current_id)


class OtpIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    otp: str = Field(min_length=6, max_length=20)


class SecondFactorBeginOut(OutModel):
    secret: str = Field(description="Base32 TOTP secret, shown this once.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an SVG QR code.")


class RecoveryCodesOut(OutModel):
    recovery_codes: list[str] = Field(description="Single-use codes, shown this once.")
