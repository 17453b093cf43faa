"""HTTP for favourites, reviews, conversations and commissions."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.catalog import browse
from marketplace.catalog.api import request_currency, request_language
from marketplace.catalog.models import ArtisanProfile
from marketplace.catalog.schemas import ProductPage, ReadQuery
from marketplace.community import conversations, erasure, favourites, reviews
from marketplace.community.models import Commission, Conversation, Message, Review
from marketplace.community.schemas import (
    CommissionIn,
    CommissionOut,
    ConversationIn,
    ConversationListOut,
    ConversationOut,
    FavouriteOut,
    HideIn,
    MessageIn,
    MessageOut,
    OfferIn,
    ReplyIn,
    ReportIn,
    ReviewIn,
    ReviewListOut,
    ReviewListQuery,
    ReviewOut,
)
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.http import (
    auth_required,
    current_user,
    json_body,
    multipart_body,
    query_args,
    responds,
)
from marketplace.ids import isoformat
from marketplace.listings import present
from marketplace.money import Money
from marketplace.schemas import build

bp = Blueprint("community", __name__, url_prefix="/api/v1")
blueprints = [bp]


# --- favourites ---

def _favourite_out(product_id: str, saved: bool) -> dict:
    return build(FavouriteOut, product_id=product_id, saved=saved,
                 saved_by=favourites.save_counts([product_id])[product_id])


@bp.put("/me/favourites/<product_id>")
@auth_required()
@responds(FavouriteOut)
def save_favourite(product_id: str):
    """Save a piece (saving it again changes nothing)."""
    favourites.save(current_user(), product_id)
    return _favourite_out(product_id, True)


@bp.delete("/me/favourites/<product_id>")
@auth_required()
@responds(FavouriteOut)
def remove_favourite(product_id: str):
    """Forget a saved piece."""
    favourites.unsave(current_user(), product_id)
    return _favourite_out(product_id, False)


@bp.get("/me/favourites")
@auth_required()
@query_args(ReadQuery)
@responds(ProductPage)
def list_favourites(query: ReadQuery):
    """The caller's saved pieces still for sale, newest save first."""
    products = favourites.saved_products(current_user())
    items = present(products, lang=request_language(query.lang),
                    currency=request_currency(query.currency))
    return build(ProductPage, items=items, next_cursor=None)


# --- reviews ---

def review_out(review: Review, viewer: User | None) -> dict:
    insider = viewer is not None and (viewer.role == Role.OPERATOR or viewer.id in (
        review.author_id, review.artisan_id))
    photos = [reviews.photo_out(photo) for photo in review.photos or []]
    fields = dict(
        id=review.id, product_id=review.product_id, author_name=review.author_name,
        rating=review.rating, text=review.text, language=review.language,
        photos=[photo["url"] for photo in photos if photo["url"]], images=photos,
        reply=({"text": review.reply_text, "replied_at": isoformat(review.replied_at)}
               if review.reply_text else None),
        created_at=isoformat(review.created_at))
    if insider:
        fields["order_line_id"] = review.order_line_id
    if viewer is not None and viewer.role == Role.OPERATOR:
        fields["hidden"] = review.hidden_at is not None
        fields["hidden_reason"] = review.hidden_reason
    return build(ReviewOut, **fields)


@bp.post("/orders/<order_id>/lines/<line_id>/review")
@auth_required()
@json_body(ReviewIn)
@responds(ReviewOut, 201)
def write_review(order_id: str, line_id: str, body: ReviewIn):
    """Review a piece you received: once per order line, after delivery."""
    user = current_user()
    review = reviews.write_review(user, order_id, line_id, reviews.ReviewIn(
        rating=body.rating, text=body.text, language=body.language))
    return review_out(review, user), 201


@bp.post("/reviews/<review_id>/photos")
@auth_required()
@multipart_body("file", many=True)
@responds(ReviewOut, 201)
def add_review_photos(review_id: str):
    """Add photos to your review: multipart fields `file` (one or several), JPEG/PNG/WebP, at
    most 10 MB each and 4 photos a review; each is stored without its metadata (EXIF, GPS)."""
    user = current_user()
    max_bytes = current_app.config["MAX_IMAGE_BYTES"]
    files = request.files.getlist("file")
    data = [upload.stream.read(max_bytes + 1) for upload in files] or [None]
    already = reviews.photo_room(user, review_id)
    db.session.rollback()  # no transaction stays open while the photos are made
    photos = reviews.clean_photos(data, max_bytes=max_bytes, already=already)
    try:
        review = reviews.add_photos(user, review_id, photos)
    except DomainError:
        reviews.forget_photos(photos)
        raise
    return review_out(review, user), 201


