"""Error codes of the checkout package (``code`` in problem+json bodies)."""

from enum import StrEnum


class CheckoutError(StrEnum):
    OUT_OF_STOCK = "checkout.out_of_stock"
    CART_EMPTY = "checkout.cart_empty"
    CART_CHANGED = "checkout.cart_changed"
    PIECE_UNAVAILABLE = "checkout.piece_unavailable"
    BELOW_MINIMUM_CHARGE = "checkout.below_minimum_charge"
    ORDER_NOT_FOUND = "checkout.order_not_found"
    NOT_PAYABLE = "checkout.not_payable"
    HELD_FOR_REVIEW = "checkout.held_for_review"
    NO_PAYMENT = "checkout.no_payment"
    RESERVATION_EXPIRED = "checkout.reservation_expired"
    UNKNOWN_PAYMENT_METHOD = "checkout.unknown_payment_method"
    ATTEMPT_IN_PROGRESS = "checkout.attempt_in_progress"
    INVALID_WEBHOOK = "checkout.invalid_webhook"
    EVENT_UNKNOWN = "checkout.event_unknown"
    TOO_MANY = "checkout.too_many"
    CART_ITEM_NOT_FOUND = "checkout.cart_item_not_found"
