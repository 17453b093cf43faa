"""A visitor and a buyer in a real browser (Chromium through Playwright)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import choose_language, enter_card, sign_in
from tests.checkout.helpers import BERLIN, fixed_rates, status_of  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_product

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """Every price on these pages is worked out from fixed exchange rates."""


def test_a_visitor_browses_in_russian_filters_ceramics_and_opens_a_piece(page):
    potter = make_artisan(name="Aigerim")
    make_product(potter, title={"en": "Blue bowl", "ru": "Синяя пиала", "kk": "Көк кесе"},
                 craft="ceramics", stock=2)
    make_product(make_artisan(), title={"en": "Felt rug", "ru": "Войлочный ковёр"},
                 craft="felt", materials=["wool"], techniques=["felting"])

    page.goto("/")
    choose_language(page, "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Изделия ручной работы из Алматы")
    expect(page.get_by_text("Войлочный ковёр")).to_be_visible()

    page.get_by_label("Ремесло").select_option("ceramics")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"craft=ceramics"))
    expect(page.get_by_text("Войлочный ковёр")).to_have_count(0)

    page.get_by_role("link", name=re.compile("Синяя пиала")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Синяя пиала")
    expect(page.get_by_text("В наличии: 2")).to_be_visible()
    expect(page.get_by_role("heading", name="Происхождение")).to_be_visible()
    expect(page.get_by_text("Заявлено мастером; Sheber ещё не проверил.")).to_be_visible()


def buy_to_germany(page, product) -> str:
    """Add ``product`` to the cart, check out to Berlin with DDP; returns the order id."""
    page.goto(f"/products/{product.id}")
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    page.get_by_role("link", name="Checkout").click()
    for field in ("name", "line1", "city", "postal_code", "phone"):
        page.fill(f"#{field}", BERLIN[field])
    page.select_option("#country", BERLIN["country"])
    page.get_by_role("button", name="Show delivery options").click()
    expect(page.get_by_text(re.compile(r"Arrives between .+ and .+\."))).not_to_have_count(0)
    page.get_by_label(re.compile("Pay now")).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/orders/\w+/pay$"))
    return page.url.rsplit("/", 2)[-2]


def test_a_buyer_checks_out_to_germany_with_ddp_and_pays_by_card(page, stripe_js):
    product = make_product(title={"en": "Blue bowl"}, price_amount=1_500_000, stock=3)
    buyer = make_buyer(currency="EUR")
    sign_in(page, buyer)
    order_id = buy_to_germany(page, product)

    enter_card(page, "4242424242424242")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"), timeout=20_000)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    assert status_of(order_id) == "paid"


def test_a_card_that_needs_3d_secure_is_confirmed_in_the_browser(page, stripe_js):
    product = make_product(price_amount=1_500_000, stock=3)
    sign_in(page, make_buyer(currency="EUR"))
    order_id = buy_to_germany(page, product)

    enter_card(page, "4000002760003184")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"), timeout=20_000)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
