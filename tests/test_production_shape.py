"""The production shape holds together: ``docker-compose.yml`` gives every process an environment
that ``SHEBER_ENV=production`` accepts, its worker consumes every queue and serves the pool's
metrics, and the image the ``Dockerfile`` makes holds what its commands read (gunicorn's
settings, the migrations, the translations).

Docker is only a client on the machines that run this suite, so no image is built and no
container started: the image's ``/app`` is made from the files its ``COPY`` lines name (those git
tracks, as a build context of a clean clone) and its commands run there. Where a compose tool is
installed (``docker-compose`` or ``docker compose``) it renders the file itself, and what it
renders must be what these tests read.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace.config import Settings
from workers.app import DEFAULT_QUEUE, QUEUES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
# ${NAME}, ${NAME:-default} (unset or empty: the default), ${NAME:?message} (unset or empty: an
# error), as compose interpolates them
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<kind>[-?])(?P<rest>[^}]*))?\}")


def _ed25519_key() -> str:
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def _operator_values() -> dict[str, str]:
    """What an operator sets before ``docker compose up``: fresh secrets of the right kinds."""
    return {"SECRET_KEY": secrets.token_hex(32),
            "STRIPE_SECRET_KEY": f"sk_live_{secrets.token_hex(16)}",
            "STRIPE_PUBLISHABLE_KEY": f"pk_live_{secrets.token_hex(16)}",
            "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
            "PROVENANCE_SIGNING_KEY": _ed25519_key(),
            "TRANSPARENCY_SIGNING_KEY": _ed25519_key(),
            "PUBLIC_URL": "https://sheber.kz"}


def _interpolate(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name, kind, rest = match["name"], match["kind"], match["rest"]
        given = values.get(name)
        if given:
            return given
        if kind == "?":
            raise LookupError(f"{name}: {rest}")
        return rest if kind == "-" else ""

    return _VARIABLE.sub(value, text)


def _compose(values: dict[str, str]) -> dict:
    return yaml.safe_load(_interpolate(COMPOSE.read_text(), values))


def _app_services(compose: dict) -> dict[str, dict]:
    """The services that run Sheber's image (not PostgreSQL's or Redis's)."""
    return {name: service for name, service in compose["services"].items()
            if service.get("image") == "sheber:latest"}


def _environment(service: dict) -> dict[str, str]:
    """A service's environment as its processes see it: compose passes an empty value, which
    the settings read as unset."""
    return {name: str(value) for name, value in service["environment"].items()
            if value not in (None, "")}


def _required_variables() -> set[str]:
    return {match["name"] for match in _VARIABLE.finditer(COMPOSE.read_text())
            if match["kind"] == "?"}


def test_compose_refuses_to_start_without_each_secret_naming_it():
    values = _operator_values()
    assert _required_variables() == set(values)
    for name in values:
        with pytest.raises(LookupError, match=rf"^{name}: set {name}$"):
            _compose({other: value for other, value in values.items() if other != name})


def test_the_readme_names_every_value_compose_requires():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Production shape"):]
    section = section[:section.index("\n## ", 1)]
    missing = {name for name in _required_variables() if f"`{name}`" not in section}
    assert not missing, f"the README's production shape does not name {sorted(missing)}"


def test_every_process_of_the_image_gets_an_environment_production_accepts(monkeypatch):
    services = _app_services(_compose(_operator_values()))
    assert set(services) == {"migrate", "web", "worker", "beat"}
    for name, service in services.items():
        for variable in list(os.environ):
            monkeypatch.delenv(variable)
        for variable, value in _environment(service).items():
            monkeypatch.setenv(variable, value)
        settings = Settings()
        assert settings.production, name
        assert settings.production_problems() == [], name


def test_the_worker_consumes_every_queue_and_serves_its_pools_metrics_inside_the_network():
    worker = _compose(_operator_values())["services"]["worker"]
    command = worker["command"]
    assert command[:4] == ["celery", "-A", "workers", "worker"]
    queues = command[command.index("-Q") + 1].split(",")
    assert sorted(queues) == sorted({*QUEUES, DEFAULT_QUEUE})
    environment = _environment(worker)
    assert int(environment["WORKER_METRICS_PORT"]) > 0
    # each start of the container begins with an empty folder: no counts of a dead pool
    assert environment["PROMETHEUS_MULTIPROC_DIR"] in worker["tmpfs"]
    assert environment["WORKER_METRICS_PORT"] in [str(port) for port in worker["expose"]]
    assert "ports" not in worker  # the worker's metrics have no token: never published


