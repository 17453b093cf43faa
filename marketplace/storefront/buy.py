"""Buying: cart, checkout (address, delivery options, DDP/DAP), card payment, orders."""

from __future__ import annotations

import contextlib
import re

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from pydantic import ValidationError

from marketplace.accounts import addresses
from marketplace.accounts import lifecycle as account_lifecycle
from marketplace.accounts import service as accounts
from marketplace.checkout import service as checkout
from marketplace.checkout.errors import CheckoutError
from marketplace.checkout.schemas import AddressIn
from marketplace.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    OutOfStock,
    ValidationFailed,
    problem,
)
from marketplace.fx import service as fx
from marketplace.geo import COUNTRIES
from marketplace.i18n import current_currency, current_language, localized
from marketplace.integrations import stripe_client
from marketplace.money import Money
from marketplace.orders import guests, invoices, notify
from marketplace.orders import service as orders
from marketplace.orders.lifecycle import AWAITING_PAYMENT
from marketplace.orders.models import OrderStatus
from marketplace.orders.schemas import document_pdf_path, order_out
from marketplace.shipping import carriers, parcels, progress
from marketplace.shipping import service as shipping
from marketplace.shipping.schemas import shipment_out
from marketplace.storefront.auth import countries_for_language, start_guest_session
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import html_errors, page_user, roles_required
from marketplace.validation import email_address

bp = html_errors(Blueprint("buy", __name__))

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")
# A Stripe PaymentMethod (Stripe.js createPaymentMethod) or a card from a token (createToken,
# the only route the local emulator's Stripe.js offers); PaymentIntents accept both.
PAYMENT_METHOD = re.compile(r"(pm|card)_[A-Za-z0-9_]{1,200}")
# The usual life of an order, shown as steps on the order page.
ORDER_STEPS = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.FULFILLING,
               OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)


def _quantity(raw: str | None) -> int | None:
    try:
        value = int(raw or "1")
    except ValueError:
        return None
    return value if 1 <= value <= checkout.MAX_CART_QUANTITY else None


# --- cart ----------------------------------------------------------------------------------

def _shopper():
    """The buyer adding to the cart: the signed-in one, else a new guest (no sign-up needed)."""
    user = page_user()
    if user is None:
        user = account_lifecycle.create_guest(locale=current_language(),
                                              currency=current_currency(),
                                              country=_visitor_country())
        start_guest_session(user)
    return user


def _visitor_country() -> str:
    for value, _quality in request.accept_languages:
        parts = value.replace("_", "-").split("-")
        region = next((part.upper() for part in parts[1:] if len(part) == 2), None)
        if region and region in COUNTRIES:
            return region
    return "US"


@bp.post("/cart/items")
def add_to_cart():
    product_id = request.form.get("product_id", "")
    back = url_for("shop.product", product_id=product_id) if product_id else url_for("buy.cart")
    quantity = _quantity(request.form.get("quantity"))
    if quantity is None:
        flash(_("Choose a quantity between 1 and %(max)s.", max=checkout.MAX_CART_QUANTITY),
              "error")
        return redirect(back)
    user = page_user()
    if user is not None and user.role != "buyer":
        raise Forbidden("This page is not available for your account.")
    try:
        checkout.add_to_cart(_shopper(), product_id, quantity)
    except (OutOfStock, ValidationFailed, NotFound) as refused:
        flash(message_for(refused, default=_("Choose a quantity between 1 and %(max)s.",
                                             max=checkout.MAX_CART_QUANTITY)), "error")
        return redirect(back)
    flash(_("Added to your cart."), "success")
    return redirect(url_for("buy.cart"))


def _cart_view(buyer_id: str) -> dict:
    cart = checkout.get_cart(buyer_id)
    currency = current_currency()
    rates = fx.current_rates()
    lines = []
    subtotal = Money.zero(currency)
    for item in cart.items if cart else []:
        unit = rates.price(item.product.price, currency)[0]
        lines.append({"id": item.id, "product_id": item.product_id, "quantity": item.quantity,
                      "title": localized(item.product.title), "unit": unit,
                      "total": unit * item.quantity,
                      "available": max(item.product.available, 0)})
        subtotal += unit * item.quantity
    return {"lines": lines, "subtotal": subtotal}


