"""The catalogue benchmark's bulk path writes what the service writes (it refuses to run
otherwise), and its texts carry the words its searches look for."""

from __future__ import annotations

import random

import pytest

from bench import catalog
from marketplace.catalog.schemas import ProductIn


def test_the_bulk_path_writes_the_rows_the_service_writes(app):
    rng = random.Random(3)
    artisans = catalog._artisans(2)
    catalog.check_bulk_path(artisans, [catalog.product_spec(rng, n) for n in range(1, 6)])


def test_a_bulk_path_that_drifts_from_the_service_is_refused(app, monkeypatch):
    honest = catalog.bulk_product

    def drifted(artisan_id, fields, rates):
        product = honest(artisan_id, fields, rates)
        product.materials_key = "|"  # forgets the derived tag key the service keeps
        return product

    monkeypatch.setattr(catalog, "bulk_product", drifted)
    artisans = catalog._artisans(1)
    with pytest.raises(SystemExit, match="materials_key"):
        catalog.check_bulk_path(artisans, [catalog.product_spec(random.Random(1), 1)])


def test_specs_are_valid_and_carry_common_and_rare_words():
    rng = random.Random(17)
    specs = [catalog.product_spec(rng, n) for n in range(1, 5001)]
    for spec in specs[:200]:
        ProductIn.model_validate(spec)
    common = sum(catalog.COMMON["en"] in spec["title"]["en"].lower() for spec in specs)
    rare = sum(catalog.RARE["ru"] in spec["title"]["ru"].lower() for spec in specs)
    assert 0.15 < common / len(specs) < 0.25
    assert 1 <= rare <= 20
