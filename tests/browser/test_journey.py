"""Issue 7's journey in a real browser, in Russian: a buyer finds a verified ceramic piece, pays
for it by card through the Stripe emulator's Stripe.js and sees it paid; its artisan marks it
packed; an operator makes the parcel (a real Celery worker buys the label) and downloads the
label; the buyer follows the tracking number. A failure leaves
``test-artifacts/test_a_piece_travels_from_the_catalogue_to_a_tracked_parcel.png``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from marketplace.ids import utcnow
from marketplace.provenance import labels, records
from marketplace.shipping import tracking as tracking_service
from tests.browser.steps import choose_language, enter_card, sign_in, sign_out, ui
from tests.checkout.helpers import BERLIN, fixed_rates, status_of  # noqa: F401  (a fixture)
from tests.factories import PASSWORD, make_artisan, make_buyer, make_operator, make_product
from tests.provenance.helpers import EVIDENCE, full_record
from tests.shipping.flow import fulfilments, pdf_text, shipment_of
from tests.stripe_emulator import wait_until

pytestmark = pytest.mark.browser

LANGUAGE = "ru"


def ru(msgid: str, **values) -> str:
    return ui(LANGUAGE, msgid, **values)


def starting(msgid: str) -> re.Pattern:
    """A button or link whose Russian text starts as ``msgid`` does before its first value."""
    return re.compile("^" + re.escape(ru(msgid).split("%(")[0]))


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """1 USD = 500 KZT = 0.9 EUR."""


@pytest.fixture
def label_worker(start_worker):
    """A real ``celery -A workers worker`` on the test database and broker: it consumes the
    outbox event of a requested shipment and buys the label."""
    return start_worker()


@pytest.fixture
def verified_bowl():
    """A ceramic bowl whose provenance an operator verified (label L1), and a felt rug."""
    potter = make_artisan(name="Aigerim Nurlanovna")
    bowl = make_product(potter, title={"en": "Blue kese bowl", "ru": "Синяя пиала",
                                       "kk": "Көк кесе"},
                        craft="ceramics", price_amount=1_500_000, stock=3, weight_g=900,
                        length_mm=250, width_mm=250, height_mm=120)
    records.put_record(bowl.id, full_record(), artisan_id=potter.id)
    records.submit_record(bowl.id, artisan_id=potter.id)
    records.decide(bowl.id, operator_id=make_operator().id, decision="approve", level="L1",
                   evidence=EVIDENCE)
    make_product(make_artisan(), title={"en": "Felt rug", "ru": "Войлочный ковёр"},
                 craft="felt", materials=["wool"], techniques=["felting"])
    return bowl, potter


def test_a_piece_travels_from_the_catalogue_to_a_tracked_parcel(page, stripe_js, label_worker,
                                                                 verified_bowl):
    bowl, potter = verified_bowl
    code = labels.label_code_for_product(bowl.id)
    buyer = make_buyer(name="Anna Schmidt")
    operator = make_operator()

    # The buyer browses in Russian, filters ceramics and opens the verified bowl.
    page.goto("/")
    choose_language(page, LANGUAGE)
    expect(page.get_by_text("Войлочный ковёр")).to_be_visible()
    page.get_by_label(ru("Craft")).select_option("ceramics")
    page.get_by_role("button", name=ru("Show")).click()
    expect(page.get_by_text("Войлочный ковёр")).to_have_count(0)
    page.get_by_role("link", name=re.compile("Синяя пиала")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Синяя пиала")
    expect(page.locator(".provenance .badge-L1")).to_have_text(ru("L1 · verified"))

    # ... and its public label, whose signature holds.
    page.get_by_role("link", name=ru("Open the public label page %(code)s", code=code)).click()
    expect(page).to_have_url(re.compile(rf"/provenance/{code}$"))
    # the label page speaks the language the visitor chose in the shop
    expect(page.locator("html")).to_have_attribute("lang", LANGUAGE)
    expect(page.get_by_text(ru("Valid label · signature verified"))).to_be_visible()
    page.go_back()

    # Adds the bowl to the cart before signing in (as a guest), signs in (the cart comes
    # along), checks out to Berlin with duties paid (DDP).
    page.get_by_role("button", name=ru("Add to cart")).click()
    expect(page.locator(".cart-count")).to_have_text("1")
    page.locator(".site-nav").get_by_role("link", name=ru("Sign in")).click()
    page.fill("#email", buyer.email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".cart-count")).to_have_text("1")
    page.locator(".site-nav").get_by_role("link", name=re.compile(re.escape(ru("Cart")))).click()
    page.get_by_role("link", name=ru("Checkout")).click()
    for field in ("name", "line1", "city", "postal_code", "phone"):
        page.fill(f"#{field}", BERLIN[field])
    page.select_option("#country", "DE")
    page.get_by_role("button", name=ru("Show delivery options")).click()
    page.get_by_label(re.compile(re.escape(ru("Pay now (DDP)")))).check()
    page.get_by_role("button", name=ru("Continue to payment")).click()
    expect(page).to_have_url(re.compile(r"/orders/\w+/pay$"))
    order_id = page.url.rsplit("/", 2)[-2]

    # Pays with a test card through the emulator's Stripe.js and sees the order paid (the
    # worker may already have moved it on to fulfilling: paid stays a step done).
    enter_card(page, "4242424242424242")
    page.get_by_role("button", name=starting("Pay %(amount)s")).click()
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"), timeout=20_000)
    expect(page.locator(".steps li.done", has_text=ru("paid"))).to_be_visible()
    expect(page.locator("#order-status")).to_have_attribute("data-status",
                                                            re.compile("^(paid|fulfilling)$"))
    assert status_of(order_id) in ("paid", "fulfilling")

    # The artisan signs in and marks the bowl packed.
    sign_out(page)
    sign_in(page, potter)
    page.get_by_role("link", name=ru("Orders to pack")).click()
    packing = page.get_by_role("form", name=ru("Mark order %(number)s packed",
                                               number=order_id[-8:]))
    packing.get_by_label(ru("Weight of the packed box, in grams")).fill("1300")
    packing.get_by_label(ru("Length")).fill("290")
    packing.get_by_label(ru("Width")).fill("290")
    packing.get_by_label(ru("Height")).fill("160")
    packing.get_by_role("button", name=ru("Mark packed")).click()
    expect(page.get_by_text(ru("Marked packed. Sheber will collect the box and make the "
                               "parcel."))).to_be_visible()
    assert [f.status for f in fulfilments(order_id)] == ["packed"]

    # The operator makes the parcel; the worker buys the label; the operator downloads it.
    sign_out(page)
    sign_in(page, operator)
    page.get_by_role("link", name=ru("Order %(number)s", number=order_id[-8:])).click()
    page.get_by_role("button", name=ru("Create the shipment")).click()
    wait_until(lambda: shipment_of(order_id).tracking_number, timeout=60,
               message="the worker to buy the label")
    tracking = shipment_of(order_id).tracking_number
    page.reload()
    expect(page.locator(".tracking-number")).to_have_text(tracking)
    with page.expect_download() as downloading:
        page.get_by_role("link", name=ru("Download the label (PDF)")).click()
    label = Path(downloading.value.path()).read_bytes()
    assert label.startswith(b"%PDF") and tracking in pdf_text(label)

    # The label alone does not ship the order; the carrier's acceptance scan does.
    sign_out(page)
    sign_in(page, buyer)
    page.get_by_role("link", name=ru("My orders")).click()
    page.get_by_role("link", name=order_id[-8:]).click()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "fulfilling")
    expect(page.locator(".shipment-status")).to_have_text(
        ru("label created, waiting for the carrier"))
    tracking_service.record_carrier_event(
        "sheber-post", event_id=f"accept-{tracking}", tracking_number=tracking,
        status="handed_over", occurred_at=utcnow(), location="Almaty")
    page.reload()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "shipped")
    expect(page.locator(".tracking-number")).to_have_text(tracking)
    expect(page.locator(".shipment-status")).to_have_text(ru("handed to the carrier"))
    expect(page.locator(".carrier-name")).to_have_text("Sheber Post")
    expect(page.locator(".expected-delivery")).to_be_visible()
    expect(page.locator(".tracking-link")).to_have_attribute(
        "href", re.compile(rf"/track/{tracking}$"))
    page.goto(f"/track/{tracking}")
    expect(page.locator(".tracking-events li")).to_have_count(2)