@bp.get("/cart")
@roles_required("buyer")
def cart():
    return render_template("storefront/cart.html", **_cart_view(page_user().id))


@bp.post("/cart/items/<item_id>")
@roles_required("buyer")
def update_cart_item(item_id: str):
    quantity = _quantity(request.form.get("quantity"))
    if quantity is None:
        flash(_("Choose a quantity between 1 and %(max)s.", max=checkout.MAX_CART_QUANTITY),
              "error")
        return redirect(url_for("buy.cart"))
    try:
        checkout.update_cart_item(page_user(), item_id, quantity)
    except OutOfStock as refused:
        flash(message_for(refused), "error")
    return redirect(url_for("buy.cart"))


@bp.post("/cart/items/<item_id>/remove")
@roles_required("buyer")
def remove_cart_item(item_id: str):
    checkout.remove_cart_item(page_user(), item_id)
    return redirect(url_for("buy.cart"))


# --- checkout ------------------------------------------------------------------------------

def _address_errors(exc: ValidationError) -> dict[str, str]:
    messages = {
        "name": _("Enter the recipient's name."),
        "line1": _("Enter the street and house number."),
        "city": _("Enter the city."),
        "country": _("Choose the country."),
        "postal_code": _("Enter a valid postal code for this country."),
        "phone": _("Enter a phone number with the country code, e.g. +49 30 1234567."),
    }
    errors = {}
    for item in exc.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        errors[field] = messages.get(field, _("Check this field."))
    return errors


def _address_form() -> dict[str, str]:
    form = {field: request.form.get(field, "").strip() for field in ADDRESS_FIELDS}
    form["email"] = request.form.get("email", "").strip()
    form["save_address"] = "1" if request.form.get("save_address") else ""
    return form


def _email_problem(form: dict) -> str | None:
    """A guest's address for the receipt is required and must look like one."""
    if not page_user().is_guest:
        return None
    try:
        form["email"] = email_address(form.get("email") or "")
    except ValueError:
        return _("Enter your email address for the receipt.")
    return None


def _parse_address(form: dict[str, str]) -> AddressIn:
    return AddressIn(**{key: form.get(key) or None for key in ADDRESS_FIELDS})


def _render_address(form: dict, errors: dict, status: int = 200):
    user = page_user()
    saved = [] if user.is_guest else addresses.list_addresses(user)
    return render_template("storefront/checkout_address.html", form=form, errors=errors,
                           countries=countries_for_language(current_language()),
                           saved=saved, guest=user.is_guest,
                           **_cart_view(page_user().id)), status


def _render_delivery(address: AddressIn, form: dict, *, error: str | None = None,
                     status: int = 200):
    items = checkout.cart_items_for_quote(page_user().id)
    quote = shipping.quote(address.country, address.postal_code, items, current_currency())
    windows = {option.id: checkout.eta_dates(items, option.eta_min_days, option.eta_max_days)
               for option in quote.options}
    return render_template("storefront/checkout_delivery.html", address=address, form=form,
                           quote=quote, windows=windows, error=error,
                           **_cart_view(page_user().id)), status


@bp.get("/checkout")
@roles_required("buyer")
def checkout_address():
    user = page_user()
    if not checkout.cart_items_for_quote(user.id):
        flash(_("Your cart is empty."), "info")
        return redirect(url_for("buy.cart"))
    form = dict.fromkeys(ADDRESS_FIELDS, "")
    form.update(name=user.name, country=user.country, email="", save_address="")
    chosen = None
    if not user.is_guest:
        wanted = request.args.get("address")
        found = addresses.list_addresses(user)
        chosen = next((a for a in found if a.id == wanted), None) or (found[0] if found
                                                                      else None)
    if chosen is not None:
        form.update({key: value or "" for key, value in
                     addresses.as_order_address(chosen).items()})
    elif not user.is_guest:
        form["save_address"] = "1"
    return _render_address(form, {})


