"""Cart, checkout (order + stock hold + PaymentIntent), paying an order, expiring holds.

Public functions for other domains and workers: ``cart_items_for_quote``, ``checkout``,
``pay_order``, ``expire_reservations``, ``expire_order``; Stripe events are in
``marketplace.checkout.payments``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import stripe
from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import User
from marketplace.catalog.models import ArtisanProfile, Product, ProductStatus
from marketplace.checkout import payments
from marketplace.checkout.errors import CheckoutError
from marketplace.checkout.models import Cart, CartItem
from marketplace.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    OutOfStock,
    ValidationFailed,
)
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.ids import new_id, utcnow
from marketplace.integrations import stripe_client
from marketplace.inventory import reservations
from marketplace.money import Money, exponent
from marketplace.orders import lifecycle
from marketplace.orders import service as orders
from marketplace.orders.errors import OrderError
from marketplace.orders.lifecycle import AWAITING_PAYMENT
from marketplace.orders.models import Order, OrderLine, OrderStatus
from marketplace.shipping import progress
from marketplace.shipping import service as shipping
from marketplace.transaction import use_case

log = logging.getLogger(__name__)

MAX_CART_QUANTITY = 99

# Stripe's published minimum charge per presentment currency ("Minimum and maximum charge
# amounts", docs.stripe.com/currencies), in minor units.
STRIPE_MINIMUM_CHARGE: dict[str, int] = {
    "USD": 50, "EUR": 50, "GBP": 30, "JPY": 50, "AED": 200, "CHF": 50, "CAD": 50, "AUD": 50,
}
# Currencies Stripe does not list (KZT, CNY, KRW, TRY, RUB) must come to at least this.
STRIPE_MINIMUM_USD = Money(50, "USD")


# --- cart ----------------------------------------------------------------------------------

def get_cart(buyer_id: str) -> Cart | None:
    return db.session.execute(select(Cart).where(Cart.buyer_id == buyer_id)).scalar_one_or_none()


def cart_count(buyer_id: str) -> int:
    """How many pieces the buyer's cart holds (the header's badge)."""
    return int(db.session.execute(
        select(func.coalesce(func.sum(CartItem.quantity), 0)).join(Cart)
        .where(Cart.buyer_id == buyer_id)).scalar())


def _cart_for_update(buyer_id: str) -> Cart:
    cart = get_cart(buyer_id)
    if cart is not None:
        return cart
    try:
        with db.session.begin_nested():  # a concurrent request may create it first
            db.session.add(Cart(buyer_id=buyer_id))
    except IntegrityError:
        pass
    return get_cart(buyer_id)


def cart_items_for_quote(user_id: str) -> list[tuple[Product, int]]:
    cart = get_cart(user_id)
    return [(item.product, item.quantity) for item in cart.items] if cart else []


def _active_product(product_id: str, buyer: User) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or product.status != ProductStatus.ACTIVE or (
            product.reserved_for_id not in (None, buyer.id)):
        raise NotFound("No such product.", code=CheckoutError.PRODUCT_UNAVAILABLE)
    return product


def _check_available(product: Product, quantity: int) -> None:
    if quantity > product.available:
        raise OutOfStock(f"Only {max(product.available, 0)} of this piece can be ordered now.",
                         code=CheckoutError.OUT_OF_STOCK, product_id=product.id,
                         available=max(product.available, 0))


@use_case
def add_to_cart(buyer: User, product_id: str, quantity: int) -> CartItem:
    """Add pieces (to the line already there, if any); more than available → 409."""
    product = _active_product(product_id, buyer)
    cart = _cart_for_update(buyer.id)
    item = db.session.execute(select(CartItem).where(
        CartItem.cart_id == cart.id, CartItem.product_id == product.id)).scalar_one_or_none()
    wanted = quantity + (item.quantity if item else 0)
    if wanted > MAX_CART_QUANTITY:
        raise ValidationFailed(f"At most {MAX_CART_QUANTITY} of one piece per order.",
                               code=CheckoutError.QUANTITY_LIMIT,
                               errors={"quantity": [f"at most {MAX_CART_QUANTITY} in total"]})
    _check_available(product, wanted)
    if item is None:
        item = CartItem(cart_id=cart.id, product_id=product.id, quantity=wanted)
        db.session.add(item)
    else:
        item.quantity = wanted
    cart.updated_at = utcnow()
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("The cart changed at the same time; try again.",
                       code=CheckoutError.CART_CHANGED) from None
    return item


def _own_item(buyer: User, item_id: str) -> CartItem:
    item = db.session.get(CartItem, item_id)
    if item is None or item.cart.buyer_id != buyer.id:
        raise NotFound("No such cart item.", code=CheckoutError.CART_ITEM_NOT_FOUND)
    return item


@use_case
def update_cart_item(buyer: User, item_id: str, quantity: int) -> CartItem:
    item = _own_item(buyer, item_id)
    _check_available(_active_product(item.product_id, buyer), quantity)
    item.quantity = quantity
    item.cart.updated_at = utcnow()
    return item


@use_case
def remove_cart_item(buyer: User, item_id: str) -> None:
    item = _own_item(buyer, item_id)
    db.session.delete(item)


def on_account_deleted(payload: dict) -> None:
    """Reaction to ``account.deleted``: the cart goes with the account."""
    cart = get_cart(payload["user_id"])
    if cart is not None:
        db.session.execute(delete(CartItem).where(CartItem.cart_id == cart.id))
        db.session.delete(cart)


@use_case
def merge_cart(from_user_id: str, into_user_id: str) -> int:
    """A guest signs in: the pieces in the guest's cart join the account's; how many lines."""
    source = get_cart(from_user_id)
    if source is None or from_user_id == into_user_id:
        return 0
    target = _cart_for_update(into_user_id)
    present = {item.product_id: item for item in target.items}
    moved = 0
    for item in list(source.items):
        if item.product_id in present:
            present[item.product_id].quantity = min(
                MAX_CART_QUANTITY, present[item.product_id].quantity + item.quantity)
        else:
            db.session.add(CartItem(cart_id=target.id, product_id=item.product_id,
                                    quantity=item.quantity))
        db.session.delete(item)
        moved += 1
    return moved


# --- checkout ------------------------------------------------------------------------------

def minimum_charge(currency: str, rates: fx.RateTable | None = None) -> Money:
    listed = STRIPE_MINIMUM_CHARGE.get(currency)
    if listed is not None:
        return Money(listed, currency)
    rate = (rates or fx.current_rates()).rate("USD", currency)
    shift = Decimal(10) ** (exponent(currency) - exponent("USD"))
    return Money(math.ceil(Decimal(STRIPE_MINIMUM_USD.amount) * rate * shift), currency)


def check_minimum_charge(total: Money, rates: fx.RateTable | None = None) -> None:
    least = minimum_charge(total.currency, rates)
    if total.amount < least.amount:
        raise ValidationFailed(
            f"Card payments in {total.currency} must be at least {least}; this order comes to "
            f"{total}.", code=CheckoutError.BELOW_MINIMUM_CHARGE,
            errors={"currency": [f"the total is below Stripe's minimum of {least}"]})


def price_lines(prices: list[Money], currency: str,
                rates: fx.RateTable) -> list[tuple[Money, Decimal]]:
    """Each listing price in the buyer's currency, converted on its own and rounded once
    (half-up, at least one minor unit), with the rate used: the unit prices charged."""
    return [rates.price(price, currency) for price in prices]


def lines_total(lines: list[tuple[Money, int]], currency: str) -> Money:
    """The order's items total: the sum of its rounded lines, never a rounding of its own."""
    total = Money.zero(currency)
    for unit, quantity in lines:
        total += unit * quantity
    return total


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    payment_intent_id: str
    client_secret: str
    publishable_key: str
    reservation_expires_at: datetime


