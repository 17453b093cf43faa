"""Per-piece serials and their append-only, hash-chained histories."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text, update

from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.provenance import labels, pieces
from marketplace.provenance.models import PieceEvent, ProvenancePiece
from tests.factories import make_product
from tests.provenance.helpers import verified_label


def history(client, code: str, serial: str) -> dict:
    response = client.get(f"/api/v1/provenance/{code}/pieces/{serial}")
    assert response.status_code == 200
    return response.get_json()


def test_paid_units_get_serials_with_made_verified_sold(client, actors):
    code = verified_label(client, actors)
    order_id = new_id()
    serials = pieces.issue_piece_serials(actors.product.id, 2, order_id=order_id)
    assert serials == [f"{code}-0001", f"{code}-0002"]
    chain = history(client, code, serials[0])
    assert [e["event_type"] for e in chain["events"]] == ["made", "verified", "sold"]
    assert chain["verifies"] is True
    assert chain["events"][0]["time"] == "2025-09-20T00:00:00Z"  # the record's finished_on
    assert chain["events"][0]["place"]["city"] == "Almaty"
    assert chain["events"][0]["prev_hash"] == "0" * 64
    assert chain["events"][1]["prev_hash"] == chain["events"][0]["hash"]
    assert chain["head_hash"] == chain["events"][-1]["hash"]
    assert order_id not in str(chain)  # the public chain does not expose the order


def test_issuing_serials_twice_for_an_order_line_returns_the_same(client, actors):
    verified_label(client, actors)
    order_id = new_id()
    first = pieces.issue_piece_serials(actors.product.id, 3, order_id=order_id)
    assert pieces.issue_piece_serials(actors.product.id, 3, order_id=order_id) == first
    later = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())
    assert later[0].endswith("-0004")
    count = db.session.execute(select(func.count()).select_from(ProvenancePiece)).scalar_one()
    assert count == 4


def test_products_without_a_valid_label_get_no_serials(client, actors):
    assert pieces.issue_piece_serials(actors.product.id, 2, order_id=new_id()) == []
    verified_label(client, actors)
    labels.revoke_for_product_change(actors.product.id, {"materials"})
    assert pieces.issue_piece_serials(actors.product.id, 2, order_id=new_id()) == []


def test_serials_in_the_callers_transaction_roll_back_with_it(client, actors):
    verified_label(client, actors)
    serials = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())
    assert serials
    db.session.rollback()
    assert db.session.execute(select(ProvenancePiece)).first() is None


def test_shipping_events_append_and_are_idempotent_on_key(client, actors):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    packed = pieces.record_piece_event(serial, "packed", data={"weight_g": 480}, key="pack-1")
    again = pieces.record_piece_event(serial, "packed", data={"weight_g": 480}, key="pack-1")
    assert again.id == packed.id
    pieces.record_piece_event(serial, "shipped", data={"tracking": "EE123456789KZ"},
                              place={"city": "Almaty", "country": "KZ"}, key="ship-1")
    pieces.record_piece_event(serial, "delivered", data={"country": "DE"})
    chain = history(client, code, serial)
    assert [e["event_type"] for e in chain["events"]] == [
        "made", "verified", "sold", "packed", "shipped", "delivered"]
    assert chain["verifies"] is True


def test_tampering_with_any_stored_event_breaks_the_chain(client, actors):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    pieces.record_piece_event(serial, "shipped", data={"tracking": "EE1"})
    db.session.execute(update(PieceEvent).where(PieceEvent.serial == serial, PieceEvent.seq == 2)
                       .values(data={"label_code": code, "level": "L2"}))
    db.session.commit()
    assert history(client, code, serial)["verifies"] is False


def test_an_unparsable_stored_event_breaks_the_chain_without_an_error(client, actors):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    db.session.execute(text("UPDATE provenance_piece_event SET data = 'x' WHERE serial = :s"),
                       {"s": serial})
    db.session.commit()
    assert history(client, code, serial)["verifies"] is False


def test_cutting_off_the_newest_event_is_noticed(client, actors):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    pieces.record_piece_event(serial, "delivered")
    db.session.execute(delete(PieceEvent).where(PieceEvent.serial == serial,
                                                PieceEvent.event_type == "delivered"))
    db.session.commit()
    assert history(client, code, serial)["verifies"] is False


def test_bad_events_are_refused(client, actors):
    verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    with pytest.raises(ValidationFailed):
        pieces.record_piece_event(serial, "sold")
    with pytest.raises(ValidationFailed):
        pieces.record_piece_event(serial, "packed", data={"weight_kg": 0.48})
    with pytest.raises(NotFound):
        pieces.record_piece_event("NOPE-0001", "packed")


def test_a_serial_only_answers_under_its_own_label(client, actors):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    other = verified_label(client, actors, product=make_product(actors.artisan))
    assert client.get(f"/api/v1/provenance/{other}/pieces/{serial}").status_code == 404
    assert client.get(f"/api/v1/provenance/{code}/pieces/{serial}").status_code == 200


def test_the_page_shows_a_piece_history(client, actors):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    html = client.get(f"/provenance/{code}?piece={serial}").get_data(as_text=True)
    assert "History chain verifies" in html and serial in html and "Sold" in html
    missing = client.get(f"/provenance/{code}?piece=NOPE").get_data(as_text=True)
    assert "No piece with this serial" in missing
