"""The charts as pages draw them: SVG that an XML parser that is not ours reads, bars as long as
their figures, a data table equal to the figures in the page's language, and nothing the CSP
would refuse (no script, no style attribute)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import lxml.html
import pytest
from babel.dates import format_date

from marketplace.catalog import views as piece_views
from marketplace.charts import Chart, Series, draw, last_months
from marketplace.community import favourites
from marketplace.i18n import money_text
from marketplace.ids import utcnow
from marketplace.money import Money
from tests.charts.helpers import seed_payouts, seed_sales
from tests.factories import make_buyer, make_operator
from tests.storefront.helpers import HTML, choose, sign_in

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg_text: str) -> list[ET.Element]:
    root = ET.fromstring(svg_text)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox", "").startswith("0 0 ") and root.get("width") is None
    assert root.get("aria-hidden") == "true"
    return [r for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]


@pytest.mark.parametrize("horizontal", [False, True])
def test_bars_are_proportional_to_the_figures(horizontal):
    values = (0, 5, 20, 7, 13)
    chart = Chart(id="t", title="T", label_heading="Month", labels=tuple("abcde"),
                  series=(Series("n", values, tuple(map(str, values))),),
                  horizontal=horizontal)
    bars = _bars(str(draw(chart)))
    lengths = [float(b.get("width" if horizontal else "height")) for b in bars]
    assert len(lengths) == len(values)
    longest = max(lengths)
    for value, length in zip(values, lengths, strict=True):
        assert length == pytest.approx(value / 20 * longest, abs=0.02)
    assert lengths[0] == 0


def test_two_series_draw_two_bars_per_label_on_one_scale():
    chart = Chart(id="t", title="T", label_heading="Piece", labels=("a & b", "<c>"),
                  horizontal=True,
                  series=(Series("views", (10, 4), ("10", "4")),
                          Series("saves", (5, 0), ("5", "0"))))
    bars = _bars(str(draw(chart)))
    widths = [float(b.get("width")) for b in bars]
    assert widths[1] == pytest.approx(widths[0] / 2) and widths[2] == pytest.approx(
        widths[0] * 0.4) and widths[3] == 0
    assert [b.get("class") for b in bars] == ["bar s0", "bar s1", "bar s0", "bar s1"]
    texts = [t.text for t in ET.fromstring(str(draw(chart))).iter(f"{SVG}text")]
    assert "a & b" in texts and "<c>" in texts  # escaped in the XML, read back whole


def test_a_chart_with_nothing_to_show_draws_nothing():
    chart = Chart(id="t", title="T", label_heading="Month", labels=("a",),
                  series=(Series("n", (0,), ("0",)),))
    assert chart.empty and str(draw(chart)) == ""
    with pytest.raises(ValueError):
        Chart(id="t", title="T", label_heading="x", labels=("a", "b"),
              series=(Series("n", (1,), ("1",)),))


def _figures(html: str) -> dict[str, dict]:
    """Each chart of the page: its SVG (as text) and its table's rows."""
    document = lxml.html.fromstring(html)
    found = {}
    for figure in document.xpath("//figure[contains(@class, 'chart')]"):
        svg = figure.xpath(".//svg")
        rows = [[cell.text_content().strip() for cell in row.xpath("./th | ./td")]
                for row in figure.xpath(".//tbody/tr")]
        # the drawing as the server wrote it (an HTML parser would lower-case viewBox)
        raw = re.search(rf'<figure class="chart" id="{figure.get("id")}".*?(<svg .*?</svg>)',
                        html, re.S)
        found[figure.get("id")] = {
            "svg": raw.group(1) if svg else None,
            "rows": rows,
            "title": figure.xpath(".//*[@class='chart-title']")[0].text_content()}
    return found


def _no_inline_style_or_script(html: str) -> None:
    document = lxml.html.fromstring(html)
    for svg in document.xpath("//figure//svg"):
        assert not [e for e in svg.iter() if e.get("style") is not None]
    assert not document.xpath("//figure//script")


