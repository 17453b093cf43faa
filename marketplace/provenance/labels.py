"""Signed labels and their keys: issue, revoke, verify, and what other domains read of them.

A label is immutable once issued: ``payload`` is the signed object, ``canonical`` the exact
signed bytes. Revocation flips its status; a new approval issues a new label with a new code.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.accounts.models import User
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.models import ArtisanProfile, Product
from marketplace.errors import InvalidTransition, NotFound, ValidationFailed
from marketplace.extensions import db, in_list
from marketplace.ids import isoformat, utcnow
from marketplace.provenance import credentials, signing, transparency
from marketplace.provenance.errors import ProvenanceError
from marketplace.provenance.models import (
    LabelStatus,
    Level,
    ProvenanceDecision,
    ProvenanceLabel,
    ProvenanceRecord,
    RecordStatus,
    SigningKey,
)
from marketplace.transaction import use_case

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 10  # 50 random bits
# Product fields whose change makes a signed label untrue: the one list of them (the catalogue
# says what changed; this decides what that means for the label).
PROVENANCE_FIELDS = frozenset({"craft", "materials", "techniques", "artisan_id", "maker",
                               "makers", "contributors", "provenance", "record"})
EMPTY_SUMMARY = {"level": Level.DECLARED.value, "label_code": None, "status": "none", "url": None}


def label_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/provenance/{code}"


def whole_seconds_now() -> datetime:
    return utcnow().replace(microsecond=0)  # signed and hashed times carry whole seconds


# Keys --------------------------------------------------------------------------------------------

def _upsert_signing_key(key_id: str, public_key: str) -> None:
    """Register a public key (once) as the active one and retire every other."""
    dialect = db.session.get_bind().dialect.name
    values = {"key_id": key_id, "public_key": public_key, "created_at": utcnow()}
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.session.execute(insert(SigningKey).values(**values)
                           .on_conflict_do_nothing(index_elements=["key_id"]))
    elif db.session.get(SigningKey, key_id) is None:
        db.session.add(SigningKey(**values))
        db.session.flush()
    now = utcnow()
    db.session.execute(update(SigningKey).where(SigningKey.key_id != key_id,
                                                SigningKey.retired_at.is_(None))
                       .values(retired_at=now))
    db.session.execute(update(SigningKey).where(SigningKey.key_id == key_id,
                                                SigningKey.retired_at.is_not(None))
                       .values(retired_at=None))


def _active_key():
    private_key = signing.current_private_key()
    public_raw = signing.public_key_raw(private_key)
    return private_key, signing.key_id_for(public_raw), signing.b64(public_raw)


def public_keys() -> dict:
    """The key that signs new labels and every key that signed one (retired ones too)."""
    _, key_id, public_key = _active_key()
    keys = []
    for row in db.session.execute(select(SigningKey).order_by(SigningKey.created_at,
                                                              SigningKey.key_id)).scalars():
        item = {"key_id": row.key_id, "public_key": row.public_key,
                "created_at": isoformat(row.created_at)}
        if row.retired_at is not None and row.key_id != key_id:
            item["retired_at"] = isoformat(row.retired_at)
        keys.append(item)
    if key_id not in {item["key_id"] for item in keys}:
        keys.append({"key_id": key_id, "public_key": public_key, "created_at": None})
    return {"key_id": key_id, "public_key": public_key, "algorithm": "Ed25519", "keys": keys}


@use_case
def rotate_signing_key() -> tuple[str, str]:
    """Replace the instance key file with a new key; the old public key stays for verification.

    With PROVENANCE_SIGNING_KEY set, rotation is a deployment change of that variable: the new
    key registers itself (and retires the old one) when it signs its first label.
    """
    if signing.key_from_environment():
        raise signing.SigningKeyError(
            "The signing key comes from PROVENANCE_SIGNING_KEY: set a new key there and restart; "
            "old public keys stay registered.")
    _, old_id, old_public = _active_key()
    _upsert_signing_key(old_id, old_public)
    new_key = signing.Ed25519PrivateKey.generate()
    new_public = signing.public_key_raw(new_key)
    new_id = signing.key_id_for(new_public)
    _upsert_signing_key(new_id, signing.b64(new_public))
    db.session.flush()
    signing.write_rotated_key_file(new_key)
    return old_id, new_id


# Issue and revoke --------------------------------------------------------------------------------

def _new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.execute(select(ProvenanceLabel.id)
                              .where(ProvenanceLabel.code == code)).first() is None:
            return code


def issue_label(product: Product, record: ProvenanceRecord, level: str,
                attestation: dict | None, operator_id: str | None) -> ProvenanceLabel:
    """Sign the record as it stands into a new label, in the caller's transaction."""
    private_key, key_id, public_key = _active_key()
    _upsert_signing_key(key_id, public_key)
    artisan = db.session.get(User, product.artisan_id)
    profile = db.session.get(ArtisanProfile, product.artisan_id)
    code, issued_at = _new_code(), whole_seconds_now()
    payload = {
        "code": code,
        "key_id": key_id,
        "level": str(level),
        "issued_at": isoformat(issued_at),
        "issuer": "Sheber",
        "record": record.data,
        "product": {"id": product.id, "title": product.title, "craft": product.craft},
        "artisan": {"id": artisan.id, "name": artisan.name,
                    "workshop": profile.workshop_name if profile else None},
        "attestation": attestation,
    }
    try:
        canonical = signing.canonical_json(payload)
    except signing.CanonicalError as exc:
        raise ValidationFailed("The record cannot be signed.", errors={"record": [str(exc)]},
                               code=ProvenanceError.UNSIGNABLE) from None
    label = ProvenanceLabel(
        code=code, product_id=product.id, level=str(level), payload=payload, canonical=canonical,
        signature=signing.sign(private_key, canonical), key_id=key_id,
        status=LabelStatus.VALID, issued_at=issued_at, issued_by=operator_id)
    db.session.add(label)
    db.session.flush()
    _attest(label, private_key)
    return label


