"""Sheber: a marketplace for handmade crafts from Almaty."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from marketplace import audit, edge, health, http, i18n, logs, mail, openapi, outbox, security, seed
from marketplace.accounts import api as accounts_api
from marketplace.accounts import cli as accounts_cli
from marketplace.accounts import models as accounts_models
from marketplace.accounts import service as accounts_service
from marketplace.accounts import sessions as accounts_sessions
from marketplace.accounts import throttle as accounts_throttle
from marketplace.audit import api as audit_api
from marketplace.catalog import api as catalog_api
from marketplace.catalog import cli as catalog_cli
from marketplace.catalog import models as catalog_models
from marketplace.checkout import api as checkout_api
from marketplace.checkout import cli as checkout_cli
from marketplace.checkout import models as checkout_models
from marketplace.community import api as community_api
from marketplace.community import models as community_models
from marketplace.config import load_config
from marketplace.errors import register_error_handlers
from marketplace.extensions import db, end_unwritten_transactions, limiter, migrate
from marketplace.fx import api as fx_api
from marketplace.fx import cli as fx_cli
from marketplace.fx import models as fx_models
from marketplace.inventory import models as inventory_models
from marketplace.orders import api as orders_api
from marketplace.orders import models as orders_models
from marketplace.payouts import api as payouts_api
from marketplace.payouts import cli as payouts_cli
from marketplace.payouts import models as payouts_models
from marketplace.provenance import api as provenance_api
from marketplace.provenance import cli as provenance_cli
from marketplace.provenance import models as provenance_models
from marketplace.shipping import api as shipping_api
from marketplace.shipping import cli as shipping_cli
from marketplace.shipping import models as shipping_models
from marketplace.storefront import api as storefront_api

# Every table, so that the metadata (and Alembic) knows them all before the app binds the
# database.
MODELS = (accounts_models, fx_models, catalog_models, provenance_models, inventory_models,
          shipping_models, checkout_models, orders_models, payouts_models, community_models, outbox,
          mail, audit)
# Registration order is route precedence.
BLUEPRINTS = (
    accounts_api.bp,
    fx_api.bp,
    *catalog_api.blueprints,
    *provenance_api.blueprints,
    shipping_api.bp,
    checkout_api.bp,
    orders_api.bp,
    payouts_api.bp,
    *community_api.blueprints,
    audit_api.bp,
    *storefront_api.blueprints,
    health.bp,
    openapi.bp,
)
CLIS = (accounts_cli, catalog_cli, fx_cli, provenance_cli, shipping_cli, checkout_cli, payouts_cli,
        seed)

ROOT = Path(__file__).resolve().parent.parent


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

    db.init_app(app)
    end_unwritten_transactions(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    limiter.init_app(app)
    register_error_handlers(app)
    i18n.init_app(app)
    accounts_sessions.init_app(app)
    edge.init_app(app)
    audit.init_app(app)
    edge.init_proxies(app)
    accounts_throttle.init_app(app)
    security.init_app(app)
    http.init_user_loader(app, accounts_service.user_from_request)
    app.extensions["sheber.get_user"] = accounts_service.get_user

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    for cli in CLIS:
        cli.register_cli(app)

    # The Celery app (``celery -A workers``) is built by calling this factory, so workers sits
    # above it: the factory reaches it only once an app exists to bind it to.
    from workers.app import init_celery

    init_celery(app)
    return app
