"""Error codes of the orders package (``code`` in problem+json bodies)."""

from enum import StrEnum


class OrderError(StrEnum):
    NOT_FOUND = "order.not_found"
    INVALID_TRANSITION = "order.invalid_transition"
    NOT_CANCELLABLE = "order.not_cancellable"
    NOT_REFUNDABLE = "order.not_refundable"
    NOTHING_TO_REFUND = "order.nothing_to_refund"
    REFUND_EXCEEDS_CAPTURED = "order.refund_exceeds_captured"
    REFUND_AMOUNT_OR_LINES = "order.refund_amount_or_lines"
    REFUND_LINES_INVALID = "order.refund_lines_invalid"
    REFUND_CURRENCY = "order.refund_currency"
    INVALID_CURSOR = "order.invalid_cursor"
    OPERATOR_ONLY = "order.operator_only"
    BUYER_OR_OPERATOR_ONLY = "order.buyer_or_operator_only"
    STRIPE_FAILED = "order.stripe_failed"