def issuance_entry(label: ProvenanceLabel) -> dict:
    return transparency.label_entry(
        "label_issued", label, key_id=label.key_id, level=label.level,
        product_id=label.product_id, issued_at=isoformat(label.issued_at),
        label_sha256=hashlib.sha256(signed_bytes(label)).hexdigest(), signature=label.signature)


def _attest(label: ProvenanceLabel, private_key) -> None:
    """Log the issuance and make the label's credential (its status bit is its log index)."""
    label.log_index = transparency.append(issuance_entry(label))
    label.credential = credentials.label_credential(label, private_key)
    db.session.flush()


def revoke_active_label(product_id: str, reason: str, *,
                        superseded_by: ProvenanceLabel | None = None) -> bool:
    """Revoke the product's valid label (if any) and drop it to L0, in the caller's transaction.

    ``superseded_by``: the new label that replaces it (a new verification); the log records a
    supersession then, else a revocation.
    """
    now = utcnow()
    query = (select(ProvenanceLabel).where(ProvenanceLabel.product_id == product_id,
                                           ProvenanceLabel.status == LabelStatus.VALID)
             .order_by(ProvenanceLabel.issued_at, ProvenanceLabel.id).with_for_update())
    if superseded_by is not None:
        query = query.where(ProvenanceLabel.id != superseded_by.id)
    revoked = list(db.session.execute(query).scalars())
    for label in revoked:
        label.status, label.revoked_at, label.revoked_reason = LabelStatus.REVOKED, now, reason
        if superseded_by is not None:
            label.superseded_by = superseded_by.code
            transparency.append(transparency.label_entry(
                "label_superseded", label, superseded_by=superseded_by.code,
                revoked_at=isoformat(now.replace(microsecond=0))))
        else:
            transparency.append(transparency.label_entry(
                "label_revoked", label, revoked_at=isoformat(now.replace(microsecond=0)),
                reason=reason))
    db.session.flush()
    if superseded_by is not None:
        return bool(revoked)
    db.session.execute(
        update(ProvenanceRecord)
        .where(ProvenanceRecord.product_id == product_id,
               ProvenanceRecord.status == RecordStatus.VALID)
        .values(status=RecordStatus.REVOKED, level=Level.DECLARED, status_changed_at=now)
        .execution_options(synchronize_session="fetch"))
    db.session.execute(
        update(Product).where(Product.id == product_id, Product.provenance_level != "L0")
        .values(provenance_level=Level.DECLARED)
        .execution_options(synchronize_session="fetch"))
    return bool(revoked)


