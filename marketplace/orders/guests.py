"""Guest orders: paid with an e-mail address and no password, reached through the signed link
in their mails (``notify.access_token``), and claimed by an account with the same address once
its owner proves they read mail there (the link in the welcome mail, or an order link).

Also what orders do when an account is deleted: the order keeps what tax law requires
(data/accounts/retention.json) and loses the rest of what identifies the buyer.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select, update

from marketplace.accounts import lifecycle as accounts
from marketplace.accounts.errors import AccountError
from marketplace.accounts.models import User
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.ids import isoformat
from marketplace.orders import notify
from marketplace.orders.models import Order, OrderReceipt
from marketplace.transaction import use_case

CLAIM_MAX_AGE_SECONDS = 7 * 24 * 3600
_CLAIM_SALT = "sheber-guest-claim"
RETENTION_FILE = Path(__file__).resolve().parents[2] / "data" / "accounts" / "retention.json"


@functools.lru_cache(maxsize=1)
def retention() -> dict:
    return json.loads(RETENTION_FILE.read_text(encoding="utf-8"))


def _claims() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_CLAIM_SALT)


def guest_orders_for(email: str | None) -> list[Order]:
    """Orders paid as a guest with ``email`` and not claimed yet."""
    if not email:
        return []
    return list(db.session.execute(
        select(Order).join(User, User.id == Order.buyer_id)
        .where(Order.contact_email == email.lower(), User.is_guest.is_(True))
        .order_by(Order.created_at)).scalars())


def claim_token(user: User) -> str:
    return _claims().dumps([user.id, user.email])


def on_account_created(payload: dict) -> None:
    """Reaction to ``account.created``: the welcome mail, with a claim link when this address
    paid orders as a guest."""
    user = db.session.get(User, payload["user_id"])
    if user is None or not user.email:
        return
    found = guest_orders_for(user.email)
    claim_url = (f"{notify.public_url()}/account/claim/{claim_token(user)}" if found else None)
    accounts.queue_welcome(user, claim_url=claim_url, claim_count=len(found))


def _move_to(user: User, orders: list[Order]) -> int:
    if not orders:
        return 0
    return db.session.execute(
        update(Order).where(Order.id.in_([order.id for order in orders]))
        .values(buyer_id=user.id).execution_options(synchronize_session="fetch")).rowcount


@use_case
def claim_with_token(user: User, token: str) -> int:
    """Claim this address's guest orders with the welcome mail's link; how many moved."""
    try:
        user_id, email = _claims().loads(token, max_age=CLAIM_MAX_AGE_SECONDS)
    except (BadSignature, ValueError, TypeError):
        user_id = email = None
    if user_id != user.id or not user.email or email != user.email:
        raise ValidationFailed("This link is not valid for your account.",
                               code=AccountError.CLAIM_INVALID,
                               errors={"token": ["invalid for this account"]})
    return _move_to(user, guest_orders_for(user.email))


@use_case
def claim_with_access(user: User, order_id: str, access: str) -> int:
    """Claim through an order's mailed link: the signed-in account has the address that order
    was paid with, and the link proves its owner reads mail there."""
    order = db.session.get(Order, order_id)
    if (order is None or not user.email or not notify.access_allows(order, access)
            or order.contact_email != user.email):
        raise ValidationFailed("This link is not valid for your account.",
                               code=AccountError.CLAIM_INVALID,
                               errors={"access": ["invalid for this account"]})
    return _move_to(user, guest_orders_for(user.email))


def on_account_deleted(payload: dict) -> None:
    """Reaction to ``account.deleted``: orders keep what tax law requires and nothing more."""
    removes = retention()["order_removes"]
    orders = db.session.execute(
        select(Order).where(Order.buyer_id == payload["user_id"])).scalars()
    for order in orders:
        address = dict(order.shipping_address or {})
        for field in removes:
            if field.startswith("shipping_address."):
                address.pop(field.split(".", 1)[1], None)
        order.shipping_address = address
        if "contact_email" in removes:
            order.contact_email = None
    # a kept receipt prints the name and address: the next download renders what is left
    db.session.execute(delete(OrderReceipt).where(OrderReceipt.order_id.in_(
        select(Order.id).where(Order.buyer_id == payload["user_id"]))))


def export_orders(user: User) -> list[dict]:
    """The "download my data" section for orders."""
    rows = db.session.execute(select(Order).where(Order.buyer_id == user.id)
                              .order_by(Order.created_at)).scalars()
    return [{
        "id": order.id, "number": order.id[-8:], "status": order.status,
        "created_at": isoformat(order.created_at), "paid_at": isoformat(order.paid_at),
        "currency": order.currency, "total_amount": order.total_amount,
        "shipping_address": order.shipping_address, "duties_mode": order.duties_mode,
        "lines": [{"title": line.title, "quantity": line.quantity,
                   "unit_amount": line.unit_presentment_amount, "serials": line.serials}
                  for line in order.lines],
    } for order in rows]
