"""Labels as W3C Verifiable Credentials (VC Data Model 2.0), the issuer's did:web document, and
the Bitstring Status List that says which labels are revoked.

The issuer is ``did:web:<PUBLIC_URL host>``; each label key (current or retired) is a
``Multikey`` verification method ``<did>#<key_id>``. A label's credential is made and proved
(``eddsa-jcs-2022``, with the label key) when the label is issued and kept as issued; its status
entry points at bit ``log_index % LIST_SIZE`` of list ``log_index // LIST_SIZE``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.ids import isoformat, utcnow
from marketplace.provenance import dataintegrity, signing
from marketplace.provenance.models import LabelStatus, ProvenanceLabel, SigningKey

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
DID_CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
LIST_SIZE = 131072  # bits: the specification's minimum, for group privacy
STATUS_PURPOSE = "revocation"
SUBJECT_FIELDS = ("code", "level", "product", "artisan", "record", "attestation")


def public_url() -> str:
    return current_app.config["PUBLIC_URL"]


def issuer_did() -> str:
    """did:web of the public host (a port's colon percent-encoded, as did:web requires)."""
    return "did:web:" + quote(urlsplit(public_url()).netloc, safe="")


def verification_method(key_id: str) -> str:
    return f"{issuer_did()}#{key_id}"


def credential_url(code: str) -> str:
    return f"{public_url()}/api/v1/provenance/{code}/credential"


def status_list_url(list_id: int) -> str:
    return f"{public_url()}/api/v1/provenance/status/{list_id}"


def product_url(product_id: str) -> str:
    return f"{public_url()}/products/{product_id}"


def status_position(log_index: int) -> tuple[int, int]:
    return divmod(log_index, LIST_SIZE)


def label_credential(label: ProvenanceLabel, private_key: Ed25519PrivateKey,
                     key_id: str | None = None) -> dict:
    """The label's credential, proved with ``private_key``: the key that signed the label
    (``key_id`` names another only for a label older than credentials)."""
    payload = label.payload if isinstance(label.payload, dict) else {}
    list_id, bit = status_position(label.log_index)
    subject = {"id": product_url(label.product_id)}
    subject.update({field: payload[field] for field in SUBJECT_FIELDS
                    if payload.get(field) is not None})
    subject["labelSha256"] = hashlib.sha256(bytes(label.canonical)).hexdigest()
    document = {
        "@context": [VC_CONTEXT],
        "id": credential_url(label.code),
        "type": ["VerifiableCredential", "ProvenanceLabelCredential"],
        "name": "Sheber provenance label",
        "issuer": issuer_did(),
        "validFrom": isoformat(label.issued_at),
        "credentialSubject": subject,
        "credentialStatus": {
            "id": f"{status_list_url(list_id)}#{bit}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": STATUS_PURPOSE,
            "statusListIndex": str(bit),
            "statusListCredential": status_list_url(list_id),
        },
    }
    options = dataintegrity.proof_options(verification_method(key_id or label.key_id),
                                          isoformat(label.issued_at))
    return dataintegrity.add_proof(document, private_key, options)


def did_document() -> dict:
    """Every label key, current and retired, as a Multikey verification method."""
    current = signing.current_private_key().public_key().public_bytes_raw()
    keys = [(row.key_id, base64.b64decode(row.public_key)) for row in db.session.execute(
        select(SigningKey).order_by(SigningKey.created_at, SigningKey.key_id)).scalars()]
    current_id = signing.key_id_for(current)
    if current_id not in {key_id for key_id, _ in keys}:
        keys.append((current_id, current))
    did = issuer_did()
    methods = [{"id": verification_method(key_id), "type": "Multikey", "controller": did,
                "publicKeyMultibase": dataintegrity.multikey(raw)} for key_id, raw in keys]
    ids = [method["id"] for method in methods]
    return {"@context": DID_CONTEXTS, "id": did, "verificationMethod": methods,
            "assertionMethod": ids}


def encode_bits(bits: bytearray) -> str:
    """Multibase base64url (no padding) of the GZIP of the bitstring; bit 0 is the first byte's
    most significant bit. GZIP's time field is zero so equal lists encode alike."""
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode().rstrip("=")


def decode_bits(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("the encoded list is not multibase base64url")
    text = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def bit_is_set(bits: bytes, index: int) -> bool:
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def status_list_credential(list_id: int) -> dict:
    """The signed list: bit ``i`` set = the label with log index ``list_id * LIST_SIZE + i`` is
    revoked (a superseded label is revoked too)."""
    low = list_id * LIST_SIZE
    bits = bytearray(LIST_SIZE // 8)
    for log_index in db.session.execute(
            select(ProvenanceLabel.log_index)
            .where(ProvenanceLabel.log_index.between(*_index_range(list_id)),
                   ProvenanceLabel.status != LabelStatus.VALID)).scalars():
        offset = log_index - low
        bits[offset // 8] |= 0x80 >> (offset % 8)
    now = isoformat(utcnow().replace(microsecond=0))
    url = status_list_url(list_id)
    document = {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_did(),
        "validFrom": now,
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                              "statusPurpose": STATUS_PURPOSE, "encodedList": encode_bits(bits)},
    }
    private_key = signing.current_private_key()
    key_id = signing.key_id_for(private_key.public_key().public_bytes_raw())
    return dataintegrity.add_proof(
        document, private_key, dataintegrity.proof_options(verification_method(key_id), now))


def _index_range(list_id: int) -> tuple[int, int]:
    """The first and last log index of a list."""
    low = list_id * LIST_SIZE
    return low, low + LIST_SIZE - 1


def status_list_exists(list_id: int) -> bool:
    return list_id >= 0 and db.session.execute(
        select(ProvenanceLabel.id).where(ProvenanceLabel.log_index.between(*_index_range(list_id)))
        .limit(1)).first() is not None
