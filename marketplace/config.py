"""Settings read from the environment (names fixed by API.md), with safe local defaults.

Local defaults need no servers: SQLite and an embedded Celery broker under ``instance/``,
the Stripe emulator on 127.0.0.1:8420. ``SHEBER_ENV=production`` refuses to start on defaults.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_STRIPE_EMULATOR = "http://127.0.0.1:8420"
DEFAULT_WEBHOOK_SECRET = "whsec_sheber_local_emulator"
EMULATOR_SECRET_KEY = "sk_test_sheber_local"
EMULATOR_PUBLISHABLE_KEY = "pk_test_sheber_local"


class ConfigError(RuntimeError):
    """The environment does not describe a safe configuration."""


def _env(name: str, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _int_env(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


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


def load_config(instance_path: str | Path) -> dict:
    instance = Path(instance_path)
    environment = _env("SHEBER_ENV", "development")
    secret_from_env = _env("SECRET_KEY")
    database_url = _env("DATABASE_URL")
    redis_url = _env("REDIS_URL")
    broker = _env("CELERY_BROKER_URL") or redis_url
    stripe_base = _env("STRIPE_API_BASE")
    if stripe_base is None and environment != "production":
        stripe_base = DEFAULT_STRIPE_EMULATOR

    if environment == "production":
        if not secret_from_env or secret_from_env in {"dev", "change-me", "secret"}:
            raise ConfigError("production needs a real SECRET_KEY")
        if not database_url or database_url.startswith("sqlite"):
            raise ConfigError("production needs DATABASE_URL pointing at a real database")
        if not _env("STRIPE_SECRET_KEY") or not _env("STRIPE_WEBHOOK_SECRET"):
            raise ConfigError("production needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET")
        if not _env("PROVENANCE_SIGNING_KEY"):
            raise ConfigError("production needs PROVENANCE_SIGNING_KEY (labels must survive hosts)")

    config = {
        "SHEBER_ENV": environment,
        "SECRET_KEY": secret_from_env or _instance_secret(instance, "secret_key"),
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{instance / 'sheber.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": broker,  # None = embedded filesystem broker (workers/app.py)
        "CELERY_BROKER_FOLDER": _env("CELERY_BROKER_FOLDER"),  # None = instance/broker
        "CELERY_BROKER_KEY_PREFIX": _env("CELERY_BROKER_KEY_PREFIX"),  # share one Redis safely
        # Redis redelivers an unacknowledged task after this; longer than any task may run.
        "CELERY_VISIBILITY_TIMEOUT": _int_env("CELERY_VISIBILITY_TIMEOUT", 3600),
        "STRIPE_SECRET_KEY": _env("STRIPE_SECRET_KEY", EMULATOR_SECRET_KEY),
        "STRIPE_PUBLISHABLE_KEY": _env("STRIPE_PUBLISHABLE_KEY", EMULATOR_PUBLISHABLE_KEY),
        "STRIPE_WEBHOOK_SECRET": _env("STRIPE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET),
        "STRIPE_API_BASE": stripe_base,  # None = api.stripe.com
        "STRIPE_JS_URL": _env(
            "STRIPE_JS_URL",
            f"{stripe_base}/js.stripe.com/v3/" if stripe_base else "https://js.stripe.com/v3/",
        ),
        "STRIPE_TIMEOUT_SECONDS": _int_env("STRIPE_TIMEOUT_SECONDS", 20),
        "PROVENANCE_SIGNING_KEY": _env("PROVENANCE_SIGNING_KEY"),
        "PUBLIC_URL": _env("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        "MAIL_SERVER": _env("MAIL_SERVER"),  # None = log mail to the console
        "MAIL_PORT": _int_env("MAIL_PORT", 25),
        "MAIL_SENDER": _env("MAIL_SENDER", "Sheber <orders@sheber.kz>"),
        "MAIL_TIMEOUT_SECONDS": _int_env("MAIL_TIMEOUT_SECONDS", 15),
        "MAIL_USERNAME": _env("MAIL_USERNAME"),  # set = STARTTLS + login
        "MAIL_PASSWORD": _env("MAIL_PASSWORD"),
        "PLATFORM_COMMISSION_BPS": _int_env("PLATFORM_COMMISSION_BPS", 1200),
        "RESERVATION_TTL_SECONDS": _int_env("RESERVATION_TTL_SECONDS", 900),
        "PAYOUT_HOLD_DAYS": _int_env("PAYOUT_HOLD_DAYS", 14),
        "RETURN_WINDOW_DAYS": _int_env("RETURN_WINDOW_DAYS", 14),
        # the marketplace's own account that bank-transfer payouts are debited from
        "PAYOUT_DEBTOR_NAME": _env("PAYOUT_DEBTOR_NAME", "Sheber Marketplace LLP"),
        "PAYOUT_DEBTOR_IBAN": _env("PAYOUT_DEBTOR_IBAN", "KZ86125KZT5004100100"),
        "PAYOUT_DEBTOR_BIC": _env("PAYOUT_DEBTOR_BIC", "HSBKKZKX"),
        "PAYOUT_DEBTOR_COUNTRY": _env("PAYOUT_DEBTOR_COUNTRY", "KZ"),
        "UPLOAD_FOLDER": _env("UPLOAD_FOLDER", str(instance / "uploads")),
        "FX_SOURCE_URL": _env("FX_SOURCE_URL"),  # None = the rates file in data/
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024 + 64 * 1024,  # 10 MB image + multipart overhead
        "MAX_IMAGE_BYTES": 10 * 1024 * 1024,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_AUTH": _env("RATELIMIT_AUTH", "10 per minute"),
        "RATELIMIT_ENABLED": _env("RATELIMIT_ENABLED", "1") != "0",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": environment == "production",
        "JSON_SORT_KEYS": False,
    }
    return config
