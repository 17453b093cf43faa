"""Pieces: a serial for every unit sold under a valid label, and its hash-chained history.

Orders and shipping call these inside their own use cases: nothing here commits.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time

from sqlalchemy import func, select

from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ids import isoformat
from marketplace.provenance import signing, transparency
from marketplace.provenance.errors import ProvenanceError
from marketplace.provenance.labels import (
    issuance_entry,
    label_by_code,
    label_url,
    signed_bytes,
    whole_seconds_now,
)
from marketplace.provenance.models import (
    LabelStatus,
    PieceEvent,
    ProvenanceLabel,
    ProvenancePiece,
)

GENESIS_HASH = "0" * 64
CHAIN_EVENTS = ("made", "verified", "sold")
APPENDABLE_EVENTS = ("packed", "shipped", "delivered", "returned")


def event_hash(prev_hash: str, body: dict) -> str:
    """sha256 over the previous hash (hex, ASCII) followed by the event's canonical JSON."""
    return hashlib.sha256(prev_hash.encode("ascii") + signing.canonical_json(body)).hexdigest()


def _event_body(serial: str, seq: int, event_type: str, moment: datetime, place, data) -> dict:
    return {"serial": serial, "seq": seq, "event_type": event_type, "time": isoformat(moment),
            "place": place, "data": data}


def log_entry(label_code: str, prev_hash: str, body: dict, digest: str) -> dict:
    """The transparency log's entry for one event (the verifier rebuilds it from the history)."""
    return transparency.piece_event_entry(label_code=label_code, serial=body["serial"],
                                          prev_head=prev_hash, event=body, digest=digest)


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
    body = _event_body(piece.serial, seq, event_type, moment, place, data)
    try:
        digest = event_hash(prev_hash, body)
    except signing.CanonicalError as exc:
        raise ValidationFailed("The event cannot be recorded.", errors={"data": [str(exc)]},
                               code=ProvenanceError.EVENT_INVALID) from None
    label = db.session.get(ProvenanceLabel, piece.label_id)
    log_index = transparency.append(log_entry(label.code, prev_hash, body, digest))
    event = PieceEvent(serial=piece.serial, seq=seq, event_type=event_type, time=moment,
                       place=place, data=data, key=key, prev_hash=prev_hash, hash=digest,
                       log_index=log_index)
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


def issue_piece_serials(product_id: str, quantity: int, *, order_id: str) -> list[str]:
    """Give each paid unit its own serial under the valid label (idempotent per order line), in
    the caller's transaction.

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
    label_sha256 = hashlib.sha256(signed_bytes(label)).hexdigest()
    sold_at = whole_seconds_now()
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
    return serials


def record_piece_event(serial: str, event_type: str, *, data: dict | None = None,
                       key: str | None = None, place: dict | None = None,
                       time: datetime | None = None) -> PieceEvent:
    """Append packed / shipped / delivered / returned to a piece's chain (idempotent on key), in
    the caller's transaction."""
    if event_type not in APPENDABLE_EVENTS:
        raise ValidationFailed("Unknown piece event.", errors={
            "event_type": [f"one of {', '.join(APPENDABLE_EVENTS)}"]},
            code=ProvenanceError.EVENT_INVALID)
    piece = db.session.execute(
        select(ProvenancePiece).where(ProvenancePiece.serial == serial).with_for_update()
    ).scalar_one_or_none()
    if piece is None:
        raise NotFound("No piece with this serial.", code=ProvenanceError.PIECE_NOT_FOUND)
    if key is not None:
        earlier = db.session.execute(
            select(PieceEvent).where(PieceEvent.serial == serial, PieceEvent.key == key)
        ).scalar_one_or_none()
        if earlier is not None:
            return earlier
    return _append_event(piece, event_type, time or whole_seconds_now(), place=place, data=data,
                         key=key)


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
    label = label_by_code(code)
    piece = db.session.execute(
        select(ProvenancePiece).where(ProvenancePiece.serial == serial.strip().upper(),
                                      ProvenancePiece.label_id == label.id)
    ).scalar_one_or_none()
    if piece is None:
        raise NotFound("No piece with this serial under this label.",
                       code=ProvenanceError.PIECE_NOT_FOUND)
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
            "hash": event.hash, "log_index": event.log_index,
        } for event in events],
        "url": f"{label_url(label.code)}?piece={piece.serial}",
    }


def log_checks(code: str, history: dict | None = None) -> dict:
    """What the label page shows of the transparency log: the label's issuance entry and (with a
    piece's ``history``) all its events, each ``included``, ``pending`` or ``mismatch``."""
    label = label_by_code(code)
    expected: dict = {}
    if label.log_index is not None:
        expected[label.log_index] = signing.canonical_json(issuance_entry(label))
    events = []
    for event in (history or {}).get("events", []):
        body = {"serial": history["serial"], "seq": event["seq"],
                "event_type": event["event_type"], "time": event["time"],
                "place": event["place"], "data": event["data"]}
        try:
            entry = signing.canonical_json(log_entry(label.code, event["prev_hash"], body,
                                                     event["hash"]))
        except signing.CanonicalError:
            entry = b""
        if event.get("log_index") is not None:
            expected[event["log_index"]] = entry
        events.append(event.get("log_index"))
    states = transparency.inclusion_states(expected)
    # a label issued before the log existed is logged when its credential is first asked for
    label_state = states.get(label.log_index, "mismatch") if label.log_index is not None else (
        "pending")
    result = {"label": label_state, "piece": None,
              "checkpoint_size": (transparency.latest_checkpoint().size
                                  if transparency.latest_checkpoint() else 0)}
    if history is not None:
        piece_states = [states.get(index, "mismatch") for index in events]
        result["piece"] = ("mismatch" if not piece_states or "mismatch" in piece_states
                           else "pending" if "pending" in piece_states else "included")
    return result
