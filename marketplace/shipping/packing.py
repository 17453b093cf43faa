"""Packing: an artisan marks their box of an order packed, with its weight and outer size."""

from __future__ import annotations

from marketplace import provenance
from marketplace.accounts.models import Role, User
from marketplace.catalog.models import Product
from marketplace.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from marketplace.extensions import db
from marketplace.orders import lifecycle
from marketplace.orders.models import (
    Fulfilment,
    FulfilmentStatus,
    Order,
    OrderLine,
    OrderStatus,
)
from marketplace.shipping.errors import ShippingError
from marketplace.shipping.parcels import SHIPPABLE_ORDER, open_shipment, piece_serials
from marketplace.transaction import use_case

MAX_PACKED_WEIGHT_G = 70_000  # the heaviest parcel any service takes
MAX_PACKED_SIDE_MM = 1_500  # the longest side any service takes
# A box lighter than 90 % of its pieces' declared weight is a typo (kg for g, a lost digit).
MIN_CONTENT_SHARE_PERCENT = 90


def _fulfilment_for_artisan(fulfilment_id: str, user: User) -> Fulfilment:
    fulfilment = db.session.get(Fulfilment, fulfilment_id)
    if fulfilment is None:
        raise NotFound("No such fulfilment.", code=ShippingError.FULFILMENT_NOT_FOUND)
    if fulfilment.artisan_id == user.id:
        return fulfilment
    order = db.session.get(Order, fulfilment.order_id)
    if user.role == Role.OPERATOR or order.buyer_id == user.id:
        raise Forbidden("Only the artisan who made these pieces marks them packed.",
                        code=ShippingError.NOT_YOUR_FULFILMENT)
    raise NotFound("No such fulfilment.", code=ShippingError.FULFILMENT_NOT_FOUND)


def _check_box(weight_g: int, sides: tuple[int, int, int]) -> None:
    errors: dict[str, list[str]] = {}
    if isinstance(weight_g, bool) or not isinstance(weight_g, int) or not (
            0 < weight_g <= MAX_PACKED_WEIGHT_G):
        errors["weight_g"] = [f"must be a whole number of grams from 1 to {MAX_PACKED_WEIGHT_G}"]
    for name, side in zip("lwh", sides, strict=True):
        if isinstance(side, bool) or not isinstance(side, int) or not (
                0 < side <= MAX_PACKED_SIDE_MM):
            errors[f"dimensions_mm.{name}"] = [
                f"must be a whole number of millimetres from 1 to {MAX_PACKED_SIDE_MM}"]
    if errors:
        raise ValidationFailed("The parcel's weight or size is not possible.",
                               code=ShippingError.PARCEL_INVALID, errors=errors)


def _lines_of(order: Order, artisan_id: str) -> list[OrderLine]:
    return [line for line in order.lines if line.artisan_id == artisan_id]


PACKABLE_FULFILMENTS = frozenset({FulfilmentStatus.PENDING, FulfilmentStatus.PACKED})


def pack_refusal(order: Order, fulfilment: Fulfilment) -> str | None:
    """Why this box cannot be (re)packed now, or None when it can: the rule pages show too."""
    if OrderStatus(order.status) not in SHIPPABLE_ORDER:
        return f"An order that is {order.status} is not packed."
    if fulfilment.status not in PACKABLE_FULFILMENTS:
        return f"This fulfilment is {fulfilment.status} already."
    if open_shipment(order.id) is not None:
        return "The operator has already made the parcel for this order."
    return None


@use_case
def pack_fulfilment(fulfilment_id: str, user: User, *, weight_g: int, length_mm: int,
                    width_mm: int, height_mm: int) -> Fulfilment:
    """The artisan's box is packed: its weight (with packaging) and outer size. May be repeated
    to correct the figures until the operator has made the parcel."""
    fulfilment = _fulfilment_for_artisan(fulfilment_id, user)
    _check_box(weight_g, (length_mm, width_mm, height_mm))
    order = lifecycle.lock_order(fulfilment.order_id)
    db.session.refresh(fulfilment)
    refusal = pack_refusal(order, fulfilment)
    if refusal is not None:
        raise InvalidTransition(refusal, code=ShippingError.NOT_PACKABLE)
    lines = _lines_of(order, fulfilment.artisan_id)
    declared = sum((db.session.get(Product, line.product_id).weight_g or 0) * line.quantity
                   for line in lines)
    if weight_g * 100 < declared * MIN_CONTENT_SHARE_PERCENT:
        raise ValidationFailed(
            f"A box of {weight_g} g cannot hold pieces declared at {declared} g.",
            code=ShippingError.PARCEL_INVALID,
            errors={"weight_g": [f"lighter than the pieces inside ({declared} g declared)"]})

    lifecycle.mark_fulfilment_packed(fulfilment, weight_g=weight_g,
                                     dimensions=(length_mm, width_mm, height_mm),
                                     actor_id=user.id)
    lifecycle.add_event(order.id, "fulfilment_packed", actor_id=user.id, data={
        "fulfilment_id": fulfilment.id, "weight_g": weight_g,
        "dimensions_mm": {"l": length_mm, "w": width_mm, "h": height_mm}})
    for serial in piece_serials(lines):
        provenance.record_piece_event(serial, "packed", data={"weight_g": weight_g},
                                      place={"city": "Almaty", "country": "KZ"},
                                      key=f"packed-{fulfilment.id}")
    return fulfilment
