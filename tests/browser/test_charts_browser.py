"""The charts in Chromium: axe-core finds no WCAG 2 A/AA violation on the workshop dashboard and
the console with their charts and open data tables, and on a 390 px wide phone every drawing
fits the screen (it scales with its viewBox) while the CSP stays as it is."""

from __future__ import annotations

import pytest

from marketplace.ids import utcnow
from tests.browser.conftest import open_tab
from tests.browser.steps import sign_in
from tests.charts.helpers import seed_payouts, seed_sales
from tests.factories import make_operator
from tests.provenance.tools import axe_script

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(chromium, live_server, request):
    # the pages' CSP allows no script: axe is injected with CSP bypassed, as a test harness
    with open_tab(chromium, live_server, request, bypass_csp=True, locale="ru-RU",
                  viewport={"width": 390, "height": 844}) as tab:
        yield tab


def _axe(tab) -> list[dict]:
    if not axe_script().exists():
        pytest.skip("axe-core is missing: make provenance-tools")
    tab.evaluate("() => document.querySelectorAll('figure.chart details')"
                 ".forEach(d => d.open = true)")
    tab.add_script_tag(path=str(axe_script()))
    return tab.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return result.violations.map(v => ({id: v.id,
                    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
    }""")


def _fits(tab) -> None:
    sizes = tab.evaluate("""() => [...document.querySelectorAll('figure.chart svg')].map(s => {
        const box = s.getBoundingClientRect();
        return {right: box.right, width: box.width, height: box.height};
    })""")
    assert sizes, "no chart was drawn"
    for size in sizes:
        assert size["width"] > 0 and size["right"] <= 390 and size["height"] > 0, size
    overflow = tab.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 390


def test_the_workshop_charts_pass_axe_and_fit_a_phone(app, phone):
    seeded = seed_sales(utcnow().date())
    sign_in(phone, seeded.artisan)
    response = phone.goto("/workshop/?lang=ru")
    assert "style-src 'self'" in response.headers["content-security-policy"]
    assert phone.locator("figure.chart").count() >= 4
    _fits(phone)
    assert _axe(phone) == []


def test_the_console_charts_pass_axe_and_fit_a_phone(app, phone):
    seeded = seed_sales(utcnow().date())
    seed_payouts(seeded.artisan, utcnow().date())
    sign_in(phone, make_operator())
    phone.goto("/console/?lang=kk")
    assert phone.locator("figure.chart").count() >= 3
    _fits(phone)
    assert _axe(phone) == []
