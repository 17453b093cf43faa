"""W3C Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite (VC DI EdDSA 1.0, 3.3).

Create: the proof options get the document's ``@context``; hash data is
SHA-256(JCS(proof options)) || SHA-256(JCS(document without proof)); the proof value is the
Ed25519 signature over it, multibase base58btc (``z...``). Keys are published as ``Multikey``:
``z`` + base58btc(0xed 0x01 || raw public key). Pure functions: issuer and verifier share them.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from marketplace.provenance.signing import CanonicalError, canonical_json

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
ED25519_PUB_PREFIX = b"\xed\x01"  # multicodec ed25519-pub, varint
ED25519_PRIV_PREFIX = b"\x80\x26"  # multicodec ed25519-priv, varint
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class ProofError(ValueError):
    """A proof or key that is malformed (a proof that merely fails verifies as False)."""


def base58btc_encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _B58[digit] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + out


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise ProofError("not base58btc")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def multibase_decode(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("only multibase base58btc ('z') is used")
    return base58btc_decode(value[1:])


def multikey(public_raw: bytes) -> str:
    return "z" + base58btc_encode(ED25519_PUB_PREFIX + public_raw)


def public_key_from_multikey(value: str) -> bytes:
    raw = multibase_decode(value)
    if raw[:2] != ED25519_PUB_PREFIX or len(raw) != 34:
        raise ProofError("not an Ed25519 Multikey")
    return raw[2:]


def private_key_from_multikey(value: str) -> Ed25519PrivateKey:
    raw = multibase_decode(value)
    if raw[:2] != ED25519_PRIV_PREFIX or len(raw) != 34:
        raise ProofError("not an Ed25519 private Multikey")
    return Ed25519PrivateKey.from_private_bytes(raw[2:])


def _unsecured(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "proof"}


def hash_data(document: dict, proof_options: dict) -> bytes:
    """proofConfigHash || transformedDocumentHash (spec 3.3.4-3.3.6)."""
    options = {key: value for key, value in proof_options.items() if key != "proofValue"}
    if "@context" in document:
        options["@context"] = document["@context"]
    return (hashlib.sha256(canonical_json(options)).digest()
            + hashlib.sha256(canonical_json(_unsecured(document))).digest())


def proof_options(verification_method: str, created: str,
                  proof_purpose: str = "assertionMethod") -> dict:
    return {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE, "created": created,
            "verificationMethod": verification_method, "proofPurpose": proof_purpose}


def add_proof(document: dict, private_key: Ed25519PrivateKey, options: dict) -> dict:
    """The document with its proof (the proof carries the document's @context)."""
    proof = dict(options)
    if "@context" in document:
        proof["@context"] = document["@context"]
    signature = private_key.sign(hash_data(_unsecured(document), proof))
    proof["proofValue"] = "z" + base58btc_encode(signature)
    return {**_unsecured(document), "proof": proof}


def proof_holds(document: dict, public_raw: bytes) -> bool:
    """The single proof of ``document`` verifies with the Ed25519 key ``public_raw``."""
    proof = document.get("proof") if isinstance(document, dict) else None
    if not isinstance(proof, dict):
        return False
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        return False
    if "@context" in proof and proof["@context"] != document.get("@context"):
        return False  # spec 3.3.2 step 6: the proof's context must match the document's
    try:
        signature = multibase_decode(proof.get("proofValue"))
        data = hash_data(_unsecured(document), proof)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
    except (ProofError, CanonicalError, InvalidSignature, ValueError, TypeError):
        return False
    return True
