"""Buyers in a real browser, reading the real mails from the SMTP sink in their language:
a guest checkout in Russian (no account, an e-mail address for the receipt, whose signed link
opens the order in another browser) and a password reset in Kazakh."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import choose_language, enter_card, ui
from tests.checkout.helpers import BERLIN, fixed_rates, status_of  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_product
from tests.mails.helpers import html_of, links, text_of, to
from tests.stripe_emulator import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """1 USD = 500 KZT = 0.9 EUR."""


@pytest.fixture
def mail_links(app, live_server, monkeypatch):
    """Links in mails point at the live app (mails rendered by the web process)."""
    monkeypatch.setitem(app.config, "PUBLIC_URL", live_server)
    return live_server


def mails_to(inbox, address: str, count: int):
    wait_until(lambda: len(to(inbox, address)) >= count, timeout=60,
               message=f"{count} mail(s) to {address}: "
                       f"{[m['Subject'] for m in inbox.messages]}")
    return to(inbox, address)


def test_a_guest_checks_out_in_russian_and_opens_the_order_from_the_receipt(
        page, chromium, live_server, stripe_js, smtp_server, start_worker, mail_links):
    start_worker(PUBLIC_URL=live_server)  # the pipeline: receipt, the artisan's mail
    artisan = make_artisan(locale="kk", name="Айгерим")
    bowl = make_product(artisan, title={"en": "Blue kese bowl", "ru": "Синяя пиала",
                                        "kk": "Көк кесе"}, price_amount=1_500_000, stock=3)
    ru = lambda msgid, **values: ui("ru", msgid, **values)  # noqa: E731

    page.goto(f"/products/{bowl.id}")
    choose_language(page, "ru")
    page.get_by_role("button", name=ru("Add to cart")).click()
    expect(page.locator(".cart-count")).to_have_text("1")
    page.get_by_role("link", name=ru("Checkout")).click()
    page.get_by_label(ru("Email for the receipt")).fill("anna.guest@example.test")
    for field in ("name", "line1", "city", "postal_code", "phone"):
        page.fill(f"#{field}", BERLIN[field])
    page.select_option("#country", "DE")
    page.get_by_role("button", name=ru("Show delivery options")).click()
    # the delivery window is given as dates
    expect(page.locator(".eta").first).to_contain_text(ru("Arrives between %(start)s and "
                                                         "%(end)s.").split("%(")[0].strip())
    page.get_by_label(re.compile(re.escape(ru("Pay now (DDP)")))).check()
    page.get_by_role("button", name=ru("Continue to payment")).click()
    expect(page).to_have_url(re.compile(r"/orders/\w+/pay$"))
    order_id = page.url.rsplit("/", 2)[-2]
    enter_card(page, "4242424242424242")
    page.get_by_role("button", name=re.compile("^" + re.escape(
        ru("Pay %(amount)s").split("%(")[0]))).click()
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"), timeout=20_000)
    assert status_of(order_id) in ("paid", "fulfilling")

    # The receipt reaches the address typed at checkout, in Russian, with the order's link.
    [receipt] = mails_to(smtp_server, "anna.guest@example.test", 1)
    assert receipt["Subject"] == f"Ваш чек Sheber за заказ {order_id[-8:]}"
    assert f"Здравствуйте, {BERLIN['name']}!" in text_of(receipt)
    assert "Синяя пиала" in text_of(receipt)
    signed = {url for url in links(html_of(receipt)) if "?access=" in url}
    [link] = [url for url in signed if f"/orders/{order_id}?" in url]
    # ... and the guest's receipt PDF and invoice, signed the same way
    [receipt_pdf] = [url for url in signed if f"/orders/{order_id}/receipt.pdf?access=" in url]
    [invoice] = [url for url in signed if f"/orders/{order_id}/invoice.pdf?access=" in url]
    assert signed == {link, receipt_pdf, invoice}
    # ... and the artisan's mail is in Kazakh
    [pack] = mails_to(smtp_server, artisan.email, 1)
    assert pack["Subject"].startswith(f"Тапсырыс {order_id[-8:]}:")

    # Another browser, never signed in, opens the order through the link.
    other = chromium.new_context(base_url=live_server, locale="ru-RU")
    try:
        tab = other.new_page()
        tab.goto(link)
        expect(tab.locator("h1")).to_have_text(ru("Order %(number)s", number=order_id[-8:]))
        expect(tab.locator("html")).to_have_attribute("lang", "ru")
        # the receipt's link hands the never-signed-in browser the PDF itself
        pdf = other.request.get(receipt_pdf)
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF-")
        tab.goto(f"/orders/{order_id}")
        expect(tab).to_have_url(re.compile(r"/signin"))
    finally:
        other.close()


def test_a_password_reset_read_in_kazakh(page, smtp_server, mail_links):
    user = make_buyer(email="aru.reset@example.test", locale="kk", name="Ару")
    kk = lambda msgid, **values: ui("kk", msgid, **values)  # noqa: E731

    page.goto("/signin")
    choose_language(page, "kk")
    page.get_by_role("link", name=kk("Forgot your password?")).click()
    page.get_by_label(kk("Email")).fill(user.email)
    page.get_by_role("button", name=kk("Send me a link")).click()
    expect(page.locator(".reset-sent")).to_be_visible()

    from tests.mails.helpers import deliver_queued

    deliver_queued()  # the mail worker's step, run here
    [mail] = mails_to(smtp_server, user.email, 1)
    assert mail["Subject"] == "Sheber құпиясөзін қалпына келтіру"
    assert "Сәлеметсіз бе, Ару!" in text_of(mail)
    [link] = [url for url in links(html_of(mail)) if "/password/reset/" in url]

    page.goto(link)
    page.get_by_label(kk("New password"), exact=True).fill("a fresh secret phrase")
    page.get_by_label(kk("The new password again")).fill("a fresh secret phrase")
    page.get_by_role("button", name=kk("Save the new password")).click()
    expect(page).to_have_url(re.compile(r"/signin"))
    page.fill("#password", "a fresh secret phrase")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".site-nav .who")).to_have_text("Ару")

    # the link worked once
    page.goto(link)
    expect(page.locator(".form-error")).to_have_text(
        kk("This link has expired or has been used already. Ask for a new one."))
