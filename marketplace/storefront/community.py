"""Favourites, reviews, conversations with workshops and commissions, as pages. Every action
goes through the community services, exactly as the API does."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError

from marketplace.catalog import browse
from marketplace.catalog.models import ArtisanProfile, Craft
from marketplace.community import conversations, favourites, reviews
from marketplace.community.api import conversation_out, conversation_summaries, review_out
from marketplace.community.schemas import CommissionIn, OfferIn, ReviewIn
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.i18n import current_language
from marketplace.money import Money
from marketplace.storefront.forms import minor_units
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import (
    html_errors,
    page_user,
    present_listings,
    roles_required,
    safe_next,
)

bp = html_errors(Blueprint("social", __name__))


def _back(default: str) -> str:
    return safe_next(request.form.get("next"), default)


# --- favourites ---

@bp.post("/favourites/<product_id>")
@roles_required("buyer", "artisan", "operator")
def toggle_favourite(product_id: str):
    """Save or forget a piece (the heart on cards and product pages)."""
    user = page_user()
    back = _back(url_for("shop.product", product_id=product_id))
    try:
        if request.form.get("saved") == "1":
            favourites.unsave(user, product_id)
            flash(_("Removed from your saved pieces."), "success")
        else:
            favourites.save(user, product_id)
            flash(_("Saved. Find it under Saved."), "success")
    except DomainError as refused:
        flash(message_for(refused), "error")
    return redirect(back)


@bp.get("/favourites")
@roles_required("buyer", "artisan", "operator")
def favourite_list():
    products = present_listings(favourites.saved_products(page_user()))
    return render_template("storefront/favourites.html", products=products,
                           craft_names={c["code"]: c["name"]
                                        for c in browse.crafts(current_language())})


# --- reviews ---

@bp.route("/orders/<order_id>/lines/<line_id>/review", methods=["GET", "POST"])
@roles_required("buyer")
def review(order_id: str, line_id: str):
    user = page_user()
    order, line = reviews.reviewable_line(user, order_id, line_id)
    existing = reviews.line_reviews(order.id).get(line.id)
    errors: dict[str, str] = {}
    form = {"rating": request.form.get("rating", ""), "text": request.form.get("text", "")}
    if request.method == "POST" and existing is None:
        try:
            body = ReviewIn(rating=int(form["rating"] or 0), text=form["text"],
                            language=current_language())
        except (ValueError, ValidationError):
            errors["rating"] = _("Choose from 1 to 5 stars; the text may be up to 4,000 "
                                 "characters.")
        else:
            max_bytes = current_app.config["MAX_IMAGE_BYTES"]
            files = [upload.stream.read(max_bytes + 1)
                     for upload in request.files.getlist("photos") if upload.filename]
            photos: list[dict] = []
            try:
                db.session.rollback()  # no transaction open while the photos are made
                photos = reviews.clean_photos(files, max_bytes=max_bytes)
                reviews.write_review(user, order.id, line.id, reviews.ReviewIn(
                    rating=body.rating, text=body.text, language=body.language,
                    photos=tuple(photos)))
            except DomainError as refused:
                reviews.forget_photos(photos)
                errors["form"] = message_for(refused)
            else:
                flash(_("Thank you: your review is published."), "success")
                return redirect(url_for("shop.product", product_id=line.product_id))
    title = (line.title or {}).get(current_language()) or next(iter((line.title or {}).values()),
                                                                "")
    return render_template("storefront/review.html", order=order, line=line, title=title,
                           existing=review_out(existing, user) if existing else None,
                           form=form, errors=errors,
                           max_photos=reviews.MAX_REVIEW_PHOTOS), 422 if errors else 200


@bp.post("/reviews/<review_id>/reply")
@roles_required("artisan")
def reply(review_id: str):
    text = request.form.get("text", "").strip()
    back = _back(url_for("workshop.dashboard"))
    if not text or len(text) > 4000:
        flash(_("Write a reply of up to 4,000 characters."), "error")
        return redirect(back)
    try:
        reviews.reply(page_user(), review_id, text)
        flash(_("Your reply is published."), "success")
    except DomainError as refused:
        flash(message_for(refused), "error")
    return redirect(back)


@bp.post("/console/reviews/<review_id>/hide")
@roles_required("operator")
def hide(review_id: str):
    reason = request.form.get("reason", "").strip()
    back = _back(url_for("console.dashboard"))
    if len(reason) < 3:
        flash(_("Say why the review is hidden."), "error")
        return redirect(back)
    reviews.hide(page_user(), review_id, reason[:1000])
    flash(_("The review is hidden."), "success")
    return redirect(back)


# --- conversations ---

@bp.get("/workshop/messages")  # the rule registered last (the top one) is only an alias
@bp.get("/messages")
@roles_required("buyer", "artisan", "operator")
def conversation_list():
    rows = conversations.conversations_of(page_user())
    return render_template("storefront/conversations.html",
                           conversations=conversation_summaries(rows))


@bp.route("/messages/new", methods=["GET", "POST"])
@roles_required("buyer")
def new_conversation():
    source = request.form if request.method == "POST" else request.args
    product_id = source.get("product_id") or None
    artisan_id = source.get("artisan_id") or None
    product = browse.get_product(product_id, page_user()) if product_id else None
    artisan_id = product.artisan_id if product else artisan_id
    profile = db.session.get(ArtisanProfile, artisan_id) if artisan_id else None
    body = request.form.get("body", "").strip()
    error = None
    if request.method == "POST":
        if not body or len(body) > 4000:
            error = _("Write your message (up to 4,000 characters).")
        else:
            try:
                conversation = conversations.open_conversation(
                    page_user(), body=body, product_id=product_id,
                    artisan_id=None if product_id else artisan_id)
            except DomainError as refused:
                error = message_for(refused)
            else:
                flash(_("Sent. The workshop gets it by e-mail too."), "success")
                return redirect(url_for("social.conversation", conversation_id=conversation.id))
    title = (browse.resolve_text(product.title, current_language())[0] if product else None)
    return render_template("storefront/conversation_new.html", product=product,
                           product_title=title, artisan_id=artisan_id, profile=profile,
                           body=body, error=error), 422 if error else 200


@bp.get("/workshop/messages/<conversation_id>")  # the workshop's mails link here
@bp.get("/messages/<conversation_id>")
@roles_required("buyer", "artisan", "operator")
def conversation(conversation_id: str):
    user = page_user()
    view = conversation_out(conversations.visible_conversation(conversation_id, user), user)
    crafts = {c["code"]: c["name"] for c in browse.crafts(current_language())}
    return render_template("storefront/conversation.html", conversation=view, crafts=crafts,
                           craft_codes=[str(c) for c in Craft])


@bp.post("/messages/<conversation_id>")
@roles_required("buyer", "artisan")
def post_message(conversation_id: str):
    body = request.form.get("body", "").strip()
    if not body or len(body) > 4000:
        flash(_("Write your message (up to 4,000 characters)."), "error")
    else:
        try:
            conversations.post_message(page_user(), conversation_id, body)
        except DomainError as refused:
            flash(message_for(refused), "error")
    return redirect(url_for("social.conversation", conversation_id=conversation_id))


@bp.post("/messages/<conversation_id>/report")
@roles_required("buyer", "artisan")
def report(conversation_id: str):
    reason = request.form.get("reason", "").strip() or _("Reported from the conversation page")
    conversations.report(page_user(), conversation_id, reason[:1000])
    flash(_("Reported. An operator will read the conversation."), "success")
    return redirect(url_for("social.conversation", conversation_id=conversation_id))


# --- commissions ---

def _major(raw: str, currency: str) -> int | None:
    amount = minor_units(raw, currency)
    return amount if amount is not None and amount > 0 else None


@bp.route("/commissions/new", methods=["GET", "POST"])
@roles_required("buyer")
def new_commission():
    source = request.form if request.method == "POST" else request.args
    artisan_id = source.get("artisan_id", "")
    profile = db.session.get(ArtisanProfile, artisan_id) if artisan_id else None
    if profile is None:
        return redirect(url_for("shop.catalogue"))
    form = {key: request.form.get(key, "").strip()
            for key in ("description", "budget", "budget_currency", "wanted_by")}
    error = None
    if request.method == "POST":
        currency = form["budget_currency"] or page_user().currency
        budget = _major(form["budget"], currency) if form["budget"] else None
        try:
            wanted = date.fromisoformat(form["wanted_by"]) if form["wanted_by"] else None
            body = CommissionIn(artisan_id=artisan_id, description=form["description"],
                                budget={"amount": budget, "currency": currency}
                                if budget else None, wanted_by=wanted)
        except (ValueError, ValidationError):
            error = _("Describe the piece in at least 10 characters; a budget and a date after "
                      "today are optional.")
        else:
            try:
                commission = conversations.request_commission(
                    page_user(), artisan_id=body.artisan_id, description=body.description,
                    budget=Money(body.budget.amount, body.budget.currency) if body.budget
                    else None, wanted_by=body.wanted_by)
            except DomainError as refused:
                error = message_for(refused)
            else:
                flash(_("Your request is sent to the workshop."), "success")
                return redirect(url_for("social.conversation",
                                        conversation_id=commission.conversation_id))
    return render_template("storefront/commission_new.html", profile=profile, form=form,
                           error=error), 422 if error else 200


@bp.post("/commissions/<commission_id>/offer")
@roles_required("artisan")
def offer(commission_id: str):
    user = page_user()
    commission = conversations.visible_commission(commission_id, user)
    form = request.form
    currency = form.get("currency") or "KZT"
    try:
        body = OfferIn(
            title={current_language(): form.get("title", "")}, craft=form.get("craft", ""),
            price={"amount": _major(form.get("price", ""), currency) or 0, "currency": currency},
            making_days=int(form.get("making_days") or 0),
            weight_g=int(form.get("weight_g") or 0),
            dimensions_mm={"l": int(form.get("length_mm") or 0),
                           "w": int(form.get("width_mm") or 0),
                           "h": int(form.get("height_mm") or 0)},
            note=form.get("note", ""))
    except (ValueError, ValidationError):
        flash(_("Fill in the title, craft, price, making time, weight and size of the piece."),
              "error")
    else:
        try:
            conversations.make_offer(user, commission.id, body)
            flash(_("Your offer is sent."), "success")
        except DomainError as refused:
            flash(message_for(refused), "error")
    return redirect(url_for("social.conversation", conversation_id=commission.conversation_id))


def _commission_action(commission_id: str, action, done: str):
    user = page_user()
    commission = conversations.visible_commission(commission_id, user)
    try:
        action(user, commission.id)
        flash(done, "success")
    except DomainError as refused:
        flash(message_for(refused), "error")
    return redirect(url_for("social.conversation", conversation_id=commission.conversation_id))


@bp.post("/commissions/<commission_id>/accept")
@roles_required("buyer")
def accept(commission_id: str):
    return _commission_action(commission_id, conversations.accept,
                              _("Offer accepted: the piece is reserved for you. Add it to your "
                                "cart to pay."))


@bp.post("/commissions/<commission_id>/decline")
@roles_required("artisan")
def decline(commission_id: str):
    return _commission_action(commission_id, conversations.decline, _("Request declined."))


@bp.post("/commissions/<commission_id>/withdraw")
@roles_required("buyer")
def withdraw(commission_id: str):
    return _commission_action(commission_id, conversations.withdraw, _("Request withdrawn."))


def product_extras(product: dict, viewer) -> dict:
    """What the product page shows beside the piece: its reviews (the reader's language first)
    and, for its workshop and operators, how many buyers saved it."""
    items = reviews.product_reviews(product["id"], language=current_language(), viewer=viewer)
    extras = {"reviews": [review_out(r, viewer) for r in items]}
    if viewer is not None and (viewer.role == "operator" or viewer.id == product["artisan_id"]):
        extras["saved_by"] = favourites.save_counts([product["id"]])[product["id"]]
    return extras

