"""A buyer's saved delivery addresses: at most ``MAX_ADDRESSES``, one of them the default (the
first one saved is, until another is chosen). Validated like an order's address
(``marketplace.validation.PostalAddress``) by the schemas that carry them in."""

from __future__ import annotations

from sqlalchemy import func, select, update

from marketplace.accounts.errors import AccountError
from marketplace.accounts.models import Address, User
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.extensions import db
from marketplace.transaction import use_case

MAX_ADDRESSES = 20
FIELDS = ("label", "name", "line1", "line2", "city", "region", "postal_code", "country", "phone")


def _owner(user: User) -> None:
    if user.is_guest or user.deleted_at is not None:
        raise Forbidden("A guest checkout has no account to save addresses in; sign up first.",
                        code=AccountError.GUEST_ONLY_ACCOUNT)


def list_addresses(user: User) -> list[Address]:
    return list(db.session.execute(
        select(Address).where(Address.user_id == user.id)
        .order_by(Address.is_default.desc(), Address.created_at, Address.id)).scalars())


def default_address(user: User) -> Address | None:
    found = list_addresses(user)
    return found[0] if found and found[0].is_default else (found[0] if found else None)


def own_address(user: User, address_id: str) -> Address:
    address = db.session.get(Address, address_id)
    if address is None or address.user_id != user.id:
        raise NotFound("No such saved address.", code=AccountError.ADDRESS_NOT_FOUND)
    return address


def _make_default(user: User, address: Address) -> None:
    db.session.execute(update(Address).where(Address.user_id == user.id, Address.id != address.id)
                       .values(is_default=False).execution_options(synchronize_session="fetch"))
    address.is_default = True


@use_case
def add_address(user: User, fields: dict, *, default: bool = False) -> Address:
    _owner(user)
    count = db.session.execute(
        select(func.count()).select_from(Address).where(Address.user_id == user.id)).scalar()
    if count >= MAX_ADDRESSES:
        raise Conflict(f"At most {MAX_ADDRESSES} saved addresses.",
                       code=AccountError.ADDRESS_LIMIT)
    address = Address(user_id=user.id, **{key: fields.get(key) for key in FIELDS})
    db.session.add(address)
    db.session.flush()
    if default or count == 0:
        _make_default(user, address)
    return address


@use_case
def update_address(user: User, address_id: str, fields: dict,
                   *, default: bool | None = None) -> Address:
    _owner(user)
    address = own_address(user, address_id)
    for key in FIELDS:
        if key in fields:
            setattr(address, key, fields[key])
    if default:
        _make_default(user, address)
    return address


@use_case
def delete_address(user: User, address_id: str) -> None:
    address = own_address(user, address_id)
    was_default = address.is_default
    db.session.delete(address)
    db.session.flush()
    if was_default:
        rest = list_addresses(user)
        if rest:
            _make_default(user, rest[0])


def as_order_address(address: Address) -> dict:
    """The address as an order stores it (``checkout.schemas.AddressIn`` fields)."""
    return {key: getattr(address, key) for key in FIELDS if key != "label"}
