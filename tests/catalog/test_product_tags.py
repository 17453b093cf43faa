"""product_tag, the rows material and technique browsing walks, follows product through every
kind of write (the triggers of migration 0023_speed), and browsing by a material or technique
finds and orders exactly what a filter over the products would. Both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from marketplace.catalog import browse
from marketplace.catalog.models import Product, ProductStatus, ProductTag
from marketplace.extensions import db
from marketplace.ids import utcnow
from tests.factories import make_artisan, make_product


def expected_tags() -> set[tuple]:
    rows = set()
    for product in db.session.execute(select(Product)).scalars():
        for kind, values in (("material", product.materials), ("technique", product.techniques)):
            for value in values:
                rows.add((kind, value, product.id, product.status,
                          product.reserved_for_id is not None, product.created_at,
                          product.price_base))
    return rows


def stored_tags() -> set[tuple]:
    db.session.expire_all()
    return {(tag.kind, tag.value, tag.product_id, tag.status, tag.private, tag.created_at,
             tag.price_base) for tag in db.session.execute(select(ProductTag)).scalars()}


def test_the_tag_rows_follow_every_write_to_product():
    artisan, buyer = make_artisan(), make_artisan()
    felt = make_product(artisan, materials=["wool", "silk"], techniques=["felting"])
    bowl = make_product(artisan, materials=["clay"], techniques=["throwing", "glazing"])
    db.session.commit()
    assert stored_tags() == expected_tags() and len(expected_tags()) == 6

    felt.materials, felt.materials_key = ["wool", "camel wool"], "|wool|camel wool|"
    bowl.status = ProductStatus.ARCHIVED
    db.session.commit()
    assert stored_tags() == expected_tags()

    # bulk statements the ORM does not see: a rates change reprices, a commission reserves
    db.session.execute(update(Product).values(price_base=Product.price_base * 2))
    db.session.execute(update(Product).where(Product.id == felt.id)
                       .values(reserved_for_id=buyer.id,
                               created_at=utcnow() - timedelta(days=3)))
    db.session.commit()
    assert stored_tags() == expected_tags()

    db.session.execute(delete(Product).where(Product.id == bowl.id))
    db.session.commit()
    assert stored_tags() == expected_tags()
    assert {tag[2] for tag in stored_tags()} == {felt.id}


def test_browsing_by_a_material_or_technique_finds_and_orders_what_a_filter_would():
    artisan = make_artisan()
    start = utcnow() - timedelta(days=30)
    for n in range(30):
        make_product(artisan, materials=["wool"] if n % 2 else ["wool", "silk"],
                     techniques=["felting"] if n % 3 else ["weaving"],
                     price_base=1_000_000 + (n * 7919) % 30 * 10_000,
                     created_at=start + timedelta(hours=n),
                     status=ProductStatus.ARCHIVED if n % 5 == 0 else ProductStatus.ACTIVE)
    db.session.commit()
    products = [product for product in db.session.execute(select(Product)).scalars()
                if product.status == ProductStatus.ACTIVE]
    orders = {"newest": lambda p: (p.created_at, p.id), "price_asc": lambda p: (p.price_base, p.id),
              "price_desc": lambda p: (p.price_base, p.id)}
    for arguments, keep in (({"material": "silk"}, lambda p: "silk" in p.materials),
                            ({"technique": "weaving"}, lambda p: "weaving" in p.techniques),
                            ({"material": "wool", "technique": "felting"},
                             lambda p: "wool" in p.materials and "felting" in p.techniques)):
        for sort, key in orders.items():
            wanted = sorted((p for p in products if keep(p)), key=key,
                            reverse=sort != "price_asc")
            seen, cursor = [], None
            while True:  # page by page, through the cursors
                page = browse.list_products(limit=4, sort=sort, cursor=cursor, **arguments)
                seen += [product.id for product in page.products]
                if not (cursor := page.next_cursor):
                    break
            assert seen == [p.id for p in wanted], (arguments, sort)
