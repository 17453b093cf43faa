from flask import Flask

from marketplace import health
from marketplace.errors import register_error_handlers
from marketplace.extensions import db


def test_healthz_is_ok_with_a_live_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert {key: body[key] for key in ("status", "database", "broker")} == {
        "status": "ok", "database": "ok", "broker": "ok"}
    assert body["outbox"] == {"pending": 0, "lag_seconds": 0.0}
    assert set(body["beat"]) == {"last_tick", "age_seconds"}


def test_healthz_is_503_when_the_database_is_unreachable():
    # Built from the same pieces as create_app, but without Celery: a second full app would
    # replace the suite's default Celery app.
    app = Flask("dead-database")
    app.config.update(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://sheber@127.0.0.1:9/nowhere",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
    )
    db.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(health.bp)
    with app.app_context():
        response = app.test_client().get("/healthz")
        db.engine.dispose()
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
    assert response.get_json()["status"] == "degraded"
