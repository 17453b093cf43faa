"""Is any English left on a Kazakh or Russian screen? Every HTML page the app routes (found in
its url_map, so a new page is scanned without being listed here) is rendered for a visitor, a
buyer, an artisan and an operator over seeded data, in kk and in ru; its visible text and the
texts people read in attributes are compared with the English message catalogue (the msgids
Babel extracts from the templates and the code). Only catalogue strings count, so names, titles
and other data are never mistaken for untranslated interface text."""

from __future__ import annotations

import re
from functools import cache

import pytest
from lxml import html as lxml_html

from marketplace.community import conversations, favourites
from marketplace.orders.models import OrderLine
from marketplace.provenance import flags as buyer_flags
from marketplace.provenance import labels, records
from marketplace.shipping import parcels
from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_operator, make_product
from tests.storefront.helpers import HTML, choose, sign_in
from tests.storefront.test_translations import KAZAKH_RECORD, TRANSLATED, compiled, ui_strings

# Routes that answer with something other than an HTML page for people (files, feeds, JSON,
# images, health checks); every other GET route is scanned.
NOT_PAGES = {
    "static", "media.media", "health.healthz", "health.metrics", "seo.favicon", "seo.robots",
    "seo.sitemap", "seo.sitemap_page", "provenance_pages.did_document",
    "provenance_pages.label_qr", "console.reconciliation_csv", "console.customs_pdf",
    "console.label_pdf", "console.payout_file", "account.export_data", "buy.order_status",
}
ROLES = ("visitor", "buyer", "artisan", "operator")
# Attributes whose text a person reads (or hears); a button's value where it is its label.
READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "data-label")
BUTTON_INPUTS = ("submit", "button", "reset")
# Accepted in Russian and Kazakh text as they are (loan words, protocol names).
LOAN_WORDS = {"e-mail", "http", "https"}
EDGES = " \t\n:·,;()[]—–-.!?…«»\"'/*"


def normalised(text: str) -> str:
    return " ".join(text.split()).strip(EDGES)


def page_texts(page: str) -> list[str]:
    """What a person reads on ``page``: text segments and attribute texts, normalised."""
    tree = lxml_html.fromstring(page)
    # Scripts and styles are not read; <code> shows machine data (ids, JSON) as it is.
    for hidden in tree.xpath("//script|//style|//template|//code|//pre|//kbd|//samp"):
        hidden.drop_tree()
    texts = list(tree.itertext())
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        texts.extend(value for name, value in element.attrib.items() if name in READ_ATTRIBUTES)
        if element.tag == "input" and element.get("type") in BUTTON_INPUTS and element.get(
                "value"):
            texts.append(element.get("value"))
    segments = []
    for text in texts:
        for part in re.split(r"\s[·|]\s|\n", text):
            if normalised(part):
                segments.append(normalised(part))
    return segments


@cache
def untranslated_patterns(language: str) -> dict[str, list[tuple[str, re.Pattern]]]:
    """Catalogue strings that read differently once translated into ``language`` (or have no
    translation), as patterns indexed by their first word; a placeholder matches any text."""
    catalog = compiled(language)
    index: dict[str, list[tuple[str, re.Pattern]]] = {}
    for msgid in ui_strings():
        if catalog.get(msgid) == msgid:
            continue  # the same in both (a code, a name): not a leftover
        body = normalised(msgid)
        literal = re.sub(r"%\(\w+\)[sd]", " ", body)
        if len(re.sub(r"\W", "", literal)) < 4:
            continue  # too little text of its own to tell it from data
        body = re.sub(r"^(%\(\w+\)[sd]\s*)+", "", body)  # begin at its first word
        words = re.findall(r"\w+", body)
        if not words:
            continue
        pattern = re.escape(body)
        pattern = re.sub(r"%\\\(\w+\\\)[sd]", ".+?", pattern)
        index.setdefault(words[0], []).append((msgid, re.compile(pattern + r"(?!\w)")))
    return index


def english_in(segments: list[str], language: str) -> set[str]:
    index = untranslated_patterns(language)
    found = set()
    for segment in segments:
        for word in re.finditer(r"\w+", segment):
            if word.start() and segment[word.start() - 1].isalnum():
                continue
            for msgid, pattern in index.get(word.group(), ()):
                if pattern.match(segment, word.start()):
                    found.add(msgid)
    return found


# --- the seeded marketplace ----------------------------------------------------------------

