"""Provenance: records, operator verification, signed labels, revocation, piece histories, flags.

A label is immutable once issued: ``payload`` is the signed object, ``canonical`` the exact
signed bytes. Revocation flips its status; a new approval issues a new label with a new code.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time

from flask import current_app
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, update

from marketplace.accounts.models import User
from marketplace.catalog.models import ArtisanProfile, Product
from marketplace.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.http import decode_cursor, encode_cursor, validation_errors
from marketplace.ids import isoformat, utcnow
from marketplace.provenance import signing
from marketplace.provenance.models import (
    FlagStatus,
    LabelStatus,
    Level,
    PieceEvent,
    ProvenanceDecision,
    ProvenanceFlag,
    ProvenanceLabel,
    ProvenancePiece,
    ProvenanceRecord,
    RecordStatus,
    SigningKey,
)
from marketplace.provenance.schemas import Attestation, Evidence, RecordIn

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 10  # 50 random bits
GENESIS_HASH = "0" * 64
# Product fields whose change makes a signed label untrue.
PROVENANCE_FIELDS = frozenset({"craft", "materials", "techniques", "artisan_id", "maker",
                               "makers", "contributors", "provenance", "record"})
CHAIN_EVENTS = ("made", "verified", "sold")
APPENDABLE_EVENTS = ("packed", "shipped", "delivered", "returned")
SUBMITTABLE = (RecordStatus.DRAFT, RecordStatus.REJECTED, RecordStatus.REVOKED)
EMPTY_SUMMARY = {"level": Level.DECLARED.value, "label_code": None, "status": "none", "url": None}


def _validate(model: type[BaseModel], data) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The request has invalid fields.",
                               errors=validation_errors(exc)) from None


def label_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/provenance/{code}"


def _now() -> datetime:
    return utcnow().replace(microsecond=0)  # signed and hashed times carry whole seconds


# Records ---------------------------------------------------------------------------------------

def _owned_product(product_id: str, user_id: str) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or product.artisan_id != user_id:
        raise NotFound("No such product.")
    return product


def _locked_record(product_id: str) -> ProvenanceRecord | None:
    return db.session.execute(
        select(ProvenanceRecord).where(ProvenanceRecord.product_id == product_id)
        .with_for_update()
    ).scalar_one_or_none()


def missing_fields(data: dict, product_craft: str | None = None) -> dict[str, list[str]]:
    """What a record still lacks before an operator can verify it (field -> messages)."""
    errors: dict[str, list[str]] = {}

    def need(field: str, message: str = "is required") -> None:
        errors.setdefault(field, []).append(message)

    makers = data.get("makers") or []
    if not makers:
        need("makers", "at least one maker is required")
    for index, maker in enumerate(makers):
        place = maker.get("place") or {}
        if maker.get("kind") == "production_partner" and not (place.get("city")
                                                              and place.get("country")):
            need(f"makers.{index}.place", "a production partner needs a place (city, country)")
    place = data.get("place") or {}
    if not place.get("city"):
        need("place.city")
    if not place.get("country"):
        need("place.country")
    craft = data.get("craft")
    if not craft:
        need("craft")
    elif product_craft and craft != product_craft:
        need("craft", f"does not match the product's craft ({product_craft})")
    if not data.get("techniques"):
        need("techniques", "at least one technique is required")
    materials = data.get("materials") or []
    if not materials:
        need("materials", "at least one material is required")
    for index, material in enumerate(materials):
        if not (material.get("origin") or {}).get("country"):
            need(f"materials.{index}.origin.country")
        if material.get("precious_metal") and not (material.get("fineness")
                                                   or material.get("hallmark")):
            need(f"materials.{index}.fineness", "precious metal needs its fineness or hallmark")
    making = data.get("when") or {}
    if not making.get("availability"):
        need("when.availability")
    started, finished = making.get("started_on"), making.get("finished_on")
    if started and finished and finished < started:
        need("when.finished_on", "is before started_on")
    if data.get("hand_work_share") is None:
        need("hand_work_share")
    design = data.get("design") or {}
    origin = design.get("origin")
    if not origin:
        need("design.origin")
    elif origin == "traditional" and not design.get("motif"):
        need("design.motif", "a traditional design names its motif")
    elif origin == "named" and not design.get("designer"):
        need("design.designer", "a named design names its designer")
    today = date.today().isoformat()
    for index, certification in enumerate(data.get("certifications") or []):
        if certification.get("valid_until") and certification["valid_until"] < today:
            need(f"certifications.{index}.valid_until", "has expired")
    return errors


def get_record(product_id: str, *, user: User) -> ProvenanceRecord | None:
    """The record of a product, for its artisan or an operator (404 for anyone else)."""
    product = db.session.get(Product, product_id)
    if product is None or (user.role != "operator" and product.artisan_id != user.id):
        raise NotFound("No such product.")
    return db.session.get(ProvenanceRecord, product_id)


def put_record(product_id: str, data: dict, *, artisan_id: str,
               commit: bool = True) -> ProvenanceRecord:
    """Save (replace) the artisan's record. Editing a verified record revokes its label."""
    product = _owned_product(product_id, artisan_id)
    normalised = _validate(RecordIn, data).model_dump(mode="json", exclude_none=True)
    record = _locked_record(product.id)
    now = utcnow()
    if record is None:
        record = ProvenanceRecord(product_id=product.id, data=normalised,
                                  status=RecordStatus.DRAFT, level=Level.DECLARED,
                                  status_changed_at=now)
        db.session.add(record)
    elif record.data != normalised:
        record.data = normalised
        if record.status == RecordStatus.VALID:
            _revoke_active_label(product.id, "The provenance record was edited.")
        elif record.status == RecordStatus.PENDING:
            # an edited record must be submitted again: the operator reviews what is signed
            record.status = RecordStatus.DRAFT
            record.status_changed_at = now
    if commit:
        db.session.commit()
    return record