@bp.post("/checkout/delivery")
@roles_required("buyer")
def checkout_delivery():
    form = _address_form()
    email_problem = _email_problem(form)
    try:
        address = _parse_address(form)
    except ValidationError as exc:
        errors = _address_errors(exc)
        if email_problem:
            errors["email"] = email_problem
        return _render_address(form, errors, 422)
    if email_problem:
        return _render_address(form, {"email": email_problem}, 422)
    try:
        return _render_delivery(address, form)
    except ValidationFailed as refused:
        return _render_address(form, {"country": message_for(
            refused, default=_("We cannot ship these pieces there yet."))}, refused.status)


@bp.post("/checkout/place")
@roles_required("buyer")
def place_order():
    form = _address_form()
    try:
        address = _parse_address(form)
    except ValidationError as exc:
        return _render_address(form, _address_errors(exc), 422)
    duties_mode = request.form.get("duties_mode")
    option = request.form.get("shipping_option", "")
    if duties_mode not in ("DDP", "DAP") or not option:
        return _render_delivery(address, form, status=422,
                                error=_("Choose a delivery option and how to pay import duties."))
    if _email_problem(form):
        return _render_address(form, {"email": _email_problem(form)}, 422)
    user = page_user()
    try:
        result = checkout.checkout(user, shipping_address=address.model_dump(),
                                   shipping_option=option, currency=current_currency(),
                                   duties_mode=duties_mode,
                                   contact_email=form["email"] if user.is_guest else None,
                                   locale=current_language())
    except OutOfStock as refused:
        flash(message_for(refused), "error")
        return redirect(url_for("buy.cart"))
    except (ValidationFailed, Conflict) as refused:
        # a stale or mismatched delivery option, or a cart that changed meanwhile
        if refused.status == 409 and not checkout.cart_items_for_quote(page_user().id):
            return redirect(url_for("buy.cart"))
        message = message_for(refused,
                              default=_("Delivery prices have changed. Please choose again."))
        return _render_delivery(address, form, error=message, status=refused.status)
    if form.get("save_address") and not user.is_guest:
        _save_address(user, address)
    return redirect(url_for("buy.pay", order_id=result.order.id))


def _save_address(user, address: AddressIn) -> None:
    """Keep the checkout's address for next time, unless it is saved already."""
    fields = address.model_dump()
    for saved in addresses.list_addresses(user):
        if addresses.as_order_address(saved) == fields:
            return
    with contextlib.suppress(Conflict):
        addresses.add_address(user, fields)


# --- payment -------------------------------------------------------------------------------

def _own_order(order_id: str):
    """The signed-in buyer's own order, else 404 (nobody learns that it exists)."""
    user = page_user()
    order = orders.visible_order(order_id, user)
    if order.buyer_id != user.id:
        raise NotFound("No such order.")
    return order


@bp.get("/orders/<order_id>/pay")
@roles_required("buyer")
def pay(order_id: str):
    order = _own_order(order_id)
    if OrderStatus(order.status) not in AWAITING_PAYMENT:
        return redirect(url_for("buy.order", order_id=order.id))
    return render_template("storefront/pay.html", order=order,
                           publishable_key=stripe_client.publishable_key())


@bp.post("/orders/<order_id>/pay")
@roles_required("buyer")
def pay_with_card(order_id: str):
    """Called by the pay page's script: attach the card made by Stripe.js and confirm."""
    data = request.get_json(silent=True) or {}
    method = data.get("payment_method")
    if not isinstance(method, str) or not PAYMENT_METHOD.fullmatch(method):
        return problem(422, "Validation failed", "A card is required.", type_="validation-error",
                       code=CheckoutError.PAYMENT_METHOD_REQUIRED,
                       errors={"payment_method": ["must be a Stripe payment method id"]})
    try:
        outcome = checkout.pay_order(page_user(), order_id, method)
    except DomainError as error:
        return problem(error.status, error.title, error.detail, type_=error.type,
                       code=error.code, errors=error.errors)
    if outcome["status"] == "failed":
        outcome["message"] = _("The card was declined. Try another card.")
    return jsonify(outcome)


@bp.get("/orders/<order_id>/status")
@roles_required("buyer", "artisan", "operator")
def order_status(order_id: str):
    """Polled by the pay page until Stripe's word has made the order paid."""
    try:
        order = orders.visible_order(order_id, page_user())
    except NotFound as error:
        return problem(404, error.title, error.detail, type_=error.type, code=error.code)
    return jsonify({"id": order.id, "status": order.status})