@pytest.fixture
def world(app, client, fixed_rates, stripe_webhooks, monkeypatch):  # noqa: F811
    """A workshop with a piece under review and a verified one, a buyer's paid order with its
    parcel labelled, a conversation and a commission, a favourite, a flag, a payout batch."""
    from marketplace.payouts import service as payouts
    from tests.payouts.helpers import artisan_with_account, deliver, paid_order, piece
    from tests.shipping.flow import pack_every_box, paid, run_label_tasks, shipment_of

    monkeypatch.setitem(app.config, "PAYOUT_HOLD_DAYS", 14)
    artisan = make_artisan(name="Aigerim")
    product = make_product(artisan, title={"en": "Bowl", "ru": "Пиала", "kk": "Кесе"},
                           description={"en": "Bowl.", "ru": "Пиала.", "kk": "Кесе."},
                           materials=["қызыл саз"], techniques=["қыштан илеу"],
                           craft="ceramics")
    operator = make_operator()
    verified = make_product(artisan, title={"kk": "Кесе", "ru": "Пиала"}, craft="ceramics")
    records.put_record(verified.id, KAZAKH_RECORD, artisan_id=artisan.id)
    records.submit_record(verified.id, artisan_id=artisan.id)
    records.decide(verified.id, operator_id=operator.id, decision="approve", level="L1",
                   evidence=[{"type": "identity", "note": "Төлқұжат көрілді."}])
    code = labels.label_code_for_product(verified.id)

    order_id, buyer, _ = paid(client, (product, 1))
    pack_every_box(client, order_id)
    parcels.request_shipment(order_id, operator)
    run_label_tasks()
    records.put_record(product.id, KAZAKH_RECORD, artisan_id=artisan.id)
    records.submit_record(product.id, artisan_id=artisan.id)
    buyer_flags.flag_label(code, user_id=buyer.id, reason="Бұл зауыт бұйымы.")
    favourites.save(buyer, verified.id)
    conversation = conversations.open_conversation(buyer, body="Сәлеметсіз бе!",
                                                   product_id=verified.id)
    conversations.request_commission(buyer, artisan_id=artisan.id, description="Үлкен кесе",
                                     conversation_id=conversation.id)
    from marketplace.extensions import db

    line = db.session.execute(db.select(OrderLine).where(OrderLine.order_id == order_id)
                              ).scalars().first()
    seller = artisan_with_account("Көк керамика")
    sold = paid_order((piece(seller, 6_000_000), 1, 10_800))
    payouts.record_order(sold.id)
    deliver(sold, days_ago=20)
    batch = payouts.run_payouts(actor_id=operator.id).batch
    users = {"buyer": buyer, "artisan": artisan, "operator": operator}
    values = {"product_id": verified.id, "artisan_id": artisan.id, "order_id": order_id,
              "line_id": line.id, "batch_id": batch.id, "conversation_id": conversation.id,
              "code": code, "tracking_number": shipment_of(order_id).tracking_number,
              "token": "not-a-valid-token"}
    return users, values


def scanned_paths(app, values: dict) -> list[str]:
    paths = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES or \
                rule.rule.startswith("/api/"):
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"no seeded value for {rule.rule}: {missing}"
        paths.add(rule.build({name: values[name] for name in rule.arguments},
                             append_unknown=False)[1])
    return sorted(paths)


def test_no_page_shows_english_in_kazakh_or_russian(app, world):
    users, values = world
    paths = scanned_paths(app, values)
    assert {"/", "/console/payouts", "/workshop/payouts", f"/orders/{values['order_id']}"
            } <= set(paths)
    clients = {"visitor": app.test_client()}
    for role in ("buyer", "artisan", "operator"):
        clients[role] = app.test_client()
        sign_in(clients[role], users[role])
    leftovers: dict[tuple[str, str, str], set[str]] = {}
    rendered = 0
    for role in ROLES:
        client = clients[role]
        for language in TRANSLATED:
            choose(client, language=language)
            for path in paths:
                response = client.get(path, headers=HTML)
                if response.status_code in (301, 302, 303) or \
                        response.mimetype != "text/html":
                    continue
                page = response.get_data(as_text=True)
                assert f'<html lang="{language}">' in page, (path, role, language)
                rendered += 1
                found = english_in(page_texts(page), language)
                if found:
                    leftovers[(language, role, path)] = found
    assert rendered > 150
    assert leftovers == {}, "\n".join(f"{key}: {sorted(found)}"
                                      for key, found in sorted(leftovers.items()))


def test_the_scan_finds_english_where_there_is_some(app, world):
    """The same scan over the English pages finds the catalogue's strings."""
    users, values = world
    client = app.test_client()
    sign_in(client, users["artisan"])
    choose(client, language="en")
    page = client.get("/workshop/payouts", headers=HTML).get_data(as_text=True)
    found = english_in(page_texts(page), "ru")
    assert {"Payouts", "Bank account for payouts", "Save the bank account"} <= found
    assert "IBAN" not in found  # the same in every language


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_carry_no_english_word(language):
    """A translation that keeps an English word ("например, silver") is English on screen."""
    catalog = compiled(language)
    english = {}
    for msgid, text in catalog.items():
        words = re.findall(r"[A-Za-z][A-Za-z'-]+", re.sub(r"%\(\w+\)[sd]", "", text or ""))
        kept = [word for word in words if word.islower() and len(word) >= 3
                and word not in LOAN_WORDS]
        if kept:
            english[msgid] = kept
    assert english == {}


@pytest.mark.parametrize("language", TRANSLATED)
def test_checkout_names_the_delivery_services_in_the_buyers_language(app, client, language,
                                                                     fixed_rates):  # noqa: F811
    """The delivery step is a form's answer, not a GET page: scanned here, both services."""
    from tests.checkout.helpers import BERLIN
    from tests.storefront.helpers import post_form

    product = make_product(make_artisan(), title={"ru": "Пиала", "kk": "Кесе"})
    sign_in(client, make_buyer())
    choose(client, language=language, currency="EUR")
    post_form(client, "/cart/items", {"product_id": product.id, "quantity": "1"})
    page = post_form(client, "/checkout/delivery", BERLIN).get_data(as_text=True)
    assert english_in(page_texts(page), language) == set()
    catalog = compiled(language)
    for service in ("Express courier", "EMS (Kazpost)"):
        assert f"<strong>{catalog[service]}</strong>" in page
