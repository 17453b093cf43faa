"""Browser tests: the app served on a live local port (``live_server`` from
tests/stripe_emulator.py), driven by Playwright with Debian's Chromium. Run them alone with
``.venv/bin/python -m pytest -m browser``.

A failing test leaves a full-page screenshot in ``test-artifacts/<test name>.png``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def stripe_js(app, stripe_webhooks, monkeypatch):
    """Pages load the emulator's fake Stripe.js (and the CSP allows it); yields the emulator."""
    monkeypatch.setitem(app.config, "STRIPE_JS_URL",
                        f"{stripe_webhooks.base_url}/js.stripe.com/v3/")
    return stripe_webhooks


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's Chromium "
                    "(apt-get install -y chromium) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def open_tab(chromium, live_server, request, **options):
    """A tab in a fresh browser profile (own cookies) on the live server, with Playwright's
    ``new_context`` options; a screenshot when the test failed."""
    context = chromium.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    try:
        yield tab
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def page(chromium, live_server, request):
    """A fresh browser profile per test (own cookies); screenshot on failure."""
    with open_tab(chromium, live_server, request, locale="en-GB") as tab:
        yield tab