def submit_record(product_id: str, *, artisan_id: str) -> ProvenanceRecord:
    """Send the record to the operators' queue (422 naming what is missing)."""
    product = _owned_product(product_id, artisan_id)
    record = _locked_record(product.id)
    if record is not None and record.status == RecordStatus.PENDING:
        return record
    if record is not None and record.status == RecordStatus.VALID:
        raise InvalidTransition("The record is already verified; edit it to submit changes.")
    errors = missing_fields(record.data if record else {}, product.craft)
    if errors:
        db.session.rollback()
        raise ValidationFailed("The provenance record is incomplete.", errors=errors)
    now = utcnow()
    moved = db.session.execute(
        update(ProvenanceRecord)
        .where(ProvenanceRecord.product_id == product.id,
               ProvenanceRecord.status.in_([str(s) for s in SUBMITTABLE]))
        .values(status=RecordStatus.PENDING, submitted_at=now, status_changed_at=now)
    ).rowcount
    if not moved:
        db.session.rollback()
        raise InvalidTransition("The record changed meanwhile; try again.")
    db.session.commit()
    db.session.refresh(record)
    return record


# Operator queue and decisions ----------------------------------------------------------------

def list_records(status: str = RecordStatus.PENDING, *, limit: int = 24,
                 cursor: str | None = None) -> tuple[list[dict], str | None]:
    """Records in one status, oldest first (the verification queue for ``pending``)."""
    query = (
        select(ProvenanceRecord, Product, User, ArtisanProfile, ProvenanceLabel.code)
        .join(Product, Product.id == ProvenanceRecord.product_id)
        .join(User, User.id == Product.artisan_id)
        .outerjoin(ArtisanProfile, ArtisanProfile.user_id == Product.artisan_id)
        .outerjoin(ProvenanceLabel, ProvenanceLabel.id == ProvenanceRecord.current_label_id)
        .where(ProvenanceRecord.status == status)
        .order_by(ProvenanceRecord.status_changed_at, ProvenanceRecord.product_id)
    )
    if cursor:
        after_time, after_id = _cursor_position(cursor)
        query = query.where(
            (ProvenanceRecord.status_changed_at > after_time)
            | ((ProvenanceRecord.status_changed_at == after_time)
               & (ProvenanceRecord.product_id > after_id)))
    rows = db.session.execute(query.limit(limit + 1)).all()
    items = [{
        **record_view(record, label_code=code, product_craft=product.craft),
        "product": {"id": product.id, "title": product.title, "craft": product.craft},
        "artisan": {"id": artisan.id, "name": artisan.name,
                    "workshop": profile.workshop_name if profile else None},
        "status_changed_at": isoformat(record.status_changed_at),
    } for record, product, artisan, profile, code in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor([last.status_changed_at.isoformat(), last.product_id])
    return items, next_cursor


def _cursor_position(cursor: str) -> tuple[datetime, str]:
    values = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(values[0]), str(values[1])
    except (IndexError, TypeError, ValueError):
        raise ValidationFailed("The cursor is not valid.", errors={"cursor": ["invalid"]}) from None


def _decision_errors(decision: str, level: str | None, evidence: list, note: str | None,
                     attestation: dict | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if decision == "approve":
        if not evidence:
            errors["evidence"] = ["an approval needs at least one piece of evidence"]
        if level == Level.THIRD_PARTY_ATTESTED and not attestation:
            errors["attestation"] = ["L2 needs the attestation: scheme, issuer and reference"]
        if level == Level.OPERATOR_VERIFIED and attestation:
            errors["attestation"] = ["an attestation is given with level L2 only"]
    elif not note:
        errors["note"] = ["a rejection needs a note for the artisan"]
    return errors


def decide(product_id: str, *, operator_id: str | None, decision: str, level: str | None = None,
           evidence: list[dict] | None = None, note: str | None = None,
           attestation: dict | None = None) -> ProvenanceRecord:
    """Approve (issues a signed label) or reject a pending record."""
    if decision not in ("approve", "reject"):
        raise ValidationFailed("Unknown decision.", errors={"decision": ["approve or reject"]})
    evidence = [_validate(Evidence, item).model_dump(mode="json", exclude_none=True)
                for item in (evidence or [])]
    if attestation is not None:
        attestation = _validate(Attestation, attestation).model_dump(mode="json",
                                                                     exclude_none=True)
    if decision == "approve":
        level = level or Level.OPERATOR_VERIFIED
        if level not in (Level.OPERATOR_VERIFIED, Level.THIRD_PARTY_ATTESTED):
            raise ValidationFailed("Unknown level.", errors={"level": ["L1 or L2"]})
    else:
        level = None
    errors = _decision_errors(decision, level, evidence, note, attestation)
    if errors:
        raise ValidationFailed("The decision is incomplete.", errors=errors)

    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.")
    record = _locked_record(product.id)
    if record is None or record.status != RecordStatus.PENDING:
        db.session.rollback()
        raise InvalidTransition("Only a pending record can be decided.")
    now = utcnow()
    label = None
    if decision == "approve":
        _revoke_active_label(product.id, "Superseded by a new verification.")
        label = _issue_label(product, record, level, attestation, operator_id)
        record.status, record.level, record.current_label_id = RecordStatus.VALID, level, label.id
        product.provenance_level = level
    else:
        record.status, record.level = RecordStatus.REJECTED, Level.DECLARED
        product.provenance_level = Level.DECLARED
    record.status_changed_at = now
    db.session.add(ProvenanceDecision(
        product_id=product.id, decision=decision, level=level, evidence=evidence,
        attestation=attestation, note=note, operator_id=operator_id,
        label_id=label.id if label else None, decided_at=now))
    db.session.commit()
    return record


def record_view(record: ProvenanceRecord | None, *, product_id: str | None = None,
                label_code: str | None = None, product_craft: str | None = None) -> dict:
    if record is None:
        return {"product_id": product_id, "status": "none", "level": Level.DECLARED.value,
                "record": {}, "missing": missing_fields({}, product_craft), "label_code": None,
                "label_url": None, "submitted_at": None, "updated_at": None}
    if label_code is None and record.current_label_id:
        label = db.session.get(ProvenanceLabel, record.current_label_id)
        label_code = label.code if label else None
    return {
        "product_id": record.product_id, "status": record.status, "level": record.level,
        "record": record.data, "missing": missing_fields(record.data, product_craft),
        "label_code": label_code, "label_url": label_url(label_code) if label_code else None,
        "submitted_at": isoformat(record.submitted_at), "updated_at": isoformat(record.updated_at),
    }


# Labels and keys -------------------------------------------------------------------------------

def _upsert_signing_key(key_id: str, public_key: str) -> None:
    """Register a public key (once) as the active one and retire every other."""
    dialect = db.session.get_bind().dialect.name
    values = {"key_id": key_id, "public_key": public_key, "created_at": utcnow()}
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
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


def _new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.execute(select(ProvenanceLabel.id)
                              .where(ProvenanceLabel.code == code)).first() is None:
            return code


def _issue_label(product: Product, record: ProvenanceRecord, level: str,
                 attestation: dict | None, operator_id: str | None) -> ProvenanceLabel:
    private_key, key_id, public_key = _active_key()
    _upsert_signing_key(key_id, public_key)
    artisan = db.session.get(User, product.artisan_id)
    profile = db.session.get(ArtisanProfile, product.artisan_id)
    code, issued_at = _new_code(), _now()
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
        db.session.rollback()
        raise ValidationFailed("The record cannot be signed.", errors={"record": [str(exc)]},
                               ) from None
    label = ProvenanceLabel(
        code=code, product_id=product.id, level=str(level), payload=payload, canonical=canonical,
        signature=signing.sign(private_key, canonical), key_id=key_id,
        status=LabelStatus.VALID, issued_at=issued_at, issued_by=operator_id)
    db.session.add(label)
    db.session.flush()
    return label


def _revoke_active_label(product_id: str, reason: str) -> bool:
    """Revoke the product's valid label (if any) and drop it to L0, in the caller's transaction."""
    now = utcnow()
    revoked = db.session.execute(
        update(ProvenanceLabel)
        .where(ProvenanceLabel.product_id == product_id,
               ProvenanceLabel.status == LabelStatus.VALID)
        .values(status=LabelStatus.REVOKED, revoked_at=now, revoked_reason=reason)
    ).rowcount
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


def revoke_for_product_change(product_id: str, changed_fields: set[str], *,
                              commit: bool = True) -> bool:
    """Called by the catalogue after an edit: a provenance-relevant change revokes the label."""
    relevant = set(changed_fields) & PROVENANCE_FIELDS
    if not relevant:
        return False
    revoked = _revoke_active_label(
        product_id, f"The product changed ({', '.join(sorted(relevant))}) after verification.")
    if commit:
        db.session.commit()
    return revoked


def revoke_label(product_id: str, *, reason: str, operator_id: str | None = None) -> bool:
    """An operator withdraws a product's label (e.g. after a buyer's flag)."""
    if db.session.get(Product, product_id) is None:
        raise NotFound("No such product.")
    revoked = _revoke_active_label(product_id, reason)
    if not revoked:
        db.session.rollback()
        raise InvalidTransition("The product has no valid label.")
    db.session.add(ProvenanceDecision(product_id=product_id, decision="revoke", note=reason,
                                      operator_id=operator_id, decided_at=utcnow()))
    db.session.commit()
    return revoked


def _signed_bytes(label: ProvenanceLabel) -> bytes:
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
    stored = _signed_bytes(label)
    return recomputed == stored and signing.signature_holds(key.public_key, label.signature,
                                                            stored)


def _label_by_code(code: str) -> ProvenanceLabel:
    label = db.session.execute(
        select(ProvenanceLabel).where(ProvenanceLabel.code == code.strip().upper())
    ).scalar_one_or_none()
    if label is None:
        raise NotFound("No label with this code.")
    return label


def public_label(code: str) -> dict:
    """The public face of a label: the signed object, its signature and whether it holds."""
    label = _label_by_code(code)
    key = db.session.get(SigningKey, label.key_id)
    view = {
        "code": label.code,
        "record": label.payload,
        "canonical": _signed_bytes(label).decode("utf-8", errors="replace"),
        "signature": label.signature,
        "key_id": label.key_id,
        "public_key": key.public_key if key else None,
        "algorithm": "Ed25519",
        "valid": label_holds(label, key),
        "status": label.status,
        "level": label.level,
        "product_id": label.product_id,
        "issued_at": isoformat(label.issued_at),
        "url": label_url(label.code),
        "qr_url": label_url(label.code) + ".svg",
    }
    if label.status == LabelStatus.REVOKED:
        view["revoked_at"] = isoformat(label.revoked_at)
        view["revoked_reason"] = label.revoked_reason
        newer = label_code_for_product(label.product_id)
        if newer and newer != label.code:
            view["superseded_by"] = newer
    return view


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
    db.session.commit()
    return old_id, new_id


# What other domains read ---------------------------------------------------------------------

def summaries_for_products(product_ids: list[str]) -> dict[str, dict]:
    """``{product_id: {level, label_code, status, url}}`` in one query (catalogue responses)."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Product.id, Product.provenance_level, ProvenanceRecord.status, ProvenanceLabel.code)
        .select_from(Product)
        .outerjoin(ProvenanceRecord, ProvenanceRecord.product_id == Product.id)
        .outerjoin(ProvenanceLabel, ProvenanceLabel.id == ProvenanceRecord.current_label_id)
        .where(Product.id.in_(ids))
    ).all()
    summaries = {product_id: dict(EMPTY_SUMMARY) for product_id in ids}
    for product_id, level, status, code in rows:
        shown = code if status in (RecordStatus.VALID, RecordStatus.REVOKED) else None
        summaries[product_id] = {
            "level": level, "label_code": shown, "status": status or "none",
            "url": label_url(shown) if shown else None,
        }
    return summaries


def label_code_for_product(product_id: str) -> str | None:
    """The product's valid label code (customs papers list it), or None."""
    return db.session.execute(
        select(ProvenanceLabel.code).where(ProvenanceLabel.product_id == product_id,
                                           ProvenanceLabel.status == LabelStatus.VALID)
        .order_by(ProvenanceLabel.issued_at.desc()).limit(1)
    ).scalar_one_or_none()


def is_cultural_value(product_id: str) -> bool:
    """Declared cultural value, verified or not: export needs a permit either way."""
    data = db.session.execute(
        select(ProvenanceRecord.data).where(ProvenanceRecord.product_id == product_id)
    ).scalar_one_or_none()
    return bool(data and data.get("cultural_value") is True)


# Pieces and their hash-chained history ----------------------------------------------------------

def event_hash(prev_hash: str, body: dict) -> str:
    """sha256 over the previous hash (hex, ASCII) followed by the event's canonical JSON."""
    return hashlib.sha256(prev_hash.encode("ascii") + signing.canonical_json(body)).hexdigest()


def _event_body(serial: str, seq: int, event_type: str, moment: datetime, place, data) -> dict:
    return {"serial": serial, "seq": seq, "event_type": event_type, "time": isoformat(moment),
            "place": place, "data": data}


def _append_event(piece: ProvenancePiece, event_type: str, moment: datetime, *,
                  place: dict | None = None, data: dict | None = None,
                  key: str | None = None) -> PieceEvent:
    last = db.session.execute(
        select(PieceEvent).where(PieceEvent.serial == piece.serial)
        .order_by(PieceEvent.seq.desc()).limit(1)
    ).scalar_one_or_none()
    seq = last.seq + 1 if last else 1
    prev_hash = last.hash if last else GENESIS_HASH
    moment = moment.replace(microsecond=0)
    data = data or {}
    try:
        digest = event_hash(prev_hash, _event_body(piece.serial, seq, event_type, moment, place,
                                                   data))
    except signing.CanonicalError as exc:
        raise ValidationFailed("The event cannot be recorded.",
                               errors={"data": [str(exc)]}) from None
    event = PieceEvent(serial=piece.serial, seq=seq, event_type=event_type, time=moment,
                       place=place, data=data, key=key, prev_hash=prev_hash, hash=digest)
    db.session.add(event)
    piece.head_hash = digest
    db.session.flush()
    return event


def _made_at(record_data: dict, fallback: datetime) -> datetime:
    finished = (record_data.get("when") or {}).get("finished_on")
    try:
        return datetime.combine(date.fromisoformat(finished), time()) if finished else fallback
    except (TypeError, ValueError):
        return fallback


def issue_piece_serials(product_id: str, quantity: int, *, order_id: str,
                        commit: bool = True) -> list[str]:
    """Give each paid unit its own serial under the valid label (idempotent per order line).

    Each new piece's chain starts with ``made``, ``verified`` and ``sold``. Products without a
    valid label get no serials.
    """
    if quantity < 0:
        raise ValueError("quantity must not be negative")

    def existing() -> list[str]:
        return list(db.session.execute(
            select(ProvenancePiece.serial)
            .where(ProvenancePiece.order_id == order_id, ProvenancePiece.product_id == product_id)
            .order_by(ProvenancePiece.position)
        ).scalars())

    if serials := existing():
        return serials
    # the label row lock numbers pieces in order and makes a concurrent duplicate call wait
    label = db.session.execute(
        select(ProvenanceLabel).where(ProvenanceLabel.product_id == product_id,
                                      ProvenanceLabel.status == LabelStatus.VALID)
        .order_by(ProvenanceLabel.issued_at.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()
    if label is None or quantity == 0:
        return []
    if serials := existing():
        return serials
    highest = db.session.execute(
        select(func.max(ProvenancePiece.number)).where(ProvenancePiece.label_id == label.id)
    ).scalar_one_or_none() or 0
    payload = label.payload if isinstance(label.payload, dict) else {}
    record_data = payload.get("record") or {}
    place = record_data.get("place")
    label_sha256 = hashlib.sha256(_signed_bytes(label)).hexdigest()
    sold_at = _now()
    serials = []
    for position in range(1, quantity + 1):
        number = highest + position
        piece = ProvenancePiece(serial=f"{label.code}-{number:04d}", label_id=label.id,
                                product_id=product_id, number=number, order_id=order_id,
                                position=position, head_hash=GENESIS_HASH)
        db.session.add(piece)
        db.session.flush()
        _append_event(piece, "made", _made_at(record_data, label.issued_at), place=place,
                      data={"label_code": label.code})
        _append_event(piece, "verified", label.issued_at,
                      data={"label_code": label.code, "level": label.level,
                            "key_id": label.key_id, "label_sha256": label_sha256})
        _append_event(piece, "sold", sold_at, data={"label_code": label.code})
        serials.append(piece.serial)
    if commit:
        db.session.commit()
    return serials


def record_piece_event(serial: str, event_type: str, *, data: dict | None = None,
                       key: str | None = None, place: dict | None = None,
                       time: datetime | None = None, commit: bool = True) -> PieceEvent:
    """Append packed / shipped / delivered / returned to a piece's chain (idempotent on key)."""
    if event_type not in APPENDABLE_EVENTS:
        raise ValidationFailed("Unknown piece event.", errors={
            "event_type": [f"one of {', '.join(APPENDABLE_EVENTS)}"]})
    piece = db.session.execute(
        select(ProvenancePiece).where(ProvenancePiece.serial == serial).with_for_update()
    ).scalar_one_or_none()
    if piece is None:
        raise NotFound("No piece with this serial.")
    if key is not None:
        earlier = db.session.execute(
            select(PieceEvent).where(PieceEvent.serial == serial, PieceEvent.key == key)
        ).scalar_one_or_none()
        if earlier is not None:
            return earlier
    event = _append_event(piece, event_type, time or _now(), place=place, data=data, key=key)
    if commit:
        db.session.commit()
    return event


def chain_verifies(events: list[PieceEvent], head_hash: str | None) -> bool:
    """Recompute every link; any edited, removed or reordered event breaks the chain."""
    if not events:
        return False
    previous = GENESIS_HASH
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq or event.prev_hash != previous:
            return False
        try:
            body = _event_body(event.serial, event.seq, event.event_type, event.time,
                               event.place, event.data)
            digest = event_hash(previous, body)
        except (signing.CanonicalError, TypeError, AttributeError):
            return False
        if digest != event.hash:
            return False
        previous = digest
    return previous == head_hash


def piece_history(code: str, serial: str) -> dict:
    label = _label_by_code(code)
    piece = db.session.execute(
        select(ProvenancePiece).where(ProvenancePiece.serial == serial.strip().upper(),
                                      ProvenancePiece.label_id == label.id)
    ).scalar_one_or_none()
    if piece is None:
        raise NotFound("No piece with this serial under this label.")
    events = list(db.session.execute(
        select(PieceEvent).where(PieceEvent.serial == piece.serial).order_by(PieceEvent.seq)
    ).scalars())
    return {
        "serial": piece.serial, "code": label.code, "product_id": piece.product_id,
        "number": piece.number, "head_hash": piece.head_hash,
        "verifies": chain_verifies(events, piece.head_hash),
        "events": [{
            "seq": event.seq, "event_type": event.event_type, "time": isoformat(event.time),
            "place": event.place, "data": event.data, "prev_hash": event.prev_hash,
            "hash": event.hash,
        } for event in events],
        "url": f"{label_url(label.code)}?piece={piece.serial}",
    }


# Buyer flags ------------------------------------------------------------------------------------

def flag_label(code: str, *, user_id: str, reason: str) -> ProvenanceFlag:
    """A signed-in user asks operators to review a label (one open flag per user and label)."""
    label = _label_by_code(code)
    already = db.session.execute(
        select(ProvenanceFlag.id).where(ProvenanceFlag.label_id == label.id,
                                        ProvenanceFlag.user_id == user_id,
                                        ProvenanceFlag.status == FlagStatus.OPEN)
    ).first()
    if already:
        raise Conflict("You have already flagged this label; an operator will review it.")
    flag = ProvenanceFlag(label_id=label.id, user_id=user_id, reason=reason.strip())
    db.session.add(flag)
    db.session.commit()
    return flag


def flag_view(flag: ProvenanceFlag, label: ProvenanceLabel) -> dict:
    view = {"id": flag.id, "label_code": label.code, "product_id": label.product_id,
            "label_status": label.status, "reason": flag.reason, "status": flag.status,
            "user_id": flag.user_id, "created_at": isoformat(flag.created_at)}
    if flag.status == FlagStatus.RESOLVED:
        view["resolved_at"] = isoformat(flag.resolved_at)
        view["resolution_note"] = flag.resolution_note
    return view


def list_flags(status: str = FlagStatus.OPEN, *, limit: int = 24,
               cursor: str | None = None) -> tuple[list[dict], str | None]:
    query = (select(ProvenanceFlag, ProvenanceLabel)
             .join(ProvenanceLabel, ProvenanceLabel.id == ProvenanceFlag.label_id)
             .where(ProvenanceFlag.status == status)
             .order_by(ProvenanceFlag.created_at, ProvenanceFlag.id))
    if cursor:
        after_time, after_id = _cursor_position(cursor)
        query = query.where((ProvenanceFlag.created_at > after_time)
                            | ((ProvenanceFlag.created_at == after_time)
                               & (ProvenanceFlag.id > after_id)))
    rows = db.session.execute(query.limit(limit + 1)).all()
    items = [flag_view(flag, label) for flag, label in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor([last.created_at.isoformat(), last.id])
    return items, next_cursor


def resolve_flag(flag_id: str, *, operator_id: str, note: str | None = None) -> ProvenanceFlag:
    flag = db.session.get(ProvenanceFlag, flag_id)
    if flag is None:
        raise NotFound("No such flag.")
    moved = db.session.execute(
        update(ProvenanceFlag).where(ProvenanceFlag.id == flag_id,
                                     ProvenanceFlag.status == FlagStatus.OPEN)
        .values(status=FlagStatus.RESOLVED, resolved_at=utcnow(), resolved_by=operator_id,
                resolution_note=note)
    ).rowcount
    if not moved:
        db.session.rollback()
        raise InvalidTransition("The flag is already resolved.")
    db.session.commit()
    db.session.refresh(flag)
    return flag
