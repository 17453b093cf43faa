"""Pictures in a real browser: every demo card shows its image, and a product page never
scrolls sideways or lets its gallery cover the provenance section."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from marketplace.catalog import images, writes
from marketplace.catalog.models import ImageState, ProductImage, ProductStatus
from marketplace.catalog.seed import load_demo_data, seed_demo
from marketplace.extensions import db
from tests.catalog.conftest import image_bytes
from tests.factories import make_artisan, make_product

pytestmark = pytest.mark.browser

LOADED = "img => img.complete && img.naturalWidth > 0"


def test_every_card_of_the_demo_home_page_shows_its_picture(page):
    seed_demo()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/")
    cards = page.locator(".product-card")
    assert cards.count() == 24  # one page of the catalogue
    for n in range(cards.count()):
        card = cards.nth(n)
        card.scroll_into_view_if_needed()  # the cards' images load lazily
        picture = card.locator("img")
        expect(picture).to_have_count(1)
        page.wait_for_function(LOADED, arg=picture.element_handle(), timeout=10_000)
        assert picture.evaluate("img => img.currentSrc").endswith(".webp")
        expect(card.locator(".illustration-label")).to_have_text("Illustration")
        assert picture.get_attribute("alt").startswith("Illustration: ")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def _layout(page, path: str) -> dict:
    page.goto(path)
    return page.evaluate("""() => {
        const gallery = document.querySelector('.gallery').getBoundingClientRect();
        const details = document.querySelector('.product > div:nth-child(2)')
            .getBoundingClientRect();
        const provenance = document.querySelector('.provenance').getBoundingClientRect();
        return {scroll: document.documentElement.scrollWidth, view: window.innerWidth,
                galleryRight: gallery.right, galleryBottom: gallery.bottom,
                galleryWidth: gallery.width, detailsLeft: details.left,
                provenanceTop: provenance.top};
    }""")


def _longest_demo_piece():
    """The demo piece with the longest Kazakh text, listed without its picture."""
    pieces = [piece for workshop in load_demo_data()["workshops"]
              for piece in workshop["products"]]
    piece = max(pieces, key=lambda p: len(p["title"]["kk"]) + len(p["description"]["kk"]))
    product = writes.create_product(make_artisan(), piece)
    product.status = ProductStatus.ACTIVE  # shown as a piece whose photo was removed
    db.session.commit()
    return product


@pytest.mark.parametrize(("width", "lang"), [(1280, "kk"), (1280, "en"), (390, "kk")])
def test_a_product_without_a_photo_fits_the_page(page, width, lang):
    product = _longest_demo_piece()
    page.set_viewport_size({"width": width, "height": 900})
    box = _layout(page, f"/products/{product.id}?lang={lang}")
    assert box["scroll"] <= box["view"], box  # no sideways scroll
    assert box["galleryBottom"] <= box["provenanceTop"], box  # the box covers nothing
    if width >= 768:
        assert box["galleryRight"] <= box["detailsLeft"], box
        assert box["galleryWidth"] < width * 0.6, box
    expect(page.locator(".gallery .no-photo")).to_be_visible()


def test_a_product_page_picks_a_fitting_variant_and_fits(page):
    product = make_product()
    images.add_image(product.artisan, product.id, image_bytes("JPEG", (3000, 2000)),
                     max_bytes=10 * 1024 * 1024)
    for image_id in db.session.execute(db.select(ProductImage.id).where(
            ProductImage.state == ImageState.PROCESSING)).scalars().all():
        images.process_image(image_id)
    page.set_viewport_size({"width": 1280, "height": 900})
    box = _layout(page, f"/products/{product.id}")
    assert box["scroll"] <= box["view"] and box["galleryRight"] <= box["detailsLeft"], box
    cover = page.locator(".gallery img").first
    page.wait_for_function(LOADED, arg=cover.element_handle())
    chosen = cover.evaluate("img => img.currentSrc")
    assert chosen.endswith(".webp")
    width = cover.evaluate("img => img.naturalWidth")
    assert 640 <= width <= 1280  # not the 3000 px original for a ~700 px wide column
