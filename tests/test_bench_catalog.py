"""The catalogue benchmark's bulk path writes what the service writes (it refuses to run
otherwise: each kind of drift below is caught), it loads a catalogue whose indexes are the
migrated schema's, and its texts carry the words its searches look for."""

from __future__ import annotations

import functools
import random

import pytest
from sqlalchemy import func, select, text

from bench import bulk, catalog
from marketplace.catalog import search
from marketplace.catalog.models import Product, ProductTag, SearchTerm
from marketplace.catalog.schemas import ProductIn
from marketplace.extensions import db
from marketplace.fx.service import current_rates


def test_the_bulk_path_writes_the_rows_the_service_writes(app):
    rng = random.Random(3)
    artisans = catalog._artisans(2)
    catalog.check_bulk_path(artisans, [catalog.product_spec(rng, n) for n in range(1, 6)])
    assert db.session.scalar(select(func.count()).select_from(Product)) == 10


def _drift_column(row, vocabulary):
    row["materials_key"] = "|"  # forgets the derived tag key the service keeps
    return row, vocabulary


def _drift_document(row, vocabulary):
    row["search_alt"] = ""  # forgets the fold keys of the search document
    return row, vocabulary


def _drift_vocabulary(row, vocabulary):
    return row, {term for term in vocabulary if not term.isdigit()}  # forgets the numbers


def _drift_json(row, vocabulary):
    row["tariff_codes"] = None  # stored as SQL NULL where the ORM stores JSON null
    return row, vocabulary


@pytest.mark.parametrize(("drift", "message"), [
    (_drift_column, "materials_key"), (_drift_document, "search_alt"),
    (_drift_vocabulary, "misses search terms"), (_drift_json, "tariff_codes"),
])
def test_a_bulk_path_that_drifts_from_the_service_is_refused(app, monkeypatch, drift, message):
    honest = bulk.Catalogue.product_row
    if drift is _drift_json:
        monkeypatch.setattr(bulk.Catalogue, "_json", lambda self, name, value: (
            None if value is None else self.serialize(value)))
    else:
        monkeypatch.setattr(bulk.Catalogue, "product_row",
                            lambda self, *args: drift(*honest(self, *args)))
    artisans = catalog._artisans(1)
    with pytest.raises(SystemExit, match=message):
        catalog.check_bulk_path(artisans, [catalog.product_spec(random.Random(1), 1001)])


def test_missing_product_tag_rows_are_refused(app, monkeypatch):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's own trigger writes the tag rows of the bulk path")
    monkeypatch.setattr(bulk.Catalogue, "tag_rows", staticmethod(lambda row: []))
    artisans = catalog._artisans(1)
    with pytest.raises(SystemExit, match="product_tag"):
        catalog.check_bulk_path(artisans, [catalog.product_spec(random.Random(1), 1)])


def _indexes() -> set[tuple]:
    if db.engine.dialect.name == "postgresql":
        query = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
    else:
        query = "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
    return set(db.session.execute(text(query)).all())


def test_a_bulk_load_stores_every_row_and_leaves_the_schema_as_migrated(app):
    artisans = [artisan.id for artisan in catalog._artisans(3)]
    before = _indexes()
    db.session.commit()
    catalogue = bulk.Catalogue(db.engine, current_rates())
    db.session.commit()  # nothing open while the bulk path writes
    saved, bulk.BATCH = bulk.BATCH, 100  # three batches, from two processes
    try:
        with bulk.memoized_analysis():
            bulk.load(db.engine, bulk.generate(functools.partial(catalog.spec_batch, 5),
                                               artisans, catalogue, jobs=2, count=230),
                      230, catalogue, quiet=True)
    finally:
        bulk.BATCH = saved
    specs = [spec for offset, count in ((0, 100), (100, 100), (200, 30))
             for spec in catalog.spec_batch(5, offset, count)]
    assert _indexes() == before
    assert db.session.scalar(select(func.count()).select_from(Product)) == 230
    tags = sum(len(ProductIn.model_validate(spec).materials)
               + len(ProductIn.model_validate(spec).techniques) for spec in specs)
    assert db.session.scalar(select(func.count()).select_from(ProductTag)) == tags
    expected = set()
    for spec in specs:
        fields = ProductIn.model_validate(spec)
        expected |= search.vocabulary(search.document_columns(
            fields.title.as_dict(), fields.description.as_dict(), fields.materials,
            fields.techniques))
    assert set(db.session.scalars(select(SearchTerm.term))) == expected
    # the pool gives out no connection the load changed (autocommit, session settings): in
    # every connection it holds, a savepoint works and a rolled-back write is gone
    connections = [db.engine.connect() for _ in range(db.engine.pool.size())]
    try:
        for connection in connections:
            with connection.begin():
                nested = connection.begin_nested()
                connection.execute(Product.__table__.update().values(stock=0))
                nested.rollback()
            if db.engine.dialect.name == "postgresql":
                assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    finally:
        for connection in connections:
            connection.close()
    assert db.session.scalar(select(func.count()).select_from(Product)
                             .where(Product.stock == 0)) == 0
    # the triggers are on again: a service write keeps its tag rows
    product = db.session.scalars(select(Product).limit(1)).one()
    product.materials = ["silk"]
    db.session.commit()
    assert db.session.scalars(select(ProductTag.value).where(
        ProductTag.product_id == product.id, ProductTag.kind == "material")).all() == ["silk"]


def test_specs_are_valid_and_carry_common_and_rare_words():
    rng = random.Random(17)
    specs = [catalog.product_spec(rng, n) for n in range(1, 5001)]
    for spec in specs[:200]:
        ProductIn.model_validate(spec)
    common = sum(catalog.COMMON["en"] in spec["title"]["en"].lower() for spec in specs)
    rare = sum(catalog.RARE["ru"] in spec["title"]["ru"].lower() for spec in specs)
    assert 0.15 < common / len(specs) < 0.25
    assert 1 <= rare <= 20


def test_kept_databases_are_named_by_size():
    assert [catalog.size_label(n) for n in (10_000, 100_000, 1_000_000, 1234)] == [
        "10k", "100k", "1m", "1234"]


def test_one_product_in_n_is_verified_as_an_operator_verifies_one(app):
    """The verified filter's pages hold products with records and signed labels, spread over
    the catalogue's age: the bench measures real pages, not an empty one."""
    from marketplace.catalog import browse
    from marketplace.provenance.models import ProvenanceLabel, ProvenanceRecord

    rng = random.Random(4)
    catalog.check_bulk_path(catalog._artisans(2), [catalog.product_spec(rng, n)
                                                    for n in range(1, 6)])
    # 10 products: the service's 5 are drafts (no photo), the bulk path's 5 on sale
    assert catalog.verify_share(every=2) == 3  # the 1st, 3rd and 5th oldest on sale
    ordered = db.session.execute(
        select(Product.id, Product.provenance_level).where(Product.status == "active")
        .order_by(Product.created_at, Product.id)).all()
    assert [level for _id, level in ordered] == ["L1", "L0", "L1", "L0", "L1"]
    assert db.session.scalar(select(func.count()).select_from(Product)
                             .where(Product.provenance_level != "L0")) == 3
    verified = {product_id for product_id, level in ordered if level == "L1"}
    assert set(db.session.scalars(select(ProvenanceRecord.product_id)
                                  .where(ProvenanceRecord.status == "valid"))) == verified
    assert set(db.session.scalars(select(ProvenanceLabel.product_id))) == verified
    page = browse.list_products(verified=True)
    assert {product.id for product in page.products} == verified
