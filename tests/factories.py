"""Row builders for tests (one place, so a model change is fixed once)."""

from __future__ import annotations

import itertools

from marketplace.accounts import service as accounts
from marketplace.accounts.models import Role, User

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def make_user(role: Role | str = Role.BUYER, *, email: str | None = None, country: str = "DE",
              currency: str = "EUR", locale: str = "en", name: str | None = None) -> User:
    n = next(_counter)
    return accounts.create_user(
        email=email or f"{role}{n}@example.test", password=PASSWORD, role=role,
        name=name or f"{str(role).title()} {n}", country=country, locale=locale,
        currency=currency,
    )


def auth_headers(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.issue_token(user)}"}


def make_buyer(**kw) -> User:
    return make_user(Role.BUYER, **kw)


def make_artisan(**kw) -> User:
    kw.setdefault("country", "KZ")
    kw.setdefault("currency", "KZT")
    return make_user(Role.ARTISAN, **kw)


def make_operator(**kw) -> User:
    kw.setdefault("country", "KZ")
    return make_user(Role.OPERATOR, **kw)
