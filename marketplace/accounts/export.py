""""Download my data": one JSON document of what Sheber keeps about a person.

Accounts write the account and its saved addresses; each higher domain registers the section
it keeps (orders, reviews, messages...) with ``register_section`` (wired in
``workers/handlers.py``), so this module needs to know none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from marketplace.accounts.addresses import FIELDS, list_addresses
from marketplace.accounts.models import User
from marketplace.ids import isoformat, utcnow

_SECTIONS: dict[str, Callable[[User], object]] = {}


def register_section(name: str, build: Callable[[User], object]) -> None:
    _SECTIONS[name] = build


def export_data(user: User) -> dict:
    document = {
        "format": "sheber-account-export/1",
        "exported_at": isoformat(utcnow()),
        "account": {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
                    "country": user.country, "locale": user.locale, "currency": user.currency,
                    "created_at": isoformat(user.created_at)},
        "addresses": [{"id": address.id, "is_default": address.is_default,
                       **{key: getattr(address, key) for key in FIELDS}}
                      for address in list_addresses(user)],
    }
    for name, build in sorted(_SECTIONS.items()):
        document[name] = build(user)
    return document