def revoke_for_product_change(product_id: str, changed_fields: set[str] | list[str]) -> bool:
    """A provenance-relevant product change revokes the label, in the caller's transaction."""
    relevant = set(changed_fields) & PROVENANCE_FIELDS
    if not relevant:
        return False
    return revoke_active_label(
        product_id, f"The product changed ({', '.join(sorted(relevant))}) after verification.")


def on_product_changed(payload: dict) -> None:
    """Reaction to ``catalog.product_changed``: the edit commits with the label's revocation."""
    revoke_for_product_change(payload["product_id"], payload["changed"])


@use_case
def revoke_label(product_id: str, *, reason: str, operator_id: str | None = None) -> bool:
    """An operator withdraws a product's label (e.g. after a buyer's flag)."""
    if db.session.get(Product, product_id) is None:
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    revoked = revoke_active_label(product_id, reason)
    if not revoked:
        raise InvalidTransition("The product has no valid label.",
                                code=ProvenanceError.NO_VALID_LABEL)
    db.session.add(ProvenanceDecision(product_id=product_id, decision="revoke", note=reason,
                                      operator_id=operator_id, decided_at=utcnow()))
    return revoked


# Verify ------------------------------------------------------------------------------------------

def signed_bytes(label: ProvenanceLabel) -> bytes:
    value = label.canonical
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value or "").encode("utf-8")  # a hand-edited row may hold text


def label_holds(label: ProvenanceLabel, key: SigningKey | None) -> bool:
    """The signature verifies over the stored bytes, and the stored record is those bytes."""
    payload = label.payload
    if key is None or not isinstance(payload, dict):
        return False
    if (payload.get("code"), payload.get("key_id"), payload.get("level")) != (
            label.code, label.key_id, label.level):
        return False
    try:
        recomputed = signing.canonical_json(payload)
    except signing.CanonicalError:
        return False
    stored = signed_bytes(label)
    return recomputed == stored and signing.signature_holds(key.public_key, label.signature,
                                                            stored)


def label_by_code(code: str) -> ProvenanceLabel:
    label = db.session.execute(
        select(ProvenanceLabel).where(ProvenanceLabel.code == code.strip().upper())
    ).scalar_one_or_none()
    if label is None:
        raise NotFound("No label with this code.", code=ProvenanceError.LABEL_NOT_FOUND)
    return label


