import pytest

from marketplace.config import ConfigError, load_config

SETTINGS = ("SHEBER_ENV", "SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "FX_SOURCE_URL", "REDIS_URL",
            "PROVENANCE_SIGNING_KEY")
PRODUCTION = {
    "SHEBER_ENV": "production",
    "SECRET_KEY": "a-long-random-production-secret",
    "DATABASE_URL": "postgresql+psycopg://sheber:pw@db:5432/sheber",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "PROVENANCE_SIGNING_KEY": "a-base64-ed25519-private-key",
}


@pytest.fixture
def environment(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_local_defaults_need_no_servers(environment, tmp_path):
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'sheber.db'}"
    assert config["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert config["FX_SOURCE_URL"] is None
    assert len(config["SECRET_KEY"]) >= 32
    assert load_config(tmp_path)["SECRET_KEY"] == config["SECRET_KEY"]  # kept in instance/


def test_production_accepts_real_settings(environment, tmp_path):
    environment(**PRODUCTION)
    config = load_config(tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["STRIPE_API_BASE"] is None  # Stripe itself


@pytest.mark.parametrize("change", [
    {"SECRET_KEY": ""},
    {"SECRET_KEY": "dev"},
    {"SECRET_KEY": "change-me"},
    {"DATABASE_URL": ""},
    {"DATABASE_URL": "sqlite:////srv/sheber.db"},
    {"STRIPE_SECRET_KEY": ""},
    {"PROVENANCE_SIGNING_KEY": ""},
])
def test_production_refuses_defaults(environment, tmp_path, change):
    environment(**{**PRODUCTION, **change})
    with pytest.raises(ConfigError):
        load_config(tmp_path)


def test_a_non_integer_setting_is_a_config_error(environment, tmp_path, monkeypatch):
    monkeypatch.setenv("RESERVATION_TTL_SECONDS", "soon")
    with pytest.raises(ConfigError):
        load_config(tmp_path)
