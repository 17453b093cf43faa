"""The operator console over the provenance, orders, shipping and FX services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.catalog.models import Product
from marketplace.fx import service as fx
from marketplace.orders.models import Order, OrderLine, ShipmentStatus
from marketplace.provenance import flags as buyer_flags
from marketplace.provenance import labels, records
from tests.checkout.helpers import fixed_rates, fresh  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_operator, make_product
from tests.provenance.helpers import full_record
from tests.shipping.flow import (
    order_status,
    pack_every_box,
    paid,
    pdf_text,
    run_label_tasks,
    shipment_of,
    verified_product,
)
from tests.storefront.helpers import HTML, post_form, sign_in


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """1 USD = 500 KZT = 0.9 EUR."""


@pytest.fixture
def operator(client):
    user = make_operator()
    sign_in(client, user)
    return user


def page(client, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def pending_product(**record_changes) -> Product:
    artisan = make_artisan(name="Aigerim Nurlanovna")
    product = make_product(artisan, title={"en": "Kese bowl"}, craft="ceramics")
    records.put_record(product.id, full_record(**record_changes), artisan_id=artisan.id)
    records.submit_record(product.id, artisan_id=artisan.id)
    return product


def record_status(product: Product) -> str:
    return records.record_view(records.get_record(product.id, user=make_operator())
                               )["status"]


EVIDENCE_FORM = {"evidence-0-type": "studio_visit",
                 "evidence-0-note": "Visited the workshop; wheel and kiln seen.",
                 "evidence-1-type": "material_receipt",
                 "evidence-1-note": "Silver bought from the assay office.",
                 "evidence-1-url": "https://example.test/receipt/1"}


# --- provenance ----------------------------------------------------------------------------

def test_the_queue_shows_the_record_and_the_operator_approves_it_at_l1(client, operator):
    product = pending_product()
    assert "Kese bowl" in page(client, "/console/")
    review = page(client, f"/console/provenance/{product.id}")
    assert "Aigerim Nurlanovna (the artisan, master), Almaty, Kazakhstan" in review
    assert "silver (Kazakhstan), fineness 925, hallmark 925 KZ assay" in review
    response = post_form(client, f"/console/provenance/{product.id}/decision",
                         {**EVIDENCE_FORM, "level": "L1", "decision": "approve"})
    assert response.status_code == 302
    code = labels.label_code_for_product(product.id)
    label = labels.public_label(code)
    assert label["valid"] and label["level"] == "L1"
    assert f"label {code} is issued" in page(client, "/console/provenance")
    assert fresh(Product, product.id).provenance_level == "L1"


def test_an_approval_needs_evidence_and_l2_needs_an_attestation(client, operator):
    product = pending_product()
    response = post_form(client, f"/console/provenance/{product.id}/decision",
                         {"level": "L1", "decision": "approve"})
    assert response.status_code == 422
    assert "An approval needs at least one piece of evidence." in response.get_data(as_text=True)

    response = post_form(client, f"/console/provenance/{product.id}/decision",
                         {**EVIDENCE_FORM, "level": "L1", "decision": "approve",
                          "evidence-2-type": "other"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="evidence-2-note-error"' in html  # a kind without a note
    assert "Silver bought from the assay office." in html  # the evidence typed stays

    response = post_form(client, f"/console/provenance/{product.id}/decision",
                         {**EVIDENCE_FORM, "level": "L2", "decision": "approve"})
    assert response.status_code == 422
    assert "Level L2 needs the attestation" in response.get_data(as_text=True)
    assert record_status(product) == "pending"

    response = post_form(client, f"/console/provenance/{product.id}/decision", {
        **EVIDENCE_FORM, "level": "L2", "decision": "approve",
        "attestation-scheme": "Craft guild membership", "attestation-issuer": "Almaty guild",
        "attestation-reference": "GUILD-2025-014"})
    assert response.status_code == 302
    assert fresh(Product, product.id).provenance_level == "L2"


def test_a_rejection_needs_a_note_for_the_artisan(client, operator):
    product = pending_product()
    response = post_form(client, f"/console/provenance/{product.id}/decision",
                         {"decision": "reject"})
    assert response.status_code == 422
    assert "A rejection needs a note for the artisan." in response.get_data(as_text=True)
    response = post_form(client, f"/console/provenance/{product.id}/decision",
                         {"decision": "reject", "note": "The receipts are missing."})
    assert response.status_code == 302
    assert record_status(product) == "rejected"
    assert "Kese bowl" in page(client, "/console/provenance?status=rejected")


def test_a_flagged_label_is_withdrawn_and_the_flag_resolved(client, operator):
    product = pending_product()
    records.decide(product.id, operator_id=operator.id, decision="approve", level="L1",
                   evidence=[{"type": "identity", "note": "Passport seen."}])
    code = labels.label_code_for_product(product.id)
    buyer = make_buyer()
    buyer_flags.flag_label(code, user_id=buyer.id, reason="The same bowl is sold as factory-made.")
    listing = page(client, "/console/flags")
    assert "The same bowl is sold as factory-made." in listing
    flag_id = buyer_flags.list_flags()[0][0]["id"]

    assert post_form(client, f"/console/provenance/{product.id}/revoke",
                     {"reason": ""}).status_code == 302
    assert labels.public_label(code)["status"] == "valid"  # a reason is required
    post_form(client, f"/console/provenance/{product.id}/revoke",
              {"reason": "Factory-made after all."})
    assert labels.public_label(code)["status"] == "revoked"
    post_form(client, f"/console/flags/{flag_id}/resolve", {"note": "Label withdrawn."})
    assert buyer_flags.list_flags()[0] == []
    assert "Label withdrawn." in page(client, "/console/flags?status=resolved")


def test_a_record_page_offers_only_what_the_record_allows(client, operator):
    product = pending_product()
    assert "Approve and sign the label" in page(client, f"/console/provenance/{product.id}")
    records.decide(product.id, operator_id=operator.id, decision="approve", level="L1",
                   evidence=[{"type": "identity", "note": "Passport seen."}])
    verified = page(client, f"/console/provenance/{product.id}")
    assert "Approve and sign the label" not in verified
    assert "Withdraw the label" in verified
    draft = make_product(title={"en": "Draft bowl"})
    records.put_record(draft.id, full_record(), artisan_id=draft.artisan_id)
    untouched = page(client, f"/console/provenance/{draft.id}")
    assert "Approve and sign the label" not in untouched
    assert "Withdraw the label" not in untouched


# --- orders, refunds, shipments ------------------------------------------------------------

@pytest.fixture
def paid_order(client, stripe_webhooks):
    """A paid order to Berlin (DDP) of two bowls and a felt rug by two workshops."""
    bowl = make_product(title={"en": "Kese bowl"}, weight_g=900, price_amount=6_000_000,
                        stock=5)
    rug = make_product(title={"en": "Felt rug"}, craft="felt", weight_g=2_000,
                       price_amount=4_500_000, stock=5)
    order_id, buyer, _ = paid(client, (bowl, 2), (rug, 1))
    return order_id, buyer


def line_of(order_id: str, title: str) -> OrderLine:
    return next(line for line in fresh(Order, order_id).lines if line.title["en"] == title)


def test_the_order_page_shows_lines_fulfilments_and_payment(client, paid_order, operator):
    order_id, buyer = paid_order
    assert order_id[-8:] in page(client, "/console/orders?status=paid")
    html = page(client, f"/console/orders/{order_id}")
    assert buyer.email in html and "Anna Schmidt" in html
    assert html.count('data-status="pending"') == 2  # one fulfilment per workshop
    assert "Create the shipment" in html


def test_an_operator_refunds_one_piece_through_stripe(client, paid_order, operator,
                                                      stripe_webhooks):
    order_id, _ = paid_order
    bowl = line_of(order_id, "Kese bowl")
    response = post_form(client, f"/console/orders/{order_id}/refunds", {
        "refund": "lines", f"line-{bowl.id}": "1", "reason": "Chipped in the workshop."})
    assert response.status_code == 302
    assert line_of(order_id, "Kese bowl").refunded_quantity == 1
    order = fresh(Order, order_id)
    [refund] = order.refunds
    assert refund.amount == bowl.unit_presentment_amount
    assert [r["amount"] for r in stripe_webhooks.refunds(order.payment_intent_id)] == [
        bowl.unit_presentment_amount]
    assert "Chipped in the workshop." in page(client, f"/console/orders/{order_id}")


def test_a_refund_above_what_is_left_is_refused(client, paid_order, operator, stripe_webhooks):
    order_id, _ = paid_order
    order = fresh(Order, order_id)
    too_much = f"{(order.total_amount + 100) / 100:.2f}"
    response = post_form(client, f"/console/orders/{order_id}/refunds",
                         {"refund": "amount", "amount": too_much, "reason": "Goodwill"})
    assert response.status_code == 422
    assert "Enter an amount no larger than what is left to refund" in \
        response.get_data(as_text=True)
    response = post_form(client, f"/console/orders/{order_id}/refunds",
                         {"refund": "amount", "amount": "5.00", "reason": ""})
    assert response.status_code == 422
    for unreadable in ("0", "-5", "lots", "1e999999999"):
        response = post_form(client, f"/console/orders/{order_id}/refunds",
                             {"refund": "amount", "amount": unreadable, "reason": "Goodwill"})
        assert response.status_code == 422, unreadable
    assert fresh(Order, order_id).refunds == []
    assert stripe_webhooks.refunds(order.payment_intent_id) == []


def test_the_operator_makes_the_parcel_and_downloads_label_and_customs_papers(
        client, paid_order, operator):
    order_id, _ = paid_order
    post_form(client, f"/console/orders/{order_id}/shipment")
    assert "every artisan must mark their pieces packed" in page(client,
                                                                f"/console/orders/{order_id}")
    pack_every_box(client, order_id)
    assert post_form(client, f"/console/orders/{order_id}/shipment").status_code == 302
    assert shipment_of(order_id).status == ShipmentStatus.REQUESTED
    assert "label being made" in page(client, f"/console/orders/{order_id}")

    assert run_label_tasks() == 1  # what the worker does with the outbox event
    shipment = shipment_of(order_id)
    assert order_status(order_id) == "fulfilling"  # until the carrier has the parcel
    html = page(client, f"/console/orders/{order_id}")
    assert shipment.tracking_number in html
    label = client.get(f"/console/shipments/{shipment.id}/label.pdf")
    assert label.status_code == 200 and label.mimetype == "application/pdf"
    assert "attachment" in label.headers["Content-Disposition"]
    assert shipment.tracking_number in pdf_text(label.data)
    customs = client.get(f"/console/shipments/{shipment.id}/customs.pdf")
    papers = pdf_text(customs.data)
    assert "Country of origin / Pays d'origine" in papers and "Kazakhstan" in papers
    assert "Create the shipment" not in html


def test_a_piece_of_cultural_value_waits_for_the_export_permit(client, stripe_webhooks,
                                                               operator):
    artisan = make_artisan()
    dombyra = verified_product(client, artisan, operator, cultural_value=True, craft="ceramics",
                               title={"en": "Old kese"}, weight_g=900, stock=2)
    order_id, _, _ = paid(client, (dombyra, 1))
    pack_every_box(client, order_id)
    post_form(client, f"/console/orders/{order_id}/shipment")
    shipment = shipment_of(order_id)
    assert shipment.status == ShipmentStatus.HELD_EXPORT
    assert "Record the export permit" in page(client, f"/console/orders/{order_id}")

    response = post_form(client, f"/console/shipments/{shipment.id}/export-permit",
                         {"permit_number": "", "issued_by": "Ministry of Culture",
                          "issued_at": "2999-01-01"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the permit&#39;s number." in html
    assert "it cannot be in the future" in html
    assert shipment_of(order_id).status == ShipmentStatus.HELD_EXPORT

    response = post_form(client, f"/console/shipments/{shipment.id}/export-permit",
                         {"permit_number": "KZ-EXP-2025-0042",
                          "issued_by": "Ministry of Culture", "issued_at": "2025-10-01"})
    assert response.status_code == 302
    shipment = shipment_of(order_id)
    assert (shipment.status, shipment.permit_number) == (ShipmentStatus.REQUESTED,
                                                         "KZ-EXP-2025-0042")


# --- exchange rates ------------------------------------------------------------------------

def test_an_operator_pins_and_clears_a_rate(client, operator):
    assert post_form(client, "/console/fx/EUR", {"rate": "0,95", "action": "set"}
                     ).status_code == 302
    assert fx.current_rates().per_usd("EUR") == Decimal("0.95")
    assert "EUR is pinned at 0,95 per US dollar." in page(client, "/console/fx")
    response = post_form(client, "/console/fx/EUR", {"rate": "-3", "action": "set"})
    assert response.status_code == 422
    assert "Enter a positive decimal number such as 515.25." in response.get_data(as_text=True)
    post_form(client, "/console/fx/EUR", {"action": "clear"})
    assert fx.current_rates().per_usd("EUR") == Decimal("0.9")


# --- gates ---------------------------------------------------------------------------------

CONSOLE_PAGES = ["/console/", "/console/provenance", "/console/flags", "/console/orders",
                 "/console/fx"]
CONSOLE_FORMS = ["/console/fx/EUR", "/console/orders/x/refunds", "/console/orders/x/shipment",
                 "/console/provenance/x/decision", "/console/flags/x/resolve",
                 "/console/shipments/x/export-permit", "/console/provenance/x/revoke"]


@pytest.mark.parametrize("role", ["buyer", "artisan"])
def test_the_console_is_forbidden_to_buyers_and_artisans(client, role):
    sign_in(client, make_buyer() if role == "buyer" else make_artisan())
    for path in CONSOLE_PAGES:
        assert client.get(path, headers=HTML).status_code == 403, path
    for path in CONSOLE_FORMS:
        assert post_form(client, path, {"rate": "1"}).status_code == 403, path
    assert fx.current_rates().rates["EUR"].override is None


@pytest.mark.parametrize("path", CONSOLE_FORMS)
def test_console_forms_without_a_csrf_token_are_refused(client, operator, path):
    response = client.post(path, data={"rate": "2"}, headers=HTML)
    assert response.status_code == 400
    assert fx.current_rates().rates["EUR"].override is None


def test_unknown_orders_shipments_and_records_are_not_found(client, operator):
    for path in ("/console/orders/nothing", "/console/provenance/nothing",
                 "/console/shipments/nothing/label.pdf"):
        assert client.get(path, headers=HTML).status_code == 404, path


def test_the_review_page_shows_the_pieces_photos(client, operator):
    """The operator checks the record against the photos, at the sizes the pipeline made."""
    from io import BytesIO

    from PIL import Image

    from marketplace.catalog import images
    from marketplace.extensions import db

    product = pending_product()
    assert "The listing has no photo yet." in page(client, f"/console/provenance/{product.id}")
    buffer = BytesIO()
    Image.new("RGB", (800, 600), (180, 90, 40)).save(buffer, "PNG")
    variants = images.clean_variants(buffer.getvalue())
    images.add_ready_image(product.id, variants, alt={"en": "The bowl from above"},
                           source_key=variants[0]["key"])
    db.session.commit()
    review = page(client, f"/console/provenance/{product.id}")
    assert 'alt="The bowl from above"' in review
    for variant in images.variants_out(variants):
        assert f'{variant["url"]} {variant["width"]}w' in review


def test_the_rates_page_shows_each_source_note_once(client, operator):
    rates = sorted(fx.current_rates().rates.values(), key=lambda rate: rate.currency)
    assert len(rates) > 1
    html = page(client, "/console/fx")
    for note in {rate.source for rate in rates}:
        assert html.count(note) == 1, note
    first = [rate for rate in rates if rate.source == rates[0].source]
    assert html.count('href="#source-1"') == len(first)  # each row cites its note
