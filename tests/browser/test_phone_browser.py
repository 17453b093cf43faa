"""The artisan's phone: a 390 px wide Chromium walks the provenance record step by step and
sends it, and reads the workshop's listings as cards without a sideways scroll."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from marketplace.provenance import records
from tests.browser.conftest import open_tab
from tests.browser.steps import sign_in
from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_product

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
FORM_HEIGHT = "() => document.querySelector('form.record-form').getBoundingClientRect().height"
NO_SIDEWAYS = "() => document.scrollingElement.scrollWidth <= window.innerWidth"


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """Prices on the dashboard are worked out from fixed exchange rates."""


@pytest.fixture
def phone(chromium, live_server, request):
    with open_tab(chromium, live_server, request, locale="en-GB", viewport=PHONE,
                  is_mobile=True, has_touch=True) as tab:
        yield tab


def next_step(page, title: str) -> None:
    page.get_by_role("button", name=f"Next: {title}").click()
    expect(page.get_by_role("heading", level=2, name=re.compile(title))).to_be_visible()


def test_the_artisan_steps_through_the_record_on_a_phone_and_sends_it(phone):
    artisan = make_artisan(name="Aigerim")
    product = make_product(artisan, title={"en": "Blue bowl"}, craft="ceramics",
                           materials=["red clay"], techniques=["wheel-throwing"])
    sign_in(phone, artisan)
    phone.goto(f"/workshop/listings/{product.id}/provenance")
    expect(phone.get_by_role("heading", name="Step 1 of 5: Who made it")).to_be_visible()
    assert phone.evaluate(NO_SIDEWAYS)
    height = phone.evaluate(FORM_HEIGHT)
    print(f"new record, step 1: form {round(height)} px, page "
          f"{phone.evaluate('() => document.scrollingElement.scrollHeight')} px at 390 px")
    assert height < 1500  # one step at a time, not the whole record (4,898 px before)
    expect(phone.locator("#makers-0-name")).to_have_value("Aigerim")
    expect(phone.locator("#place-city")).to_be_hidden()  # a later step

    next_step(phone, "Where it was made")
    expect(phone.locator("#place-country")).to_have_value("KZ")  # preset
    expect(phone.locator("#makers-0-name")).to_be_hidden()
    phone.fill("#place-city", "Almaty")

    next_step(phone, "How it was made")
    expect(phone.locator("#craft")).to_have_value("ceramics")
    phone.select_option("#when-availability", "ready")
    phone.fill("#hand_work_share", "90")
    phone.select_option("#design-origin", "original")

    next_step(phone, "Materials")
    expect(phone.locator("#materials-0-name")).to_have_value("red clay")
    expect(phone.locator("#materials-0-origin-country")).to_have_value("KZ")

    next_step(phone, "Evidence")
    phone.get_by_role("button", name="Back").click()
    expect(phone.locator("#materials-0-name")).to_be_visible()
    next_step(phone, "Evidence")
    assert phone.evaluate(NO_SIDEWAYS)
    phone.get_by_role("button", name="Save and send for verification").click()

    expect(phone.get_by_text("Sent for verification. An operator will check it.")).to_be_visible()
    record = records.get_record(product.id, user=artisan)
    assert record.status == "pending"
    assert record.data["place"] == {"city": "Almaty", "country": "KZ"}
    assert record.data["hand_work_share"] == 90
    [material] = record.data["materials"]
    assert (material["name"], material["origin"]) == ("red clay", {"country": "KZ"})


def test_without_script_a_step_button_saves_and_opens_the_step(chromium, live_server):
    artisan = make_artisan(name="Aigerim")
    product = make_product(artisan, craft="ceramics", materials=["red clay"])
    context = chromium.new_context(base_url=live_server, viewport=PHONE,
                                   java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, artisan)
        page.goto(f"/workshop/listings/{product.id}/provenance")
        page.get_by_role("button", name="Next: Where it was made").click()
        expect(page).to_have_url(re.compile(r"step=where"))
        expect(page.locator("#place-city")).to_be_visible()
        assert records.get_record(product.id, user=artisan).status == "draft"
    finally:
        context.close()


def test_the_workshop_list_is_cards_on_a_phone_with_stock_and_provenance_in_view(phone):
    artisan = make_artisan(name="Aigerim")
    for n in range(3):
        make_product(artisan, title={"en": f"Felt slippers with a long name, pair {n}"},
                     craft="felt", stock=n + 2)
    sign_in(phone, artisan)
    phone.goto("/workshop/")
    assert phone.evaluate(NO_SIDEWAYS)
    width = phone.evaluate("() => window.innerWidth")
    rows = phone.locator("tr.listing-row")
    expect(rows).to_have_count(3)
    for index in range(3):
        row = rows.nth(index)
        for cell in (row.locator(".listing-stock"), row.locator(".listing-provenance")):
            expect(cell).to_be_visible()
            box = cell.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        expect(row.locator(".listing-stock")).to_have_text(re.compile(r"^[234]$"))
        expect(row.locator(".listing-provenance")).to_contain_text("not declared")
    # The column headings are out of sight: each card's cell names its column itself.
    label = phone.evaluate("""() => getComputedStyle(
        document.querySelector('tr.listing-row .listing-stock'), '::before').content""")
    assert label == '"In stock"'
    assert phone.evaluate(
        "() => getComputedStyle(document.querySelector('tr.listing-row')).display") == "block"


def test_each_step_of_a_full_record_fits_a_phone(phone):
    """A stored record with every part filled in: no step is longer than a few screens (the
    whole form was 6,923 px at 390 px before it came in steps; rows to add are folded).
    Run with -s for the figures."""
    from tests.provenance.helpers import full_record

    artisan = make_artisan(name="Aigerim")
    product = make_product(artisan, craft="ceramics")
    records.put_record(product.id, full_record(), artisan_id=artisan.id)
    sign_in(phone, artisan)
    phone.goto(f"/workshop/listings/{product.id}/provenance")
    heights = {"who": phone.evaluate(FORM_HEIGHT)}
    for title, step in (("Where it was made", "where"), ("How it was made", "how"),
                        ("Materials", "materials"), ("Evidence", "evidence")):
        next_step(phone, title)
        assert phone.evaluate(NO_SIDEWAYS), step
        heights[step] = phone.evaluate(FORM_HEIGHT)
    print("provenance form height at 390 px, per step:",
          {step: round(height) for step, height in heights.items()})
    assert max(heights.values()) < 2200
