"""Canonical JSON and the Ed25519 keys that sign provenance labels.

Canonical form: sorted keys, no insignificant white space, UTF-8 with non-ASCII unescaped.
Floats are refused and integers kept within 2**53, so for what we sign this equals RFC 8785
and any JCS implementation reproduces the same bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

KEY_FILENAME = "provenance_signing_key"
TRANSPARENCY_KEY_FILENAME = "transparency_signing_key"
_MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(ValueError):
    """The value has something canonical JSON cannot carry (floats, odd keys, huge integers)."""


class SigningKeyError(RuntimeError):
    """PROVENANCE_SIGNING_KEY (or the key file) is not an Ed25519 private key."""


def _check(value, path: str = "$") -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise CanonicalError(f"{path}: integer out of the interoperable range")
        return
    if isinstance(value, float):
        raise CanonicalError(f"{path}: floats are not allowed")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise CanonicalError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value) -> bytes:
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def public_key_raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)


def key_id_for(public_raw: bytes) -> str:
    """Derived from the key itself, so anyone can check that an id names a given key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) Ed25519 key, or the base64 of the raw 32-byte private key."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            standard = text.replace("-", "+").replace("_", "/")  # url-safe base64 too
            raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
            key = Ed25519PrivateKey.from_private_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"not a usable Ed25519 private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError("the provenance signing key must be an Ed25519 key")
    return key


def encode_private_key(key: Ed25519PrivateKey) -> str:
    return b64(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption()))


def key_file(file_setting: str = "PROVENANCE_KEY_FILE", filename: str = KEY_FILENAME) -> Path:
    configured = current_app.config.get(file_setting)
    return Path(configured) if configured else Path(current_app.instance_path) / filename


def _write_new_key_file(path: Path, key: Ed25519PrivateKey, *, replace: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (encode_private_key(key) + "\n").encode()
    if not replace:
        # O_EXCL: two processes starting together must not each write their own key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def key_from_environment() -> bool:
    return bool(current_app.config.get("PROVENANCE_SIGNING_KEY"))


def _configured_key(setting: str, file_setting: str, filename: str) -> Ed25519PrivateKey:
    configured = current_app.config.get(setting)
    if configured:
        return load_private_key(configured)
    if current_app.config.get("SHEBER_ENV") == "production":
        raise SigningKeyError(f"production needs {setting}")
    path = key_file(file_setting, filename)
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process wrote it first
            _write_new_key_file(path, Ed25519PrivateKey.generate(), replace=False)
    return load_private_key(path.read_text())


def current_private_key() -> Ed25519PrivateKey:
    """The key that signs new labels: PROVENANCE_SIGNING_KEY, else the instance key file.

    Read on every use (no cache) so that a rotation by the CLI takes effect in running servers.
    """
    return _configured_key("PROVENANCE_SIGNING_KEY", "PROVENANCE_KEY_FILE", KEY_FILENAME)


def transparency_private_key() -> Ed25519PrivateKey:
    """The key that signs the log's checkpoints: TRANSPARENCY_SIGNING_KEY, else its own instance
    key file (a key of its own: the log vouches for the labels, not with their key)."""
    return _configured_key("TRANSPARENCY_SIGNING_KEY", "TRANSPARENCY_KEY_FILE",
                           TRANSPARENCY_KEY_FILENAME)


def write_rotated_key_file(key: Ed25519PrivateKey) -> None:
    _write_new_key_file(key_file(), key, replace=True)


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    return b64(private_key.sign(message))


def signature_holds(public_key_b64: str, signature_b64: str, message: bytes) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64,
                                                                     validate=True))
        public.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