def checkout(buyer: User, *, shipping_address: dict, shipping_option: str, currency: str,
             duties_mode: str, contact_email: str | None = None,
             locale: str | None = None) -> CheckoutResult:
    """Turn the cart into an order awaiting payment: price it, hold the stock (all or nothing),
    then create its PaymentIntent. Nothing is held and no PaymentIntent exists unless every
    check passed; Stripe is asked after the order and its hold are committed."""
    order_id, cart_items, expires_at = _place_order(
        buyer, shipping_address=shipping_address, shipping_option=shipping_option,
        currency=currency, duties_mode=duties_mode, contact_email=contact_email, locale=locale)
    order = db.session.get(Order, order_id)
    total, currency = order.total_amount, order.currency
    db.session.rollback()
    try:
        intent = stripe_client.create_payment_intent(
            amount=total, currency=currency, order_id=order_id, attempt=1)
    except stripe.StripeError as exc:
        _abandon(order_id, cart_items, buyer.id, exc)
        raise stripe_client.upstream_error(exc) from exc
    _record_intent(order_id, intent["id"], total, currency)
    return CheckoutResult(db.session.get(Order, order_id), intent["id"],
                          intent["client_secret"], stripe_client.publishable_key(), expires_at)


@use_case
def _record_intent(order_id: str, payment_intent_id: str, amount: int, currency: str) -> None:
    db.session.execute(update(Order).where(Order.id == order_id)
                       .values(payment_intent_id=payment_intent_id)
                       .execution_options(synchronize_session=False))
    orders.record_attempt(order_id, 1, payment_intent_id, amount, currency)