@bp.get("/products/<product_id>/reviews")
@query_args(ReviewListQuery)
@responds(ReviewListOut)
def product_reviews(product_id: str, query: ReviewListQuery):
    """A piece's reviews, the reader's language first; hidden ones are left out."""
    viewer = current_user()
    product = browse.get_product(product_id, viewer)
    language = request_language(query.lang) or query.lang
    items = reviews.product_reviews(product.id, language=language, viewer=viewer)
    return build(ReviewListOut, summary=reviews.summaries([product.id])[product.id],
                 items=[review_out(r, viewer) for r in items])


@bp.post("/reviews/<review_id>/reply")
@auth_required("artisan")
@json_body(ReplyIn)
@responds(ReviewOut)
def reply_to_review(review_id: str, body: ReplyIn):
    """The workshop's one public reply."""
    user = current_user()
    return review_out(reviews.reply(user, review_id, body.text), user)


@bp.post("/operator/reviews/<review_id>/hide")
@auth_required("operator")
@json_body(HideIn)
@responds(ReviewOut)
def hide_review(review_id: str, body: HideIn):
    """Hide an abusive review (operators): gone from pages and from the average."""
    user = current_user()
    return review_out(reviews.hide(user, review_id, body.reason), user)


# --- conversations ---

def _names(rows: list[Conversation]) -> tuple[dict, dict]:
    user_ids = {c.buyer_id for c in rows} | {c.artisan_id for c in rows}
    users = erasure.display_names(user_ids)
    workshops = {p.user_id: p.workshop_name for p in db.session.execute(
        select(ArtisanProfile).where(ArtisanProfile.user_id.in_(user_ids))).scalars()
    } if user_ids else {}
    return users, workshops


def _summary_fields(conversation: Conversation, users: dict, workshops: dict) -> dict:
    return dict(
        id=conversation.id, buyer_id=conversation.buyer_id,
        artisan_id=conversation.artisan_id,
        workshop_name=workshops.get(conversation.artisan_id)
        or users.get(conversation.artisan_id, ""),
        buyer_name=users.get(conversation.buyer_id, ""),
        product_id=conversation.product_id, order_id=conversation.order_id,
        subject=conversation.subject, reported=conversation.reported_at is not None,
        last_message_at=isoformat(conversation.last_message_at))


def commission_out(commission: Commission) -> dict:
    budget = (Money(commission.budget_amount, commission.budget_currency).to_dict()
              if commission.budget_amount is not None else None)
    offer = (Money(commission.offer_amount, commission.offer_currency).to_dict()
             if commission.offer_amount is not None else None)
    ready = conversations.ready_by(commission) if commission.status == "accepted" else None
    return build(CommissionOut, id=commission.id, conversation_id=commission.conversation_id,
                 buyer_id=commission.buyer_id, artisan_id=commission.artisan_id,
                 description=commission.description, budget=budget,
                 wanted_by=commission.wanted_by.isoformat() if commission.wanted_by else None,
                 status=commission.status, offer_price=offer,
                 offer_making_days=commission.offer_making_days,
                 offer_note=commission.offer_note,
                 ready_by=ready.isoformat() if ready else None,
                 product_id=commission.product_id,
                 created_at=isoformat(commission.created_at),
                 updated_at=isoformat(commission.updated_at))


def _message_out(message: Message, conversation: Conversation) -> dict:
    return build(MessageOut, id=message.id, sender_id=message.sender_id,
                 sender="buyer" if message.sender_id == conversation.buyer_id else "workshop",
                 body=message.body, created_at=isoformat(message.created_at))


