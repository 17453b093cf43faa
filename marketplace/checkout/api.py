from __future__ import annotations

from flask import Blueprint, request

from marketplace.accounts import addresses
from marketplace.checkout import payments, service
from marketplace.checkout.models import Cart
from marketplace.checkout.schemas import (
    CartItemIn,
    CartItemOut,
    CartItemPatch,
    CartOut,
    CartQuery,
    CheckoutIn,
    CheckoutOut,
    OrderRefOut,
    PayIn,
    PaymentOut,
    PayOut,
    StripeEventIn,
    WebhookOut,
)
from marketplace.errors import RequestError, ValidationFailed
from marketplace.fx import service as fx
from marketplace.http import (
    auth_required,
    current_user,
    json_body,
    query_args,
    raw_body,
    responds,
)
from marketplace.ids import isoformat
from marketplace.money import Money
from marketplace.orders import service as orders
from marketplace.orders.schemas import order_out
from marketplace.schemas import build

bp = Blueprint("checkout", __name__, url_prefix="/api/v1")


def _item_out(item, currency: str, rates: fx.RateTable) -> dict:
    product = item.product
    display, _ = rates.price(product.price, currency)
    return build(
        CartItemOut, id=item.id, product_id=product.id, title=product.title,
        quantity=item.quantity, available=max(product.available, 0),
        unit_price=product.price.to_dict(), display_unit_price=display.to_dict(),
        display_line_total=(display * item.quantity).to_dict(),
    )


def _cart_out(cart: Cart | None, currency: str) -> dict:
    rates = fx.current_rates()
    items = [_item_out(item, currency, rates) for item in (cart.items if cart else [])]
    subtotal = Money(sum(i["display_line_total"]["amount"] for i in items), currency)
    return build(CartOut, id=cart.id if cart else None, currency=currency, items=items,
                 subtotal=subtotal.to_dict())


@bp.get("/cart")
@auth_required("buyer")
@query_args(CartQuery)
@responds(CartOut)
def get_cart(query: CartQuery):
    """The cart, priced in the buyer's currency (or ?currency=)."""
    user = current_user()
    return _cart_out(service.get_cart(user.id), query.currency or user.currency)


@bp.post("/cart/items")
@auth_required("buyer")
@json_body(CartItemIn)
@responds(CartItemOut, 201)
def add_cart_item(body: CartItemIn):
    """Add pieces to the cart; more than the available stock → 409."""
    user = current_user()
    item = service.add_to_cart(user, body.product_id, body.quantity)
    return _item_out(item, user.currency, fx.current_rates()), 201


@bp.patch("/cart/items/<item_id>")
@auth_required("buyer")
@json_body(CartItemPatch)
@responds(CartItemOut)
def update_cart_item(item_id: str, body: CartItemPatch):
    """Change a cart line's quantity."""
    user = current_user()
    item = service.update_cart_item(user, item_id, body.quantity)
    return _item_out(item, user.currency, fx.current_rates())


@bp.delete("/cart/items/<item_id>")
@auth_required("buyer")
@responds(None, 204)
def delete_cart_item(item_id: str):
    """Remove a line from the cart."""
    service.remove_cart_item(current_user(), item_id)
    return "", 204


@bp.post("/checkout")
@auth_required("buyer")
@json_body(CheckoutIn)
@responds(CheckoutOut, 201)
def checkout(body: CheckoutIn):
    """Create the order from the cart, hold its stock and set up the Stripe payment."""
    user = current_user()
    if body.shipping_address is not None:
        address = body.shipping_address.model_dump()
    elif body.address_id:
        address = addresses.as_order_address(addresses.own_address(user, body.address_id))
    else:
        raise ValidationFailed("Give shipping_address or one of your saved address_id.",
                               code=RequestError.INVALID,
                               errors={"shipping_address": ["required"]})
    result = service.checkout(
        user, shipping_address=address, shipping_option=body.shipping_option,
        currency=body.currency, duties_mode=body.duties_mode, contact_email=body.email)
    return build(
        CheckoutOut, order=order_out(result.order, user),
        payment=PaymentOut(provider="stripe", payment_intent_id=result.payment_intent_id,
                           client_secret=result.client_secret,
                           publishable_key=result.publishable_key),
        reservation_expires_at=isoformat(result.reservation_expires_at),
    ), 201


@bp.post("/orders/<order_id>/payment")
@auth_required("buyer")
@json_body(PayIn)
@responds(PayOut)
def pay_order(order_id: str, body: PayIn):
    """Pay with a Stripe PaymentMethod; the order turns paid only on Stripe's word."""
    user = current_user()
    outcome = service.pay_order(user, order_id, body.payment_method)
    order = orders.visible_order(order_id, user)
    return build(PayOut, **outcome, order=OrderRefOut(id=order.id, status=order.status))


@bp.post("/webhooks/stripe")
@raw_body(StripeEventIn)
@responds(WebhookOut)
def stripe_webhook():
    """Stripe's events, verified by their signature (400 when it does not hold) and stored once;
    a worker applies them (``outcome`` is ``queued`` until then)."""
    received = payments.receive_event(request.get_data(cache=False),
                                      request.headers.get("Stripe-Signature"))
    return build(WebhookOut, received=True, event_id=received.event_id,
                 duplicate=received.duplicate, outcome=received.outcome or "queued")
