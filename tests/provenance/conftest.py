"""Provenance fixtures: a signing key of each test's own, and the usual actors."""

from __future__ import annotations

import pytest

from tests.provenance.helpers import PUBLIC_URL, Actors


@pytest.fixture(autouse=True)
def _own_signing_key(app, tmp_path, monkeypatch):
    """Each test signs with a fresh instance key file; nothing touches the real instance/."""
    monkeypatch.setitem(app.config, "PROVENANCE_KEY_FILE", str(tmp_path / "signing_key"))
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", None)
    monkeypatch.setitem(app.config, "TRANSPARENCY_KEY_FILE", str(tmp_path / "log_key"))
    monkeypatch.setitem(app.config, "TRANSPARENCY_SIGNING_KEY", None)
    monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC_URL)


@pytest.fixture
def actors() -> Actors:
    return Actors()
