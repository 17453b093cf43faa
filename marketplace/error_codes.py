"""Every stable error code a client may meet: the kernel's and each package's, named here one by
one (this module sits on top, with the app factory and the OpenAPI document)."""

from __future__ import annotations

from marketplace.accounts.errors import AccountError
from marketplace.catalog.errors import CatalogError
from marketplace.checkout.errors import CheckoutError
from marketplace.community.errors import CommunityError
from marketplace.errors import AuthError, ErrorCodes, HttpError, RequestError, UpstreamError
from marketplace.fx.errors import FxError
from marketplace.orders.errors import OrderError
from marketplace.payouts.errors import PayoutError
from marketplace.provenance.errors import ProvenanceError
from marketplace.shipping.errors import ShippingError

CODE_ENUMS: tuple[type[ErrorCodes], ...] = (
    RequestError, AuthError, UpstreamError, HttpError,
    AccountError, FxError, CatalogError, ProvenanceError, OrderError, ShippingError,
    CheckoutError, PayoutError, CommunityError,
)


def code_enums() -> list[type[ErrorCodes]]:
    return list(CODE_ENUMS)


def all_codes() -> dict[str, str]:
    """Every code with its one-line meaning."""
    return {member.value: member.doc for enum in CODE_ENUMS for member in enum}
