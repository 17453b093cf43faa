"""Settings read once from the environment (names fixed by API.md), with safe local defaults.

Local defaults need no servers: SQLite and an embedded Celery broker under ``instance/``,
the Stripe emulator on 127.0.0.1:8420. ``SHEBER_ENV=production`` refuses to start on any of
them, and on every other weak setting, naming each variable and what to set instead.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STRIPE_EMULATOR = "http://127.0.0.1:8420"
DEFAULT_WEBHOOK_SECRET = "whsec_sheber_local_emulator"
EMULATOR_SECRET_KEY = "sk_test_sheber_local"
EMULATOR_PUBLISHABLE_KEY = "pk_test_sheber_local"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
MIN_SECRET_KEY_BYTES = 32

# Values anyone can read: the words people type when told to set a secret, the emulator's keys,
# and every example value the repository assigns to a secret (tests/test_config.py scans it so that
# a new example cannot be used in production unnoticed).
PUBLIC_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "change-this", "replace-me", "dev", "development",
    "secret", "secret-key", "secret_key", "test", "testing", "password", "default",
    DEFAULT_WEBHOOK_SECRET, EMULATOR_SECRET_KEY, EMULATOR_PUBLISHABLE_KEY,
})

# Host names reserved for documentation and local use (RFC 2606, RFC 6761; .local is mDNS).
_RESERVED_SUFFIXES = (".localhost", ".example", ".invalid", ".test", ".local")
_RESERVED_HOSTS = frozenset({"localhost", "example.com", "example.net", "example.org"})

_NEW_SECRET_HINT = "python -c 'import secrets; print(secrets.token_hex(32))'"


class ConfigError(RuntimeError):
    """The environment does not describe a safe configuration; ``problems`` lists each."""

    def __init__(self, problems: list[str], heading: str = "the environment is not usable"):
        self.problems = list(problems)
        super().__init__("\n  - ".join([f"{heading}:", *self.problems]))


class Settings(BaseSettings):
    """Every setting, named exactly as its environment variable; empty means unset."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True,
                                      extra="forbid")

    SHEBER_ENV: Literal["development", "production"] = "development"
    SECRET_KEY: str | None = None  # None = generated into instance/
    DATABASE_URL: str | None = None  # None = SQLite under instance/
    # False = PostgreSQL never prepares a statement (a pooler that cannot keep them, such as
    # PgBouncer before 1.21 in transaction mode); True = the ones ``extensions.prepared`` marks
    DATABASE_PREPARED_STATEMENTS: bool = True
    REDIS_URL: str | None = None
    CELERY_BROKER_URL: str | None = None  # None = REDIS_URL, else the embedded broker
    CELERY_BROKER_FOLDER: str | None = None  # None = instance/broker
    CELERY_BROKER_KEY_PREFIX: str | None = None  # share one Redis safely
    # Redis redelivers an unacknowledged task after this; longer than any task may run.
    CELERY_VISIBILITY_TIMEOUT: int = 3600
    STRIPE_SECRET_KEY: str | None = None  # None = the emulator's key
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: str | None = None
    STRIPE_API_BASE: str | None = None  # None = the emulator locally, Stripe in production
    STRIPE_JS_URL: str | None = None
    STRIPE_TIMEOUT_SECONDS: int = 20
    PROVENANCE_SIGNING_KEY: str | None = None  # None = a key file generated into instance/
    TRANSPARENCY_SIGNING_KEY: str | None = None  # None = a key file generated into instance/
    PUBLIC_URL: str = DEFAULT_PUBLIC_URL
    MAIL_SERVER: str | None = None  # None = log mail to the console
    MAIL_PORT: int = 25
    MAIL_SENDER: str = "Sheber <orders@sheber.kz>"
    MAIL_TIMEOUT_SECONDS: int = 15
    MAIL_USERNAME: str | None = None  # set = STARTTLS + login
    MAIL_PASSWORD: str | None = None
    PLATFORM_COMMISSION_BPS: int = 1200
    RESERVATION_TTL_SECONDS: int = 900
    VIEW_FLUSH_SECONDS: int = 30  # piece views are written in batches at most this old ...
    VIEW_FLUSH_SIZE: int = 500  # ... or of this many pieces (marketplace/catalog/views.py)
    PAYOUT_HOLD_DAYS: int = 14
    RETURN_WINDOW_DAYS: int = 14  # days after delivery before an order is completed
    # the marketplace's own account that bank-transfer payouts are debited from
    PAYOUT_DEBTOR_NAME: str = "Sheber Marketplace LLP"
    PAYOUT_DEBTOR_IBAN: str = "KZ20601KZT5004100100"  # bank code 601 = HSBKKZKX
    PAYOUT_DEBTOR_BIC: str = "HSBKKZKX"
    PAYOUT_DEBTOR_COUNTRY: str = "KZ"
    PAYOUT_DEBTOR_BIN: str | None = None  # the marketplace's BIN, as the debtor's id
    PAYOUT_DEBTOR_KOD: str = "17"  # the remitter code (КОд): resident private company
    PAYOUT_KNP: str = "710"  # payment purpose code (КНП) of the payouts: payment for goods
    # Stripe dispute reasons for which a lost dispute is clawed back from the artisans (the
    # rest the marketplace bears): comma-separated, empty = never claw back
    DISPUTE_CLAWBACK_REASONS: str = "product_not_received,product_unacceptable"
    # The exporter of record on customs papers and invoices (the marketplace itself); unset
    # address parts fall back to the origin of the shipping rates file.
    EXPORTER_NAME: str = "Sheber Marketplace LLP"
    EXPORTER_STREET: str | None = None
    EXPORTER_CITY: str | None = None
    EXPORTER_POSTCODE: str | None = None
    EXPORTER_COUNTRY: str = "KZ"
    EXPORTER_PHONE: str | None = None
    EXPORTER_EMAIL: str | None = None
    EXPORTER_BIN: str | None = None  # Kazakhstan business identification number (12 digits)
    EORI_NUMBER: str | None = None  # the exporter's EORI (EU or GB), on papers and ICS2 data
    # Collection schemes the marketplace is registered for; unset = not registered, so the
    # destination's customs collect on delivery (DAP) instead of us at the point of sale.
    IOSS_NUMBER: str | None = None  # EU Import One-Stop Shop, IM + 10 digits
    UK_VAT_NUMBER: str | None = None  # GB + 9 digits (or 12)
    AU_ARN: str | None = None  # ATO reference number for GST on low value imports (12 digits)
    NZ_GST_NUMBER: str | None = None  # IRD number (8 or 9 digits) registered for GST
    NO_VOEC_NUMBER: str | None = None  # VOEC + 7 digits
    CH_VAT_NUMBER: str | None = None  # CHE-123.456.789 MWST
    SG_GST_NUMBER: str | None = None  # GST registration under the overseas vendor regime
    CARRIER_WEBHOOK_SECRETS: str | None = None  # "carrier=secret,carrier=secret"
    UPLOAD_FOLDER: str | None = None  # None = instance/uploads
    STORAGE_URL: str | None = None  # None = UPLOAD_FOLDER; s3://bucket[/prefix] = a bucket
    S3_ENDPOINT_URL: str | None = None  # an S3-compatible service; None = AWS itself
    AWS_REGION: str | None = None
    AWS_ACCESS_KEY_ID: str | None = None  # None = boto3's own lookup (instance role, ...)
    AWS_SECRET_ACCESS_KEY: str | None = None
    MEDIA_BASE_URL: str | None = None  # a CDN or public bucket serving the keys; None = signed
    MEDIA_SIGNED_URL_SECONDS: int = 86400
    FX_SOURCE_URL: str | None = None  # None = the rates file in data/
    RATELIMIT_STORAGE_URI: str | None = None  # None = REDIS_URL, else memory://
    RATELIMIT_AUTH: str = "10 per minute"
    RATELIMIT_ENABLED: bool = True
    OPERATOR_2FA_REQUIRED: bool | None = None  # None = on in production, off in development
    TRUSTED_PROXIES: str | None = None  # "1" (a count) or "10.0.0.0/8,192.0.2.7"; None = none
    LOCKOUT_THRESHOLD: int = 5  # failed sign-ins or codes before an account's back-off starts
    LOCKOUT_BASE_SECONDS: int = 30  # the first lock; each further failure doubles it
    LOCKOUT_MAX_SECONDS: int = 3600
    JSON_MAX_BYTES: int = 1024 * 1024
    JSON_MAX_DEPTH: int = 32
    SESSION_IDLE_MINUTES: int = 1440  # a browser session ends this long after its last request
    SESSION_ABSOLUTE_HOURS: int = 336  # and this long after sign-in, whatever happens
    API_TOKEN_TTL_DAYS: int = 30  # a bearer token expires this long after it was issued
    FLASK_DEBUG: str | None = None  # Flask reads it itself; here only to refuse it in production
    LOG_FORMAT: Literal["json", "text"] | None = None  # None = json in production, else text
    LOG_LEVEL: str = "INFO"
    METRICS_TOKEN: str | None = None  # set = /metrics wants this bearer token; None = dev only
    # a standby beat takes over this long after the active one stopped renewing its Redis lock
    BEAT_LOCK_TIMEOUT_SECONDS: int = 30
    WORKER_METRICS_PORT: int | None = None  # set = a Celery worker serves /metrics on it

    @field_validator("SHEBER_ENV", "LOG_FORMAT", mode="before")
    @classmethod
    def _lower_case(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _proxies(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if text.isdigit():
            return text
        for part in text.split(","):
            try:
                ipaddress.ip_network(part.strip(), strict=False)
            except ValueError:
                raise ValueError("must be a count of proxies (1) or comma-separated addresses "
                                 "and networks (10.0.0.0/8,192.0.2.7)") from None
        return text

    @field_validator("LOG_LEVEL")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("STORAGE_URL")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value.strip())
            if parts.scheme != "s3" or not parts.netloc:
                raise ValueError("must be s3://bucket or s3://bucket/prefix (unset = the local "
                                 "UPLOAD_FOLDER)")
            return value.strip()
        return value

    @field_validator("EXPORTER_BIN", "IOSS_NUMBER", "UK_VAT_NUMBER", "AU_ARN", "NZ_GST_NUMBER",
                     "NO_VOEC_NUMBER", "CH_VAT_NUMBER", "SG_GST_NUMBER", "EORI_NUMBER")
    @classmethod
    def _tax_number(cls, value: str | None, info) -> str | None:
        if value is None:
            return None
        return tax_number(info.field_name, value)

    @property
    def collection_registrations(self) -> dict[str, str]:
        """Scheme -> number, for each collection scheme the marketplace is registered for."""
        pairs = (("IOSS", self.IOSS_NUMBER), ("UK", self.UK_VAT_NUMBER), ("AU", self.AU_ARN),
                 ("NZ", self.NZ_GST_NUMBER), ("NO", self.NO_VOEC_NUMBER),
                 ("CH", self.CH_VAT_NUMBER), ("SG", self.SG_GST_NUMBER))
        return {scheme: number for scheme, number in pairs if number}

    @property
    def production(self) -> bool:
        return self.SHEBER_ENV == "production"

    @property
    def broker_url(self) -> str | None:
        return self.CELERY_BROKER_URL or self.REDIS_URL

    @property
    def ratelimit_storage_uri(self) -> str:
        return self.RATELIMIT_STORAGE_URI or self.REDIS_URL or "memory://"

    @property
    def stripe_api_base(self) -> str | None:
        if self.STRIPE_API_BASE is None and not self.production:
            return DEFAULT_STRIPE_EMULATOR
        return self.STRIPE_API_BASE

    @property
    def debug(self) -> bool:
        # the same reading as Flask's own FLASK_DEBUG
        value = self.FLASK_DEBUG
        return bool(value and value.strip().lower() not in {"0", "false", "no"})

    def production_problems(self) -> list[str]:
        """Every reason this environment must not serve production traffic, one per setting."""
        problems = [
            *_secret_key_problems(self.SECRET_KEY),
            *_database_problems(self.DATABASE_URL),
            *_stripe_problems(self),
            *_signing_key_problems(self.PROVENANCE_SIGNING_KEY),
            *_signing_key_problems(self.TRANSPARENCY_SIGNING_KEY, "TRANSPARENCY_SIGNING_KEY",
                                   "checkpoints of the transparency log verify"),
            *_public_url_problems(self.PUBLIC_URL),
        ]
        broker = self.broker_url
        if broker is None:
            problems.append(
                "CELERY_BROKER_URL is unset and so is REDIS_URL, which leaves the embedded broker "
                "(one machine only): set CELERY_BROKER_URL to redis://... or amqp://..."
            )
        elif broker.startswith("filesystem://"):
            name = "CELERY_BROKER_URL" if self.CELERY_BROKER_URL else "REDIS_URL"
            problems.append(f"{name} is the embedded filesystem:// broker (one machine only): "
                            "set CELERY_BROKER_URL to redis://... or amqp://...")
        if self.ratelimit_storage_uri.startswith("memory://"):
            problems.append(
                "RATELIMIT_STORAGE_URI: rate limits would be counted in memory (per process, "
                "forgotten on restart): set REDIS_URL, or RATELIMIT_STORAGE_URI to redis://..."
            )
        for name in ("S3_ENDPOINT_URL", "MEDIA_BASE_URL"):
            value = getattr(self, name)
            if value is not None and urlsplit(value).scheme != "https":
                problems.append(f"{name} is not an https:// URL ({value}): photos and storage "
                                "keys would travel in clear; set its https:// address")
        if self.METRICS_TOKEN is not None and (_is_public(self.METRICS_TOKEN)
                                               or len(self.METRICS_TOKEN) < 16):
            problems.append("METRICS_TOKEN is short or a commonly typed value: set a random one "
                            f"of at least 16 characters ({_NEW_SECRET_HINT}), or unset it to "
                            "turn /metrics off")
        if self.OPERATOR_2FA_REQUIRED is False:
            problems.append("OPERATOR_2FA_REQUIRED is off: operators, who refund money and "
                            "release export holds, would act on a password alone: unset it")
        if self.debug:
            problems.append(f"FLASK_DEBUG is on ({self.FLASK_DEBUG!r}), which exposes the "
                            "debugger: unset FLASK_DEBUG or set it to 0")
        return problems

    def flask_config(self, instance: Path) -> dict:
        """The app config: the same keys the code and tests read from ``app.config``."""
        production = self.production
        stripe_base = self.stripe_api_base
        return {
            "SHEBER_ENV": self.SHEBER_ENV,
            "SECRET_KEY": self.SECRET_KEY or _instance_secret(instance, "secret_key"),
            "SQLALCHEMY_DATABASE_URI": self.DATABASE_URL or f"sqlite:///{instance / 'sheber.db'}",
            "SQLALCHEMY_ENGINE_OPTIONS": {
                # a server's connection can drop between two uses (a restart, a failover, an
                # idle timeout): test it at checkout; a SQLite file's cannot
                "pool_pre_ping": not _is_sqlite(self.DATABASE_URL),
                # psycopg prepares nothing at all with no threshold (``extensions``)
                **({} if self.DATABASE_PREPARED_STATEMENTS or not _is_psycopg(self.DATABASE_URL)
                   else {"connect_args": {"prepare_threshold": None}})},
            "REDIS_URL": self.REDIS_URL,
            "CELERY_BROKER_URL": self.broker_url,  # None = embedded broker (workers/app.py)
            "CELERY_BROKER_FOLDER": self.CELERY_BROKER_FOLDER,
            "CELERY_BROKER_KEY_PREFIX": self.CELERY_BROKER_KEY_PREFIX,
            "CELERY_VISIBILITY_TIMEOUT": self.CELERY_VISIBILITY_TIMEOUT,
            "STRIPE_SECRET_KEY": self.STRIPE_SECRET_KEY or EMULATOR_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": self.STRIPE_PUBLISHABLE_KEY or EMULATOR_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": self.STRIPE_WEBHOOK_SECRET or DEFAULT_WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe_base,  # None = api.stripe.com
            "STRIPE_JS_URL": self.STRIPE_JS_URL or (
                f"{stripe_base}/js.stripe.com/v3/" if stripe_base else "https://js.stripe.com/v3/"
            ),
            "STRIPE_TIMEOUT_SECONDS": self.STRIPE_TIMEOUT_SECONDS,
            "PROVENANCE_SIGNING_KEY": self.PROVENANCE_SIGNING_KEY,
            "TRANSPARENCY_SIGNING_KEY": self.TRANSPARENCY_SIGNING_KEY,
            "PUBLIC_URL": self.PUBLIC_URL.rstrip("/"),
            "MAIL_SERVER": self.MAIL_SERVER,
            "MAIL_PORT": self.MAIL_PORT,
            "MAIL_SENDER": self.MAIL_SENDER,
            "MAIL_TIMEOUT_SECONDS": self.MAIL_TIMEOUT_SECONDS,
            "MAIL_USERNAME": self.MAIL_USERNAME,
            "MAIL_PASSWORD": self.MAIL_PASSWORD,
            "PLATFORM_COMMISSION_BPS": self.PLATFORM_COMMISSION_BPS,
            "RESERVATION_TTL_SECONDS": self.RESERVATION_TTL_SECONDS,
            "VIEW_FLUSH_SECONDS": self.VIEW_FLUSH_SECONDS,
            "VIEW_FLUSH_SIZE": self.VIEW_FLUSH_SIZE,
            "PAYOUT_HOLD_DAYS": self.PAYOUT_HOLD_DAYS,
            "RETURN_WINDOW_DAYS": self.RETURN_WINDOW_DAYS,
            "PAYOUT_DEBTOR_NAME": self.PAYOUT_DEBTOR_NAME,
            "PAYOUT_DEBTOR_IBAN": self.PAYOUT_DEBTOR_IBAN,
            "PAYOUT_DEBTOR_BIC": self.PAYOUT_DEBTOR_BIC,
            "PAYOUT_DEBTOR_COUNTRY": self.PAYOUT_DEBTOR_COUNTRY,
            "PAYOUT_DEBTOR_BIN": self.PAYOUT_DEBTOR_BIN,
            "PAYOUT_DEBTOR_KOD": self.PAYOUT_DEBTOR_KOD,
            "PAYOUT_KNP": self.PAYOUT_KNP,
            "DISPUTE_CLAWBACK_REASONS": self.DISPUTE_CLAWBACK_REASONS,
            "EXPORTER_NAME": self.EXPORTER_NAME,
            "EXPORTER_STREET": self.EXPORTER_STREET,
            "EXPORTER_CITY": self.EXPORTER_CITY,
            "EXPORTER_POSTCODE": self.EXPORTER_POSTCODE,
            "EXPORTER_COUNTRY": self.EXPORTER_COUNTRY,
            "EXPORTER_PHONE": self.EXPORTER_PHONE,
            "EXPORTER_EMAIL": self.EXPORTER_EMAIL,
            "EXPORTER_BIN": self.EXPORTER_BIN,
            "EORI_NUMBER": self.EORI_NUMBER,
            "IOSS_NUMBER": self.IOSS_NUMBER,
            "UK_VAT_NUMBER": self.UK_VAT_NUMBER,
            "AU_ARN": self.AU_ARN,
            "NZ_GST_NUMBER": self.NZ_GST_NUMBER,
            "NO_VOEC_NUMBER": self.NO_VOEC_NUMBER,
            "CH_VAT_NUMBER": self.CH_VAT_NUMBER,
            "SG_GST_NUMBER": self.SG_GST_NUMBER,
            "COLLECTION_REGISTRATIONS": self.collection_registrations,
            "CARRIER_WEBHOOK_SECRETS": self.CARRIER_WEBHOOK_SECRETS,
            "UPLOAD_FOLDER": self.UPLOAD_FOLDER or str(instance / "uploads"),
            "FX_SOURCE_URL": self.FX_SOURCE_URL,
            "STORAGE_URL": self.STORAGE_URL,
            "S3_ENDPOINT_URL": self.S3_ENDPOINT_URL,
            "AWS_REGION": self.AWS_REGION,
            "AWS_ACCESS_KEY_ID": self.AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": self.AWS_SECRET_ACCESS_KEY,
            "MEDIA_BASE_URL": self.MEDIA_BASE_URL,
            "MEDIA_SIGNED_URL_SECONDS": self.MEDIA_SIGNED_URL_SECONDS,
            "MAX_CONTENT_LENGTH": 10 * 1024 * 1024 + 64 * 1024,  # 10 MB image + multipart
            "MAX_IMAGE_BYTES": 10 * 1024 * 1024,
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_uri,
            "RATELIMIT_AUTH": self.RATELIMIT_AUTH,
            "RATELIMIT_ENABLED": self.RATELIMIT_ENABLED,
            "OPERATOR_2FA_REQUIRED": (production if self.OPERATOR_2FA_REQUIRED is None
                                      else self.OPERATOR_2FA_REQUIRED),
            "TRUSTED_PROXIES": self.TRUSTED_PROXIES,
            "LOCKOUT_THRESHOLD": self.LOCKOUT_THRESHOLD,
            "LOCKOUT_BASE_SECONDS": self.LOCKOUT_BASE_SECONDS,
            "LOCKOUT_MAX_SECONDS": self.LOCKOUT_MAX_SECONDS,
            "JSON_MAX_BYTES": self.JSON_MAX_BYTES,
            "JSON_MAX_DEPTH": self.JSON_MAX_DEPTH,
            "SESSION_IDLE_MINUTES": self.SESSION_IDLE_MINUTES,
            "SESSION_ABSOLUTE_HOURS": self.SESSION_ABSOLUTE_HOURS,
            "API_TOKEN_TTL_DAYS": self.API_TOKEN_TTL_DAYS,
            "LOG_FORMAT": self.LOG_FORMAT or ("json" if production else "text"),
            "LOG_LEVEL": self.LOG_LEVEL,
            "METRICS_TOKEN": self.METRICS_TOKEN,
            "BEAT_LOCK_TIMEOUT_SECONDS": self.BEAT_LOCK_TIMEOUT_SECONDS,
            "WORKER_METRICS_PORT": self.WORKER_METRICS_PORT,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": production,
            "JSON_SORT_KEYS": False,
        }


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def _kz_bin_valid(digits: str) -> bool:
    # Kazakhstan IIN/BIN check digit: weights 1..11, then 3..11,1,2 when the first gives 10.
    for weights in ((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)):
        check = _weighted(digits[:11], weights) % 11
        if check != 10:
            return check == int(digits[11])
    return False


def _uk_vat_valid(digits: str) -> bool:
    # HMRC's mod 97 check on the first 9 digits: the old series and the "9755" series.
    total = _weighted(digits[:7], (8, 7, 6, 5, 4, 3, 2)) + int(digits[7:9])
    return total % 97 == 0 or (total + 55) % 97 == 0


def _nz_ird_valid(digits: str) -> bool:
    # Inland Revenue's IRD number check digit (primary weights, then the secondary ones).
    number = digits.zfill(9)
    if not 10_000_000 < int(number) < 150_000_000:
        return False
    for weights in ((3, 2, 7, 6, 5, 4, 3, 2), (7, 4, 3, 2, 5, 2, 7, 6)):
        remainder = _weighted(number[:8], weights) % 11
        check = 0 if remainder == 0 else 11 - remainder
        if check != 10:
            return check == int(number[8])
    return False


def _ch_uid_valid(digits: str) -> bool:
    # Swiss UID (CHE-xxx.xxx.xxx): mod 11 check digit over weights 5,4,3,2,7,6,5,4.
    check = 11 - _weighted(digits[:8], (5, 4, 3, 2, 7, 6, 5, 4)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[8])


# setting -> (compact pattern, what it looks like, extra check or None)
_TAX_NUMBER_FORMATS = {
    "EXPORTER_BIN": (r"\d{12}", "12 digits (the BIN on the exporter's registration)",
                     _kz_bin_valid),
    "IOSS_NUMBER": (r"IM\d{10}", "IM followed by 10 digits", None),
    "UK_VAT_NUMBER": (r"GB(\d{9}|\d{12})", "GB followed by 9 (or 12) digits",
                      lambda v: _uk_vat_valid(v[2:])),
    "AU_ARN": (r"\d{12}", "the 12-digit ATO reference number", None),
    "NZ_GST_NUMBER": (r"\d{8,9}", "an 8- or 9-digit IRD number", _nz_ird_valid),
    "NO_VOEC_NUMBER": (r"VOEC\d{7}", "VOEC followed by 7 digits", None),
    "CH_VAT_NUMBER": (r"CHE\d{9}(MWST|TVA|IVA)?", "CHE-123.456.789 MWST",
                      lambda v: _ch_uid_valid(v[3:12])),
    "SG_GST_NUMBER": (r"[A-Z0-9]{9,10}", "the 9- or 10-character GST registration number",
                      None),
    "EORI_NUMBER": (r"[A-Z]{2}[A-Z0-9]{1,15}", "a country code and up to 15 characters", None),
}


def tax_number(name: str, value: str) -> str:
    """``value`` of the tax-number setting ``name`` in its compact form (no spaces, dots,
    dashes; upper case), or ValueError saying what it should look like."""
    compact = re.sub(r"[\s.\-]", "", value).upper()
    pattern, looks, check = _TAX_NUMBER_FORMATS[name]
    if not re.fullmatch(pattern, compact) or (check is not None and not check(compact)):
        raise ValueError(f"must be {looks} with a valid check digit where it has one")
    return compact


def _is_public(value: str) -> bool:
    return value.strip().lower() in PUBLIC_SECRETS


def _secret_key_problems(value: str | None) -> list[str]:
    hint = f"set a fresh random value of at least {MIN_SECRET_KEY_BYTES} bytes ({_NEW_SECRET_HINT})"
    if value is None:
        return [f"SECRET_KEY is missing: {hint}"]
    if _is_public(value):
        return [f"SECRET_KEY is a published or commonly typed value: {hint}"]
    size = len(value.encode("utf-8"))
    if size < MIN_SECRET_KEY_BYTES:
        return [f"SECRET_KEY is only {size} bytes: {hint}"]
    return []


def _is_psycopg(url: str | None) -> bool:
    return bool(url) and url.startswith("postgresql+psycopg")


def _is_sqlite(url: str | None) -> bool:
    """A SQLite file, the instance folder's when DATABASE_URL is unset."""
    return url is None or url.startswith("sqlite")


def _database_problems(value: str | None) -> list[str]:
    hint = "set a PostgreSQL URL (postgresql+psycopg://user:password@host:5432/db)"
    if value is None:
        return [f"DATABASE_URL is missing: {hint}"]
    if _is_sqlite(value):
        return [f"DATABASE_URL points at SQLite (one machine, one writer): {hint}"]
    return []


def _stripe_problems(settings: Settings) -> list[str]:
    problems = []
    for name, what in (
            ("STRIPE_SECRET_KEY", "the secret key (sk_...) from the Stripe dashboard"),
            ("STRIPE_PUBLISHABLE_KEY", "the publishable key (pk_...) from the Stripe dashboard"),
            ("STRIPE_WEBHOOK_SECRET", "the signing secret (whsec_...) of your Stripe webhook "
                                      "endpoint")):
        value = getattr(settings, name)
        if value is None:
            problems.append(f"{name} is missing: set {what}")
        elif _is_public(value):
            problems.append(
                f"{name} is the emulator's default or a commonly typed value: set {what}")
    if settings.STRIPE_API_BASE is not None:
        problems.append(f"STRIPE_API_BASE is set ({settings.STRIPE_API_BASE}): unset it so that "
                        "payments go to Stripe itself")
    return problems


def _signing_key_problems(value: str | None, name: str = "PROVENANCE_SIGNING_KEY",
                          purpose: str = "labels verify on every host") -> list[str]:
    hint = ("set an Ed25519 private key of your own (base64 of the raw 32 bytes, or PKCS#8 PEM) "
            f"so that {purpose}")
    if value is None:
        return [f"{name} is missing: {hint}"]
    if _is_public(value):
        return [f"{name} is a published example value: {hint}"]
    # Parsed with the cryptography library itself: config sits below every domain.
    text = value.strip()
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
        valid = isinstance(key, Ed25519PrivateKey)
    except (binascii.Error, ValueError, TypeError):
        valid = False
    if not valid:
        return [f"{name} is not an Ed25519 private key: {hint}"]
    return []


def _public_url_problems(value: str) -> list[str]:
    hint = "set the site's public https:// address (https://sheber.kz)"
    parts = urlsplit(value.strip())
    if parts.scheme == "http":
        return [f"PUBLIC_URL is plain http ({value}): {hint}"]
    if parts.scheme != "https" or not parts.hostname:
        return [f"PUBLIC_URL is not an https:// URL ({value}): {hint}"]
    host = parts.hostname.rstrip(".").lower()
    if host in _RESERVED_HOSTS or host.endswith(_RESERVED_SUFFIXES):
        return [f"PUBLIC_URL points at a local or example host ({host}): {hint}"]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return []
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return [f"PUBLIC_URL points at a loopback or unspecified address ({host}): {hint}"]
    return []


def _instance_secret(instance_path: Path, filename: str) -> str:
    """A random secret generated once into instance/ so restarts keep sessions valid."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _validation_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        if item["type"] == "int_parsing":
            what = "must be an integer"
        elif item["type"] == "bool_parsing":
            what = "must be 1 or 0 (true/false, yes/no, on/off)"
        elif item["type"] == "literal_error":
            what = "must be " + item["msg"].removeprefix("Input should be ")
        else:
            what = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name} {what}, got {item['input']!r}")
    return problems


def load_settings() -> Settings:
    """Read the environment once; refuse an unparsable value, and in production a weak one."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(_validation_problems(exc)) from None
    if settings.production:
        problems = settings.production_problems()
        if problems:
            raise ConfigError(problems, "SHEBER_ENV=production refuses to start")
    return settings


def load_config(instance_path: str | Path) -> dict:
    """The Flask config for ``create_app``, from one reading of the environment."""
    return load_settings().flask_config(Path(instance_path))
