"""The demo seed: real signed labels at L1 and L2, idempotent, and patient without products."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.provenance import labels as label_service
from marketplace.provenance import seed
from marketplace.provenance.models import ProvenanceLabel, ProvenanceRecord
from tests.factories import make_artisan, make_operator, make_product


def test_seed_without_products_does_nothing_and_says_so():
    assert "no products" in seed.seed_demo()
    assert db.session.execute(select(ProvenanceRecord)).first() is None


def test_seed_verifies_demo_products_at_l1_and_l2_once():
    make_operator()
    artisan = make_artisan()
    make_product(artisan, craft="jewellery", materials=["silver 875", "turquoise"],
                 techniques=["filigree"])
    for _ in range(4):
        make_product(artisan)
    summary = seed.seed_demo()
    assert summary == "2 labels at L2, 2 at L1, 1 record(s) pending verification"
    labels = db.session.execute(select(ProvenanceLabel)).scalars().all()
    assert sorted(label.level for label in labels) == ["L1", "L1", "L2", "L2"]
    for label in labels:
        assert label_service.public_label(label.code)["valid"] is True
    silver = next(label for label in labels if label.payload["product"]["craft"] == "jewellery")
    assert silver.payload["record"]["materials"][0]["fineness"] == 875

    assert seed.seed_demo() == "demo records already present"
    assert len(db.session.execute(select(ProvenanceLabel)).all()) == 4
