import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace import config
from marketplace.config import (
    DEFAULT_STRIPE_EMULATOR,
    DEFAULT_WEBHOOK_SECRET,
    EMULATOR_PUBLISHABLE_KEY,
    EMULATOR_SECRET_KEY,
    ConfigError,
    Settings,
    load_config,
)
from marketplace.provenance.signing import encode_private_key

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = tuple(Settings.model_fields)


def production_settings() -> dict[str, str]:
    """A production environment that must pass. Its secrets are made here, never committed:
    a committed value is a public one and production refuses those."""
    return {
        "SHEBER_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": "postgresql+psycopg://sheber:pw@db:5432/sheber",
        "REDIS_URL": "redis://redis:6379/0",
        "CELERY_BROKER_URL": "redis://redis:6379/1",
        "STRIPE_SECRET_KEY": f"sk_live_{secrets.token_hex(12)}",
        "STRIPE_PUBLISHABLE_KEY": f"pk_live_{secrets.token_hex(12)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "PROVENANCE_SIGNING_KEY": encode_private_key(Ed25519PrivateKey.generate()),
        "TRANSPARENCY_SIGNING_KEY": encode_private_key(Ed25519PrivateKey.generate()),
        "PUBLIC_URL": "https://sheber.kz",
    }


@pytest.fixture
def environment(monkeypatch):
    """Sets the given variables on an environment without any setting; None unsets one."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    return set_env


@pytest.fixture
def production(environment):
    """Production with a few settings changed; returns the problems it refuses, [] if none."""
    def refusals(tmp_path, **change) -> list[str]:
        environment(**{**production_settings(), **change})
        try:
            load_config(tmp_path)
        except ConfigError as error:
            assert all(problem in str(error) for problem in error.problems)
            return error.problems
        return []

    return refusals


def named(problems: list[str]) -> list[str]:
    """The variable each problem names first."""
    return [re.match(r"[A-Z_]+", problem).group(0) for problem in problems]


def test_local_defaults_need_no_servers(environment, tmp_path):
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'sheber.db'}"
    assert config["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert config["FX_SOURCE_URL"] is None
    assert len(config["SECRET_KEY"]) >= 32
    assert load_config(tmp_path)["SECRET_KEY"] == config["SECRET_KEY"]  # kept in instance/
    assert config["CELERY_BROKER_URL"] is None  # the embedded broker
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["STRIPE_SECRET_KEY"] == EMULATOR_SECRET_KEY
    assert config["STRIPE_PUBLISHABLE_KEY"] == EMULATOR_PUBLISHABLE_KEY
    assert config["STRIPE_WEBHOOK_SECRET"] == DEFAULT_WEBHOOK_SECRET
    assert config["STRIPE_JS_URL"] == f"{DEFAULT_STRIPE_EMULATOR}/js.stripe.com/v3/"
    assert config["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert config["UPLOAD_FOLDER"] == str(tmp_path / "uploads")
    assert (config["LOG_FORMAT"], config["LOG_LEVEL"]) == ("text", "INFO")
    assert config["RETURN_WINDOW_DAYS"] == 14
    assert config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize(("url", "pinged"), [
    (None, False), ("sqlite:////tmp/sheber-test.db", False),
    ("postgresql+psycopg://sheber@db.internal:5432/sheber", True)])
def test_connections_are_tested_at_checkout_only_on_a_database_server(environment, tmp_path,
                                                                        url, pinged):
    """A server's connection can drop between two uses; a SQLite file's cannot."""
    environment(**({} if url is None else {"DATABASE_URL": url}))
    assert load_config(tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is pinged


def test_production_accepts_real_settings(environment, tmp_path):
    environment(**production_settings())
    config = load_config(tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["STRIPE_API_BASE"] is None  # Stripe itself
    assert config["STRIPE_JS_URL"] == "https://js.stripe.com/v3/"
    assert config["CELERY_BROKER_URL"] == "redis://redis:6379/1"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert config["LOG_FORMAT"] == "json"


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
    environment(**{**production_settings(), **change})
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert named(refused.value.problems) == list(change)


REFUSED = [
    # (variable the refusal names, the change to a valid production environment)
    ("SECRET_KEY", {"SECRET_KEY": None}),
    ("SECRET_KEY", {"SECRET_KEY": "changeme"}),
    ("SECRET_KEY", {"SECRET_KEY": "ChangeMe"}),
    ("SECRET_KEY", {"SECRET_KEY": "change-me"}),
    ("SECRET_KEY", {"SECRET_KEY": "dev"}),
    ("SECRET_KEY", {"SECRET_KEY": "secret"}),
    ("DATABASE_URL", {"DATABASE_URL": None}),
    ("DATABASE_URL", {"DATABASE_URL": "sqlite:///instance/sheber.db"}),
    ("STRIPE_WEBHOOK_SECRET", {"STRIPE_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET}),
    ("STRIPE_WEBHOOK_SECRET", {"STRIPE_WEBHOOK_SECRET": None}),
    ("STRIPE_SECRET_KEY", {"STRIPE_SECRET_KEY": EMULATOR_SECRET_KEY}),
    ("STRIPE_SECRET_KEY", {"STRIPE_SECRET_KEY": None}),
    ("STRIPE_PUBLISHABLE_KEY", {"STRIPE_PUBLISHABLE_KEY": EMULATOR_PUBLISHABLE_KEY}),
    ("STRIPE_PUBLISHABLE_KEY", {"STRIPE_PUBLISHABLE_KEY": None}),
    ("STRIPE_API_BASE", {"STRIPE_API_BASE": DEFAULT_STRIPE_EMULATOR}),
    ("STRIPE_API_BASE", {"STRIPE_API_BASE": "https://api.stripe.com"}),
    ("PROVENANCE_SIGNING_KEY", {"PROVENANCE_SIGNING_KEY": None}),
    ("PROVENANCE_SIGNING_KEY", {"PROVENANCE_SIGNING_KEY": "a-base64-ed25519-private-key"}),
    ("TRANSPARENCY_SIGNING_KEY", {"TRANSPARENCY_SIGNING_KEY": None}),
    ("TRANSPARENCY_SIGNING_KEY", {"TRANSPARENCY_SIGNING_KEY": "not-a-key"}),
    ("PUBLIC_URL", {"PUBLIC_URL": None}),
    ("PUBLIC_URL", {"PUBLIC_URL": "http://sheber.kz"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "sheber.kz"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://localhost"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://LOCALHOST:8443/"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://shop.localhost"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://127.0.0.1"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://127.8.9.10:5000"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://[::1]:5000"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://[::ffff:127.0.0.1]"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://0.0.0.0"}),
    ("PUBLIC_URL", {"PUBLIC_URL": "https://sheber.example"}),
    ("CELERY_BROKER_URL", {"CELERY_BROKER_URL": None, "REDIS_URL": None,
                           "RATELIMIT_STORAGE_URI": "redis://redis:6379/2"}),
    ("CELERY_BROKER_URL", {"CELERY_BROKER_URL": "filesystem://"}),
    ("CELERY_BROKER_URL", {"CELERY_BROKER_URL": "filesystem://localhost//"}),
    ("RATELIMIT_STORAGE_URI", {"REDIS_URL": None}),
    ("RATELIMIT_STORAGE_URI", {"RATELIMIT_STORAGE_URI": "memory://"}),
    ("FLASK_DEBUG", {"FLASK_DEBUG": "1"}),
    ("FLASK_DEBUG", {"FLASK_DEBUG": "true"}),
    ("FLASK_DEBUG", {"FLASK_DEBUG": "yes"}),
]


@pytest.mark.parametrize(("variable", "change"), REFUSED,
                         ids=[f"{v}={list(c.values())[0]}" for v, c in REFUSED])
def test_production_refuses_a_weak_setting_naming_it(production, tmp_path, variable, change):
    assert named(production(tmp_path, **change)) == [variable]


PASSING = [
    {"SECRET_KEY": "қ" * 16},  # 32 bytes in UTF-8, 16 characters
    {"STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(12)}",  # Stripe test mode is allowed
     "STRIPE_PUBLISHABLE_KEY": f"pk_test_{secrets.token_hex(12)}"},
    {"PROVENANCE_SIGNING_KEY": Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()},
    {"PUBLIC_URL": "https://sheber.kz/"},
    {"PUBLIC_URL": "https://shop.sheber.kz:8443"},
    {"PUBLIC_URL": "https://203.0.113.10"},
    {"CELERY_BROKER_URL": "amqp://sheber:pw@rabbit:5672//", "REDIS_URL": None,
     "RATELIMIT_STORAGE_URI": "redis://redis:6379/2"},
    {"CELERY_BROKER_URL": None},  # REDIS_URL is the broker
    {"FLASK_DEBUG": "0"},
    {"FLASK_DEBUG": "false"},
    {"FLASK_DEBUG": "no"},
]


@pytest.mark.parametrize("change", PASSING, ids=lambda change: ",".join(change))
def test_production_accepts_values_just_inside_the_rules(production, tmp_path, change):
    assert production(tmp_path, **change) == []


@pytest.mark.parametrize(("size", "refused"), [(31, True), (32, False)])
def test_a_secret_key_needs_32_bytes(production, tmp_path, size, refused):
    value = secrets.token_hex(16)[:size]
    assert named(production(tmp_path, SECRET_KEY=value)) == (["SECRET_KEY"] if refused else [])


def test_production_reports_every_problem_at_once(environment, tmp_path):
    environment(SHEBER_ENV="production", FLASK_DEBUG="1")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert named(refused.value.problems) == [
        "SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET", "PROVENANCE_SIGNING_KEY", "TRANSPARENCY_SIGNING_KEY", "PUBLIC_URL",
        "CELERY_BROKER_URL",
        "RATELIMIT_STORAGE_URI", "FLASK_DEBUG"]
    assert all(" set " in problem or " unset " in problem for problem in refused.value.problems)


def test_a_non_integer_setting_is_a_config_error(environment, tmp_path, monkeypatch):
    monkeypatch.setenv("RESERVATION_TTL_SECONDS", "soon")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert refused.value.problems == ["RESERVATION_TTL_SECONDS must be an integer, got 'soon'"]


def test_every_unparsable_setting_is_named_at_once(environment, tmp_path):
    environment(MAIL_PORT="smtp", RETURN_WINDOW_DAYS="two weeks", RATELIMIT_ENABLED="maybe",
                LOG_FORMAT="xml", LOG_LEVEL="loud", SHEBER_ENV="prod")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert sorted(named(refused.value.problems)) == [
        "LOG_FORMAT", "LOG_LEVEL", "MAIL_PORT", "RATELIMIT_ENABLED", "RETURN_WINDOW_DAYS",
        "SHEBER_ENV"]


def test_log_and_return_window_settings(environment, tmp_path):
    environment(LOG_FORMAT="JSON", LOG_LEVEL="debug", RETURN_WINDOW_DAYS="7",
                RATELIMIT_ENABLED="0", RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/3")
    loaded = load_config(tmp_path)
    assert (loaded["LOG_FORMAT"], loaded["LOG_LEVEL"]) == ("json", "DEBUG")
    assert loaded["RETURN_WINDOW_DAYS"] == 7
    assert loaded["RATELIMIT_ENABLED"] is False
    assert loaded["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_production_may_log_text_when_told(environment, tmp_path):
    environment(**{**production_settings(), "SHEBER_ENV": "Production", "LOG_FORMAT": "text"})
    loaded = load_config(tmp_path)
    assert (loaded["SHEBER_ENV"], loaded["LOG_FORMAT"]) == ("production", "text")


# --- values the repository publishes ------------------------------------------------------

_SKIPPED_FOLDERS = {".git", ".venv", "instance", "__pycache__", "node_modules", "build",
                    ".pytest_cache", ".ruff_cache", ".hypothesis", "test-artifacts"}
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
    re.DOTALL)


def assignments(name: str, text: str, *, python: bool) -> set[str]:
    """Literal values that ``text`` assigns to ``name``: ``NAME=v``, ``NAME: v``, ``"NAME": "v"``,
    ``setenv("NAME", "v")``, ``ENV NAME v``. References (``${NAME:?...}``, ``$(...)``) and, in
    Python, expressions that are not string literals are not values."""
    quoted = r""""(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'"""
    bare = r"(?P<bare>[^\s\"'#,;)}\]=][^\s\"'#,;)}\]]*)"
    value = quoted if python else f"{quoted}|{bare}"
    patterns = [rf"""(?<![\w$])(?<!\$\{{)(?P<q>["']?){name}(?P=q)\]?\s*[:=,]\s*(?:{value})"""]
    if not python:
        patterns.append(rf"(?m)^\s*(?:ENV|ARG)\s+{name}\s+(?:{value})")
        patterns.append(rf"\$\{{{name}:?-(?P<dq>[^}}]*)\}}")  # ${NAME:-default}
    found = set()
    for pattern in patterns:
        for match in re.finditer(pattern, text):
            literal = next(match[group] for group in ("dq", "sq", "bare")
                           if group in match.re.groupindex and match[group] is not None)
            if literal and not literal.startswith("$"):
                found.add(literal)
    return found


