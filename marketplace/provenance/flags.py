"""Buyers' flags: a signed-in user asks operators to review a label; an operator resolves it
(withdrawing the label is a separate action, ``labels.revoke_label``)."""

from __future__ import annotations

from sqlalchemy import select, update

from marketplace.errors import Conflict, InvalidTransition, NotFound
from marketplace.extensions import db
from marketplace.http import encode_cursor
from marketplace.ids import isoformat, utcnow
from marketplace.provenance.errors import ProvenanceError
from marketplace.provenance.labels import label_by_code
from marketplace.provenance.models import FlagStatus, LabelStatus, ProvenanceFlag, ProvenanceLabel
from marketplace.provenance.records import cursor_position
from marketplace.transaction import use_case


@use_case
def flag_label(code: str, *, user_id: str, reason: str) -> ProvenanceFlag:
    """A signed-in user asks operators to review a label (one open flag per user and label)."""
    label = label_by_code(code)
    already = db.session.execute(
        select(ProvenanceFlag.id).where(ProvenanceFlag.label_id == label.id,
                                        ProvenanceFlag.user_id == user_id,
                                        ProvenanceFlag.status == FlagStatus.OPEN)
    ).first()
    if already:
        raise Conflict("You have already flagged this label; an operator will review it.",
                       code=ProvenanceError.ALREADY_FLAGGED)
    flag = ProvenanceFlag(label_id=label.id, user_id=user_id, reason=reason.strip())
    db.session.add(flag)
    return flag


def flag_view(flag: ProvenanceFlag, label: ProvenanceLabel) -> dict:
    view = {"id": flag.id, "label_code": label.code, "product_id": label.product_id,
            "label_status": label.status, "reason": flag.reason, "status": flag.status,
            "user_id": flag.user_id, "created_at": isoformat(flag.created_at)}
    if flag.status == FlagStatus.RESOLVED:
        view["resolved_at"] = isoformat(flag.resolved_at)
        view["resolution_note"] = flag.resolution_note
    return view


def flag_actions(view: dict) -> dict[str, bool]:
    """What an operator may do about a flag (a ``flag_view``): the rules ``resolve_flag`` and
    ``labels.revoke_label`` enforce."""
    return {"resolve": view["status"] == FlagStatus.OPEN,
            "revoke_label": view["label_status"] == LabelStatus.VALID}


def list_flags(status: str = FlagStatus.OPEN, *, limit: int = 24,
               cursor: str | None = None) -> tuple[list[dict], str | None]:
    query = (select(ProvenanceFlag, ProvenanceLabel)
             .join(ProvenanceLabel, ProvenanceLabel.id == ProvenanceFlag.label_id)
             .where(ProvenanceFlag.status == status)
             .order_by(ProvenanceFlag.created_at, ProvenanceFlag.id))
    if cursor:
        after_time, after_id = cursor_position(cursor)
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


@use_case
def resolve_flag(flag_id: str, *, operator_id: str, note: str | None = None) -> ProvenanceFlag:
    flag = db.session.get(ProvenanceFlag, flag_id)
    if flag is None:
        raise NotFound("No such flag.", code=ProvenanceError.FLAG_NOT_FOUND)
    moved = db.session.execute(
        update(ProvenanceFlag).where(ProvenanceFlag.id == flag_id,
                                     ProvenanceFlag.status == FlagStatus.OPEN)
        .values(status=FlagStatus.RESOLVED, resolved_at=utcnow(), resolved_by=operator_id,
                resolution_note=note)
    ).rowcount
    if not moved:
        raise InvalidTransition("The flag is already resolved.",
                                code=ProvenanceError.FLAG_RESOLVED)
    db.session.refresh(flag)
    return flag
