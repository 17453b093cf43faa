"""Demo catalogue: Almaty workshops and their pieces from data/demo/catalogue.json.

Idempotent by natural keys: accounts by email, a workshop by its artisan, a product by its
artisan and English title. Everything goes through the services, so the demo obeys every rule:
a piece is listed as a draft and goes on sale with its picture, an illustration drawn from its
craft's ornament (``marketplace.catalog.illustrations``), labelled as one.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from marketplace.accounts import service as accounts
from marketplace.accounts.models import Role, User
from marketplace.catalog import images, writes
from marketplace.catalog.illustrations import draw_illustration, illustration_alt
from marketplace.catalog.models import ArtisanProfile, Product, ProductImage
from marketplace.extensions import db
from marketplace.storage import content_key
from marketplace.transaction import use_case

# Demo pictures are small: the cards and the product page never need more.
ILLUSTRATION_SIZES = (320, 640)

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "demo" / "catalogue.json"


def load_demo_data(path: Path = DATA_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _user(email: str, password: str, role: Role, hashes: dict[str, str], **fields) -> User:
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        # The workshops share one demo password: hash it once (argon2 is slow on purpose).
        if password not in hashes:
            hashes[password] = accounts.hash_password(password)
        user = User(email=accounts.normalise_email(email), password_hash=hashes[password],
                    role=str(role), **fields)
        db.session.add(user)
        db.session.commit()
    return user


def _illustrate(product_id: str) -> None:
    """Give a picture-less demo piece its illustration (and so put it on sale)."""
    product = db.session.get(Product, product_id)
    if db.session.execute(select(ProductImage.id).where(
            ProductImage.product_id == product_id).limit(1)).first() is not None:
        return
    png = draw_illustration(product.craft, product.title.get("en", product.id))
    alt = illustration_alt(product.craft, dict(product.title))
    db.session.rollback()  # storage is written outside any transaction
    variants = images.clean_variants(png, ILLUSTRATION_SIZES)
    use_case(images.add_ready_image)(product_id, variants, alt=alt, illustration=True,
                                     source_key=content_key(png, "png"))


def seed_demo() -> str:
    data = load_demo_data()
    logins = data["accounts"]
    buyer = logins["buyer"]
    operator = logins["operator"]
    hashes: dict[str, str] = {}
    _user(buyer["email"], buyer["password"], Role.BUYER, hashes, name=buyer["name"],
          country=buyer["country"], locale=buyer["locale"], currency=buyer["currency"])
    _user(operator["email"], operator["password"], Role.OPERATOR, hashes, name=operator["name"],
          country=operator["country"], locale=operator["locale"], currency=operator["currency"])

    created = total = 0
    for workshop in data["workshops"]:
        artisan = _user(workshop["email"], logins["artisan_password"], Role.ARTISAN, hashes,
                        name=workshop["name"], country="KZ", locale="kk", currency="KZT")
        if db.session.get(ArtisanProfile, artisan.id) is None:
            writes.save_profile(artisan, {
                key: workshop[key] for key in ("workshop_name", "bio", "crafts", "since_year",
                                               "lineage", "processing_days")
            })
        existing = {
            (product.title or {}).get("en"): product
            for product in db.session.execute(
                select(Product).where(Product.artisan_id == artisan.id)).scalars()
        }
        for listing in workshop["products"]:
            total += 1
            product = existing.get(listing["title"]["en"])
            if product is None:
                product = writes.create_product(artisan, listing)
                created += 1
            _illustrate(product.id)

    artisan_email = data["workshops"][0]["email"]
    return (
        f"{len(data['workshops'])} Almaty workshops, {total} products ({created} new). "
        f"Demo logins: buyer {buyer['email']} / {buyer['password']}; "
        f"artisan {artisan_email} / {logins['artisan_password']}; "
        f"operator {operator['email']} / {operator['password']}"
    )
