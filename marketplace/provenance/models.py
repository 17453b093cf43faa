from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow

# Positions in the transparency log (entry indexes, sizes, a label's log index): 64-bit. SQLite's
# INTEGER is 64-bit already and stays as the migrations made it.
LOG_POSITION = BigInteger().with_variant(Integer(), "sqlite")


class LenientJSON(TypeDecorator):
    """JSON stored as text and read leniently: a hand-edited row that no longer parses reads as
    None, so verification answers "does not hold" instead of failing with an error."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return None


class RecordStatus(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    VALID = "valid"
    REJECTED = "rejected"
    REVOKED = "revoked"


class Level(StrEnum):
    DECLARED = "L0"
    OPERATOR_VERIFIED = "L1"
    THIRD_PARTY_ATTESTED = "L2"


class LabelStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class FlagStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ProvenanceRecord(db.Model):
    """The artisan's declaration for one product and where its verification stands."""

    __tablename__ = "provenance_record"
    __table_args__ = (Index("ix_provenance_record_queue", "status", "status_changed_at",
                            "product_id"),)

    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default=RecordStatus.DRAFT)
    level: Mapped[str] = mapped_column(String(2), default=Level.DECLARED)
    # the latest label issued for this product, valid or revoked
    current_label_id: Mapped[str | None] = mapped_column(ForeignKey("provenance_label.id"))
    submitted_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProvenanceDecision(db.Model):
    """An operator's approval or rejection, with the evidence they relied on (kept for audit)."""

    __tablename__ = "provenance_decision"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), index=True)
    decision: Mapped[str] = mapped_column(String(10))
    level: Mapped[str | None] = mapped_column(String(2))
    evidence: Mapped[list] = mapped_column(JSON, default=list)
    attestation: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    operator_id: Mapped[str | None] = mapped_column(ForeignKey("user.id"))
    label_id: Mapped[str | None] = mapped_column(ForeignKey("provenance_label.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(db.Model):
    """Public halves of every key that ever signed a label; retired keys still verify."""

    __tablename__ = "provenance_signing_key"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class ProvenanceLabel(db.Model):
    """A signed, immutable statement; revocation only flips its status."""

    __tablename__ = "provenance_label"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), index=True)
    level: Mapped[str] = mapped_column(String(2))
    payload: Mapped[dict] = mapped_column(LenientJSON)  # the signed object
    canonical: Mapped[bytes] = mapped_column(LargeBinary)  # the exact bytes that were signed
    signature: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(ForeignKey("provenance_signing_key.key_id"))
    status: Mapped[str] = mapped_column(String(10), default=LabelStatus.VALID)
    issued_at: Mapped[datetime]
    issued_by: Mapped[str | None] = mapped_column(ForeignKey("user.id"))
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # the code of the label that replaced this one (a revocation by a new verification)
    superseded_by: Mapped[str | None] = mapped_column(String(16))
    # its issuance's place in the transparency log; also its bit in the revocation status list
    log_index: Mapped[int | None] = mapped_column(LOG_POSITION, unique=True)
    # the W3C Verifiable Credential of this label, with its Data Integrity proof
    credential: Mapped[dict | None] = mapped_column(LenientJSON)


class ProvenancePiece(db.Model):
    """One sold unit under a label, with its own serial and event chain."""

    __tablename__ = "provenance_piece"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id", "position",
                         name="uq_provenance_piece_order_product_position"),
        UniqueConstraint("label_id", "number", name="uq_provenance_piece_label_number"),
    )

    serial: Mapped[str] = mapped_column(String(32), primary_key=True)
    label_id: Mapped[str] = mapped_column(ForeignKey("provenance_label.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... under the label
    order_id: Mapped[str] = mapped_column(String(26))
    position: Mapped[int] = mapped_column(Integer)  # 1..quantity within the order line
    # hash of the newest event: cutting events off the end of the chain is noticed too
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PieceEvent(db.Model):
    """Append-only, hash-chained event (EPCIS-like) in one piece's history."""

    __tablename__ = "provenance_piece_event"
    __table_args__ = (
        UniqueConstraint("serial", "seq", name="uq_provenance_piece_event_serial_seq"),
        UniqueConstraint("serial", "key", name="uq_provenance_piece_event_serial_key"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    serial: Mapped[str] = mapped_column(ForeignKey("provenance_piece.serial"))
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(20))
    time: Mapped[datetime]
    place: Mapped[dict | None] = mapped_column(LenientJSON)
    data: Mapped[dict] = mapped_column(LenientJSON, default=dict)
    key: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    log_index: Mapped[int | None] = mapped_column(LOG_POSITION, unique=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProvenanceFlag(db.Model):
    """A buyer's doubt about a label, queued for an operator."""

    __tablename__ = "provenance_flag"
    __table_args__ = (Index("ix_provenance_flag_status_created", "status", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    label_id: Mapped[str] = mapped_column(ForeignKey("provenance_label.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=FlagStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(ForeignKey("user.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class TransparencyEntry(db.Model):
    """One leaf of the transparency log: the canonical JSON of what was attested.

    Append-only: no code updates or deletes a row, and database triggers refuse both.
    """

    __tablename__ = "transparency_entry"

    index: Mapped[int] = mapped_column(LOG_POSITION, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(24))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)  # SHA-256(0x00 || entry)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TransparencyHead(db.Model):
    """The log's size, one row: locking it orders appends across processes."""

    __tablename__ = "transparency_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(LOG_POSITION, default=0)


class TransparencyCheckpoint(db.Model):
    """A signed tree head as published (C2SP tlog-checkpoint); all are kept, append-only."""

    __tablename__ = "transparency_checkpoint"

    size: Mapped[int] = mapped_column(LOG_POSITION, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
