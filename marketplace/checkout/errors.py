"""Error codes of the cart, checkout, card payment and Stripe's webhooks."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class CheckoutError(ErrorCodes):
    PRODUCT_UNAVAILABLE = ("checkout.product_unavailable",
                           "The product does not exist or is not for sale (404 on the cart, "
                           "409 at checkout).")
    OUT_OF_STOCK = ("checkout.out_of_stock",
                    "Fewer pieces are available than asked for; `available` says how many "
                    "(409).")
    QUANTITY_LIMIT = ("checkout.quantity_limit",
                      "More of one piece than one order may hold (422).")
    CART_ITEM_NOT_FOUND = "checkout.cart_item_not_found", "No such line in the cart (404)."
    CART_EMPTY = "checkout.cart_empty", "The cart is empty (409)."
    CART_CHANGED = ("checkout.cart_changed",
                    "The cart changed at the same time; check it and try again (409).")
    BELOW_MINIMUM_CHARGE = ("checkout.below_minimum_charge",
                            "The total is below the smallest card payment in the currency "
                            "(422).")
    ORDER_NOT_PAYABLE = ("checkout.order_not_payable",
                         "The order's status does not take a payment (409).")
    ORDER_HELD = "checkout.order_held", "The order is held for review and cannot be paid (409)."
    PAYMENT_MISSING = "checkout.payment_missing", "The order has no payment set up (409)."
    RESERVATION_EXPIRED = ("checkout.reservation_expired",
                           "The stock hold lapsed; the order can no longer be paid (409).")
    PAYMENT_METHOD_REQUIRED = ("checkout.payment_method_required",
                               "A card (a Stripe payment method id) is required (422).")
    PAYMENT_METHOD_UNKNOWN = ("checkout.payment_method_unknown",
                              "Stripe does not know the payment method (422).")
    PAYMENT_IN_PROGRESS = ("checkout.payment_in_progress",
                           "Another payment attempt for the order is in progress (409).")
    WEBHOOK_SIGNATURE_INVALID = ("checkout.webhook_signature_invalid",
                                 "The Stripe-Signature header does not match, or is too old "
                                 "(400).")
    WEBHOOK_MALFORMED = ("checkout.webhook_malformed",
                         "The webhook body is not a Stripe event with an id and type (400).")
    STRIPE_EVENT_NOT_FOUND = "checkout.stripe_event_not_found", "No such stored Stripe event (404)."
    EMAIL_REQUIRED = ("checkout.email_required",
                      "A guest checkout needs an e-mail address for the receipt (422).")
