"""The audit trail: operators' and artisans' changes recorded with who, when, from where, what,
before and after; readable by operators, never changed or deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from marketplace.audit import AuditEvent, AuditTrailIsAppendOnly
from marketplace.extensions import db
from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product
from tests.storefront.helpers import HTML, sign_in


def _events(**filters) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
    for name, value in filters.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return db.session.execute(query).scalars().all()


def test_an_operators_fx_override_is_recorded_with_before_and_after(client, fixed_rates):  # noqa: F811
    operator = make_operator()
    headers = {**auth_headers(operator), "User-Agent": "console-test/1", "X-Request-ID": "req-42"}
    response = client.put("/api/v1/operator/fx/KZT", headers=headers, json={"rate": "515.25"},
                          environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert response.status_code == 200, response.get_json()
    events = _events(entity="fx_rate")
    assert events, "the override left no audit event"
    event = events[-1]
    assert (event.actor_id, event.actor_role) == (operator.id, "operator")
    assert (event.ip, event.user_agent, event.request_id) == ("192.0.2.10", "console-test/1",
                                                             "req-42")
    assert (event.method, event.path) == ("PUT", "/api/v1/operator/fx/KZT")
    changed = event.after or {}
    assert any("515.25" in str(value) for value in changed.values())


def test_an_artisans_stock_change_is_recorded(client):
    artisan = make_artisan()
    product = make_product(artisan, stock=3)
    response = client.patch(f"/api/v1/products/{product.id}", headers=auth_headers(artisan),
                            json={"stock": 7})
    assert response.status_code == 200, response.get_json()
    event = _events(entity="product", entity_id=product.id, action="update")[-1]
    assert event.before["stock"] == 3 and event.after["stock"] == 7
    assert event.actor_role == "artisan"


def test_buyers_are_not_audited(client):
    buyer = make_buyer()
    product = make_product(stock=3)
    client.post("/api/v1/cart/items", headers=auth_headers(buyer),
                json={"product_id": product.id, "quantity": 1})
    assert _events(actor_id=buyer.id) == []


def test_operators_read_it_with_filters_and_pages(client):
    artisan = make_artisan()
    product = make_product(artisan, stock=1)
    headers = auth_headers(artisan)
    for stock in (2, 3, 4):
        client.patch(f"/api/v1/products/{product.id}", headers=headers, json={"stock": stock})
    operator = auth_headers(make_operator())
    first = client.get(f"/api/v1/operator/audit?entity=product&entity_id={product.id}&limit=2",
                       headers=operator)
    assert first.status_code == 200
    page = first.get_json()
    assert [item["after"]["stock"] for item in page["items"]] == [4, 3]
    second = client.get(f"/api/v1/operator/audit?entity=product&entity_id={product.id}"
                        f"&limit=2&cursor={page['next_cursor']}", headers=operator).get_json()
    assert [item["after"]["stock"] for item in second["items"]] == [2]
    assert second["next_cursor"] is None
    assert client.get(f"/api/v1/operator/audit?actor_id={artisan.id}&action=delete",
                      headers=operator).get_json()["items"] == []
    assert client.get("/api/v1/operator/audit", headers=headers).status_code == 403


def test_there_is_no_way_to_change_or_delete_an_event(client):
    artisan = make_artisan()
    product = make_product(artisan, stock=1)
    client.patch(f"/api/v1/products/{product.id}", headers=auth_headers(artisan),
                 json={"stock": 2})
    event = _events(entity="product")[-1]
    operator = auth_headers(make_operator())
    for method in ("put", "patch", "delete", "post"):
        response = getattr(client, method)("/api/v1/operator/audit", headers=operator, json={})
        assert response.status_code == 405
    event.after = {"stock": 99}
    with pytest.raises(AuditTrailIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE audit_event SET entity = 'x'"))
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("DELETE FROM audit_event"))
        db.session.rollback()


def test_the_console_page_lists_the_trail(client):
    artisan = make_artisan()
    product = make_product(artisan, stock=1)
    client.patch(f"/api/v1/products/{product.id}", headers=auth_headers(artisan),
                 json={"stock": 5})
    sign_in(client, make_operator())
    page = client.get("/console/audit?entity=product", headers=HTML)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert product.id in body and artisan.id in body
