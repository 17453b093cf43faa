"""C2SP signed notes and tlog checkpoints (Ed25519), as Go's sumdb note package writes them.

A checkpoint body is three lines: origin, tree size, base64 root hash. The note appends a blank
line and one signature line per key: an em dash, the key name, and base64 of the 4-byte key hash
followed by the 64-byte signature over the body. The verifier key is
``<name>+<hex key hash>+<base64 of 0x01 || public key>``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "


class NoteError(ValueError):
    """Not a well-formed note, checkpoint or verifier key, or no valid signature."""


def key_hash(name: str, public_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public_raw).digest()[:4]


def verifier_key(name: str, public_raw: bytes) -> str:
    encoded = base64.b64encode(ALG_ED25519 + public_raw).decode()
    return f"{name}+{key_hash(name, public_raw).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, bytes]:
    """(name, key hash, raw public key) of a verifier key."""
    try:
        name, hash_hex, encoded = vkey.strip().split("+", 2)  # base64 may hold "+"
        raw = base64.b64decode(encoded, validate=True)
        key_id = bytes.fromhex(hash_hex)
    except ValueError:
        raise NoteError("not a verifier key") from None
    if not name or len(key_id) != 4 or len(raw) != 33 or raw[:1] != ALG_ED25519:
        raise NoteError("not an Ed25519 verifier key")
    if key_hash(name, raw[1:]) != key_id:
        raise NoteError("the verifier key's hash does not match its key")
    return name, key_id, raw[1:]


def checkpoint_body(origin: str, size: int, root_hash: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode()}\n"


def sign_note(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    if not body.endswith("\n") or "\n\n" in body:
        raise NoteError("a note body ends with one newline and has no blank line")
    public_raw = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(body.encode())
    encoded = base64.b64encode(key_hash(name, public_raw) + signature).decode()
    return f"{body}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    body: str


def open_checkpoint(note: str, vkey: str) -> Checkpoint:
    """Verify the note's signature by ``vkey`` and parse its checkpoint body."""
    name, key_id, public_raw = parse_verifier_key(vkey)
    body, separator, signatures = note.partition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise NoteError("not a signed note")
    body += "\n"
    verified = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed signature line")
        signer, _, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError("malformed signature") from None
        if signer != name or raw[:4] != key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_raw).verify(raw[4:], body.encode())
        except InvalidSignature:
            raise NoteError("the checkpoint's signature does not verify") from None
        verified = True
    if not verified:
        raise NoteError("the checkpoint carries no signature by this key")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a size and a root hash")
    try:
        size = int(lines[1])
        root_hash = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise NoteError("malformed checkpoint") from None
    if size < 0 or len(root_hash) != 32 or lines[1] != str(size):
        raise NoteError("malformed checkpoint")
    return Checkpoint(origin=lines[0], size=size, root_hash=root_hash, body=body)
