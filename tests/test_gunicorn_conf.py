"""gunicorn's settings (``gunicorn.conf.py``): how often a web process is replaced."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def _settings(monkeypatch, tmp_path, **env) -> dict:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # no folder of its own
    monkeypatch.delenv("WEB_MAX_REQUESTS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(CONF))


def test_a_process_is_replaced_after_100000_requests_with_a_tenth_of_jitter(monkeypatch, tmp_path):
    settings = _settings(monkeypatch, tmp_path)
    assert (settings["max_requests"], settings["max_requests_jitter"]) == (100_000, 10_000)


@pytest.mark.parametrize(("value", "expected"), [("5000", (5000, 500)), ("0", (0, 0))])
def test_web_max_requests_sets_it_and_zero_never_replaces(monkeypatch, tmp_path, value, expected):
    settings = _settings(monkeypatch, tmp_path, WEB_MAX_REQUESTS=value)
    assert (settings["max_requests"], settings["max_requests_jitter"]) == expected
