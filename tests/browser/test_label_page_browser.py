"""The public label page in Chromium: axe-core (from npm) finds no WCAG 2 A/AA violation, colour
contrast included, in every language and state (valid L2, revoked, piece history pending)."""

from __future__ import annotations

import pytest

from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.provenance import pieces
from tests.provenance.helpers import Actors, verified_label
from tests.provenance.tools import axe_script

pytestmark = pytest.mark.browser


@pytest.fixture
def tab(chromium, live_server):
    # the page's CSP allows no script: axe is injected with CSP bypassed, as a test harness
    context = chromium.new_context(base_url=live_server, bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


def axe(tab, path: str) -> dict:
    tab.goto(path)
    tab.add_script_tag(path=str(axe_script()))
    return tab.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return {violations: result.violations.map(v => ({id: v.id,
                    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)})),
                passes: result.passes.map(p => p.id)};
    }""")


def test_the_label_page_passes_axe_in_every_language_and_state(app, client, tab):
    actors = Actors()
    code = verified_label(client, actors, "L2")
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    db.session.commit()
    for lang in ("kk", "ru", "en"):
        result = axe(tab, f"/provenance/{code}?lang={lang}&piece={serial}")
        assert tab.locator("html").get_attribute("lang") == lang
        assert "color-contrast" in result["passes"]
        assert result["violations"] == [], (lang, result["violations"])
    client.post(f"/api/v1/operator/provenance/{actors.product.id}/revoke",
                json={"reason": "Doubtful."}, headers=actors.operator_headers)
    for lang in ("kk", "en"):
        result = axe(tab, f"/provenance/{code}?lang={lang}")
        assert "color-contrast" in result["passes"]
        assert result["violations"] == [], (lang, result["violations"])
    tab.goto(f"/provenance/{code}?lang=en")
    tab.get_by_role("link", name="Русский").click()
    assert tab.locator("html").get_attribute("lang") == "ru"
