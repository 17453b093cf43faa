"""Is every UI string translated into Kazakh and Russian, in the compiled catalogues the app
reads, and does every page render in all three languages without an English UI string?"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from lxml import html as lxml_html

from marketplace.provenance import flags as buyer_flags
from marketplace.provenance import labels, records
from marketplace.shipping import parcels
from tests.checkout.helpers import BERLIN, fixed_rates  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_operator, make_product
from tests.storefront.helpers import HTML, choose, post_form, sign_in

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "marketplace" / "translations"
TRANSLATED = ("kk", "ru")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# Text a visitor reads in attributes (the rest is element text).
READ_ATTRIBUTES = ("placeholder", "aria-label", "alt", "title")


@cache
def ui_strings() -> tuple[str, ...]:
    """Every msgid the templates and views mark for translation (as ``pybabel extract``)."""
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        found.update(message if isinstance(message, tuple) else [message])
    return tuple(sorted(found))


@cache
def compiled(language: str) -> dict[str, str]:
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert path.exists(), f"{path} is missing: run `make install` (pybabel compile)"
    with open(path, "rb") as handle:
        catalog = read_mo(handle)
    strings = {}
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, list | tuple):  # ngettext: singular and plural ids
            forms = list(message.string)
            strings[message.id[0]], strings[message.id[1]] = forms[0], forms[-1]
        else:
            strings[message.id] = message.string
    return strings


def placeholders(text: str) -> list[str]:
    """Named placeholders; ``num`` (ngettext's count) may appear in any plural form."""
    return sorted(name for name in PLACEHOLDER.findall(text) if name != "num")


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_ui_string_has_a_compiled_translation(language):
    strings = ui_strings()
    assert len(strings) > 100  # the extraction really ran over templates and views
    catalog = compiled(language)
    missing = [msgid for msgid in strings if not catalog.get(msgid)]
    assert missing == [], f"untranslated in {language}: {missing}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_every_placeholder(language):
    catalog = compiled(language)
    broken = [msgid for msgid in ui_strings() if catalog.get(msgid) and
              placeholders(msgid) != placeholders(catalog[msgid])]
    assert broken == []


# --- rendered pages ----------------------------------------------------------------------------

def visible_texts(page: str) -> list[str]:
    tree = lxml_html.fromstring(page)
    for hidden in tree.xpath("//script|//style"):
        hidden.drop_tree()
    texts = [text for text in tree.itertext()]
    for element in tree.iter():
        texts.extend(value for name, value in element.attrib.items()
                     if name in READ_ATTRIBUTES or name.startswith("data-msg-"))
    return [" ".join(text.split()) for text in texts if text.strip()]


@cache
def english_patterns() -> list[tuple[str, re.Pattern]]:
    """One pattern per UI string that reads differently once translated."""
    patterns = []
    for msgid in ui_strings():
        if all(compiled(language).get(msgid) == msgid for language in TRANSLATED):
            continue
        words = re.escape(" ".join(msgid.split()))
        words = re.sub(r"%\\\(\w+\\\)s", ".+?", words)
        patterns.append((msgid, re.compile(rf"(?<![\w]){words}(?![\w])")))
    return patterns


def english_ui_strings_in(page: str) -> set[str]:
    found = set()
    for text in visible_texts(page):
        for msgid, pattern in english_patterns():
            if pattern.search(text):
                found.add(msgid)
    return found


def render(client, path: str, language: str) -> str:
    choose(client, language=language)
    response = client.get(path, headers=HTML)
    assert response.status_code in (200, 404), (path, response.status_code)
    page = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in page
    return page


@pytest.fixture
def catalogue():
    artisan = make_artisan(name="Aigerim")
    product = make_product(artisan, title={"en": "Bowl", "ru": "Пиала", "kk": "Кесе"},
                           description={"en": "Bowl.", "ru": "Пиала.", "kk": "Кесе."},
                           materials=["қызыл саз"], techniques=["қыштан илеу"])
    return artisan, product


@pytest.fixture
def buyer_order(client, catalogue, fixed_rates, stripe_webhooks):  # noqa: F811
    """A signed-in buyer with a cart and a placed (unpaid) order."""
    _, product = catalogue
    sign_in(client, make_buyer())
    choose(client, currency="EUR")
    post_form(client, "/cart/items", {"product_id": product.id, "quantity": "1"})
    page = post_form(client, "/checkout/delivery", BERLIN).get_data(as_text=True)
    option = re.search(r'name="shipping_option" value="([^"]+)"', page).group(1)
    placed = post_form(client, "/checkout/place", {**BERLIN, "shipping_option": option,
                                                   "duties_mode": "DDP"})
    order_id = placed.headers["Location"].split("/")[2]
    post_form(client, "/cart/items", {"product_id": product.id, "quantity": "1"})
    return order_id


def pages_render_without_english(client, paths: list[str]) -> None:
    for path in paths:
        english = render(client, path, "en")
        assert english_ui_strings_in(english), f"the detector found nothing on {path} in en"
        for language in TRANSLATED:
            leftovers = english_ui_strings_in(render(client, path, language))
            assert leftovers == set(), f"{path} in {language} shows English: {leftovers}"


def test_public_pages_render_in_every_language(client, catalogue):
    artisan, product = catalogue
    pages_render_without_english(client, ["/", "/?q=кесе&min_price=abc", f"/products/{product.id}",
                                          f"/artisans/{artisan.id}", "/signin", "/signup",
                                          "/products/nothing-here"])


def test_form_errors_render_in_every_language(client):
    for language in TRANSLATED:
        choose(client, language=language)
        page = post_form(client, "/signup", {"email": "x", "password": "short", "role": "buyer",
                                             "name": "", "country": "ZZ"})
        assert page.status_code == 422
        assert english_ui_strings_in(page.get_data(as_text=True)) == set()


def test_buyer_pages_render_in_every_language(client, buyer_order):
    pages_render_without_english(client, ["/cart", "/checkout", "/orders",
                                          f"/orders/{buyer_order}",
                                          f"/orders/{buyer_order}/pay"])
    for language in TRANSLATED:
        choose(client, language=language)
        page = post_form(client, "/checkout/delivery", BERLIN).get_data(as_text=True)
        assert english_ui_strings_in(page) == set(), language


# A provenance record in the artisan's words (Kazakh): its text is data, not UI.
KAZAKH_RECORD = {
    "makers": [{"name": "Әйгерім Нұрланқызы", "kind": "artisan", "role": "шебер",
                "place": {"city": "Алматы", "country": "KZ"}},
               {"name": "Жетісу жүн кооперативі", "kind": "production_partner",
                "place": {"city": "Талдықорған", "country": "KZ"}}],
    "place": {"city": "Алматы", "country": "KZ"}, "craft": "ceramics",
    "techniques": ["қыштан илеу"],
    "materials": [{"name": "күміс", "origin": {"country": "KZ"}, "precious_metal": True,
                   "fineness": 925, "hallmark": "925"}],
    "dyes": [{"name": "рүян", "kind": "natural"}],
    "when": {"availability": "made_to_order", "started_on": "2025-09-01",
             "finished_on": "2025-09-20", "hours": 12},
    "hand_work_share": 95, "design": {"origin": "traditional", "motif": "қошқар мүйіз"},
    "lineage": [{"master": "Серік Оспанов", "apprentice": "Әйгерім", "since_year": 2012}],
    "certifications": [{"scheme": "ЮНЕСКО", "issuer": "Кеңес", "reference": "А-1"}],
    "cultural_value": True,
}


@pytest.fixture
def shipped_order(client, catalogue, fixed_rates, stripe_webhooks):  # noqa: F811
    """An order paid by card, packed, its parcel labelled; (order id, buyer, artisan)."""
    from tests.shipping.flow import pack_every_box, paid, run_label_tasks

    artisan, product = catalogue
    order_id, buyer, _ = paid(client, (product, 1))
    pack_every_box(client, order_id)
    parcels.request_shipment(order_id, make_operator())
    run_label_tasks()
    return order_id, buyer, artisan


def test_workshop_pages_render_in_every_language(client, catalogue):
    artisan, product = catalogue
    draft = make_product(artisan, title={"kk": "Кесе", "ru": "Пиала"}, craft="ceramics")
    records.put_record(draft.id, KAZAKH_RECORD, artisan_id=artisan.id)
    sign_in(client, artisan)
    pages_render_without_english(client, [
        "/workshop/", "/workshop/profile", "/workshop/listings/new",
        f"/workshop/listings/{product.id}", f"/workshop/listings/{product.id}/provenance",
        f"/workshop/listings/{draft.id}/provenance", "/workshop/orders"])


def test_workshop_form_errors_render_in_every_language(client, catalogue):
    artisan, product = catalogue
    sign_in(client, artisan)
    forms = [("/workshop/profile", {"workshop_name": "", "country": "ZZ",
                                    "processing_days": "x"}),
             ("/workshop/listings/new", {"price": "x", "currency": "KZT", "stock": "-1"}),
             (f"/workshop/listings/{product.id}/provenance",
              {"materials-0-name": "күміс", "materials-0-precious_metal": "1",
               "action": "submit"})]
    for language in TRANSLATED:
        choose(client, language=language)
        for path, data in forms:
            page = post_form(client, path, data)
            assert page.status_code == 422, path
            assert english_ui_strings_in(page.get_data(as_text=True)) == set(), (path, language)


def test_console_pages_render_in_every_language(client, catalogue):
    artisan, product = catalogue
    records.put_record(product.id, KAZAKH_RECORD, artisan_id=artisan.id)
    records.submit_record(product.id, artisan_id=artisan.id)
    operator = make_operator()
    verified = make_product(artisan, title={"kk": "Кесе", "ru": "Пиала"}, craft="ceramics")
    records.put_record(verified.id, KAZAKH_RECORD, artisan_id=artisan.id)
    records.submit_record(verified.id, artisan_id=artisan.id)
    records.decide(verified.id, operator_id=operator.id, decision="approve", level="L1",
                   evidence=[{"type": "identity", "note": "Төлқұжат көрілді."}])
    buyer_flags.flag_label(labels.label_code_for_product(verified.id),
                           user_id=make_buyer().id, reason="Бұл зауыт бұйымы.")
    sign_in(client, operator)
    pages_render_without_english(client, [
        "/console/", "/console/provenance", f"/console/provenance/{product.id}",
        f"/console/provenance/{verified.id}", "/console/flags", "/console/orders",
        "/console/fx"])
    for language in TRANSLATED:
        choose(client, language=language)
        page = post_form(client, f"/console/provenance/{product.id}/decision",
                         {"decision": "approve", "level": "L2", "evidence-0-type": "other"})
        assert page.status_code == 422
        assert english_ui_strings_in(page.get_data(as_text=True)) == set(), language


def test_order_pages_with_a_parcel_render_in_every_language(client, shipped_order):
    order_id, buyer, artisan = shipped_order
    sign_in(client, buyer)
    pages_render_without_english(client, [f"/orders/{order_id}"])
    post_form(client, "/signout")
    sign_in(client, artisan)
    pages_render_without_english(client, ["/workshop/orders", f"/orders/{order_id}"])
    post_form(client, "/signout")
    sign_in(client, make_operator())
    pages_render_without_english(client, [f"/console/orders/{order_id}",
                                          "/console/orders?status=shipped"])


def test_payout_pages_render_in_every_language(client, app, monkeypatch):
    from marketplace.payouts import service as payouts
    from tests.payouts.helpers import artisan_with_account, deliver, paid_order, piece

    monkeypatch.setitem(app.config, "PAYOUT_HOLD_DAYS", 14)
    artisan = artisan_with_account("Көк керамика")
    order = paid_order((piece(artisan, 6_000_000), 1, 10_800))
    payouts.record_order(order.id)
    deliver(order, days_ago=20)
    operator = make_operator()
    batch = payouts.run_payouts(actor_id=operator.id).batch
    sign_in(client, artisan)
    pages_render_without_english(client, ["/workshop/payouts"])
    post_form(client, "/signout")
    sign_in(client, operator)
    pages_render_without_english(client, ["/console/payouts", f"/console/payouts/{batch.id}"])
