"""Tracking: signed carrier events (forged 401, duplicates change nothing, scans only move the
parcel forward), the order and the buyer following along, and beat polling the carrier."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from marketplace.extensions import db
from marketplace.ids import isoformat, utcnow
from marketplace.orders.models import Shipment, ShipmentEvent
from marketplace.provenance.models import PieceEvent
from marketplace.shipping import tracking
from marketplace.shipping.models import CarrierLabel
from tests.factories import auth_headers, make_artisan, make_operator, make_product
from tests.shipping.flow import (
    carrier_event,
    fulfilments,
    mails_to,
    order_status,
    pack_every_box,
    paid,
    request_shipment,
    run_label_tasks,
    shipment_of,
    verified_product,
)
from workers import schedule


@pytest.fixture
def shipped(client, stripe_webhooks):
    """A paid, packed order whose parcel has its label: (order id, buyer, shipment)."""
    operator = make_operator()
    bowl = verified_product(client, make_artisan(), operator, stock=2)
    order_id, buyer, _ = paid(client, (bowl, 1))
    pack_every_box(client, order_id)
    assert request_shipment(client, auth_headers(operator), order_id).status_code == 202
    run_label_tasks()
    shipment = shipment_of(order_id)
    assert shipment.status == "label_created"
    # The label was bought three days ago (the scans below are dated within the last two).
    three_days_ago = utcnow() - timedelta(days=3)
    db.session.execute(update(ShipmentEvent).values(occurred_at=three_days_ago))
    db.session.execute(update(Shipment).values(status_at=three_days_ago,
                                               label_created_at=three_days_ago))
    db.session.commit()
    return order_id, buyer, shipment_of(order_id)


def scan(shipment, status: str, event_id: str, *, hours: float = 0, **extra) -> dict:
    return {"id": event_id, "tracking_number": shipment.tracking_number, "status": status,
            "occurred_at": isoformat(utcnow() - timedelta(hours=48 - hours)),
            "location": extra.pop("location", "Frankfurt"),
            "description": extra.pop("description", status.replace("_", " ")), **extra}


def scans_recorded() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(ShipmentEvent)).scalar_one()


def test_signed_scans_take_the_parcel_to_the_door_and_the_order_and_buyer_follow(
        client, shipped):
    order_id, buyer, shipment = shipped
    journey = [("handed_over", 0.5), ("in_transit", 1), ("customs", 10),
               ("out_for_delivery", 30), ("delivered", 36)]
    for n, (status, hours) in enumerate(journey):
        response = carrier_event(client, scan(shipment, status, f"evt-{n}", hours=hours,
                                              unknown_field="ignored"))
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {"received": True, "duplicate": False,
                                       "shipment_id": shipment.id, "status": status}
        assert shipment_of(order_id).status == status
        assert order_status(order_id) == ("delivered" if status == "delivered" else "shipped")

    delivered = shipment_of(order_id)
    assert delivered.delivered_at is not None
    assert {f.status for f in fulfilments(order_id)} == {"delivered"}
    assert [e.status for e in delivered.events] == [
        "label_created", "handed_over", "in_transit", "customs", "out_for_delivery",
        "delivered"]
    shown = client.get(f"/api/v1/shipments/{shipment.id}",
                       headers=auth_headers(buyer)).get_json()
    assert {e["status"] for e in shown["events"]} == {
        "label_created", "handed_over", "in_transit", "customs", "out_for_delivery",
        "delivered"}
    assert shown["delivered_at"] is not None
    assert shown["carrier_name"] == "Sheber Post"
    assert shown["tracking_url"].endswith(f"/track/{shipment.tracking_number}")
    zones = {e["status"]: e["time_zone"] for e in shown["events"]}
    assert zones["label_created"] == zones["handed_over"] == "Asia/Almaty"
    assert zones["customs"] == zones["delivered"] == "Europe/Berlin"  # the buyer is in Berlin
    almaty = next(e for e in shown["events"] if e["status"] == "label_created")
    assert almaty["local_time"].endswith("+05:00")
    number = order_id[-8:]
    assert mails_to(buyer.email) == [f"Order {number} has shipped"] + [
        f"{subject} (order {number})" for subject in (
            "Your parcel is on its way", "Your parcel has reached customs",
            "Your parcel is out for delivery", "Your parcel has been delivered")]
    chain = db.session.execute(select(PieceEvent.event_type).order_by(PieceEvent.serial,
                                                                      PieceEvent.seq)).scalars()
    assert list(chain) == ["made", "verified", "sold", "packed", "shipped", "delivered"]


def test_a_duplicate_event_id_changes_nothing(client, shipped):
    order_id, buyer, shipment = shipped
    body = scan(shipment, "in_transit", "evt-dup")
    assert carrier_event(client, body).get_json()["duplicate"] is False
    before = scans_recorded(), len(mails_to(buyer.email))
    again = carrier_event(client, body)
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True
    # the same id with other content is still the same event
    assert carrier_event(client, {**body, "status": "delivered"}).get_json()["duplicate"] is True
    assert (scans_recorded(), len(mails_to(buyer.email))) == before
    assert shipment_of(order_id).status == "in_transit"
    assert order_status(order_id) == "shipped"


def test_a_forged_or_stale_event_is_401_and_changes_nothing(client, shipped, app, monkeypatch):
    order_id, _, shipment = shipped
    body = scan(shipment, "delivered", "evt-forged")
    before = scans_recorded()
    assert carrier_event(client, body, secret="whsec_guessed").status_code == 401
    signed_other = carrier_event(client, body, signature=tracking.sign_carrier_payload(
        b'{"id": "evt-other"}', "whsec_test_sheber_post"))
    assert signed_other.status_code == 401
    stale = carrier_event(client, body, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    assert carrier_event(client, body, timestamp=int(time.time()) + 3600).status_code == 401
    for header in ("", "t=abc,v1=00", "v1=" + "0" * 64, f"t={int(time.time())}"):
        assert carrier_event(client, body, signature=header or " ").status_code == 401
    missing = client.post("/api/v1/carriers/sheber-post/events", json=body)
    assert missing.status_code == 401
    assert missing.mimetype == "application/problem+json"
    monkeypatch.setitem(app.config, "CARRIER_WEBHOOK_SECRETS", {})
    assert carrier_event(client, body).status_code == 401  # no secret: nothing is trusted
    assert scans_recorded() == before
    assert shipment_of(order_id).status == "label_created"
    assert order_status(order_id) == "fulfilling"


def test_a_rotated_secret_and_the_environment_form_are_accepted(client, shipped, app,
                                                                monkeypatch):
    _, _, shipment = shipped
    monkeypatch.setitem(app.config, "CARRIER_WEBHOOK_SECRETS",
                        {"sheber-post": ["whsec_new", "whsec_test_sheber_post"]})
    assert carrier_event(client, scan(shipment, "in_transit", "e1"),
                         secret="whsec_new").status_code == 200
    monkeypatch.setitem(app.config, "CARRIER_WEBHOOK_SECRETS", None)
    monkeypatch.setenv("CARRIER_WEBHOOK_SECRETS", "dhl=whsec_dhl, sheber-post=whsec_env")
    assert carrier_event(client, scan(shipment, "customs", "e2", hours=5),
                         secret="whsec_env").status_code == 200
    assert carrier_event(client, scan(shipment, "customs", "e3", hours=6),
                         secret="whsec_dhl").status_code == 401


def test_bad_event_bodies_are_refused_without_a_change(client, shipped):
    order_id, _, shipment = shipped
    before = scans_recorded()
    assert carrier_event(client, {}, raw=b"{not json").status_code == 400
    assert carrier_event(client, {}, raw=b"[]").status_code == 400
    for body, field in (
            ({**scan(shipment, "lost_in_space", "b1")}, "status"),
            ({**scan(shipment, "in_transit", "b2"), "occurred_at": "yesterday"}, "occurred_at"),
            ({k: v for k, v in scan(shipment, "in_transit", "b3").items() if k != "id"}, "id"),
            ({**scan(shipment, "in_transit", "b4"), "location": "x" * 500}, "location"),
            ({**scan(shipment, "in_transit", "b5"),
              "occurred_at": isoformat(utcnow() + timedelta(days=3))}, "occurred_at")):
        response = carrier_event(client, body)
        assert response.status_code == 422, body
        assert field in response.get_json()["errors"]
    unknown = carrier_event(client, {**scan(shipment, "in_transit", "b6"),
                                     "tracking_number": "EE000000005KZ"})
    assert unknown.status_code == 404
    assert carrier_event(client, scan(shipment, "in_transit", "b7"),
                         carrier="pigeon-post").status_code == 404
    assert scans_recorded() == before
    assert shipment_of(order_id).status == "label_created"


def test_late_scans_are_recorded_but_never_move_the_parcel_back(client, shipped):
    order_id, buyer, shipment = shipped
    assert carrier_event(client, scan(shipment, "out_for_delivery", "o1", hours=30)
                         ).status_code == 200
    late = carrier_event(client, scan(shipment, "in_transit", "o2", hours=2))
    assert late.status_code == 200 and late.get_json()["status"] == "out_for_delivery"
    assert carrier_event(client, scan(shipment, "delivered", "o3", hours=33)).status_code == 200
    after = carrier_event(client, scan(shipment, "returned", "o4", hours=40))
    assert after.get_json()["status"] == "delivered"
    assert order_status(order_id) == "delivered"
    assert {e.status for e in shipment_of(order_id).events} >= {"in_transit", "returned"}
    assert len(mails_to(buyer.email)) == 2  # out for delivery (it ships), delivered


def test_a_customs_hold_is_released_by_a_newer_scan_and_a_return_is_told(client, shipped):
    order_id, buyer, shipment = shipped
    carrier_event(client, scan(shipment, "customs", "c1", hours=10))
    held = carrier_event(client, scan(shipment, "customs_hold", "c2", hours=12,
                                      description="Invoice required"))
    assert held.get_json()["status"] == "customs_hold"
    stale = carrier_event(client, scan(shipment, "customs", "c0", hours=11))
    assert stale.get_json()["status"] == "customs_hold"  # older than the hold
    released = carrier_event(client, scan(shipment, "customs", "c3", hours=20))
    assert released.get_json()["status"] == "customs"
    returned = carrier_event(client, scan(shipment, "returned", "c4", hours=30,
                                          description="Refused by the addressee"))
    assert returned.get_json()["status"] == "returned"
    assert order_status(order_id) == "returned"  # an operator refunds it (or resends)
    subjects = mails_to(buyer.email)
    assert f"Customs are holding your parcel (order {order_id[-8:]})" in subjects
    assert subjects[-1] == f"Your parcel is on its way back to us (order {order_id[-8:]})"
    returned_pieces = db.session.execute(select(PieceEvent).where(
        PieceEvent.event_type == "returned")).scalars().all()
    assert len(returned_pieces) == 1


def test_polling_records_what_the_carrier_knows_until_delivery(client, shipped):
    order_id, buyer, shipment = shipped
    assert tracking.poll_tracking() == 0  # just labelled: nothing new
    # A week on, the built-in carrier's timeline for EMS to Germany (8-15 days) has reached
    # customs (after 5.75 days) but not delivery (11.5 days): handed over, in transit, customs.
    db.session.execute(update(CarrierLabel).values(created_at=utcnow() - timedelta(days=7)))
    db.session.commit()
    assert tracking.poll_tracking() == 3
    assert shipment_of(order_id).status == "customs"
    assert tracking.poll_tracking() == 0

    db.session.execute(update(CarrierLabel).values(created_at=utcnow() - timedelta(days=30)))
    db.session.commit()
    assert tracking.poll_tracking() == 2
    polled = shipment_of(order_id)
    assert polled.status == "delivered" and polled.polled_at is not None
    assert [e.source for e in polled.events].count("poll") == 5
    assert order_status(order_id) == "delivered"
    assert len(mails_to(buyer.email)) == 5
    assert tracking.poll_tracking() == 0  # delivered parcels are not polled


def test_polling_skips_a_scan_the_carrier_already_pushed(client, shipped):
    order_id, _, shipment = shipped
    carrier_event(client, scan(shipment, "in_transit", "p1", hours=1))
    db.session.execute(update(CarrierLabel).values(created_at=utcnow() - timedelta(days=7)))
    db.session.commit()
    assert tracking.poll_tracking() == 2  # handed over and customs
    statuses = [e.status for e in shipment_of(order_id).events]
    assert statuses.count("in_transit") == 1 and "customs" in statuses


def test_beat_polls_tracking_through_a_maintenance_task(app):
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    entry = schedule.beat_schedule()["poll-tracking"]
    assert entry["task"] == "workers.maintenance.poll_tracking_task"
    assert entry["task"] in celery.tasks
    assert entry["schedule"] == schedule.POLL_TRACKING_SECONDS
    assert "workers.shipping.create_label_task" in celery.tasks
    assert celery.amqp.router.route({}, "workers.shipping.create_label_task")[
        "queue"].name == "shipping"
    assert celery.tasks["workers.shipping.create_label_task"].acks_late


def test_the_poll_task_runs_the_poll(client, shipped):
    from workers.maintenance import poll_tracking_task

    order_id, _, _ = shipped
    db.session.execute(update(CarrierLabel).values(created_at=utcnow() - timedelta(days=30)))
    db.session.commit()
    assert poll_tracking_task() == 5
    assert shipment_of(order_id).status == "delivered"


def test_a_product_without_provenance_still_ships_and_is_delivered(client, stripe_webhooks):
    operator_headers = auth_headers(make_operator())
    order_id, _, _ = paid(client, (make_product(stock=2), 1))
    pack_every_box(client, order_id)
    request_shipment(client, operator_headers, order_id)
    run_label_tasks()
    shipment = shipment_of(order_id)
    response = carrier_event(client, scan(shipment, "delivered", "d1", hours=40))
    assert response.get_json()["status"] == "delivered"
    assert order_status(order_id) == "delivered"
