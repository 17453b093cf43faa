"""Issue 15's community journeys in a real browser: a buyer saves a piece with the heart, asks
its workshop a question, asks for a piece made to order; the workshop (reading in Kazakh)
answers with an offer; the buyer accepts and pays for the one-off listing by card; both sides
read the conversation's mails in their own language from the SMTP sink. Then a buyer reviews a
delivered piece and the review shows on the product page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import enter_card, sign_in, sign_out, ui
from tests.checkout.helpers import BERLIN, fixed_rates, status_of  # noqa: F401  (a fixture)
from tests.community.helpers import order_of
from tests.factories import make_artisan, make_buyer, make_product
from tests.stripe_emulator import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """1 USD = 500 KZT = 0.9 EUR."""


def test_a_question_becomes_a_commission_the_buyer_pays_for(page, stripe_js, smtp_server,
                                                            start_worker):
    start_worker()
    felter = make_artisan(name="Aigerim Bekova", locale="kk")
    rug = make_product(felter, title={"en": "Felt rug", "ru": "Войлочный ковёр"}, craft="felt",
                       materials=["wool"], techniques=["felting"])
    buyer = make_buyer(name="Anna Schmidt", locale="en")

    # The buyer saves the rug with the heart, and finds it under Saved.
    sign_in(page, buyer)
    page.goto(f"/products/{rug.id}")
    page.locator(".community-actions button.heart").click()
    expect(page.get_by_text("Saved. Find it under Saved.")).to_be_visible()
    expect(page.locator(".community-actions button.heart")).to_have_attribute("aria-pressed",
                                                                              "true")
    page.get_by_role("link", name="Saved", exact=True).click()
    expect(page.get_by_role("link", name=re.compile("Felt rug"))).to_be_visible()

    # Asks the workshop a question, then for a bigger rug made to order.
    page.goto(f"/products/{rug.id}")
    page.get_by_role("link", name="Ask the workshop a question").click()
    page.get_by_label("Your message").fill("Could you make it 200 × 140 cm?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Could you make it 200 × 140 cm?")).to_be_visible()
    page.goto(f"/products/{rug.id}")
    page.get_by_role("link", name="Ask for a piece made to order").click()
    page.get_by_label(re.compile("What should be made")).fill(
        "A shyrdak 200 × 140 cm in red and ochre with a ram's-horn border")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator(".commission .status-requested")).to_be_visible()
    conversation_url = page.url
    sign_out(page)

    # The workshop, reading in Kazakh, answers with an offer.
    sign_in(page, felter)
    page.goto(conversation_url.replace("/messages/", "/workshop/messages/"))
    kk = lambda msgid, **v: ui("kk", msgid, **v)  # noqa: E731
    expect(page.locator("html")).to_have_attribute("lang", "kk")
    offer = page.locator("form.offer-form")
    offer.get_by_label(kk("Title")).fill("Shyrdak 200 × 140")
    offer.get_by_label(kk("Craft")).select_option("felt")
    offer.get_by_label(kk("Price"), exact=True).fill("120000")
    offer.get_by_label(kk("Making time, days")).fill("30")
    offer.get_by_label(kk("Weight, g")).fill("1800")
    offer.get_by_label(kk("Length, mm")).fill("400")
    offer.get_by_label(kk("Width, mm")).fill("300")
    offer.get_by_label(kk("Height, mm")).fill("150")
    offer.get_by_label(kk("A note to the buyer")).fill("Thirty days, natural dyes.")
    offer.get_by_role("button", name=kk("Send the offer")).click()
    expect(page.locator(".commission .status-offered")).to_be_visible()
    sign_out(page)

    # The buyer accepts, adds the reserved piece to the cart and pays by card.
    sign_in(page, buyer)
    page.goto(conversation_url)
    expect(page.get_by_text("Thirty days, natural dyes.")).to_be_visible()
    page.get_by_role("button", name="Accept the offer").click()
    expect(page.locator(".commission .status-accepted")).to_be_visible()
    page.get_by_role("button", name="Add the piece to your cart").click()
    expect(page.get_by_role("link", name="Shyrdak 200 × 140")).to_be_visible()
    page.get_by_role("link", name="Checkout").click()
    for field in ("name", "line1", "city", "postal_code", "phone"):
        page.fill(f"#{field}", BERLIN[field])
    page.select_option("#country", "DE")
    page.get_by_role("button", name="Show delivery options").click()
    page.get_by_label(re.compile(re.escape("Pay now (DDP)"))).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/orders/\w+/pay$"))
    order_id = page.url.rsplit("/", 2)[-2]
    enter_card(page, "4242424242424242")
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"), timeout=20_000)
    wait_until(lambda: status_of(order_id) in ("paid", "fulfilling"), timeout=30,
               message="the commission's order paid")

    # Each side read the conversation by mail in their own language.
    def mails_to(address):
        return [m for m in smtp_server.messages if address in m["To"]]

    wait_until(lambda: len(mails_to(felter.email)) >= 3 and len(mails_to(buyer.email)) >= 1,
               timeout=30, message="the conversation's mails")
    to_workshop = mails_to(felter.email)[0]
    assert to_workshop["Subject"].startswith(
        ui("kk", "New message from %(name)s: %(subject)s", name="Anna", subject="")[:10])
    assert "200 × 140" in to_workshop.get_body(("plain",)).get_content()
    to_buyer = next(m for m in mails_to(buyer.email) if m["Subject"].startswith("New message"))
    assert "Thirty days, natural dyes." in to_buyer.get_body(("plain",)).get_content()


def test_a_buyer_reviews_a_delivered_piece_and_it_shows_on_its_page(page):
    potter = make_artisan()
    bowl = make_product(potter, title={"en": "Blue kese bowl"})
    buyer = make_buyer(name="Kenji Sato")
    order = order_of(buyer, [bowl])
    sign_in(page, buyer)
    page.goto(f"/orders/{order.id}")
    page.get_by_role("link", name="Review").click()
    page.locator("input[name=rating][value='4']").check()
    page.get_by_label("What would you tell another buyer?").fill("Lovely glaze, arrived safe.")
    page.get_by_role("button", name="Publish review").click()
    expect(page).to_have_url(re.compile(rf"/products/{bowl.id}$"))
    expect(page.locator(".reviews .review-text")).to_have_text("Lovely glaze, arrived safe.")
    expect(page.locator("#reviews-heading")).to_contain_text("4.0 of 5, 1 reviews")
