"""The operator's side: the queue and decisions, with the bad input from the issue."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.provenance.models import ProvenanceDecision, ProvenanceLabel
from tests.factories import make_product
from tests.provenance.helpers import ATTESTATION, EVIDENCE, approve, full_record, submit


def decide(client, actors, body, headers=None):
    return client.post(f"/api/v1/operator/provenance/{actors.product.id}/decision", json=body,
                       headers=headers or actors.operator_headers)


def test_queue_lists_pending_records_oldest_first_with_cursor(client, actors):
    products = [actors.product, make_product(actors.artisan), make_product(actors.artisan)]
    for product in products:
        submit(client, actors, product=product)
    first = client.get("/api/v1/operator/provenance?status=pending&limit=2",
                       headers=actors.operator_headers)
    assert first.status_code == 200
    page = first.get_json()
    assert [item["product_id"] for item in page["items"]] == [p.id for p in products[:2]]
    assert page["items"][0]["artisan"]["name"] == "Aigerim Nurlanovna"
    assert page["items"][0]["product"]["craft"] == "ceramics"
    rest = client.get(f"/api/v1/operator/provenance?limit=2&cursor={page['next_cursor']}",
                      headers=actors.operator_headers).get_json()
    assert [item["product_id"] for item in rest["items"]] == [products[2].id]
    assert rest["next_cursor"] is None


def test_queue_is_for_operators_only(client, actors):
    assert client.get("/api/v1/operator/provenance",
                      headers=actors.artisan_headers).status_code == 403
    assert client.get("/api/v1/operator/provenance").status_code == 401


def test_queue_rejects_bad_status_and_cursor(client, actors):
    bad_status = client.get("/api/v1/operator/provenance?status=weird",
                            headers=actors.operator_headers)
    assert bad_status.status_code == 422
    bad_cursor = client.get("/api/v1/operator/provenance?cursor=%%%",
                            headers=actors.operator_headers)
    assert bad_cursor.status_code == 422


def test_artisan_deciding_on_their_own_record_is_403(client, actors):
    submit(client, actors)
    response = decide(client, actors, {"decision": "approve", "evidence": EVIDENCE},
                      headers=actors.artisan_headers)
    assert response.status_code == 403
    assert db.session.execute(select(ProvenanceLabel)).first() is None


def test_deciding_a_record_that_is_not_pending_is_409(client, actors):
    client.put(f"/api/v1/products/{actors.product.id}/provenance", json=full_record(),
               headers=actors.artisan_headers)
    draft = decide(client, actors, {"decision": "approve", "evidence": EVIDENCE})
    assert draft.status_code == 409
    submit(client, actors)
    approve(client, actors)
    twice = decide(client, actors, {"decision": "approve", "evidence": EVIDENCE})
    assert twice.status_code == 409
    assert len(db.session.execute(select(ProvenanceLabel)).all()) == 1


def test_decision_on_a_product_without_record_is_409_and_unknown_product_404(client, actors):
    assert decide(client, actors, {"decision": "reject", "note": "x"}).status_code == 409
    response = client.post("/api/v1/operator/provenance/NOPE/decision",
                           json={"decision": "reject", "note": "x"},
                           headers=actors.operator_headers)
    assert response.status_code == 404


def test_l2_needs_an_attestation_and_approval_needs_evidence(client, actors):
    submit(client, actors)
    no_attestation = decide(client, actors, {"decision": "approve", "level": "L2",
                                             "evidence": EVIDENCE})
    assert no_attestation.status_code == 422
    assert "attestation" in no_attestation.get_json()["errors"]
    no_evidence = decide(client, actors, {"decision": "approve", "level": "L1"})
    assert no_evidence.status_code == 422 and "evidence" in no_evidence.get_json()["errors"]
    bad_level = decide(client, actors, {"decision": "approve", "level": "L3",
                                        "evidence": EVIDENCE})
    assert bad_level.status_code == 422 and "level" in bad_level.get_json()["errors"]
    bad_evidence = decide(client, actors, {"decision": "approve", "evidence": [
        {"type": "rumour", "note": "", "url": "javascript:alert(1)"}]})
    assert bad_evidence.status_code == 422
    assert {"evidence.0.type", "evidence.0.note", "evidence.0.url"} <= set(
        bad_evidence.get_json()["errors"])
    assert db.session.execute(select(ProvenanceLabel)).first() is None


def test_approval_defaults_to_l1_and_keeps_the_evidence(client, actors):
    submit(client, actors)
    response = decide(client, actors, {"decision": "approve", "evidence": EVIDENCE,
                                       "note": "seen"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "valid" and body["level"] == "L1" and body["label_code"]
    assert body["label_url"] == f"https://sheber.test/provenance/{body['label_code']}"
    decision = db.session.execute(select(ProvenanceDecision)).scalar_one()
    assert decision.evidence[1]["url"] == "https://example.test/receipt/1"
    assert decision.operator_id == actors.operator.id


def test_l2_approval_signs_the_attestation(client, actors):
    submit(client, actors)
    code = approve(client, actors, "L2")
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    assert label["record"]["attestation"] == ATTESTATION and label["level"] == "L2"


def test_rejection_needs_a_note_and_can_be_resubmitted(client, actors):
    submit(client, actors)
    assert decide(client, actors, {"decision": "reject"}).status_code == 422
    rejected = decide(client, actors, {"decision": "reject", "note": "Receipts are unreadable."})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert rejected.get_json()["label_code"] is None
    again = client.post(f"/api/v1/products/{actors.product.id}/provenance/submit",
                        headers=actors.artisan_headers)
    assert again.get_json()["status"] == "pending"


def test_operator_revokes_a_label(client, actors):
    submit(client, actors)
    code = approve(client, actors)
    response = client.post(f"/api/v1/operator/provenance/{actors.product.id}/revoke",
                           json={"reason": "A buyer showed the piece is machine-made."},
                           headers=actors.operator_headers)
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    assert label["status"] == "revoked" and "machine-made" in label["revoked_reason"]
    again = client.post(f"/api/v1/operator/provenance/{actors.product.id}/revoke",
                        json={"reason": "again"}, headers=actors.operator_headers)
    assert again.status_code == 409