def test_the_web_process_takes_gunicorns_settings_from_the_image():
    web = _compose(_operator_values())["services"]["web"]
    # bind, workers and the metrics hooks come from gunicorn.conf.py, not the command line
    assert web["command"] == ["gunicorn", "marketplace:create_app()"]


def _compose_tool() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


def _run_compose(tool: list[str], values: dict[str, str], *args: str):
    env = {name: value for name, value in os.environ.items()
           if name in ("PATH", "HOME", "LANG")}
    return subprocess.run([*tool, "--project-directory", str(ROOT), "-f", str(COMPOSE), *args],
                          env={**env, **values}, capture_output=True, text=True, timeout=120)


def test_the_compose_tool_renders_what_these_tests_read():
    tool = _compose_tool()
    if tool is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed "
                    "(apt-get install docker-compose)")
    values = _operator_values()
    rendered = _run_compose(tool, values, "config")
    assert rendered.returncode == 0, rendered.stderr
    theirs = yaml.safe_load(rendered.stdout)
    ours = _compose(values)
    for name, service in _app_services(ours).items():
        assert _environment(theirs["services"][name]) == _environment(service), name
        assert theirs["services"][name]["command"] == service["command"], name
    refused = _run_compose(tool, {**values, "SECRET_KEY": ""}, "config", "-q")
    assert refused.returncode != 0
    assert "set SECRET_KEY" in refused.stderr


def _copied_paths() -> list[str]:
    """What the Dockerfile's COPY lines put into /app (each ``COPY source... destination``)."""
    copied = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, _destination = shlex.split(line)[1:]
            copied.extend(sources)
    return copied


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    """The image's /app: the tracked files the COPY lines name, and the build's compile step."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: the build context cannot be told from local files")
    tracked = subprocess.run(["git", "ls-files", "-z", "--", *_copied_paths()], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode().split("\0")
    app = tmp_path_factory.mktemp("image") / "app"
    for name in filter(None, tracked):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, app / name)
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "-q", "compile", "-d",
                    "marketplace/translations"], cwd=app, check=True, timeout=120)
    return app


def _in_image(image: Path, args: list[str], environment: dict[str, str]):
    env = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG")}
    # the image's code comes first on the path: not this checkout's
    env.update(environment, PYTHONPATH=str(image), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(args, cwd=image, env=env, capture_output=True, text=True, timeout=300)


def test_the_images_commands_find_what_they_read(image, tmp_path):
    values = _operator_values()
    web = _environment(_compose(values)["services"]["web"])
    # nothing answers on these: the processes must not need a database or broker to start
    environment = {**web, "DATABASE_URL": "postgresql+psycopg://sheber@127.0.0.1:1/sheber",
                   "REDIS_URL": "redis://127.0.0.1:1/0", "CELERY_BROKER_URL": "redis://127.0.0.1:1/1",
                   "WEB_WORKERS": "5", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    script = (
        "import marketplace, workers\n"
        "from alembic.script import ScriptDirectory\n"
        "from flask_babel import gettext\n"
        "from marketplace import create_app\n"
        "app = create_app()\n"
        "print('code', marketplace.__file__, workers.__file__)\n"
        "print('head', *ScriptDirectory(app.extensions['migrate'].directory).get_heads())\n"
        "with app.test_request_context(headers={'Accept-Language': 'ru'}):\n"
        "    print('ru', gettext('Enter a valid email address.'))\n")
    started = _in_image(image, [sys.executable, "-c", script], environment)
    assert started.returncode == 0, started.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in started.stdout.splitlines())
    assert all(path.startswith(str(image)) for path in lines["code"].split()), lines["code"]
    heads = _in_image(ROOT, [sys.executable, "-c", (
        "from alembic.script import ScriptDirectory\n"
        "print(*ScriptDirectory('migrations').get_heads())")], {})
    assert lines["head"] == heads.stdout.strip()
    # the catalogues were compiled in the image
    assert lines["ru"] == "Введите правильный адрес электронной почты."

    gunicorn = _in_image(image, [str(Path(sys.executable).with_name("gunicorn")),
                                 "--print-config", "marketplace:create_app()"], environment)
    assert gunicorn.returncode == 0, gunicorn.stderr[-3000:]
    settings = dict(re.findall(r"^(\w+)\s+= (.*)$", gunicorn.stdout, re.M))
    assert settings["bind"] == "['0.0.0.0:8000']"  # gunicorn's own default: 127.0.0.1
    assert settings["workers"] == "5"
    assert settings["child_exit"] == "<child_exit()>"  # a dead process's counts are let go