@use_case
def _place_order(buyer: User, *, shipping_address: dict, shipping_option: str, currency: str,
                 duties_mode: str, contact_email: str | None = None,
                 locale: str | None = None) -> tuple[str, list[tuple[str, int]], datetime]:
    if buyer.is_guest and not contact_email:
        raise ValidationFailed("A guest checkout needs an e-mail address for the receipt.",
                               code=CheckoutError.EMAIL_REQUIRED,
                               errors={"email": ["required for a guest checkout"]})
    cart = get_cart(buyer.id)
    cart_items = list(cart.items) if cart else []
    if not cart_items:
        raise Conflict("Your cart is empty.", code=CheckoutError.CART_EMPTY)
    for item in cart_items:
        if item.product.status != ProductStatus.ACTIVE:
            raise Conflict("A piece in your cart is no longer for sale; remove it first.",
                           code=CheckoutError.PRODUCT_UNAVAILABLE, product_id=item.product_id)
    items = [(item.product, item.quantity) for item in cart_items]
    rates = fx.current_rates()
    priced_lines = [(product, quantity, unit, rate) for (product, quantity), (unit, rate)
                    in zip(items, price_lines([p.price for p, _ in items], currency, rates),
                           strict=True)]
    option = shipping.resolve_option(shipping_option, shipping_address["country"],
                                     shipping_address.get("postal_code"), items, currency,
                                     duties_mode)
    items_total = lines_total([(unit, quantity) for _, quantity, unit, _ in priced_lines],
                              currency)
    total = items_total + option.shipping + option.duties
    check_minimum_charge(total, rates)

    expires_at = utcnow() + timedelta(seconds=int(current_app.config["RESERVATION_TTL_SECONDS"]))
    first = priced_lines[0]
    order = Order(
        id=new_id(), buyer_id=buyer.id, status=OrderStatus.PENDING_PAYMENT, currency=currency,
        listing_currency=first[0].price_currency, fx_rate=_rate_text(first[3]),
        items_amount=items_total.amount, shipping_amount=option.shipping.amount,
        duties_amount=option.duties.amount, total_amount=total.amount,
        shipping_address=shipping_address, shipping_option={
            **option.to_dict(), "eta_dates": eta_dates(items, *option.eta_days)},
        duties_mode=duties_mode, payment_attempt=1, reservation_expires_at=expires_at,
        contact_email=contact_email.lower() if buyer.is_guest and contact_email else None,
        locale=locale or buyer.locale)
    db.session.add(order)
    for position, (product, quantity, unit, rate) in enumerate(priced_lines):
        db.session.add(OrderLine(
            order_id=order.id, position=position, product_id=product.id,
            artisan_id=product.artisan_id, title=dict(product.title or {}), quantity=quantity,
            unit_price_amount=product.price_amount, unit_price_currency=product.price_currency,
            unit_presentment_amount=unit.amount, fx_rate=_rate_text(rate), serials=[]))
    db.session.flush()
    reservations.hold(order.id, [(p.id, q) for p, q in items], expires_at)
    emptied = db.session.execute(
        delete(CartItem).where(CartItem.id.in_([i.id for i in cart_items]))
        .execution_options(synchronize_session=False)).rowcount
    if emptied != len(cart_items):
        raise Conflict("The cart changed during checkout; check it and try again.",
                       code=CheckoutError.CART_CHANGED)
    lifecycle.add_event(order.id, "created", to_status=OrderStatus.PENDING_PAYMENT,
                        actor_id=buyer.id, data={"total": total.to_dict()})
    return order.id, [(i.product_id, i.quantity) for i in cart_items], expires_at


