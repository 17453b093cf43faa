"""What search engines and link previews read: JSON-LD, hreflang, OpenGraph/Twitter cards,
sitemap.xml (validated against the published Sitemaps 0.9 schemas), robots.txt, favicon."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from lxml import etree, html
from PIL import Image

from marketplace.catalog.models import ProductStatus
from marketplace.fx import service as fx
from marketplace.money import Money
from marketplace.storefront import seo
from tests.catalog.conftest import image_bytes
from tests.catalog.test_images import process_all, upload
from tests.factories import make_product
from tests.storefront.helpers import HTML, choose

DATA = Path(__file__).resolve().parents[1] / "data"


def document(client, path: str):
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, path
    return html.fromstring(response.get_data(as_text=True))


def meta(page, name: str) -> str | None:
    found = page.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content')
    return found[0] if found else None


def json_ld(page) -> dict:
    [script] = page.xpath('//script[@type="application/ld+json"]/text()')
    return json.loads(script)


@pytest.fixture
def photographed(client):
    product = make_product(price_amount=1500000, price_currency="KZT", price_base=1500000)
    upload(client, product, image_bytes("JPEG", (1600, 1200)))
    process_all()
    return product


def test_product_page_carries_a_schema_org_product_with_its_offer_in_the_page_currency(
        client, photographed, app):
    choose(client, currency="EUR")
    page = document(client, f"/products/{photographed.id}")
    data = json_ld(page)
    assert data["@context"] == "https://schema.org" and data["@type"] == "Product"
    assert data["name"] == photographed.title["en"]
    offer = data["offers"]
    expected = fx.convert(Money(1500000, "KZT"), "EUR")[0]
    assert offer["@type"] == "Offer"
    assert (offer["price"], offer["priceCurrency"]) == (f"{expected.major:f}", "EUR")
    assert offer["availability"] == "https://schema.org/InStock"
    public = app.config["PUBLIC_URL"]
    assert data["url"] == offer["url"] == f"{public}/products/{photographed.id}"
    assert data["image"] and all(url.startswith(public + "/media/") for url in data["image"])


def test_a_sold_out_piece_is_out_of_stock_and_prices_follow_the_currency(client):
    product = make_product(stock=0)
    choose(client, currency="JPY")
    offer = json_ld(document(client, f"/products/{product.id}"))["offers"]
    assert offer["availability"] == "https://schema.org/OutOfStock"
    assert offer["priceCurrency"] == "JPY" and "." not in offer["price"]  # zero-decimal


def test_every_page_links_its_kazakh_russian_and_english_versions(client, photographed, app):
    page = document(client, f"/products/{photographed.id}")
    links = {link.get("hreflang"): link.get("href")
             for link in page.xpath('//link[@rel="alternate"][@hreflang]')}
    base = f"{app.config['PUBLIC_URL']}/products/{photographed.id}"
    assert links == {"kk": f"{base}?lang=kk", "ru": f"{base}?lang=ru", "en": f"{base}?lang=en",
                     "x-default": base}
    russian = document(client, f"/products/{photographed.id}?lang=ru")
    assert russian.xpath("/html/@lang") == ["ru"]
    assert json_ld(russian)["name"] == photographed.title["ru"]
    home = document(client, "/?lang=kk")
    assert home.xpath("/html/@lang") == ["kk"]
    assert {link.get("hreflang") for link in home.xpath('//link[@hreflang]')} == {
        "kk", "ru", "en", "x-default"}


def test_link_previews_show_the_cover_photo(client, photographed, app):
    page = document(client, f"/products/{photographed.id}")
    assert meta(page, "og:type") == "product"
    assert meta(page, "og:title") == photographed.title["en"]
    assert meta(page, "twitter:card") == "summary_large_image"
    image_url = meta(page, "og:image")
    assert image_url == meta(page, "twitter:image")
    assert image_url.startswith(app.config["PUBLIC_URL"] + "/media/")
    with client.get(image_url.removeprefix(app.config["PUBLIC_URL"])) as response:
        data = response.data
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.format == "JPEG"
        assert picture.size == (int(meta(page, "og:image:width")),
                                int(meta(page, "og:image:height"))) == (1280, 960)
    assert page.xpath('//link[@rel="canonical"]/@href') == [
        f"{app.config['PUBLIC_URL']}/products/{photographed.id}"]


def sitemap_schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / name)))


def locations(tree) -> list[str]:
    return tree.xpath("//s:loc/text()", namespaces={"s": seo.SITEMAP_NS})


def test_the_sitemap_lists_what_buyers_may_see_and_is_valid(client, app):
    on_sale = make_product()
    draft = make_product(status=ProductStatus.DRAFT)
    archived = make_product(status=ProductStatus.ARCHIVED)
    response = client.get("/sitemap.xml")
    assert response.mimetype == "application/xml"
    tree = etree.fromstring(response.data)
    schema = sitemap_schema("sitemap-0.9.xsd")
    assert schema.validate(tree), schema.error_log
    public = app.config["PUBLIC_URL"]
    urls = locations(tree)
    assert f"{public}/products/{on_sale.id}" in urls
    assert f"{public}/artisans/{on_sale.artisan_id}" in urls
    assert f"{public}/" in urls
    assert not {f"{public}/products/{draft.id}", f"{public}/products/{archived.id}",
                f"{public}/artisans/{draft.artisan_id}"} & set(urls)


def test_a_large_catalogue_gets_a_sitemap_index(client, monkeypatch, app):
    products = [make_product() for _ in range(3)]
    monkeypatch.setattr(seo, "SITEMAP_URLS", 3)  # 1 home + 3 workshops + 3 pieces = 7 URLs
    index = etree.fromstring(client.get("/sitemap.xml").data)
    schema = sitemap_schema("siteindex-0.9.xsd")
    assert schema.validate(index), schema.error_log
    pages = locations(index)
    assert len(pages) == 3
    seen = []
    for url in pages:
        part = etree.fromstring(client.get(url.removeprefix(app.config["PUBLIC_URL"])).data)
        assert sitemap_schema("sitemap-0.9.xsd").validate(part)
        seen += locations(part)
    assert len(seen) == len(set(seen)) == 7
    assert all(any(url.endswith(product.id) for url in seen) for product in products)
    assert client.get("/sitemap-4.xml").status_code == 404


def test_robots_point_to_the_sitemap_and_keep_private_pages_out(client, app):
    body = client.get("/robots.txt").get_data(as_text=True)
    assert f"Sitemap: {app.config['PUBLIC_URL']}/sitemap.xml" in body
    assert "Disallow: /workshop/" in body and "Disallow: /console/" in body


def test_the_favicon_is_served_and_linked(client):
    with client.get("/favicon.ico") as response:
        assert response.mimetype == "image/vnd.microsoft.icon"
        data = response.data
    with Image.open(io.BytesIO(data)) as icon:
        assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
    page = document(client, "/")
    assert "/favicon.ico" in page.xpath('//link[@rel="icon"]/@href')
    svg = page.xpath('//link[@rel="icon"][@type="image/svg+xml"]/@href')[0]
    with client.get(svg) as response:
        assert response.status_code == 200 and b"<svg" in response.data