def public_label(code: str) -> dict:
    """The public face of a label: the signed object, its signature and whether it holds.

    ``signature_valid`` is the cryptographic check alone; ``valid`` is what a reader should act
    on: the signature holds and the label is neither revoked nor superseded.
    """
    label = label_by_code(code)
    key = db.session.get(SigningKey, label.key_id)
    signature_valid = label_holds(label, key)
    superseded_by = label.superseded_by
    if superseded_by is None and label.status == LabelStatus.REVOKED:
        newer = label_code_for_product(label.product_id)
        superseded_by = newer if newer and newer != label.code else None
    view = {
        "code": label.code,
        "record": label.payload,
        "canonical": signed_bytes(label).decode("utf-8", errors="replace"),
        "signature": label.signature,
        "key_id": label.key_id,
        "public_key": key.public_key if key else None,
        "algorithm": "Ed25519",
        "valid": signature_valid and label.status == LabelStatus.VALID and not superseded_by,
        "signature_valid": signature_valid,
        "status": label.status,
        "level": label.level,
        "product_id": label.product_id,
        "issued_at": isoformat(label.issued_at),
        "url": label_url(label.code),
        "qr_url": label_url(label.code) + ".svg",
        "credential_url": credentials.credential_url(label.code),
        "log_index": label.log_index,
    }
    if label.status == LabelStatus.REVOKED:
        view["revoked_at"] = isoformat(label.revoked_at)
        view["revoked_reason"] = label.revoked_reason
        if superseded_by:
            view["superseded_by"] = superseded_by
    return view


@use_case
def label_credential(code: str) -> dict:
    """The label's Verifiable Credential as issued. A label issued before credentials existed
    gets its log entry and credential now, proved with its own key while that key is current
    (else with the current key, which the DID document lists beside it)."""
    label = label_by_code(code)
    if label.credential is None or label.log_index is None:
        private_key, key_id, _ = _active_key()
        if label.log_index is None:
            label.log_index = transparency.append(issuance_entry(label))
        label.credential = credentials.label_credential(label, private_key, key_id)
    return label.credential


# What other domains read ---------------------------------------------------------------------



def with_summaries(query):
    """``query``, a select of products by the ids ``ids``, with each one's provenance
    (``summary_of`` reads it): its level and its record's status and label code. The id list on
    both sides, so that the records are read by key, never scanned. Lists read it in the same
    statement as what the other domains know (``marketplace.listings``)."""
    return (query.add_columns(Product.provenance_level.label("provenance_level"),
                              ProvenanceRecord.status.label("provenance_status"),
                              ProvenanceLabel.code.label("provenance_label"))
            .outerjoin(ProvenanceRecord, and_(ProvenanceRecord.product_id == Product.id,
                                              in_list(ProvenanceRecord.product_id)))
            .outerjoin(ProvenanceLabel, ProvenanceLabel.id == ProvenanceRecord.current_label_id))


def summary_of(row) -> dict:
    """``{level, label_code, status, url}`` of a row of ``with_summaries``."""
    status = row.provenance_status
    shown = row.provenance_label if status in (RecordStatus.VALID, RecordStatus.REVOKED) else None
    return {"level": row.provenance_level, "label_code": shown, "status": status or "none",
            "url": label_url(shown) if shown else None}


_SUMMARIES = with_summaries(select(Product.id).where(in_list(Product.id)))  # built once


def summaries_for_products(product_ids: list[str]) -> dict[str, dict]:
    """``{product_id: {level, label_code, status, url}}`` in one query (catalogue responses)."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    summaries = {product_id: dict(EMPTY_SUMMARY) for product_id in ids}
    for row in db.session.execute(_SUMMARIES, {"ids": ids}):
        summaries[row.id] = summary_of(row)
    return summaries


def label_code_for_product(product_id: str) -> str | None:
    """The product's valid label code (customs papers list it), or None."""
    return label_codes_for_products([product_id])[product_id]


_VALID_CODES = (select(ProvenanceLabel.product_id, ProvenanceLabel.code)
                .where(in_list(ProvenanceLabel.product_id),
                       ProvenanceLabel.status == LabelStatus.VALID)
                .order_by(ProvenanceLabel.issued_at))  # built once: read on every paid order


def label_codes_for_products(product_ids: Iterable[str]) -> dict[str, str | None]:
    """Each product's valid label code (the newest issued), or None; one query for all."""
    codes: dict[str, str | None] = dict.fromkeys(product_ids)
    if codes:
        for product_id, code in db.session.execute(_VALID_CODES, {"ids": list(codes)}):
            codes[product_id] = code  # issued later: this one holds
    return codes
