from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow


class Role(StrEnum):
    BUYER = "buyer"
    ARTISAN = "artisan"
    OPERATOR = "operator"


class User(db.Model):
    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    # None for a guest (the order keeps the address it was paid with) and a deleted account
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    # its UTS #39 skeleton (identity.email_skeleton): an address that reads the same is taken
    email_skeleton: Mapped[str | None] = mapped_column(String(1000), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    locale: Mapped[str] = mapped_column(String(5), default="en")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A guest checks out without a password; its orders can be claimed by an account later.
    is_guest: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    deleted_at: Mapped[datetime | None]
    # TOTP second factor: the base32 secret, set at enrolment and active once confirmed
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # no code is accepted twice

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    @validates("email")
    def _keep_skeleton(self, _key: str, email: str | None) -> str | None:
        from marketplace.accounts.identity import email_skeleton

        self.email_skeleton = email_skeleton(email) if email else None
        return email

    @property
    def is_active_account(self) -> bool:
        return not self.is_guest and self.deleted_at is None


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a database leak yields no usable token."""

    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_ip: Mapped[str | None] = mapped_column(String(45))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class TokenPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGE = "email_change"


class AccountToken(db.Model):
    """A single-use token mailed to the user (password reset, e-mail change); only its SHA-256
    is stored."""

    __tablename__ = "account_token"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Address(db.Model):
    """A saved delivery address of a buyer; at most one is the default."""

    __tablename__ = "address"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(12))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(20))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebSession(db.Model):
    """A browser session kept on the server (when Redis is not configured): the cookie holds
    only a random key, of which the SHA-256 is stored, so deleting the row ends the session."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"),
                                                index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # the absolute lifetime
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class RecoveryCode(db.Model):
    """A single-use second-factor recovery code; only its SHA-256 is stored."""

    __tablename__ = "recovery_code"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class AuthThrottle(db.Model):
    """Failed attempts per account (or per address) and action, for back-off lockout; the key is
    a SHA-256 so the table names no e-mail."""

    __tablename__ = "auth_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