def processing_days(items: list[tuple[Product, int]]) -> int:
    """The slowest workshop's days to make or pack the pieces (the lifecycle's default)."""
    days = []
    for product, _ in items:
        profile = db.session.get(ArtisanProfile, product.artisan_id)
        days.append(profile.processing_days if profile is not None and profile.processing_days
                    else lifecycle.DEFAULT_PROCESSING_DAYS)
    return max(days, default=lifecycle.DEFAULT_PROCESSING_DAYS)


def eta_dates(items: list[tuple[Product, int]], eta_min: int, eta_max: int,
              today: date | None = None) -> dict:
    """The delivery window promised at checkout, as dates (``shipping.progress``)."""
    start, end = progress.checkout_window(today or utcnow().date(), processing_days(items),
                                          eta_min, eta_max)
    return {"from": start.isoformat(), "to": end.isoformat()}


def _rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f")


@use_case
def _abandon(order_id: str, cart_items: list[tuple[str, int]], buyer_id: str,
             exc: Exception) -> None:
    """Stripe could not create the PaymentIntent: cancel the order, free the stock, give the
    buyer their cart back."""
    log.warning("checkout %s: PaymentIntent not created: %s", order_id, exc)
    lifecycle.lock_order(order_id)
    lifecycle.abandon(order_id, "the payment could not be set up")
    reservations.release(order_id)
    cart = get_cart(buyer_id)
    if cart is not None:
        present = set(db.session.execute(
            select(CartItem.product_id).where(CartItem.cart_id == cart.id)).scalars())
        for product_id, quantity in cart_items:
            if product_id not in present:
                db.session.add(CartItem(cart_id=cart.id, product_id=product_id,
                                        quantity=quantity))


# --- paying an order -----------------------------------------------------------------------

def _payable_order(buyer: User, order_id: str) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or order.buyer_id != buyer.id:
        raise NotFound("No such order.", code=OrderError.NOT_FOUND)
    status = OrderStatus(order.status)
    if status not in AWAITING_PAYMENT:
        raise InvalidTransition(f"An order that is {status} cannot be paid.",
                                code=CheckoutError.ORDER_NOT_PAYABLE)
    if order.flagged_reason:
        raise InvalidTransition("This order is held for review and cannot be paid now.",
                                code=CheckoutError.ORDER_HELD)
    if order.payment_intent_id is None:
        raise InvalidTransition("This order has no payment set up.",
                                code=CheckoutError.PAYMENT_MISSING)
    if order.reservation_expires_at is not None and order.reservation_expires_at <= utcnow():
        expire_order(order.id)
        raise InvalidTransition("The reservation has expired; this order can no longer be paid.",
                                code=CheckoutError.RESERVATION_EXPIRED)
    return order


def _stripe_call(function, *args):
    try:
        return function(*args)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404 or getattr(exc, "param", None) == "payment_method":
            raise ValidationFailed("Stripe does not know this payment method.",
                                   code=CheckoutError.PAYMENT_METHOD_UNKNOWN,
                                   errors={"payment_method": ["unknown payment method"]}
                                   ) from None
        raise stripe_client.upstream_error(exc) from exc
    except stripe.CardError:
        raise  # a decline is an answer, not an outage: pay_order reports it to the buyer
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc


def pay_order(buyer: User, order_id: str, payment_method: str) -> dict:
    """Attach ``payment_method`` to the order's PaymentIntent and confirm it.

    Returns ``{status: succeeded|requires_action|processing|failed, client_secret, ...}``. The
    order changes only from what Stripe answers (the same code as the webhook runs).
    """
    order = _payable_order(buyer, order_id)
    intent = _stripe_call(stripe_client.retrieve_payment_intent, order.payment_intent_id)
    if intent["status"] in ("succeeded", "processing"):
        payments.apply_payment_intent(intent)
        return _outcome(intent)
    if intent["status"] in ("requires_confirmation", "requires_payment_method") and not intent.get(
            "last_payment_error"):
        intent = _stripe_call(stripe_client.set_payment_method, intent["id"], payment_method)
    else:
        # A failed, cancelled or half-authenticated attempt: start a fresh PaymentIntent.
        intent = _new_attempt(order, payment_method)
    try:
        intent = _stripe_call(stripe_client.confirm_payment_intent, intent["id"])
    except stripe.CardError as exc:
        intent = _stripe_call(stripe_client.retrieve_payment_intent, intent["id"])
        payments.apply_payment_intent(intent)
        error = exc.error
        return _outcome(intent, status="failed", error={
            "code": exc.code or getattr(error, "code", None),
            "decline_code": getattr(error, "decline_code", None),
            "message": exc.user_message or str(exc),
        })
    payments.apply_payment_intent(intent)
    return _outcome(intent)