def repository_texts():
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders
                         if name not in _SKIPPED_FOLDERS and not name.endswith(".egg-info")]
        for filename in files:
            path = Path(folder) / filename
            if path.stat().st_size > 2_000_000:
                continue
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def repository_values(name: str) -> set[str]:
    return {value for path, text in repository_texts()
            for value in assignments(name, text, python=path.suffix == ".py")}


def committed_private_keys() -> set[str]:
    return {match.group(0).replace("\\n", "\n") for _, text in repository_texts()
            for match in _PEM_PRIVATE_KEY.finditer(text)}


def test_the_scan_finds_the_forms_deployments_use():
    compose = ("environment:\n  SECRET_KEY: compose-example\n  - SECRET_KEY=list-example\n"
               "  SECRET_KEY: ${SECRET_KEY:?set SECRET_KEY}\n  SECRET_KEY: \"quoted example\"\n"
               "  SECRET_KEY: ${SECRET_KEY:-compose-default}\n")
    shell = "export SECRET_KEY='shell-example'\nSECRET_KEY=$(openssl rand -hex 32)\n"
    dockerfile = "ENV SECRET_KEY docker-example\nARG SECRET_KEY=arg-example\n"
    prose = "Set `SECRET_KEY` first; `STRIPE_SECRET_KEY=sk_x` is another variable.\n"
    python = ('os.environ["SECRET_KEY"] = "environ-example"\n'
              'SECRET_KEY: str | None = None\nconfig = {"SECRET_KEY": "dict-example",\n'
              '          "SECRET_KEY": settings.SECRET_KEY}\n'
              'monkeypatch.setenv("SECRET_KEY", "setenv-example")\n')
    assert assignments("SECRET_KEY", compose + shell + dockerfile + prose, python=False) == {
        "compose-example", "list-example", "quoted example", "compose-default", "shell-example",
        "docker-example", "arg-example"}
    assert assignments("SECRET_KEY", python, python=True) == {
        "environ-example", "dict-example", "setenv-example"}


