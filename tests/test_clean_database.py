"""The clean-up between tests empties every table it finds filled, the append-only ones and those
kept by triggers included, and leaves nothing behind for the next test."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.audit import AuditEvent
from marketplace.catalog.models import ProductTag
from marketplace.extensions import db
from tests.conftest import _filled_tables, clean_database
from tests.factories import auth_headers, make_artisan, make_product


def _rows_per_table() -> dict[str, int]:
    counts = {table.name: db.session.execute(select(func.count()).select_from(table)).scalar()
              for table in db.metadata.sorted_tables}
    return {name: count for name, count in counts.items() if count}


def test_every_filled_table_is_found_and_emptied(client):
    artisan = make_artisan()
    product = make_product(artisan, stock=3, materials=["silver"])
    response = client.patch(f"/api/v1/products/{product.id}", headers=auth_headers(artisan),
                            json={"stock": 7})
    assert response.status_code == 200, response.get_json()
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    assert db.session.execute(select(func.count()).select_from(ProductTag)).scalar()
    db.session.commit()

    filled = set(_filled_tables())
    assert filled == set(_rows_per_table())
    assert {"user", "product", "product_tag", "audit_event"} <= filled

    clean_database()
    assert _filled_tables() == []
    assert _rows_per_table() == {}
