"""Operator alerts: what a person must look at because no code can settle it alone (a refund
the bank failed, a payment from a PaymentIntent we did not create, a dispute, a reconciliation
difference). One alert per ``(kind, key)`` however often the cause is seen; each new alert is
mailed to every operator in the same transaction (through the outbox)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from marketplace import mail
from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders.models import OperatorAlert

log = logging.getLogger(__name__)

REFUND_FAILED = "refund_failed"
FOREIGN_PAYMENT = "foreign_payment"
DISPUTE = "dispute"
REFUND_OVER_CAPTURE = "refund_over_capture"
RECONCILIATION = "reconciliation"
DOCUMENT_INCOMPLETE = "document_incomplete"


def raise_alert(kind: str, key: str, message: str, *, order_id: str | None = None,
                data: dict | None = None) -> bool:
    """Record the alert (and mail the operators) unless it exists; True if it is new. Runs in
    the caller's transaction."""
    if db.session.execute(select(OperatorAlert.id).where(
            OperatorAlert.kind == kind, OperatorAlert.key == key)).first():
        return False
    db.session.add(OperatorAlert(kind=kind, key=key[:255], order_id=order_id, message=message,
                                 data=data or {}))
    db.session.flush()
    log.warning("operator alert %s %s: %s", kind, key, message)
    recipients = list(db.session.execute(
        select(User.email).where(User.role == Role.OPERATOR).order_by(User.email)).scalars())
    if recipients:
        where = f"\nOrder: {order_id}" if order_id else ""
        mail.queue_mail(to=recipients, subject=f"[Sheber] {kind.replace('_', ' ')}",
                        text=f"{message}{where}\n")
    return True


def open_alerts(limit: int = 200) -> list[OperatorAlert]:
    return list(db.session.execute(
        select(OperatorAlert).where(OperatorAlert.resolved_at.is_(None))
        .order_by(OperatorAlert.created_at.desc()).limit(limit)).scalars())


def alerts_for_order(order_id: str) -> list[OperatorAlert]:
    return list(db.session.execute(
        select(OperatorAlert).where(OperatorAlert.order_id == order_id)
        .order_by(OperatorAlert.created_at)).scalars())


def resolve(alert_id: str, operator_id: str) -> bool:
    alert = db.session.get(OperatorAlert, alert_id)
    if alert is None or alert.resolved_at is not None:
        return False
    alert.resolved_at, alert.resolved_by = utcnow(), operator_id
    return True
