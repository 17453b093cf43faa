"""Mails about an order, in the language of the person who reads them.

A buyer with an account reads mail in their account's language (``User.locale``, which follows
the language they choose on the site and in the API); a guest in the language they bought in
(``Order.locale``), at the address they paid with (``Order.contact_email``). Artisans and
operators read theirs in their own account's language. Every mail is one template under
``templates/mail/`` (``marketplace.mail.render_mail``); this module gathers what they show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from marketplace import i18n, mail, provenance
from marketplace.accounts.models import Role, User
from marketplace.catalog.browse import resolve_text
from marketplace.catalog.models import ProductImage
from marketplace.extensions import db, in_list
from marketplace.money import Money
from marketplace.orders.models import Order, OrderLine

_ACCESS_SALT = "sheber-order-access"


@dataclass(frozen=True)
class Recipient:
    email: str | None
    name: str
    locale: str


def public_url() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/")


# "not given": read the order's buyer (a given None is an account that is gone)
_READ = object()


def _buyer(order: Order, buyer) -> User | None:
    return db.session.get(User, order.buyer_id) if buyer is _READ else buyer


def buyer_of(order: Order, *, buyer=_READ) -> Recipient:
    """Who reads the buyer's mails about ``order`` (email None: nobody can be written to);
    ``buyer``: the order's buyer row when the caller holds it (None: no such account)."""
    buyer = _buyer(order, buyer)
    address_name = (order.shipping_address or {}).get("name") or ""
    if buyer is None or buyer.is_guest or not buyer.email:
        return Recipient(order.contact_email, address_name, mail.mail_language(order.locale))
    return Recipient(buyer.email, buyer.name, mail.mail_language(buyer.locale))


def user_recipient(user: User) -> Recipient:
    """``user``: an account, or a row of its email, name and locale."""
    return Recipient(user.email, user.name, mail.mail_language(user.locale))


# --- the signed link a guest follows to their order ------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_ACCESS_SALT)


def access_token(order: Order) -> str:
    """The token in a guest's order link: signed with SECRET_KEY over the order id and the
    address the order was paid with, so it opens this order only."""
    return _serializer().dumps([order.id, (order.contact_email or "").lower()])


def access_allows(order: Order, token: str | None) -> bool:
    if not token or not order.contact_email:
        return False
    try:
        order_id, email = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return False
    return order_id == order.id and email == order.contact_email.lower()


def order_url(order: Order, *, buyer=_READ) -> str:
    """The buyer's link to the order page: a guest's carries the signed access token."""
    return with_access(f"{public_url()}/orders/{order.id}", order, buyer=buyer)


def with_access(url: str, order: Order, *, buyer=_READ) -> str:
    """``url`` of one of the order's pages or papers as its buyer follows it from a mail: a
    guest's (or a gone account's) carries the order's signed access token."""
    buyer = _buyer(order, buyer)
    if buyer is None or buyer.is_guest:
        url += f"?access={access_token(order)}"
    return url


# --- what the mails show -----------------------------------------------------------------------

_FIRST_PHOTOS = (select(ProductImage.product_id, ProductImage.storage_key)
                 .where(in_list(ProductImage.product_id))
                 .order_by(ProductImage.position.desc(), ProductImage.id.desc()))


def photo_urls(product_ids: Iterable[str]) -> dict[str, str | None]:
    """Each product's first photo (by position), or None; one query for all."""
    urls: dict[str, str | None] = dict.fromkeys(product_ids)
    if urls:
        for product_id, key in db.session.execute(_FIRST_PHOTOS, {"ids": list(urls)}):
            urls[product_id] = f"{public_url()}/media/{key}"  # a lower position: this one
    return urls


def piece_facts(product_ids: Iterable[str]) -> tuple[dict, dict]:
    """(label codes, photo URLs) by product id, for ``piece_views``: read once when several
    mails show pieces of the same order."""
    product_ids = list(dict.fromkeys(product_ids))
    return provenance.label_codes_for_products(product_ids), photo_urls(product_ids)


def piece_views(lines: list[OrderLine], language: str, *, currency: str | None = None,
                listing_prices: bool = False,
                facts: tuple[dict, dict] | None = None) -> list[dict]:
    """One row per order line: quantity, title in ``language``, unit and total written the
    reader's way, photo and provenance label link (``facts``: ``piece_facts`` of these lines'
    products, when the caller has read them already)."""
    codes, photos = facts or piece_facts(line.product_id for line in lines)
    views = []
    for line in lines:
        if listing_prices:
            unit = Money(line.unit_price_amount, line.unit_price_currency)
        else:
            unit = Money(line.unit_presentment_amount, currency or line.unit_price_currency)
        code = codes[line.product_id]
        views.append({
            "quantity": line.quantity, "title": resolve_text(line.title, language)[0],
            "unit": money_text(unit, language),
            "total": money_text(unit * line.quantity, language),
            "photo_url": photos[line.product_id],
            "label_code": code, "label_url": f"{public_url()}/provenance/{code}" if code else None,
            "serials": list(line.serials or []),
        })
    return views


def money_text(amount: Money, language: str) -> str:
    """Money written the reader's way, outside any request (the pages' own formatting)."""
    return i18n.money_text(amount, language)


def queue_to(recipient: Recipient, template: str, **context) -> str | None:
    """Queue ``template`` to ``recipient`` in their language; nothing when they have no
    address (a deleted account)."""
    if not recipient.email:
        return None
    return mail.queue_template(template, to=recipient.email, locale=recipient.locale,
                               name=recipient.name, **context)


# --- order mails ------------------------------------------------------------------------------

def mail_payment_failed(order: Order, reason: str | None) -> None:
    reader = buyer_of(order)
    buyer = db.session.get(User, order.buyer_id)
    pay_url = f"{public_url()}/orders/{order.id}/pay"
    if buyer is None or buyer.is_guest:
        pay_url = order_url(order)
    queue_to(reader, "payment_failed", number=mail.short_number(order.id),
             total=money_text(order.total, reader.locale), reason=reason,
             hold_until=order.reservation_expires_at, pay_url=pay_url)


def mail_refund(order: Order, amount: Money, reason: str | None, *,
                fully_refunded: bool) -> None:
    reader = buyer_of(order)
    queue_to(reader, "refund", number=mail.short_number(order.id),
             amount=money_text(amount, reader.locale), reason=reason,
             fully_refunded=fully_refunded, order_url=order_url(order))


def operators() -> list[User]:
    return list(db.session.execute(
        select(User).where(User.role == Role.OPERATOR, User.deleted_at.is_(None),
                           User.email.is_not(None)).order_by(User.created_at)).scalars())


def alert_operators(kind: str, order: Order, *, detail: str | None = None,
                    tracking_number: str | None = None) -> int:
    """Tell every operator, each in their language, that an order needs them: a refused label
    (``label_refused``), a customs hold, a returned parcel, a dispute, a failed refund."""
    sent = 0
    for operator in operators():
        if queue_to(user_recipient(operator), "operator_alert", kind=kind,
                    number=mail.short_number(order.id), detail=detail,
                    tracking_number=tracking_number,
                    console_url=f"{public_url()}/console/orders/{order.id}"):
            sent += 1
    return sent
