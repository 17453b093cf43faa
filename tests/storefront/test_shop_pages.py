"""Catalogue, product and artisan pages over the catalogue and provenance services."""

import re

import pytest

from marketplace.provenance import labels, records
from tests.factories import make_artisan, make_operator, make_product
from tests.storefront.helpers import HTML, choose

RECORD = {
    "makers": [{"name": "Aigerim Nurlanovna", "kind": "artisan", "role": "master",
                "place": {"city": "Almaty", "country": "KZ"}}],
    "place": {"city": "Almaty", "region": "Almaty", "country": "KZ"},
    "craft": "ceramics",
    "techniques": ["wheel-throwing", "sgraffito"],
    "materials": [{"name": "red clay", "origin": {"country": "KZ"}}],
    "when": {"availability": "ready", "finished_on": "2025-09-20"},
    "hand_work_share": 95,
    "design": {"origin": "traditional", "motif": "qoshqar muiiz"},
}


@pytest.fixture
def signing_key(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PROVENANCE_KEY_FILE", str(tmp_path / "signing_key"))
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", None)


def verified_label(product) -> str:
    records.put_record(product.id, RECORD, artisan_id=product.artisan_id)
    records.submit_record(product.id, artisan_id=product.artisan_id)
    records.decide(product.id, operator_id=make_operator().id, decision="approve",
                   evidence=[{"type": "studio_visit", "note": "Saw the wheel and kiln."}])
    return labels.label_code_for_product(product.id)


def page(client, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_catalogue_lists_active_pieces_with_prices_in_the_visitors_currency(client):
    make_product(title={"en": "Blue bowl", "ru": "Синяя пиала"}, price_amount=1500000,
                 price_currency="KZT")
    choose(client, language="ru", currency="KZT")
    html = page(client, "/")
    assert "Синяя пиала" in html
    assert "15\xa0000,00\xa0₸" in html  # CLDR Russian: no-break spaces, decimal comma; tenge as ₸


def test_catalogue_filters_by_craft_material_and_search(client):
    make_product(title={"en": "Clay bowl"}, craft="ceramics", materials=["clay"])
    make_product(title={"en": "Felt rug"}, craft="felt", materials=["wool"])
    assert "Felt rug" not in page(client, "/?craft=ceramics")
    assert "Clay bowl" in page(client, "/?craft=ceramics")
    assert "Clay bowl" not in page(client, "/?material=wool")
    html = page(client, "/?q=felt")
    assert "Felt rug" in html and "Clay bowl" not in html


def test_a_filter_the_catalogue_does_not_know_is_dropped_and_an_empty_range_finds_nothing(
        client):
    make_product(title={"en": "Clay bowl"}, price_amount=500000, price_base=500000)
    choose(client, currency="KZT")
    assert "Clay bowl" in page(client, "/?craft=plastic&sort=cheapest_first")
    assert "Clay bowl" not in page(client, "/?min_price=9000&max_price=10")


def test_catalogue_price_filter_is_in_the_visitors_currency(client):
    make_product(title={"en": "Cheap cup"}, price_amount=500000, price_base=500000)
    make_product(title={"en": "Dear vase"}, price_amount=5000000, price_base=5000000)
    choose(client, currency="KZT")
    html = page(client, "/?min_price=10000")
    assert "Dear vase" in html and "Cheap cup" not in html
    html = page(client, "/?max_price=10000,50")
    assert "Cheap cup" in html and "Dear vase" not in html
    html = page(client, "/?min_price=10%20000")  # typed with a thousands space
    assert "Dear vase" in html and "Cheap cup" not in html


def test_a_malformed_price_filter_is_explained_not_an_error(client):
    for typed in ("lots", "1e999999999", "-5", "10.001"):
        html = page(client, f"/?min_price={typed}")
        assert "Enter an amount such as 50 or 49.90." in html


def test_catalogue_pages_with_a_next_link(client):
    artisan = make_artisan()
    for n in range(26):
        make_product(artisan, title={"en": f"Piece number {n:02d}"})
    first = page(client, "/")
    assert first.count('class="product-card"') == 24
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = page(client, next_url)
    assert second.count('class="product-card"') == 2


def test_product_page_shows_price_stock_and_declared_provenance(client):
    product = make_product(title={"en": "Blue bowl"}, stock=3, materials=["clay"],
                           techniques=["wheel-throwing"])
    choose(client, language="en", currency="EUR")
    html = page(client, f"/products/{product.id}")
    assert "Blue bowl" in html
    assert "€" in html and "The artisan's price is" in html
    assert "In stock: 3" in html
    assert "Declared by the artisan; not yet verified by Sheber." in html
    assert "wheel-throwing" in html


def test_product_page_shows_the_verified_label_with_qr_and_link(client, signing_key):
    product = make_product(title={"en": "Blue bowl"})
    code = verified_label(product)
    html = page(client, f"/products/{product.id}")
    assert f'src="/provenance/{code}.svg"' in html
    assert f'href="/provenance/{code}"' in html
    assert "L1 · verified" in html
    assert "Aigerim Nurlanovna" in html and "sgraffito" in html and "red clay" in html
    assert "Kazakhstan" in html


def test_archived_or_unknown_products_are_404_pages(client):
    response = client.get("/products/NOPE", headers=HTML)
    assert response.status_code == 404
    assert "text/html" in response.content_type
    archived = make_product(status="archived")
    assert client.get(f"/products/{archived.id}", headers=HTML).status_code == 404


def test_artisan_page_shows_the_workshop_and_its_pieces(client):
    artisan = make_artisan(name="Aigerim")
    make_product(artisan, title={"en": "Blue bowl"})
    html = page(client, f"/artisans/{artisan.id}")
    assert "Aigerim workshop" in html and "Blue bowl" in html
    assert client.get("/artisans/NOPE", headers=HTML).status_code == 404


def test_zero_decimal_currencies_show_no_minor_units(client):
    make_product(title={"en": "Blue bowl"})
    choose(client, language="en", currency="JPY")
    assert re.search(r'<p class="price">¥[\d,]+</p>', page(client, "/"))


def test_dates_are_formatted_for_the_page_language(client):
    from babel.dates import format_date

    product = make_product()
    for language in ("ru", "kk", "en"):
        choose(client, language=language)
        expected = format_date(product.created_at, "medium", locale=language)
        assert expected in page(client, f"/products/{product.id}")
