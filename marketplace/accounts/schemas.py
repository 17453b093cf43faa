from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core.core_schema import ValidationInfo

from marketplace.accounts.identity import check_password, normalise_email
from marketplace.accounts.models import Role
from marketplace.schemas import OutModel, Timestamp, build
from marketplace.validation import country_code, presentment_currency

LANGUAGES = ("en", "ru", "kk")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=10, max_length=200)
    role: Literal["buyer", "artisan"]
    name: str = Field(min_length=1, max_length=200)
    country: str = Field(min_length=2, max_length=2)
    locale: Literal["en", "ru", "kk"] = "en"
    currency: str = "USD"

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

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return country_code(value)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return presentment_currency(value)


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
    email: str
    role: Role = Field(strict=False)
    name: str
    country: str
    locale: str
    currency: str
    created_at: Timestamp


class TokenOut(OutModel):
    token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    user: UserOut


def user_out(user) -> dict:
    from marketplace.ids import isoformat

    return build(UserOut, id=user.id, email=user.email, role=user.role, name=user.name,
                 country=user.country, locale=user.locale, currency=user.currency,
                 created_at=isoformat(user.created_at))


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
