import re

from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.catalog.models import ArtisanProfile, Craft, Product
from marketplace.catalog.seed import load_demo_data, seed_demo
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.money import Money

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
KAZAKH_LETTERS = re.compile(r"[ӘәҒғҚқҢңӨөҰұҮүҺһІі]")


def counts() -> tuple[int, int, int]:
    return tuple(db.session.execute(select(func.count()).select_from(model)).scalar_one()
                 for model in (User, ArtisanProfile, Product))


def test_seeding_twice_gives_the_same_rows():
    summary = seed_demo()
    first = counts()
    assert first[1] >= 12 and first[2] >= 60
    assert "demo-buyer@sheber.kz" in summary and "demo-operator@sheber.kz" in summary
    seed_demo()
    assert counts() == first


def test_demo_data_is_real_trilingual_text_for_every_craft():
    data = load_demo_data()
    products = [p for workshop in data["workshops"] for p in workshop["products"]]
    crafts = {p["craft"] for p in products}
    assert {"jewellery", "ceramics", "felt", "textiles", "leather", "wood"} <= crafts
    titles = set()
    for product in products:
        for field in ("title", "description"):
            text = product[field]
            assert set(text) == {"en", "ru", "kk"}
            assert not CYRILLIC.search(text["en"])
            assert CYRILLIC.search(text["ru"]) and not KAZAKH_LETTERS.search(text["ru"])
            assert CYRILLIC.search(text["kk"])
        titles.add(product["title"]["en"])
        assert product["price"]["currency"] == "KZT"
    assert len(titles) == len(products)  # the natural key is unique
    kazakh = " ".join(p["title"]["kk"] + p["description"]["kk"] for p in products)
    assert KAZAKH_LETTERS.search(kazakh)


def test_demo_logins_work(client):
    seed_demo()
    accounts = load_demo_data()["accounts"]
    for email, password in ((accounts["buyer"]["email"], accounts["buyer"]["password"]),
                            ("demo-artisan@sheber.kz", accounts["artisan_password"]),
                            (accounts["operator"]["email"], accounts["operator"]["password"])):
        response = client.post("/api/v1/auth/tokens", json={"email": email, "password": password})
        assert response.status_code == 201, email


def test_russian_ceramics_in_euros_from_the_demo(client):
    seed_demo()
    response = client.get("/api/v1/products?lang=ru&currency=EUR&craft=ceramics")
    items = response.get_json()["items"]
    assert response.status_code == 200 and len(items) >= 5
    for item in items:
        assert item["craft"] == Craft.CERAMICS
        assert item["lang"] == "ru" and item["title"] == item["translations"]["title"]["ru"]
        assert CYRILLIC.search(item["title"])
        assert item["display_price"]["currency"] == "EUR"
        price = Money(item["price"]["amount"], item["price"]["currency"])
        assert item["display_price"] == fx.convert(price, "EUR")[0].to_dict()


def test_every_demo_piece_is_on_sale_with_an_illustration_labelled_as_one(client):
    from marketplace.catalog.models import ImageState, ProductImage, ProductStatus

    seed_demo()
    products = db.session.execute(select(Product)).scalars().all()
    assert {product.status for product in products} == {ProductStatus.ACTIVE}
    pictures = db.session.execute(select(ProductImage)).scalars().all()
    assert sorted(image.product_id for image in pictures) == sorted(p.id for p in products)
    for image in pictures:
        assert image.illustration and image.state == ImageState.READY
        assert image.alt["en"].startswith("Illustration: ")
        assert image.alt["ru"].startswith("Иллюстрация: ")
    listed = client.get("/api/v1/products?limit=100").get_json()["items"]
    assert len(listed) == len(products)
    cover = listed[0]["images"][0]
    assert cover["illustration"] is True
    assert {v["format"] for v in cover["variants"]} == {"jpeg", "webp"}
    with client.get(cover["url"]) as response:
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
