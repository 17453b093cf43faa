"""Buying: cart, checkout (address, delivery options, DDP/DAP), card payment, orders."""

from __future__ import annotations

import re

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError

from marketplace.checkout import service as checkout
from marketplace.checkout.errors import CheckoutError
from marketplace.checkout.schemas import AddressIn
from marketplace.errors import (
    Conflict,
    DomainError,
    NotFound,
    OutOfStock,
    ValidationFailed,
    problem,
)
from marketplace.fx import service as fx
from marketplace.i18n import current_currency, current_language, localized
from marketplace.integrations import stripe_client
from marketplace.money import Money
from marketplace.orders import service as orders
from marketplace.orders.lifecycle import AWAITING_PAYMENT
from marketplace.orders.models import OrderStatus
from marketplace.orders.schemas import order_out
from marketplace.shipping import parcels
from marketplace.shipping import service as shipping
from marketplace.shipping.schemas import shipment_out
from marketplace.storefront.auth import countries_for_language
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import html_errors, page_user, roles_required

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

@bp.post("/cart/items")
@roles_required("buyer")
def add_to_cart():
    product_id = request.form.get("product_id", "")
    back = url_for("shop.product", product_id=product_id) if product_id else url_for("buy.cart")
    quantity = _quantity(request.form.get("quantity"))
    if quantity is None:
        flash(_("Choose a quantity between 1 and %(max)s.", max=checkout.MAX_CART_QUANTITY),
              "error")
        return redirect(back)
    try:
        checkout.add_to_cart(page_user(), product_id, quantity)
    except (OutOfStock, ValidationFailed) as refused:
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
    return {field: request.form.get(field, "").strip() for field in ADDRESS_FIELDS}


def _parse_address(form: dict[str, str]) -> AddressIn:
    return AddressIn(**{key: value or None for key, value in form.items()})


def _render_address(form: dict, errors: dict, status: int = 200):
    return render_template("storefront/checkout_address.html", form=form, errors=errors,
                           countries=countries_for_language(current_language()),
                           **_cart_view(page_user().id)), status


def _render_delivery(address: AddressIn, form: dict, *, error: str | None = None,
                     status: int = 200):
    items = checkout.cart_items_for_quote(page_user().id)
    quote = shipping.quote(address.country, address.postal_code, items, current_currency())
    return render_template("storefront/checkout_delivery.html", address=address, form=form,
                           quote=quote, error=error, **_cart_view(page_user().id)), status


@bp.get("/checkout")
@roles_required("buyer")
def checkout_address():
    user = page_user()
    if not checkout.cart_items_for_quote(user.id):
        flash(_("Your cart is empty."), "info")
        return redirect(url_for("buy.cart"))
    form = dict.fromkeys(ADDRESS_FIELDS, "")
    form.update(name=user.name, country=user.country)
    return _render_address(form, {})


@bp.post("/checkout/delivery")
@roles_required("buyer")
def checkout_delivery():
    form = _address_form()
    try:
        address = _parse_address(form)
    except ValidationError as exc:
        return _render_address(form, _address_errors(exc), 422)
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
    try:
        result = checkout.checkout(page_user(), shipping_address=address.model_dump(),
                                   shipping_option=option, currency=current_currency(),
                                   duties_mode=duties_mode)
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
    return redirect(url_for("buy.pay", order_id=result.order.id))


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
@roles_required("buyer", "artisan", "operator")
def order(order_id: str):
    user = page_user()
    found = orders.visible_order(order_id, user)
    view = order_out(found, user)  # what this viewer may see, exactly as the API shows it
    history = [event for event in view["events"] if event["to_status"]]
    parcel_views = [shipment_out(parcels.visible_shipment(item["id"], user), user)
                    for item in view["shipments"]]
    return render_template("storefront/order.html", order=view, history=history,
                           parcels=parcel_views,
                           steps=ORDER_STEPS, reached={event["to_status"] for event in history},
                           awaiting_payment=OrderStatus(found.status) in AWAITING_PAYMENT
                           and found.buyer_id == user.id)