REPOSITORY_SECRET_KEYS = sorted(repository_values("SECRET_KEY"))
REPOSITORY_SIGNING_KEYS = sorted(repository_values("PROVENANCE_SIGNING_KEY")
                                 | committed_private_keys())


def test_the_scan_reads_the_whole_repository():
    # this file's own examples, so an empty scan cannot pass for a clean repository
    assert {"changeme", "dev", "change-me"} <= set(REPOSITORY_SECRET_KEYS)
    assert "a-base64-ed25519-private-key" in REPOSITORY_SIGNING_KEYS


@pytest.mark.parametrize("value", REPOSITORY_SECRET_KEYS)
def test_production_refuses_every_secret_key_in_the_repository(production, tmp_path, value):
    assert named(production(tmp_path, SECRET_KEY=value)) == ["SECRET_KEY"]


@pytest.mark.parametrize("value", REPOSITORY_SIGNING_KEYS)
def test_production_refuses_every_signing_key_in_the_repository(production, tmp_path, value):
    assert named(production(tmp_path, PROVENANCE_SIGNING_KEY=value)) == ["PROVENANCE_SIGNING_KEY"]


# --- read once ----------------------------------------------------------------------------

def test_load_config_reads_the_environment_once_per_call(environment, tmp_path, monkeypatch):
    environment(REDIS_URL="redis://first:6379/0", PUBLIC_URL="https://first.sheber.kz")
    readings = []

    class ReadThenChange(Settings):
        def __init__(self, **values):
            super().__init__(**values)
            readings.append(self)
            monkeypatch.setenv("REDIS_URL", "redis://second:6379/0")
            monkeypatch.setenv("PUBLIC_URL", "https://second.sheber.kz")

    monkeypatch.setattr(config, "Settings", ReadThenChange)
    loaded = load_config(tmp_path)
    assert len(readings) == 1
    assert loaded["REDIS_URL"] == "redis://first:6379/0"
    assert loaded["CELERY_BROKER_URL"] == "redis://first:6379/0"
    assert loaded["RATELIMIT_STORAGE_URI"] == "redis://first:6379/0"
    assert loaded["PUBLIC_URL"] == "https://first.sheber.kz"
    assert load_config(tmp_path)["PUBLIC_URL"] == "https://second.sheber.kz"
    assert len(readings) == 2


