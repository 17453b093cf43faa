"""Sheber: a marketplace for handmade crafts from Almaty."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from flask import Flask

from marketplace import http, i18n, logs, security
from marketplace.accounts import service as accounts_service
from marketplace.config import load_config
from marketplace.errors import register_error_handlers
from marketplace.extensions import db, limiter, migrate

# One package per domain; each may have models.py, api.py (``bp``) and cli.py (``register_cli``).
DOMAINS = ("accounts", "fx", "catalog", "provenance", "inventory", "shipping", "checkout", "orders",
           "payouts", "storefront")

ROOT = Path(__file__).resolve().parent.parent


def _optional_module(name: str):
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def import_models() -> None:
    """Import every domain's models so that the metadata (and Alembic) sees all tables."""
    for domain in DOMAINS:
        if importlib.util.find_spec(f"marketplace.{domain}") is not None:
            _optional_module(f"marketplace.{domain}.models")
    _optional_module("marketplace.outbox")
    _optional_module("marketplace.mail")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_mapping(load_config(app.instance_path))
    if config:
        app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.json.ensure_ascii = False  # Kazakh and Russian text stays readable UTF-8
    logs.init_app(app)

    import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    limiter.init_app(app)
    register_error_handlers(app)
    i18n.init_app(app)
    security.init_app(app)
    http.init_user_loader(app, accounts_service.user_from_request)
    app.extensions["sheber.get_user"] = accounts_service.get_user

    for domain in DOMAINS:
        if importlib.util.find_spec(f"marketplace.{domain}") is None:
            continue
        api = _optional_module(f"marketplace.{domain}.api")
        for blueprint in getattr(api, "blueprints", [getattr(api, "bp", None)]):
            if blueprint is not None:
                app.register_blueprint(blueprint)
        cli = _optional_module(f"marketplace.{domain}.cli")
        if cli is not None:
            cli.register_cli(app)

    from marketplace import health, openapi, seed

    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    seed.register_cli(app)

    workers_app = _optional_module("workers.app")
    if workers_app is not None:
        workers_app.init_celery(app)
    return app
