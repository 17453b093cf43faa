"""What other domains call: summaries, revocation on product edits, customs and export hints."""

from __future__ import annotations

from sqlalchemy import event

from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.provenance import labels, records
from tests.factories import make_product
from tests.provenance.helpers import PUBLIC_URL, full_record, submit, verified_label


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, *args, **kwargs):
        self.count += 1


def test_summaries_cover_every_state_in_one_query(client, actors):
    valid = actors.product
    code = verified_label(client, actors, "L2")
    pending = make_product(actors.artisan)
    submit(client, actors, product=pending)
    bare = make_product(actors.artisan)
    ids = [valid.id, pending.id, bare.id, "NOPE"]

    counter = QueryCounter()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        summaries = labels.summaries_for_products(ids)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    assert counter.count == 1
    assert summaries[valid.id] == {"level": "L2", "label_code": code, "status": "valid",
                                   "url": f"{PUBLIC_URL}/provenance/{code}"}
    assert summaries[pending.id] == {"level": "L0", "label_code": None, "status": "pending",
                                     "url": None}
    assert summaries[bare.id]["status"] == "none" and summaries["NOPE"]["status"] == "none"
    assert labels.summaries_for_products([]) == {}


def test_relevant_product_change_revokes_and_others_do_not(client, actors):
    code = verified_label(client, actors)
    assert labels.revoke_for_product_change(actors.product.id, {"price", "stock"}) is False
    assert labels.label_code_for_product(actors.product.id) == code
    assert labels.revoke_for_product_change(actors.product.id, {"materials", "price"}) is True
    assert labels.label_code_for_product(actors.product.id) is None
    assert db.session.get(Product, actors.product.id).provenance_level == "L0"
    summary = labels.summaries_for_products([actors.product.id])[actors.product.id]
    assert summary["status"] == "revoked" and summary["label_code"] == code
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    assert "materials" in label["revoked_reason"]
    assert labels.revoke_for_product_change(actors.product.id, {"craft"}) is False


def test_cultural_value_is_read_from_the_declared_record(client, actors):
    assert records.is_cultural_value(actors.product.id) is False
    client.put(f"/api/v1/products/{actors.product.id}/provenance",
               json=full_record(cultural_value=True), headers=actors.artisan_headers)
    assert records.is_cultural_value(actors.product.id) is True


def test_label_code_for_customs(client, actors):
    assert labels.label_code_for_product(actors.product.id) is None
    code = verified_label(client, actors)
    assert labels.label_code_for_product(actors.product.id) == code
