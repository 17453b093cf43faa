"""Error codes of the shipping package (``code`` in problem+json bodies)."""

from enum import StrEnum


class ShippingError(StrEnum):
    SHIPMENT_NOT_FOUND = "shipping.shipment_not_found"
    FULFILMENT_NOT_FOUND = "shipping.fulfilment_not_found"
    NOT_SHIPPABLE = "shipping.not_shippable"
    ALREADY_REQUESTED = "shipping.already_requested"
    NOT_PACKED = "shipping.not_packed"
    NOT_PACKABLE = "shipping.not_packable"
    DESTINATION_NOT_SERVED = "shipping.destination_not_served"
    CARRIER_SIGNATURE_INVALID = "shipping.carrier_signature_invalid"
