"""Provenance records: the artisan's declaration, its submission, the operators' queue and their
decisions (an approval issues a signed label)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel, ValidationError
from sqlalchemy import case, func, select, update

from marketplace.accounts.models import User
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.models import ArtisanProfile, Product
from marketplace.errors import InvalidTransition, NotFound, RequestError, ValidationFailed
from marketplace.extensions import db
from marketplace.http import decode_cursor, encode_cursor, validation_errors
from marketplace.ids import isoformat, utcnow
from marketplace.provenance.errors import ProvenanceError
from marketplace.provenance.labels import issue_label, label_url, revoke_active_label
from marketplace.provenance.models import (
    Level,
    ProvenanceDecision,
    ProvenanceLabel,
    ProvenanceRecord,
    RecordStatus,
)
from marketplace.provenance.schemas import Attestation, Evidence, RecordIn
from marketplace.transaction import use_case

SUBMITTABLE = (RecordStatus.DRAFT, RecordStatus.REJECTED, RecordStatus.REVOKED)


def _parsed(model: type[BaseModel], data, code: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The request has invalid fields.", errors=validation_errors(exc),
                               code=code) from None


def _owned_product(product_id: str, user_id: str) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or product.artisan_id != user_id:
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    return product


def _locked_record(product_id: str) -> ProvenanceRecord | None:
    return db.session.execute(
        select(ProvenanceRecord).where(ProvenanceRecord.product_id == product_id)
        .with_for_update()
    ).scalar_one_or_none()


def cursor_position(cursor: str) -> tuple[datetime, str]:
    """A queue cursor: (time, id) of the last row of the previous page."""
    values = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(values[0]), str(values[1])
    except (IndexError, TypeError, ValueError):
        raise ValidationFailed("The cursor is not valid.", errors={"cursor": ["invalid"]},
                               code=RequestError.INVALID_CURSOR) from None


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


# The artisan's record ----------------------------------------------------------------------------

def get_record(product_id: str, *, user: User) -> ProvenanceRecord | None:
    """The record of a product, for its artisan or an operator (404 for anyone else)."""
    product = db.session.get(Product, product_id)
    if product is None or (user.role != "operator" and product.artisan_id != user.id):
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    return db.session.get(ProvenanceRecord, product_id)


def latest_record_data(artisan_id: str) -> dict | None:
    """The artisan's most recently changed record (of any of their pieces): a new record's form
    starts from its answers."""
    return db.session.execute(
        select(ProvenanceRecord.data).join(Product, Product.id == ProvenanceRecord.product_id)
        .where(Product.artisan_id == artisan_id)
        .order_by(ProvenanceRecord.updated_at.desc(), ProvenanceRecord.product_id.desc())
        .limit(1)).scalar_one_or_none()


@use_case
def put_record(product_id: str, data: dict, *, artisan_id: str) -> ProvenanceRecord:
    """Save (replace) the artisan's record. Editing a verified record revokes its label."""
    product = _owned_product(product_id, artisan_id)
    normalised = _parsed(RecordIn, data, ProvenanceError.RECORD_INVALID).model_dump(
        mode="json", exclude_none=True)
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
            revoke_active_label(product.id, "The provenance record was edited.")
        elif record.status == RecordStatus.PENDING:
            # an edited record must be submitted again: the operator reviews what is signed
            record.status = RecordStatus.DRAFT
            record.status_changed_at = now
    return record


def on_provenance_declared(payload: dict) -> None:
    """Reaction to ``catalog.provenance_declared``: a product listed with its declaration gets
    the record in the same transaction (a declaration that does not validate undoes both)."""
    put_record(payload["product_id"], payload["record"], artisan_id=payload["artisan_id"])


