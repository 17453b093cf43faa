"""Row builders for tests (one place, so a model change is fixed once)."""

from __future__ import annotations

import itertools

from marketplace.accounts import service as accounts
from marketplace.accounts.models import Role, User

_counter = itertools.count(1)
PASSWORD = "correct horse battery"
# people's names, numbered: a role's name ("Buyer 3") would read as the UI word on a page
_NAMES = {Role.BUYER: "Madina Zhaksylykova", Role.ARTISAN: "Gulnara Tleubergenova",
          Role.OPERATOR: "Yerlan Kassymov"}


def make_user(role: Role | str = Role.BUYER, *, email: str | None = None, country: str = "DE",
              currency: str = "EUR", locale: str = "en", name: str | None = None) -> User:
    n = next(_counter)
    return accounts.create_user(
        email=email or f"{role}{n}@example.test", password=PASSWORD, role=role,
        name=name or f"{_NAMES[Role(role)]} {n}", country=country, locale=locale,
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


def make_product(artisan: User | None = None, **overrides):
    """An active product row (written directly, not through the catalogue service)."""
    from marketplace.catalog.models import ArtisanProfile, Product
    from marketplace.extensions import db

    artisan = artisan or make_artisan()
    if db.session.get(ArtisanProfile, artisan.id) is None:
        db.session.add(ArtisanProfile(user_id=artisan.id, workshop_name=f"{artisan.name} workshop",
                                      bio={"en": "A workshop in Almaty."}, crafts=["ceramics"]))
    n = next(_counter)
    materials = overrides.pop("materials", ["clay"])
    techniques = overrides.pop("techniques", ["wheel-throwing"])
    fields = {
        "artisan_id": artisan.id,
        "title": {"en": f"Bowl {n}", "ru": f"Пиала {n}", "kk": f"Кесе {n}"},
        "description": {"en": "Hand-thrown bowl."},
        "craft": "ceramics",
        "materials": materials,
        "techniques": techniques,
        "materials_key": "|" + "|".join(materials) + "|",
        "techniques_key": "|" + "|".join(techniques) + "|",
        "price_amount": 1500000,
        "price_currency": "KZT",
        "price_base": 1500000,
        "stock": 5,
        "weight_g": 450,
        "length_mm": 160, "width_mm": 160, "height_mm": 80,
    }
    fields.update(overrides)
    product = Product(**fields)
    db.session.add(product)
    db.session.commit()
    return product