def _outcome(intent: dict, *, status: str | None = None, error: dict | None = None) -> dict:
    result = {
        "status": status or {"succeeded": "succeeded", "requires_action": "requires_action",
                             "processing": "processing"}.get(intent["status"], "failed"),
        "payment_intent_id": intent["id"],
        "client_secret": intent["client_secret"],
    }
    if intent.get("next_action"):
        result["next_action"] = intent["next_action"]
    if result["status"] == "failed" and error is None:
        last = intent.get("last_payment_error") or {}
        error = {"code": last.get("code"), "decline_code": last.get("decline_code"),
                 "message": last.get("message") or f"The payment is {intent['status']}."}
    if error is not None:
        result["error"] = error
    return result


def _new_attempt(order: Order, payment_method: str) -> dict:
    old_intent, attempt = order.payment_intent_id, order.payment_attempt + 1
    orders.supersede_attempt(old_intent)  # before its cancellation can reach us
    try:
        stripe_client.cancel_payment_intent(old_intent)
    except stripe.InvalidRequestError:
        pass  # already cancelled or no longer cancellable; its webhook will tell the rest
    except stripe.StripeError as exc:
        raise stripe_client.upstream_error(exc) from exc
    intent = _stripe_call(lambda: stripe_client.create_payment_intent(
        amount=order.total_amount, currency=order.currency, order_id=order.id, attempt=attempt,
        payment_method=payment_method))
    if not _record_attempt(order.id, attempt, intent["id"], old_intent, order.total_amount,
                           order.currency):
        stripe_client.cancel_payment_intent(intent["id"])
        raise Conflict("Another payment attempt for this order is in progress.",
                       code=CheckoutError.PAYMENT_IN_PROGRESS)
    return intent


@use_case
def _record_attempt(order_id: str, attempt: int, payment_intent_id: str, replaces: str,
                    amount: int, currency: str) -> bool:
    moved = db.session.execute(
        update(Order)
        .where(Order.id == order_id, Order.payment_attempt == attempt - 1)
        .values(payment_intent_id=payment_intent_id, payment_attempt=attempt,
                updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if moved == 1:
        orders.record_attempt(order_id, attempt, payment_intent_id, amount, currency)
        lifecycle.add_event(order_id, "payment_attempt", data={
            "attempt": attempt, "payment_intent": payment_intent_id, "replaces": replaces})
    return moved == 1


# --- expiry --------------------------------------------------------------------------------

def expire_reservations(now: datetime | None = None) -> int:
    """Release the stock of unpaid orders whose hold has lapsed and cancel their
    PaymentIntents; returns how many orders expired. Safe to run concurrently and repeatedly."""
    now = now or utcnow()
    due = db.session.execute(
        select(Order.id).where(Order.status.in_(list(AWAITING_PAYMENT)),
                               Order.flagged_reason.is_(None),
                               Order.reservation_expires_at <= now)
        .order_by(Order.reservation_expires_at)).scalars().all()
    db.session.rollback()
    return sum(1 for order_id in due if expire_order(order_id))


def expire_order(order_id: str) -> bool:
    """Expire one unpaid order: cancel its PaymentIntent first so that Stripe takes no money,
    then release the hold. If Stripe has just taken the money, the order is paid instead."""
    order = db.session.get(Order, order_id)
    if order is None or OrderStatus(order.status) not in AWAITING_PAYMENT:
        return False
    if order.payment_intent_id:
        try:
            stripe_client.cancel_payment_intent(order.payment_intent_id)
        except stripe.InvalidRequestError:
            intent = _stripe_call(stripe_client.retrieve_payment_intent, order.payment_intent_id)
            if intent["status"] == "succeeded":
                payments.apply_payment_intent(intent)
                return False
        except stripe.StripeError as exc:
            # Stripe unreachable: expire anyway; a payment that still succeeds is re-reserved
            # or refunded when its event arrives.
            log.warning("order %s: PaymentIntent not cancelled on expiry: %s", order_id, exc)
    return _expire(order_id)


@use_case
def _expire(order_id: str) -> bool:
    lifecycle.lock_order(order_id)
    if not lifecycle.expire(order_id):
        return False
    reservations.release(order_id)
    return True