def conversation_out(conversation: Conversation, viewer: User) -> dict:
    users, workshops = _names([conversation])
    fields = _summary_fields(conversation, users, workshops)
    fields["messages"] = [_message_out(m, conversation)
                          for m in conversations.messages_of(conversation)]
    fields["commissions"] = [commission_out(c) for c in conversations.commissions_of(conversation)]
    if viewer.role == Role.OPERATOR:
        fields["report_reason"] = conversation.report_reason
    return build(ConversationOut, **fields)


def conversation_summaries(rows: list[Conversation]) -> list[dict]:
    users, workshops = _names(rows)
    return [_summary_fields(c, users, workshops) for c in rows]


@bp.get("/conversations")
@auth_required()
@responds(ConversationListOut)
def list_conversations():
    """The caller's conversations, latest first (operators: the reported ones)."""
    return build(ConversationListOut,
                 items=conversation_summaries(conversations.conversations_of(current_user())))


@bp.post("/conversations")
@auth_required("buyer")
@json_body(ConversationIn)
@responds(ConversationOut, 201)
def open_conversation(body: ConversationIn):
    """Ask a workshop about a piece, one of your orders, or anything; it is mailed to them."""
    user = current_user()
    conversation = conversations.open_conversation(
        user, body=body.body, product_id=body.product_id, order_id=body.order_id,
        artisan_id=body.artisan_id, subject=body.subject)
    return conversation_out(conversation, user), 201


@bp.get("/conversations/<conversation_id>")
@auth_required()
@responds(ConversationOut)
def get_conversation(conversation_id: str):
    """One conversation with its messages and commissions."""
    user = current_user()
    return conversation_out(conversations.visible_conversation(conversation_id, user), user)


@bp.post("/conversations/<conversation_id>/messages")
@auth_required()
@json_body(MessageIn)
@responds(ConversationOut, 201)
def post_message(conversation_id: str, body: MessageIn):
    """Write in a conversation; the other side gets a mail."""
    user = current_user()
    conversations.post_message(user, conversation_id, body.body)
    return conversation_out(conversations.visible_conversation(conversation_id, user), user), 201


@bp.post("/conversations/<conversation_id>/report")
@auth_required()
@json_body(ReportIn)
@responds(ConversationOut)
def report_conversation(conversation_id: str, body: ReportIn):
    """Report a conversation: operators may then read it."""
    user = current_user()
    return conversation_out(conversations.report(user, conversation_id, body.reason), user)


# --- commissions ---

@bp.post("/commissions")
@auth_required("buyer")
@json_body(CommissionIn)
@responds(CommissionOut, 201)
def request_commission(body: CommissionIn):
    """Ask a workshop to make a piece for you (description, budget, wanted-by date)."""
    budget = Money(body.budget.amount, body.budget.currency) if body.budget else None
    commission = conversations.request_commission(
        current_user(), artisan_id=body.artisan_id, description=body.description,
        budget=budget, wanted_by=body.wanted_by, conversation_id=body.conversation_id)
    return commission_out(commission), 201


@bp.get("/commissions/<commission_id>")
@auth_required()
@responds(CommissionOut)
def get_commission(commission_id: str):
    """A commission, for its buyer and its workshop."""
    return commission_out(conversations.visible_commission(commission_id, current_user()))


@bp.post("/commissions/<commission_id>/offer")
@auth_required("artisan")
@json_body(OfferIn)
@responds(CommissionOut)
def offer_commission(commission_id: str, body: OfferIn):
    """The workshop's offer: the piece as it will be listed, its price and making time."""
    return commission_out(conversations.make_offer(current_user(), commission_id, body))


@bp.post("/commissions/<commission_id>/accept")
@auth_required("buyer")
@responds(CommissionOut)
def accept_commission(commission_id: str):
    """Take the offer: a one-off listing reserved for you, to put in your cart and pay."""
    return commission_out(conversations.accept(current_user(), commission_id))


@bp.post("/commissions/<commission_id>/decline")
@auth_required("artisan")
@responds(CommissionOut)
def decline_commission(commission_id: str):
    """The workshop will not make it."""
    return commission_out(conversations.decline(current_user(), commission_id))


@bp.post("/commissions/<commission_id>/withdraw")
@auth_required("buyer")
@responds(CommissionOut)
def withdraw_commission(commission_id: str):
    """The buyer no longer wants it (before accepting an offer)."""
    return commission_out(conversations.withdraw(current_user(), commission_id))
