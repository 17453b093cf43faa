"""The artisan's side: saving a record, submitting it, and who may do either."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.provenance.models import ProvenanceRecord
from tests.factories import auth_headers, make_artisan, make_buyer
from tests.provenance.helpers import approve, full_record, submit


def url(actors, suffix: str = "") -> str:
    return f"/api/v1/products/{actors.product.id}/provenance{suffix}"


def record_count() -> int:
    return db.session.execute(select(func.count()).select_from(ProvenanceRecord)).scalar_one()


def test_owner_saves_a_draft_and_reads_it_back_normalised(client, actors):
    response = client.put(url(actors), json=full_record(), headers=actors.artisan_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "draft" and body["level"] == "L0" and body["missing"] == {}
    assert body["record"]["makers"][1]["place"]["country"] == "KZ"  # upper-cased
    again = client.get(url(actors), headers=actors.artisan_headers).get_json()
    assert again["record"] == body["record"]


def test_a_partial_draft_is_saved_and_lists_what_is_missing(client, actors):
    response = client.put(url(actors), json={"craft": "ceramics", "techniques": ["glazing"]},
                          headers=actors.artisan_headers)
    assert response.status_code == 200
    missing = response.get_json()["missing"]
    assert {"makers", "place.city", "materials", "hand_work_share", "design.origin"} <= set(missing)


def test_another_artisan_gets_404_and_a_buyer_403_and_nobody_401(client, actors):
    other = auth_headers(make_artisan())
    assert client.put(url(actors), json=full_record(), headers=other).status_code == 404
    assert client.get(url(actors), headers=other).status_code == 404
    buyer = auth_headers(make_buyer())
    assert client.put(url(actors), json=full_record(), headers=buyer).status_code == 403
    assert client.post(url(actors, "/submit"), headers=buyer).status_code == 403
    assert client.put(url(actors), json=full_record()).status_code == 401
    assert record_count() == 0


def test_unknown_product_is_404(client, actors):
    response = client.put("/api/v1/products/NOPE/provenance", json=full_record(),
                          headers=actors.artisan_headers)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_invalid_fields_are_422_per_field_and_write_nothing(client, actors):
    bad = full_record(hand_work_share=50.5, craft="plastic", place={"city": "Almaty",
                                                                    "country": "XX"})
    bad["materials"][1]["fineness"] = 1001
    bad["makers"][0]["kind"] = "robot"
    bad["when"] = {"availability": "ready", "hours": 1.5}
    bad["extra"] = True
    response = client.put(url(actors), json=bad, headers=actors.artisan_headers)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"hand_work_share", "craft", "place.country", "materials.1.fineness",
            "makers.0.kind", "when.hours", "extra"} <= set(errors)
    assert record_count() == 0


def test_malformed_json_is_400(client, actors):
    response = client.put(url(actors), data="{not json", content_type="application/json",
                          headers=actors.artisan_headers)
    assert response.status_code == 400


def test_control_characters_are_refused(client, actors):
    # NUL is refused at the edge for any body; other control characters by the record's rules
    record = full_record(techniques=["wheel\x00throwing"])
    response = client.put(url(actors), json=record, headers=actors.artisan_headers)
    assert response.status_code == 400 and response.get_json()["code"].startswith("request.")
    record = full_record(techniques=["wheel\x07throwing"])
    response = client.put(url(actors), json=record, headers=actors.artisan_headers)
    assert response.status_code == 422 and "techniques.0" in response.get_json()["errors"]


def test_submitting_an_incomplete_record_is_422_naming_what_is_missing(client, actors):
    record = full_record(hand_work_share=None, techniques=[], design={"origin": "traditional"})
    record["materials"][1].pop("fineness")
    record["materials"][1].pop("hallmark")
    record["materials"][0].pop("origin")
    record["makers"][1].pop("place")
    client.put(url(actors), json=record, headers=actors.artisan_headers)
    response = client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"hand_work_share", "techniques", "design.motif",
                           "materials.1.fineness", "materials.0.origin.country",
                           "makers.1.place"}
    assert db.session.get(ProvenanceRecord, actors.product.id).status == "draft"


def test_submitting_without_any_record_is_422(client, actors):
    response = client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    assert response.status_code == 422
    assert "makers" in response.get_json()["errors"]
    assert record_count() == 0


def test_record_craft_must_match_the_product(client, actors):
    client.put(url(actors), json=full_record(craft="felt"), headers=actors.artisan_headers)
    response = client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    assert response.status_code == 422
    assert "does not match" in response.get_json()["errors"]["craft"][0]


def test_expired_certification_blocks_submission(client, actors):
    record = full_record()
    record["certifications"][0]["valid_until"] = "2001-01-01"
    client.put(url(actors), json=record, headers=actors.artisan_headers)
    response = client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    assert response.status_code == 422
    assert "certifications.0.valid_until" in response.get_json()["errors"]


def test_finished_before_started_is_refused(client, actors):
    record = full_record(when={"availability": "ready", "started_on": "2025-09-20",
                               "finished_on": "2025-09-01"})
    client.put(url(actors), json=record, headers=actors.artisan_headers)
    response = client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    assert response.status_code == 422 and "when.finished_on" in response.get_json()["errors"]


def test_submit_moves_to_pending_and_is_idempotent(client, actors):
    client.put(url(actors), json=full_record(), headers=actors.artisan_headers)
    first = client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    assert first.status_code == 200 and first.get_json()["status"] == "pending"
    assert first.get_json()["submitted_at"]
    again = client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    assert again.status_code == 200 and again.get_json()["status"] == "pending"


def test_editing_a_pending_record_withdraws_it_to_draft(client, actors):
    client.put(url(actors), json=full_record(), headers=actors.artisan_headers)
    client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    response = client.put(url(actors), json=full_record(hand_work_share=80),
                          headers=actors.artisan_headers)
    assert response.get_json()["status"] == "draft"


def test_saving_the_same_record_again_changes_nothing(client, actors):
    client.put(url(actors), json=full_record(), headers=actors.artisan_headers)
    client.post(url(actors, "/submit"), headers=actors.artisan_headers)
    response = client.put(url(actors), json=full_record(), headers=actors.artisan_headers)
    assert response.get_json()["status"] == "pending"


def test_operator_can_read_any_record(client, actors):
    client.put(url(actors), json=full_record(), headers=actors.artisan_headers)
    response = client.get(url(actors), headers=actors.operator_headers)
    assert response.status_code == 200 and response.get_json()["status"] == "draft"


def test_editing_a_verified_record_revokes_its_label(client, actors):
    submit(client, actors)
    code = approve(client, actors)
    response = client.put(url(actors), json=full_record(hand_work_share=70),
                          headers=actors.artisan_headers)
    assert response.get_json()["status"] == "revoked" and response.get_json()["level"] == "L0"
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    assert label["status"] == "revoked" and "edited" in label["revoked_reason"]
