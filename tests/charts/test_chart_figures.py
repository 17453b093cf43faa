"""The figures behind the charts, from seeded orders: two listing currencies, the two sides of
a month boundary, a refund of some pieces netted, wholly refunded and cancelled orders left out;
payouts by the month the bank paid them; the provenance queue by age; views and saves."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from marketplace.catalog import views as piece_views
from marketplace.catalog.models import ProductViewDay
from marketplace.charts import last_months
from marketplace.community import favourites
from marketplace.extensions import db
from marketplace.orders import stats
from marketplace.payouts import service as payouts
from marketplace.provenance import records
from marketplace.provenance.models import ProvenanceRecord, RecordStatus
from tests.charts.helpers import TODAY, seed_payouts, seed_sales
from tests.factories import make_buyer, make_product

ZEROS = [0] * 10


def test_the_months_run_back_across_a_year():
    assert last_months(date(2026, 2, 28), 4) == [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]
    assert len(last_months(TODAY, 12)) == 12 and last_months(TODAY, 12)[0] == (2025, 12)


def test_sales_by_month_are_net_of_refunded_pieces_per_listing_currency(app):
    seeded = seed_sales()
    axis, series = stats.workshop_sales_by_month(seeded.artisan.id, today=TODAY)
    assert axis[-2:] == [(2026, 10), (2026, 11)]
    # Oct 31 23:59:59 is October's; Nov 1 00:00:00 November's (2 of 3 bowls kept)
    assert series == {"KZT": ZEROS + [3_000_000, 3_000_000], "USD": ZEROS + [0, 4_000]}
    _axis, others = stats.workshop_sales_by_month(seeded.other.id, today=TODAY)
    assert others == {"KZT": [0] * 9 + [999_900, 0, 0]}


def test_sales_by_destination_count_every_sold_month(app):
    seeded = seed_sales()
    assert stats.workshop_sales_by_country(seeded.artisan.id) == {
        "KZT": [("DE", 3_000_000), ("US", 3_000_000), ("JP", 1_500_000)],
        "USD": [("US", 4_000)]}


def test_orders_by_destination_leave_out_cancelled_and_refunded_orders(app):
    seed_sales()
    assert stats.orders_by_destination() == [("DE", 2), ("JP", 1), ("US", 1)]


def test_payouts_by_month_count_paid_payouts_by_their_paid_month(app):
    seeded = seed_sales()
    seed_payouts(seeded.artisan)
    axis, series = payouts.paid_out_by_month(today=TODAY)
    assert axis[-3:] == [(2026, 9), (2026, 10), (2026, 11)]
    assert series == {"EUR": [0] * 10 + [3_000, 0],
                      "KZT": [0] * 9 + [1_000_000, 3_000_000, 0]}


def test_the_queue_is_counted_by_how_long_each_record_has_waited(app):
    now = datetime(2026, 11, 20, 12, 0)
    waited = [timedelta(hours=2), timedelta(hours=23), timedelta(days=2), timedelta(days=5),
              timedelta(days=10), timedelta(days=30), timedelta(days=400)]
    for delay in waited:
        db.session.add(ProvenanceRecord(product_id=make_product().id,
                                        status=RecordStatus.PENDING,
                                        status_changed_at=now - delay))
    db.session.add(ProvenanceRecord(product_id=make_product().id, status=RecordStatus.VALID,
                                    status_changed_at=now - timedelta(days=50)))
    db.session.commit()
    assert records.queue_ages(now=now) == [2, 1, 1, 1, 2]


def test_views_are_batched_in_memory_and_written_as_daily_sums(app, client):
    artisan_piece, other = make_product(), make_product()
    piece_views.flush_views()  # whatever an earlier test left in this process
    for _ in range(3):
        assert client.get(f"/products/{artisan_piece.id}",
                          headers={"Accept": "text/html"}).status_code == 200
    client.get(f"/products/{other.id}", headers={"Accept": "text/html"})
    # nothing is written by the page views themselves
    assert db.session.query(ProductViewDay).count() == 0
    assert piece_views.flush_views() == 2
    client.get(f"/products/{artisan_piece.id}", headers={"Accept": "text/html"})
    assert piece_views.flush_views() == 1
    db.session.expire_all()
    rows = {(r.product_id, r.views) for r in db.session.query(ProductViewDay)}
    assert rows == {(artisan_piece.id, 4), (other.id, 1)}
    assert piece_views.flush_views() == 0


def test_a_batch_is_written_after_the_response_once_it_is_due(app, client, monkeypatch):
    product = make_product()
    piece_views.flush_views()
    monkeypatch.setitem(app.config, "VIEW_FLUSH_SIZE", 1)
    response = client.get(f"/products/{product.id}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    response.close()  # the server closes the response after sending it
    db.session.expire_all()
    assert [(r.product_id, r.views) for r in db.session.query(ProductViewDay)] == [
        (product.id, 1)]


def test_piece_interest_joins_views_and_saves_in_one_list(app):
    seeded = seed_sales()
    bowl, scarf = seeded.bowl, seeded.scarf
    db.session.add_all([ProductViewDay(product_id=bowl.id, day=TODAY, views=7),
                        ProductViewDay(product_id=bowl.id, day=TODAY - timedelta(days=29),
                                       views=3),
                        ProductViewDay(product_id=bowl.id, day=TODAY - timedelta(days=30),
                                       views=100),  # outside the 30 days
                        ProductViewDay(product_id=scarf.id, day=TODAY, views=2)])
    db.session.commit()
    for buyer in (make_buyer(), make_buyer()):
        favourites.save(buyer, scarf.id)
    found = favourites.piece_interest(seeded.artisan.id, today=TODAY)
    assert [(pid, views, saves) for pid, _title, views, saves in found][:2] == [
        (bowl.id, 10, 0), (scarf.id, 2, 2)]
    assert len(found) == 3  # the piece never sold nor seen is there too, at 0
