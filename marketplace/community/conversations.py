"""Conversations between a buyer and a workshop (about a piece, an order or a commission), and
made-to-order commissions: request → offer → accepted (a one-off listing reserved for the buyer,
bought like any other), or declined / withdrawn.

Each new message mails the other side in their language, after the transaction commits. Operators
read a conversation only once one side has reported it.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import gettext
from sqlalchemy import or_, select, update

from marketplace import mail
from marketplace.accounts.models import Role, User
from marketplace.catalog import writes
from marketplace.catalog.browse import resolve_text
from marketplace.catalog.models import ArtisanProfile, Product, ProductStatus
from marketplace.community.errors import CommunityError
from marketplace.community.models import Commission, CommissionStatus, Conversation, Message
from marketplace.community.schemas import OfferIn
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.money import Money
from marketplace.orders.models import Order
from marketplace.transaction import lock_rows, use_case

MAX_SUBJECT = 200


# --- who may see what ---

def _participant(conversation: Conversation, user: User) -> bool:
    return user.id in (conversation.buyer_id, conversation.artisan_id)


def visible_conversation(conversation_id: str, user: User) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None or not (
            _participant(conversation, user)
            or (user.role == Role.OPERATOR and conversation.reported_at is not None)):
        raise NotFound("No such conversation.", code=CommunityError.CONVERSATION_NOT_FOUND)
    return conversation


def conversations_of(user: User, *, reported: bool = False, limit: int = 100
                     ) -> list[Conversation]:
    """A buyer's or workshop's conversations, latest message first; for operators, the reported
    ones (``reported`` asks the same of a participant's own)."""
    query = select(Conversation)
    if user.role == Role.OPERATOR:
        query = query.where(Conversation.reported_at.is_not(None))
    else:
        query = query.where(or_(Conversation.buyer_id == user.id,
                                Conversation.artisan_id == user.id))
        if reported:
            query = query.where(Conversation.reported_at.is_not(None))
    return list(db.session.execute(
        query.order_by(Conversation.last_message_at.desc(), Conversation.id).limit(limit)
    ).scalars())


def messages_of(conversation: Conversation) -> list[Message]:
    return list(db.session.execute(
        select(Message).where(Message.conversation_id == conversation.id)
        .order_by(Message.created_at, Message.id)).scalars())


def commissions_of(conversation: Conversation) -> list[Commission]:
    return list(db.session.execute(
        select(Commission).where(Commission.conversation_id == conversation.id)
        .order_by(Commission.created_at, Commission.id)).scalars())


# --- opening and writing ---

def _require_buyer(user: User) -> None:
    """A buyer with an account: a guest has no address to be answered at."""
    if user.role != Role.BUYER or user.is_guest:
        raise Forbidden("Only buyers open conversations with a workshop.",
                        code=CommunityError.BUYERS_ONLY)


def _workshop(artisan_id: str) -> User:
    artisan = db.session.get(User, artisan_id)
    if artisan is None or artisan.role != Role.ARTISAN:
        raise NotFound("No such workshop.", code=CommunityError.ARTISAN_NOT_FOUND)
    return artisan


@use_case
def open_conversation(buyer: User, *, body: str, product_id: str | None = None,
                      order_id: str | None = None, artisan_id: str | None = None,
                      subject: str | None = None) -> Conversation:
    """A buyer asks a workshop about a piece (``product_id``), one of their orders
    (``order_id`` with ``artisan_id`` when the order has several workshops) or anything."""
    _require_buyer(buyer)
    product = order = None
    if product_id:
        product = db.session.get(Product, product_id)
        if product is None or product.status == ProductStatus.ARCHIVED or (
                product.reserved_for_id not in (None, buyer.id)):
            raise NotFound("No such piece.", code=CommunityError.PRODUCT_NOT_FOUND)
        artisan_id = product.artisan_id
    if order_id:
        order = db.session.get(Order, order_id)
        workshops = {line.artisan_id for line in order.lines} if order else set()
        if order is None or order.buyer_id != buyer.id or not workshops:
            raise NotFound("No such order of yours.", code=CommunityError.CONVERSATION_NOT_FOUND)
        if artisan_id is None and len(workshops) == 1:
            artisan_id = next(iter(workshops))
        if artisan_id not in workshops:
            raise NotFound("That workshop has no piece in this order.",
                           code=CommunityError.ARTISAN_NOT_FOUND)
    if artisan_id is None:
        raise NotFound("Name the piece, the order or the workshop.",
                       code=CommunityError.ARTISAN_NOT_FOUND)
    artisan = _workshop(artisan_id)
    if not subject:
        subject = (resolve_text(product.title, buyer.locale)[0] if product
                   else gettext("Order %(number)s", number=order.id[-8:].upper()) if order
                   else gettext("A question"))
    conversation = Conversation(buyer_id=buyer.id, artisan_id=artisan.id,
                                product_id=product.id if product else None,
                                order_id=order.id if order else None,
                                subject=subject[:MAX_SUBJECT])
    db.session.add(conversation)
    db.session.flush()
    _post(conversation, buyer, body)
    return conversation


@use_case
def post_message(user: User, conversation_id: str, body: str) -> Message:
    conversation = visible_conversation(conversation_id, user)
    if not _participant(conversation, user):
        raise Forbidden("Operators read reported conversations; they do not write in them.")
    return _post(conversation, user, body)


def _post(conversation: Conversation, sender: User, body: str) -> Message:
    message = Message(conversation_id=conversation.id, sender_id=sender.id, body=body)
    db.session.add(message)
    conversation.last_message_at = utcnow()
    db.session.flush()
    recipient_id = (conversation.artisan_id if sender.id == conversation.buyer_id
                    else conversation.buyer_id)
    recipient = db.session.get(User, recipient_id)
    if recipient.deleted_at is not None:  # nobody reads it, and there is no address to mail
        raise Conflict("The other side has deleted their account.",
                       code=CommunityError.COUNTERPART_DELETED)
    _notify(conversation, sender, recipient, body)
    return message


@use_case
def report(user: User, conversation_id: str, reason: str) -> Conversation:
    conversation = visible_conversation(conversation_id, user)
    if not _participant(conversation, user):
        raise Forbidden("Only the buyer or the workshop reports a conversation.")
    if conversation.reported_at is None:
        conversation.reported_at = utcnow()
        conversation.reported_by = user.id
        conversation.report_reason = reason
        db.session.flush()
    return conversation


# --- commissions ---

@use_case
def request_commission(buyer: User, *, artisan_id: str, description: str,
                       budget: Money | None = None, wanted_by: date | None = None,
                       conversation_id: str | None = None) -> Commission:
    """A buyer asks a workshop to make a piece; it opens (or joins) a conversation."""
    _require_buyer(buyer)
    artisan = _workshop(artisan_id)
    if conversation_id:
        conversation = visible_conversation(conversation_id, buyer)
        if conversation.artisan_id != artisan.id or conversation.buyer_id != buyer.id:
            raise NotFound("No such conversation.", code=CommunityError.CONVERSATION_NOT_FOUND)
    else:
        conversation = Conversation(buyer_id=buyer.id, artisan_id=artisan.id,
                                    subject=gettext("Made to order: %(what)s",
                                                    what=description[:120]))
        db.session.add(conversation)
        db.session.flush()
    commission = Commission(conversation_id=conversation.id, buyer_id=buyer.id,
                            artisan_id=artisan.id, description=description,
                            budget_amount=budget.amount if budget else None,
                            budget_currency=budget.currency if budget else None,
                            wanted_by=wanted_by)
    db.session.add(commission)
    db.session.flush()
    _post(conversation, buyer, description)
    return commission


def _own_commission(commission_id: str, user: User, *, lock: bool = True) -> Commission:
    if lock:
        lock_rows(Commission, [commission_id])
    commission = db.session.get(Commission, commission_id)
    if commission is None or user.id not in (commission.buyer_id, commission.artisan_id):
        raise NotFound("No such commission.", code=CommunityError.COMMISSION_NOT_FOUND)
    if lock:
        db.session.refresh(commission)
    return commission


def _move(commission: Commission, allowed: set[CommissionStatus],
          target: CommissionStatus, **values) -> None:
    moved = db.session.execute(
        update(Commission).where(Commission.id == commission.id,
                                 Commission.status.in_([str(s) for s in allowed]))
        .values(status=str(target), updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)).rowcount
    if not moved:
        raise Conflict(f"The commission is {commission.status}.",
                       code=CommunityError.COMMISSION_STATE, state=commission.status)
    db.session.refresh(commission)


@use_case
def make_offer(artisan: User, commission_id: str, offer: OfferIn) -> Commission:
    """The workshop names a price and a making time (again, to change an unanswered offer)."""
    price = Money(offer.price.amount, offer.price.currency)
    commission = _own_commission(commission_id, artisan)
    if artisan.id != commission.artisan_id:
        raise Forbidden("Only the workshop makes the offer.")
    _move(commission, {CommissionStatus.REQUESTED, CommissionStatus.OFFERED},
          CommissionStatus.OFFERED, offer_amount=price.amount, offer_currency=price.currency,
          offer_making_days=offer.making_days, offer_note=offer.note or None)
    _stash_offer(commission, offer)
    conversation = db.session.get(Conversation, commission.conversation_id)
    _post(conversation, artisan, offer.note or gettext(
        "Offer: %(price)s, made in %(days)s days.", price=price.format(),
        days=offer.making_days))
    return commission


def _stash_offer(commission: Commission, offer: OfferIn) -> None:
    """The offer's listing fields stay with the commission until the buyer accepts."""
    commission.offer_listing = {
        "title": offer.title.as_dict(),
        "description": offer.description.as_dict() if offer.description else {},
        "craft": str(offer.craft), "weight_g": offer.weight_g,
        "dimensions_mm": offer.dimensions_mm.model_dump(),
        "materials": list(offer.materials), "techniques": list(offer.techniques)}
    db.session.flush()


@use_case
def decline(artisan: User, commission_id: str) -> Commission:
    commission = _own_commission(commission_id, artisan)
    if artisan.id != commission.artisan_id:
        raise Forbidden("Only the workshop declines.")
    _move(commission, {CommissionStatus.REQUESTED, CommissionStatus.OFFERED},
          CommissionStatus.DECLINED)
    return commission


@use_case
def withdraw(buyer: User, commission_id: str) -> Commission:
    commission = _own_commission(commission_id, buyer)
    if buyer.id != commission.buyer_id:
        raise Forbidden("Only the buyer withdraws the request.")
    _move(commission, {CommissionStatus.REQUESTED, CommissionStatus.OFFERED},
          CommissionStatus.WITHDRAWN)
    return commission


@use_case
def accept(buyer: User, commission_id: str) -> Commission:
    """The buyer takes the offer: a one-off listing (one piece, the offered price) reserved for
    them appears in their conversation, and checks out like any other piece."""
    commission = _own_commission(commission_id, buyer)
    if buyer.id != commission.buyer_id:
        raise Forbidden("Only the buyer accepts the offer.")
    if commission.status != CommissionStatus.OFFERED:
        raise Conflict(f"The commission is {commission.status}.",
                       code=CommunityError.COMMISSION_STATE, state=commission.status)
    artisan = db.session.get(User, commission.artisan_id)
    listing = dict(commission.offer_listing or {})
    product = writes.create_product(artisan, {
        "title": listing["title"], "description": listing.get("description") or None,
        "craft": listing["craft"],
        "price": {"amount": commission.offer_amount, "currency": commission.offer_currency},
        "stock": 1, "weight_g": listing["weight_g"], "dimensions_mm": listing["dimensions_mm"],
        "materials": listing.get("materials") or [],
        "techniques": listing.get("techniques") or []}, reserved_for=buyer.id)
    _move(commission, {CommissionStatus.OFFERED}, CommissionStatus.ACCEPTED,
          product_id=product.id)
    conversation = db.session.get(Conversation, commission.conversation_id)
    _post(conversation, buyer, gettext("I accept the offer."))
    return commission


def ready_by(commission: Commission) -> date | None:
    if commission.offer_making_days is None:
        return None
    start = commission.updated_at.date() if commission.updated_at else date.today()
    return start + timedelta(days=commission.offer_making_days)


# --- mail ---

def _notify(conversation: Conversation, sender: User, recipient: User, body: str) -> None:
    if recipient.role == Role.ARTISAN:
        sender_name = sender.name.split(" ")[0] if sender.name else ""
        path = f"/workshop/messages/{conversation.id}"
    else:
        profile = db.session.get(ArtisanProfile, sender.id)
        sender_name = profile.workshop_name if profile else sender.name
        path = f"/messages/{conversation.id}"
    mail.queue_template("conversation_message", to=recipient.email, locale=recipient.locale,
                        recipient_name=recipient.name, sender_name=sender_name,
                        subject=conversation.subject, body=body, path=path)


def visible_commission(commission_id: str, user: User) -> Commission:
    return _own_commission(commission_id, user, lock=False)