# --- orders --------------------------------------------------------------------------------

@bp.get("/orders")
@roles_required("buyer")
def order_list():
    items, next_cursor = orders.list_orders(page_user(), limit=24,
                                            cursor=request.args.get("cursor") or None)
    next_url = url_for("buy.order_list", cursor=next_cursor) if next_cursor else None
    return render_template("storefront/orders.html", orders=items, next_url=next_url)


@bp.get("/orders/<order_id>")
def order(order_id: str):
    """The order page: for its buyer, artisans and operators; for anyone holding the signed link
    of its mails (``?access=``: a guest, on any device)."""
    user = page_user()
    access = request.args.get("access")
    found = orders.get_order(order_id)
    by_link = found is not None and notify.access_allows(found, access)
    if not by_link:
        if user is None:
            return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
        found = orders.visible_order(order_id, user)
    viewer = user if user is not None and orders.can_see(found, user) else (
        accounts.get_user(found.buyer_id))
    view = order_out(found, viewer)  # what this viewer may see, exactly as the API shows it
    history = [event for event in view["events"] if event["to_status"]]
    parcel_views = [shipment_out(parcels.visible_shipment(item["id"], viewer), viewer,
                                 current_language())
                    for item in view["shipments"]]
    claimable = (by_link and user is not None and not user.is_guest and bool(user.email)
                 and user.id != found.buyer_id and found.contact_email == user.email)
    return render_template("storefront/order.html", order=view, history=history,
                           parcels=parcel_views, access=access if by_link else None,
                           claimable=claimable,
                           documents=_tax_documents(found, user, access if by_link else None),
                           steps=ORDER_STEPS, reached={event["to_status"] for event in history},
                           awaiting_payment=OrderStatus(found.status) in AWAITING_PAYMENT
                           and user is not None and found.buyer_id == user.id)


def _tax_documents(order, user, access: str | None) -> list[dict]:
    """The order's invoice and credit notes, for those who may read them (its buyer, a holder
    of its mailed link, operators; never its artisans). An order paid before invoices existed
    links its invoice too: the download issues it."""
    if access is None and (user is None or (user.id != order.buyer_id
                                            and user.role != "operator")):
        return []
    suffix = f"?access={access}" if access else ""
    documents = [{"kind": document.kind, "number": document.number,
                  "issued_at": document.issued_at, "url": document_pdf_path(document) + suffix}
                 for document in invoices.documents_of(order.id)]
    if order.paid_at is not None and not any(d["kind"] == "invoice" for d in documents):
        documents.insert(0, {"kind": "invoice", "number": None, "issued_at": order.paid_at,
                             "url": f"/api/v1/orders/{order.id}/invoice.pdf{suffix}"})
    return documents


@bp.post("/orders/<order_id>/claim")
@roles_required("buyer")
def claim_order(order_id: str):
    """Add a guest order (and the others paid with this address) to the signed-in account."""
    try:
        claimed = guests.claim_with_access(page_user(), order_id, request.form.get("access", ""))
    except ValidationFailed as refused:
        flash(message_for(refused), "error")
        return redirect(url_for("buy.order_list"))
    flash(ngettext("%(num)s order added to your account.", "%(num)s orders added to your "
                   "account.", claimed), "success")
    return redirect(url_for("buy.order", order_id=order_id))


@bp.get("/track/<tracking_number>")
def track(tracking_number: str):
    """A parcel's public tracking page (the built-in carrier's): its scans, places and local
    times, nothing about the buyer."""
    shipment = parcels.shipment_by_tracking_number(tracking_number)
    if shipment is None:
        raise NotFound("No such parcel.")
    order_row = orders.get_order(shipment.order_id)
    destination = (order_row.shipping_address or {}).get("country")
    scans = [progress.scan_view(event, destination, current_language())
             for event in shipment.events]
    eta_from, eta_to = progress.expected_window(order_row, shipment)
    return render_template("storefront/track.html", shipment=shipment, scans=scans,
                           carrier=carriers.carrier_info(shipment.carrier),
                           destination=destination, eta_from=eta_from, eta_to=eta_to)
