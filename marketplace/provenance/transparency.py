"""The transparency log: an append-only RFC 6962 Merkle tree of everything the marketplace
attests (label issuance, revocation, supersession, every piece event), with signed checkpoints.

Each entry is the canonical JSON of one attested fact (see ``label_entry`` and
``piece_event_entry``). Appends happen in the caller's transaction, so an event and its leaf
commit together; the tree head is published as a C2SP tlog-checkpoint by ``publish_checkpoint``
(beat, at most once a minute when the log grew). Rows are never updated or deleted (database
triggers refuse it), and every checkpoint is kept so any two can be proved consistent.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.provenance import merkle, notes, signing
from marketplace.provenance.errors import ProvenanceError
from marketplace.provenance.models import (
    TransparencyCheckpoint,
    TransparencyEntry,
    TransparencyHead,
)
from marketplace.transaction import use_case

ENTRY_VERSION = 1
HEAD_ID = 1
CHECKPOINT_INTERVAL = timedelta(seconds=60)


def origin() -> str:
    """The checkpoint's origin line and the log key's name: ``<public host>/transparency``."""
    return f"{urlsplit(current_app.config['PUBLIC_URL']).netloc}/transparency"


def verifier_key() -> str:
    key = signing.transparency_private_key()
    return notes.verifier_key(origin(), key.public_key().public_bytes_raw())


# Entries -------------------------------------------------------------------------------------

def label_entry(kind: str, label, **fields) -> dict:
    """``label_issued``, ``label_revoked`` or ``label_superseded`` for a label row."""
    return {"v": ENTRY_VERSION, "type": kind, "label_code": label.code, **fields}


def piece_event_entry(*, label_code: str, serial: str, prev_head: str, event: dict,
                      digest: str) -> dict:
    """A piece event: the event as hashed into its chain, the head before it and after it."""
    return {"v": ENTRY_VERSION, "type": "piece_event", "label_code": label_code,
            "serial": serial, "prev_head": prev_head, "event": event, "hash": digest}


def _ensure_head() -> None:
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.session.execute(insert(TransparencyHead).values(id=HEAD_ID, size=0)
                           .on_conflict_do_nothing(index_elements=["id"]))
    elif db.session.get(TransparencyHead, HEAD_ID) is None:
        db.session.add(TransparencyHead(id=HEAD_ID, size=0))
        db.session.flush()


def append(body: dict) -> int:
    """Add one entry at the end of the log, in the caller's transaction; its index.

    The head row's atomic increment orders concurrent appends (the row stays locked until the
    caller commits, so indexes are dense and never reused).
    """
    entry = signing.canonical_json(body)
    _ensure_head()
    size = db.session.execute(
        update(TransparencyHead).where(TransparencyHead.id == HEAD_ID)
        .values(size=TransparencyHead.size + 1).returning(TransparencyHead.size)
    ).scalar_one()
    index = size - 1
    db.session.add(TransparencyEntry(index=index, kind=str(body["type"]), entry=entry,
                                     leaf_hash=merkle.leaf_hash(entry)))
    db.session.flush()
    return index


def tree_size() -> int:
    return db.session.execute(
        select(func.coalesce(func.max(TransparencyEntry.index) + 1, 0))).scalar_one()


def _leaves(size: int) -> list[bytes]:
    leaves = [bytes(value) for value in db.session.execute(
        select(TransparencyEntry.leaf_hash).where(TransparencyEntry.index < size)
        .order_by(TransparencyEntry.index)).scalars()]
    if len(leaves) != size:
        raise RuntimeError("the transparency log has a gap")
    return leaves


def entry_view(index: int) -> dict:
    row = db.session.get(TransparencyEntry, index) if index >= 0 else None
    if row is None:
        raise NotFound("No log entry at this index.", code=ProvenanceError.LOG_ENTRY_NOT_FOUND)
    return {"index": row.index, "entry": bytes(row.entry).decode("utf-8"),
            "leaf_hash": signing.b64(bytes(row.leaf_hash))}


def _bad_range(message: str, field: str):
    return ValidationFailed(message, errors={field: [message]},
                            code=ProvenanceError.LOG_RANGE_INVALID)


def inclusion_view(index: int, size: int) -> dict:
    """The audit path of leaf ``index`` in the tree of the first ``size`` entries."""
    current = tree_size()
    if not 0 < size <= current:
        raise _bad_range(f"size must be between 1 and the log's size ({current}).", "size")
    if not 0 <= index < size:
        raise _bad_range("index must be below size.", "index")
    leaves = _leaves(size)
    return {"index": index, "size": size, "leaf_hash": signing.b64(leaves[index]),
            "root_hash": signing.b64(merkle.root(leaves)),
            "hashes": [signing.b64(h) for h in merkle.inclusion_proof(index, leaves)]}


def consistency_view(first: int, second: int) -> dict:
    """The proof that the tree of ``second`` entries extends the tree of ``first``."""
    current = tree_size()
    if not 0 <= second <= current:
        raise _bad_range(f"to must be between 0 and the log's size ({current}).", "to")
    if not 0 <= first <= second:
        raise _bad_range("from must be between 0 and to.", "from")
    leaves = _leaves(second)
    return {"from": first, "to": second,
            "from_root_hash": signing.b64(merkle.root(leaves[:first])),
            "to_root_hash": signing.b64(merkle.root(leaves)),
            "hashes": [signing.b64(h) for h in merkle.consistency_proof(first, leaves)]}


# Checkpoints ---------------------------------------------------------------------------------

def latest_checkpoint() -> TransparencyCheckpoint | None:
    return db.session.execute(
        select(TransparencyCheckpoint).order_by(TransparencyCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()


@use_case
def publish_checkpoint(*, force: bool = False) -> TransparencyCheckpoint | None:
    """Sign and keep a checkpoint of the log as committed now, if it grew (and, unless
    ``force``, the last checkpoint is at least a minute old). None when nothing was due."""
    latest = latest_checkpoint()
    size = tree_size()
    if latest is not None and size <= latest.size:
        return None
    if (latest is not None and not force
            and utcnow() - latest.created_at < CHECKPOINT_INTERVAL):
        return None
    root_hash = merkle.root(_leaves(size))
    note = notes.sign_note(notes.checkpoint_body(origin(), size, root_hash), origin(),
                           signing.transparency_private_key())
    checkpoint = TransparencyCheckpoint(size=size, root_hash=root_hash, note=note,
                                        created_at=utcnow())
    db.session.add(checkpoint)
    return checkpoint


def checkpoint_note() -> str:
    """The latest checkpoint; the first reader of a log that has none gets one published."""
    latest = latest_checkpoint()
    if latest is None:
        latest = publish_checkpoint(force=True) or latest_checkpoint()
    return latest.note


def inclusion_states(expected: dict[int, bytes]) -> dict[int, str]:
    """For a page that shows its checks: per log index, ``included`` (the entry is the expected
    bytes and its inclusion proof reaches the latest checkpoint's root), ``pending`` (newer than
    the latest checkpoint) or ``mismatch`` (the log records something else, or nothing)."""
    latest = latest_checkpoint()
    size = latest.size if latest is not None else 0
    leaves = _leaves(size) if expected and size else []
    root_hash = bytes(latest.root_hash) if latest is not None else merkle.EMPTY_ROOT
    states = {}
    for index, entry in expected.items():
        row = db.session.get(TransparencyEntry, index) if index is not None else None
        if row is None or bytes(row.entry) != entry:
            states[index] = "mismatch"
        elif index >= size:
            states[index] = "pending"
        else:
            proof = merkle.inclusion_proof(index, leaves)
            states[index] = ("included" if merkle.verify_inclusion(
                index, size, merkle.leaf_hash(entry), proof, root_hash) else "mismatch")
    return states