@use_case
def submit_record(product_id: str, *, artisan_id: str) -> ProvenanceRecord:
    """Send the record to the operators' queue (422 naming what is missing)."""
    product = _owned_product(product_id, artisan_id)
    record = _locked_record(product.id)
    if record is not None and record.status == RecordStatus.PENDING:
        return record
    if record is not None and record.status == RecordStatus.VALID:
        raise InvalidTransition("The record is already verified; edit it to submit changes.",
                                code=ProvenanceError.ALREADY_VERIFIED)
    errors = missing_fields(record.data if record else {}, product.craft)
    if errors:
        raise ValidationFailed("The provenance record is incomplete.", errors=errors,
                               code=ProvenanceError.RECORD_INCOMPLETE)
    now = utcnow()
    moved = db.session.execute(
        update(ProvenanceRecord)
        .where(ProvenanceRecord.product_id == product.id,
               ProvenanceRecord.status.in_([str(s) for s in SUBMITTABLE]))
        .values(status=RecordStatus.PENDING, submitted_at=now, status_changed_at=now)
    ).rowcount
    if not moved:
        raise InvalidTransition("The record changed meanwhile; try again.",
                                code=ProvenanceError.RECORD_CHANGED)
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
        after_time, after_id = cursor_position(cursor)
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


@use_case
def decide(product_id: str, *, operator_id: str | None, decision: str, level: str | None = None,
           evidence: list[dict] | None = None, note: str | None = None,
           attestation: dict | None = None) -> ProvenanceRecord:
    """Approve (issues a signed label) or reject a pending record."""
    if decision not in ("approve", "reject"):
        raise ValidationFailed("Unknown decision.", errors={"decision": ["approve or reject"]},
                               code=ProvenanceError.DECISION_INVALID)
    evidence = [_parsed(Evidence, item, ProvenanceError.DECISION_INVALID).model_dump(
        mode="json", exclude_none=True) for item in (evidence or [])]
    if attestation is not None:
        attestation = _parsed(Attestation, attestation, ProvenanceError.DECISION_INVALID
                              ).model_dump(mode="json", exclude_none=True)
    if decision == "approve":
        level = level or Level.OPERATOR_VERIFIED
        if level not in (Level.OPERATOR_VERIFIED, Level.THIRD_PARTY_ATTESTED):
            raise ValidationFailed("Unknown level.", errors={"level": ["L1 or L2"]},
                                   code=ProvenanceError.DECISION_INVALID)
    else:
        level = None
    errors = _decision_errors(decision, level, evidence, note, attestation)
    if errors:
        raise ValidationFailed("The decision is incomplete.", errors=errors,
                               code=ProvenanceError.DECISION_INVALID)

    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    record = _locked_record(product.id)
    if record is None or record.status != RecordStatus.PENDING:
        raise InvalidTransition("Only a pending record can be decided.",
                                code=ProvenanceError.NOT_PENDING)
    now = utcnow()
    label = None
    if decision == "approve":
        label = issue_label(product, record, level, attestation, operator_id)
        revoke_active_label(product.id, "Superseded by a new verification.",
                            superseded_by=label)
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


def record_actions(status: str) -> dict[str, bool]:
    """What an operator may do to a record in ``status`` (a ``record_view`` status): the rules
    ``decide`` and ``labels.revoke_label`` enforce, for pages that offer only what will work."""
    return {"decide": status == RecordStatus.PENDING, "revoke": status == RecordStatus.VALID}


def is_cultural_value(product_id: str) -> bool:
    """Declared cultural value, verified or not: export needs a permit either way."""
    data = db.session.execute(
        select(ProvenanceRecord.data).where(ProvenanceRecord.product_id == product_id)
    ).scalar_one_or_none()
    return bool(data and data.get("cultural_value") is True)


QUEUE_AGE_BUCKETS = (1, 3, 7, 14)  # days: under 1, 1-3, 3-7, 7-14, 14 and more


def queue_ages(*, now: datetime | None = None) -> list[int]:
    """How many records wait for verification in each age bucket (since they became pending),
    youngest bucket first: one query."""
    now = now or utcnow()
    bucket = case(*[(ProvenanceRecord.status_changed_at > now - timedelta(days=days), index)
                    for index, days in enumerate(QUEUE_AGE_BUCKETS)],
                  else_=len(QUEUE_AGE_BUCKETS))
    counts = dict(db.session.execute(
        select(bucket, func.count()).where(ProvenanceRecord.status == RecordStatus.PENDING)
        .group_by(bucket)).all())
    return [int(counts.get(index, 0)) for index in range(len(QUEUE_AGE_BUCKETS) + 1)]