def test_the_workshop_dashboard_charts_sales_and_interest_in_russian(app, client):
    today = utcnow().date()
    seeded = seed_sales(today)
    piece_views.flush_views()
    for _ in range(4):  # a visitor looks at the bowl four times, a buyer saves the scarf
        client.get(f"/products/{seeded.bowl.id}", headers=HTML)
    favourites.save(make_buyer(), seeded.scarf.id)
    sign_in(client, seeded.artisan)
    choose(client, language="ru")
    client.get(f"/products/{seeded.bowl.id}", headers=HTML)  # the workshop's own view: not counted
    piece_views.flush_views()
    response = client.get("/workshop/", headers=HTML)
    assert response.status_code == 200
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    _no_inline_style_or_script(html)
    figures = _figures(html)
    assert {"sales-month-kzt", "sales-month-usd", "sales-country-kzt", "sales-country-usd",
            "piece-interest"} <= set(figures)

    kzt = figures["sales-month-kzt"]
    months = [row[0] for row in kzt["rows"]]
    assert months == [format_date(date(y, m, 1), "LLLL y", locale="ru")
                      for y, m in last_months(today, 12)]
    assert months[-1].split()[0] in ("январь", "февраль", "март", "апрель", "май", "июнь",
                                     "июль", "август", "сентябрь", "октябрь", "ноябрь",
                                     "декабрь")
    cells = [row[1] for row in kzt["rows"]]
    expected, zero = money_text(Money(3_000_000, "KZT"), "ru"), money_text(Money(0, "KZT"), "ru")
    assert "30\xa0000,00" in expected and "₸" in expected
    assert cells == [zero] * 10 + [expected, expected]
    bars = _bars(kzt["svg"])
    assert [float(b.get("height")) for b in bars][-2:] == [200.0, 200.0]
    assert all(float(b.get("height")) == 0 for b in bars[:10])

    country = figures["sales-country-kzt"]["rows"]
    assert [row[0] for row in country] == ["Германия", "Соединенные Штаты", "Япония"]
    lengths = [float(b.get("width")) for b in _bars(figures["sales-country-kzt"]["svg"])]
    assert lengths[2] == pytest.approx(lengths[0] / 2, abs=0.02)  # 15,000 against 30,000 ₸

    interest = figures["piece-interest"]
    assert interest["title"] == "Просмотры и сохранения каждой вещи"
    assert [row[1:] for row in interest["rows"]] == [["4", "0"], ["0", "1"], ["0", "0"]]
    assert interest["rows"][0][0] == seeded.bowl.title["ru"]
    widths = [float(b.get("width")) for b in _bars(interest["svg"])]
    assert widths[0] > 0 and widths[3] == pytest.approx(widths[0] / 4, abs=0.02)


def test_the_console_charts_orders_queue_and_payouts(app, client):
    today = utcnow().date()
    seeded = seed_sales(today)
    seed_payouts(seeded.artisan, today)
    sign_in(client, make_operator())
    choose(client, language="kk")
    response = client.get("/console/", headers=HTML)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    _no_inline_style_or_script(html)
    figures = _figures(html)
    destinations = figures["orders-destination"]
    assert [row[1] for row in destinations["rows"]] == ["2", "1", "1"]
    assert [float(b.get("width")) for b in _bars(destinations["svg"])][1] == pytest.approx(
        [float(b.get("width")) for b in _bars(destinations["svg"])][0] / 2, abs=0.02)
    assert figures["queue-age"]["svg"] is None  # nothing waits: "no figures yet"
    assert {"payouts-month-kzt", "payouts-month-eur"} <= set(figures)
    payouts = figures["payouts-month-kzt"]
    assert [row[1] for row in payouts["rows"]][-3:-1] != [payouts["rows"][0][1]] * 2
    heights = [float(b.get("height")) for b in _bars(payouts["svg"])]
    assert heights[-3] == pytest.approx(heights[-2] / 3, abs=0.02) and heights[-1] == 0
