from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text

from marketplace.extensions import db

bp = Blueprint("health", __name__)


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "down" for a health probe
        db.session.rollback()
        return False


def broker_ok() -> bool:
    celery = current_app.extensions.get("celery")
    if celery is None:
        return True
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        return False


@bp.get("/healthz")
def healthz():
    """Liveness and dependencies: 503 when the database or the broker is down."""
    database = database_ok()
    broker = broker_ok()
    status = "ok" if database and broker else "degraded"
    body = {"status": status, "database": "ok" if database else "down",
            "broker": "ok" if broker else "down"}
    return body, 200 if status == "ok" else 503
