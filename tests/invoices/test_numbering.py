"""Invoice numbers: one series a year, consecutive, never a gap, never twice, even when a
payment's transaction fails after taking a number or many payments land at once."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders import alerts, invoices
from marketplace.orders.models import DocumentCounter, Order, OrderStatus, TaxDocument
from tests.factories import auth_headers, make_buyer, make_product
from tests.invoices.helpers import invoice_of, mark_paid, pending_order


def _numbers() -> list[str]:
    db.session.expire_all()
    return [doc.number for doc in db.session.execute(
        db.select(TaxDocument).where(TaxDocument.kind == "invoice")
        .order_by(TaxDocument.series, TaxDocument.sequence)).scalars()]


def test_paid_orders_get_consecutive_numbers_in_the_years_series():
    year = utcnow().year
    first, second = pending_order(), pending_order()
    mark_paid(first)
    mark_paid(second)
    assert invoice_of(first).number == f"SHB-{year}-000001"
    assert invoice_of(second).number == f"SHB-{year}-000002"
    assert invoice_of(first).series == f"INV-{year}"


def test_paying_twice_issues_one_invoice():
    order_id = pending_order()
    mark_paid(order_id)
    mark_paid(order_id)  # a repeated event: the move is a no-op
    assert _numbers() == [invoice_of(order_id).number]


def test_a_failed_payment_transaction_gives_its_number_back():
    year = utcnow().year
    lost, kept = pending_order(), pending_order()
    mark_paid(pending_order())
    with pytest.raises(RuntimeError):
        mark_paid(lost, fail_after=True)
    assert invoice_of(lost) is None
    mark_paid(kept)
    assert _numbers() == [f"SHB-{year}-000001", f"SHB-{year}-000002"]
    assert db.session.get(DocumentCounter, f"INV-{year}").last_number == 2


def test_a_new_year_starts_a_new_series(monkeypatch):
    mark_paid(pending_order())
    monkeypatch.setattr(invoices, "utcnow", lambda: datetime(2099, 1, 1, 0, 0, 5))
    order_id = pending_order()
    mark_paid(order_id)
    assert invoice_of(order_id).number == "SHB-2099-000001"
    assert invoice_of(order_id).series == "INV-2099"


def test_concurrent_payments_on_postgresql_take_every_number_once(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks of concurrent transactions: PostgreSQL (DATABASE_URL)")
    product = make_product(stock=50)
    orders = [pending_order(product) for _ in range(12)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(orders))

    def pay(order_id: str, fail: bool) -> None:
        with app.app_context():
            try:
                start.wait()
                mark_paid(order_id, fail_after=fail)
            except RuntimeError:
                pass
            except BaseException as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)
            finally:
                db.session.remove()

    # every third payment's transaction fails after numbering its invoice
    threads = [threading.Thread(target=pay, args=(order_id, index % 3 == 2))
               for index, order_id in enumerate(orders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    db.session.expire_all()
    docs = list(db.session.execute(db.select(TaxDocument)).scalars())
    assert len(docs) == 8  # 12 payments, 4 rolled back
    assert sorted(doc.sequence for doc in docs) == list(range(1, 9))
    assert len({doc.order_id for doc in docs}) == 8



def test_a_paper_that_cannot_be_issued_never_stops_the_payment(client):
    """An order whose invoice would lack a required field (no address lines): the payment is
    recorded, the number is given back, the operators are alerted, and the download says the
    invoice is not available (404 ``order.invoice_not_available``) instead of failing."""
    year = utcnow().year
    buyer = make_buyer()
    incomplete = pending_order(address={"country": "DE"}, buyer=buyer)
    mark_paid(incomplete)
    db.session.expire_all()
    assert db.session.get(Order, incomplete).status == OrderStatus.PAID
    assert invoice_of(incomplete) is None
    assert [alert.kind for alert in alerts.alerts_for_order(incomplete)] == [
        alerts.DOCUMENT_INCOMPLETE]
    response = client.get(f"/api/v1/orders/{incomplete}/invoice.pdf",
                          headers=auth_headers(buyer))
    assert response.status_code == 404
    assert response.get_json()["code"] == "order.invoice_not_available"
    kept = pending_order()
    mark_paid(kept)
    assert invoice_of(kept).number == f"SHB-{year}-000001"
