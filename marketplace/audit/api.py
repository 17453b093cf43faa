"""``GET /api/v1/operator/audit``: the audit trail, read-only (there is no endpoint to change
or delete an event)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from marketplace import audit
from marketplace.http import auth_required, query_args, responds
from marketplace.ids import isoformat
from marketplace.schemas import OutModel, Timestamp, build

bp = Blueprint("audit", __name__, url_prefix="/api/v1")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor_id: str | None = Field(None, max_length=26)
    entity: str | None = Field(None, max_length=64, description="A table: order, refund, ...")
    entity_id: str | None = Field(None, max_length=200)
    action: Literal["insert", "update", "delete"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=500)


class AuditEventOut(OutModel):
    id: str
    at: Timestamp
    actor_id: str | None
    actor_role: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    method: str | None
    path: str | None
    action: str
    entity: str
    entity_id: str | None
    before: dict[str, str | int | float | bool | None] | None = Field(
        description="The changed columns' values before (nested JSON as a JSON string).")
    after: dict[str, str | int | float | bool | None] | None


class AuditPageOut(OutModel):
    items: list[AuditEventOut]
    next_cursor: str | None


def _flat(values: dict | None) -> dict | None:
    if values is None:
        return None
    return {key: json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list)
            else value for key, value in values.items()}


def event_out(row) -> dict:
    return build(AuditEventOut, id=row.id, at=isoformat(row.at), actor_id=row.actor_id,
                 actor_role=row.actor_role, ip=row.ip, user_agent=row.user_agent,
                 request_id=row.request_id, method=row.method, path=row.path,
                 action=row.action, entity=row.entity, entity_id=row.entity_id,
                 before=_flat(row.before), after=_flat(row.after))


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    from datetime import UTC

    return moment.astimezone(UTC).replace(tzinfo=None)


@bp.get("/operator/audit")
@auth_required("operator")
@query_args(AuditQuery)
@responds(AuditPageOut)
def list_audit(query: AuditQuery):
    """The audit trail of operators' and artisans' changes, newest first (read-only)."""
    rows, next_cursor = audit.search(
        actor_id=query.actor_id, entity=query.entity, entity_id=query.entity_id,
        action=query.action, since=_naive(query.since), until=_naive(query.until),
        limit=query.limit, cursor=query.cursor)
    return build(AuditPageOut, items=[event_out(row) for row in rows], next_cursor=next_cursor)