_AFTER_CREATE_APP = """
import json, os
from marketplace import config
readings = []
class Counted(config.Settings):
    def __init__(self, **values):
        super().__init__(**values)
        readings.append(1)
config.Settings = Counted
from marketplace import create_app
app = create_app({"TESTING": True})
os.environ["PUBLIC_URL"] = "https://second.sheber.kz"
os.environ["RETURN_WINDOW_DAYS"] = "20"
with app.test_request_context():
    print(json.dumps({"readings": len(readings), "PUBLIC_URL": app.config["PUBLIC_URL"],
                      "RETURN_WINDOW_DAYS": app.config["RETURN_WINDOW_DAYS"]}))
"""


def test_create_app_reads_the_environment_once(tmp_path):
    # a process of its own: a second app here would rebind the suite's shared extensions
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    env.update(SECRET_KEY=secrets.token_hex(32), DATABASE_URL=f"sqlite:///{tmp_path / 'db'}",
               CELERY_BROKER_FOLDER=str(tmp_path / "broker"), UPLOAD_FOLDER=str(tmp_path),
               PUBLIC_URL="https://first.sheber.kz", RETURN_WINDOW_DAYS="10")
    result = subprocess.run([sys.executable, "-c", _AFTER_CREATE_APP], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"readings": 1, "PUBLIC_URL": "https://first.sheber.kz",
                    "RETURN_WINDOW_DAYS": 10}
