"""Signing keys: where they come from, and rotation that keeps old labels verifiable."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace.provenance import signing
from tests.factories import make_product
from tests.provenance.helpers import verified_label
from tests.provenance.test_label_flow import nacl_verify


def raw_public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(signing.public_key_raw(key)).decode()


def test_rotation_keeps_old_labels_valid_and_new_ones_use_the_new_key(client, runner, actors):
    old_code = verified_label(client, actors)
    old = client.get(f"/api/v1/provenance/{old_code}").get_json()

    result = runner.invoke(args=["provenance", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert f"{old['key_id']} retired" in result.output

    new_code = verified_label(client, actors, product=make_product(actors.artisan))
    new = client.get(f"/api/v1/provenance/{new_code}").get_json()
    assert new["key_id"] != old["key_id"] and new["valid"] is True

    again = client.get(f"/api/v1/provenance/{old_code}").get_json()
    assert again["valid"] is True and again["public_key"] == old["public_key"]
    nacl_verify(client, again)
    nacl_verify(client, new)

    keys = client.get("/api/v1/provenance/public-key").get_json()
    assert keys["key_id"] == new["key_id"]
    by_id = {k["key_id"]: k for k in keys["keys"]}
    assert by_id[old["key_id"]]["retired_at"] and "retired_at" not in by_id[new["key_id"]]


def test_rotation_before_any_label_still_publishes_the_old_key(client, runner, app):
    before = client.get("/api/v1/provenance/public-key").get_json()["key_id"]
    assert runner.invoke(args=["provenance", "rotate-key"]).exit_code == 0
    keys = client.get("/api/v1/provenance/public-key").get_json()
    assert keys["key_id"] != before
    assert before in {k["key_id"] for k in keys["keys"]}


def test_key_from_environment_as_base64_raw(client, app, monkeypatch, actors):
    key = Ed25519PrivateKey.generate()
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", signing.encode_private_key(key))
    code = verified_label(client, actors)
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    assert label["public_key"] == raw_public(key)
    assert label["key_id"] == signing.key_id_for(signing.public_key_raw(key))


def test_key_from_environment_as_pem_and_rotation_by_changing_it(client, app, monkeypatch,
                                                                 runner, actors):
    first = Ed25519PrivateKey.generate()
    pem = first.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", pem)
    old_code = verified_label(client, actors)

    result = runner.invoke(args=["provenance", "rotate-key"])
    assert result.exit_code != 0 and "PROVENANCE_SIGNING_KEY" in result.output

    second = Ed25519PrivateKey.generate()
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", signing.encode_private_key(second))
    new_code = verified_label(client, actors, product=make_product(actors.artisan))
    assert client.get(f"/api/v1/provenance/{new_code}").get_json()["public_key"] == raw_public(
        second)
    assert client.get(f"/api/v1/provenance/{old_code}").get_json()["valid"] is True


def test_a_bad_configured_key_is_refused():
    for text in ("not a key", base64.b64encode(b"short").decode(),
                 "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"):
        try:
            signing.load_private_key(text)
        except signing.SigningKeyError:
            continue
        raise AssertionError(f"accepted {text!r}")


def test_the_instance_key_file_is_private_and_reused(app, client):
    first = client.get("/api/v1/provenance/public-key").get_json()["key_id"]
    path = signing.key_file()
    assert path.stat().st_mode & 0o077 == 0
    assert client.get("/api/v1/provenance/public-key").get_json()["key_id"] == first
