"""What a page says when a service refuses, chosen by the error's ``code``, in the page's language.

Services explain themselves in English in ``detail``; pages never show that, and never pick their
words by exception class. A code the table does not know gets the page's own sentence for the
action that failed, or one for its status.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from marketplace.accounts.errors import AccountError
from marketplace.catalog import images
from marketplace.catalog.errors import CatalogError
from marketplace.checkout import service as checkout
from marketplace.checkout.errors import CheckoutError
from marketplace.community import reviews
from marketplace.community.errors import CommunityError
from marketplace.errors import DomainError
from marketplace.fx.errors import FxError
from marketplace.orders.errors import OrderError
from marketplace.payouts.errors import PayoutError
from marketplace.provenance.errors import ProvenanceError
from marketplace.shipping.errors import ShippingError


def _by_code(error: DomainError) -> dict[str, str]:
    cannot_ship_yet = _("The shipment cannot be made yet: every artisan must mark their pieces "
                        "packed, and the order must be paid.")
    parcel_refused = _("The parcel cannot be made: it exists already, or the delivery service no "
                       "longer takes it. Check the order.")
    delivery_changed = _("Delivery prices have changed. Please choose again.")
    not_a_photo = _("Choose a JPEG, PNG or WebP photo.")
    nothing_to_refund = _("Nothing is left to refund on this order.")
    return {
        AccountError.EMAIL_TAKEN: _("An account with this email already exists."),
        AccountError.INVALID_CREDENTIALS: _("Wrong email or password."),
        AccountError.OTP_INVALID: _("The code is wrong or was used already."),
        AccountError.OTP_REQUIRED: _("Enter the code from your authenticator app."),
        AccountError.SECOND_FACTOR_REQUIRED: _("Operators need a second factor. Set it up on "
                                               "the security page."),
        AccountError.LOCKED_OUT: _("Too many attempts. Wait a few minutes and try again."),
        AccountError.TOKEN_INVALID: _("This link has expired or has been used already. "
                                      "Ask for a new one."),
        AccountError.PASSWORD_WRONG: _("That is not your current password."),
        AccountError.PASSWORD_TOO_SHORT: _("Use a password of at least 10 characters."),
        AccountError.GUEST_ONLY_ACCOUNT: _("Create an account first."),
        AccountError.ADDRESS_NOT_FOUND: _("That saved address no longer exists."),
        AccountError.ADDRESS_LIMIT: _("You can keep at most 20 addresses."),
        AccountError.CLAIM_INVALID: _("This link is not valid for your account."),
        CheckoutError.EMAIL_REQUIRED: _("Enter your email address for the receipt."),
        CheckoutError.OUT_OF_STOCK: _("Only %(count)s of this piece can be ordered now.",
                                      count=error.extra.get("available", 0)),
        CheckoutError.QUANTITY_LIMIT: _("Choose a quantity between 1 and %(max)s.",
                                        max=checkout.MAX_CART_QUANTITY),
        CheckoutError.CART_EMPTY: _("Your cart is empty."),
        CheckoutError.PRODUCT_UNAVAILABLE: _("A piece in your cart is no longer for sale. Remove "
                                             "it and try again."),
        CheckoutError.BELOW_MINIMUM_CHARGE: _(
            "The total is below the smallest card payment allowed in this currency. Add a piece "
            "or choose another currency."),
        ShippingError.DESTINATION_NOT_SERVED: _("We cannot ship these pieces there yet."),
        ShippingError.OPTION_STALE: delivery_changed,
        ShippingError.OPTION_MISMATCH: delivery_changed,
        ShippingError.NOT_PACKED: cannot_ship_yet,
        ShippingError.ORDER_NOT_SHIPPABLE: cannot_ship_yet,
        ShippingError.NOTHING_TO_SHIP: _("Every piece of this order has been refunded: there is "
                                         "nothing to ship."),
        ShippingError.SHIPMENT_EXISTS: parcel_refused,
        ShippingError.SERVICE_WITHDRAWN: parcel_refused,
        ShippingError.PARCEL_TOO_LARGE: parcel_refused,
        ShippingError.NOT_PACKABLE: _("These pieces can no longer be marked packed: the parcel "
                                      "has been made or the order has changed."),
        ShippingError.NOT_HELD_FOR_PERMIT: _("This parcel is not waiting for an export permit."),
        OrderError.NOT_REFUNDABLE: nothing_to_refund,
        OrderError.FULLY_REFUNDED: nothing_to_refund,
        OrderError.REFUND_EXCEEDS_CAPTURED: _("There is not enough paid money left to refund "
                                              "that."),
        CatalogError.PRODUCT_ARCHIVED: _("An archived piece cannot be changed."),
        CatalogError.STOCK_BELOW_RESERVED: _("Pieces held by buyers' checkouts cannot be taken "
                                             "out of stock."),
        CatalogError.IMAGE_MISSING: not_a_photo,
        CatalogError.IMAGE_EMPTY: not_a_photo,
        CatalogError.IMAGE_UNSUPPORTED: not_a_photo,
        CatalogError.IMAGE_TOO_MANY_PIXELS: not_a_photo,
        CatalogError.IMAGE_TOO_LARGE: _("A photo can be at most %(mb)s MB.",
                                        mb=current_app.config["MAX_IMAGE_BYTES"] // (1024 * 1024)),
        CatalogError.IMAGE_LIMIT: _("A listing has at most %(count)s photos.",
                                    count=images.MAX_IMAGES_PER_PRODUCT),
        CatalogError.LAST_PHOTO: _("A piece for sale keeps at least one photo: add another "
                                   "first."),
        ProvenanceError.ALREADY_VERIFIED: _("This record is already verified. Change it first to "
                                            "send it again."),
        ProvenanceError.NOT_PENDING: _("This record is no longer waiting for verification."),
        ProvenanceError.NO_VALID_LABEL: _("This piece has no valid label to withdraw."),
        ProvenanceError.FLAG_RESOLVED: _("This flag was already resolved."),
        FxError.RATE_INVALID: _("Enter a positive decimal number such as 515.25."),
        PayoutError.NOTHING_PAYABLE: _("No artisan has a payable balance now."),
        PayoutError.BATCH_EXECUTED: _("This batch was marked executed already."),
        PayoutError.PROFILE_REQUIRED: _("Create your workshop profile first."),
        CommunityError.NOT_DELIVERED: _("You can review a piece once it has reached you."),
        CommunityError.ALREADY_REVIEWED: _("You reviewed this piece already."),
        CommunityError.ALREADY_REPLIED: _("You replied to this review already."),
        CommunityError.COMMISSION_STATE: _("This request has changed meanwhile; reload the "
                                           "conversation."),
        CommunityError.PRODUCT_NOT_FOUND: _("This piece is no longer for sale."),
        CommunityError.COUNTERPART_DELETED: _("The other side has deleted their account: "
                                              "the conversation is kept, but nobody will read "
                                              "a new message."),
        CommunityError.REVIEW_PHOTO_LIMIT: _("A review has at most %(count)s photos.",
                                             count=reviews.MAX_REVIEW_PHOTOS),
    }


def status_message(status: int) -> str:
    """The page's sentence for a refusal whose code it has no words for."""
    if status == 401:
        return _("Sign in to continue.")
    if status == 403:
        return _("Your account cannot do this.")
    if status == 404:
        return _("There is nothing here, or it is not yours to see.")
    if status == 409:
        return _("The item changed in the meantime. Go back, reload and try again.")
    if status == 422:
        return _("Some of what you entered is not valid. Check it and try again.")
    if status in (502, 503, 504):
        return _("A service we rely on did not answer. Try again in a moment.")
    return _("Please go back and try again.")


def message_for(error: DomainError, *, default: str | None = None) -> str:
    """The page's words for ``error``: the shared ones for its code, else the page's ``default``
    for this action, else the sentence for its status."""
    return _by_code(error).get(error.code) or default or status_message(error.status)
