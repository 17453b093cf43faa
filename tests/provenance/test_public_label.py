"""The public face: tampering shows as valid:false, unknown codes are 404, routes don't clash."""

from __future__ import annotations

import copy

from sqlalchemy import select, text, update

from marketplace.extensions import db
from marketplace.provenance.models import ProvenanceLabel
from tests.factories import make_product
from tests.provenance.helpers import approve, full_record, submit, verified_label


def stored_label(code: str) -> ProvenanceLabel:
    return db.session.execute(
        select(ProvenanceLabel).where(ProvenanceLabel.code == code)).scalar_one()


def tamper(label_code: str, **values) -> None:
    db.session.execute(update(ProvenanceLabel).where(ProvenanceLabel.code == label_code)
                       .values(**values))
    db.session.commit()
    db.session.expire_all()


def test_an_altered_stored_record_answers_valid_false(client, actors):
    code = verified_label(client, actors)
    payload = copy.deepcopy(stored_label(code).payload)
    payload["record"]["hand_work_share"] = 100
    tamper(code, payload=payload)
    response = client.get(f"/api/v1/provenance/{code}")
    assert response.status_code == 200
    assert response.get_json()["valid"] is False
    page = client.get(f"/provenance/{code}")
    assert page.status_code == 200 and "Signature does not verify" in page.get_data(as_text=True)


def test_altered_signed_bytes_answer_valid_false(client, actors):
    code = verified_label(client, actors)
    canonical = bytes(stored_label(code).canonical).replace(b'"hand_work_share":95',
                                                            b'"hand_work_share":99')
    payload = copy.deepcopy(stored_label(code).payload)
    payload["record"]["hand_work_share"] = 99
    tamper(code, canonical=canonical, payload=payload)
    assert client.get(f"/api/v1/provenance/{code}").get_json()["valid"] is False


def test_a_forged_float_or_garbage_signature_is_valid_false_not_an_error(client, actors):
    code = verified_label(client, actors)
    payload = copy.deepcopy(stored_label(code).payload)
    payload["record"]["hand_work_share"] = 95.0
    tamper(code, payload=payload)
    assert client.get(f"/api/v1/provenance/{code}").get_json()["valid"] is False
    other = verified_label(client, actors, product=make_product(actors.artisan))
    tamper(other, signature="not base64 at all!")
    response = client.get(f"/api/v1/provenance/{other}")
    assert response.status_code == 200 and response.get_json()["valid"] is False


def test_an_unparsable_stored_record_is_valid_false_not_an_error(client, actors):
    code = verified_label(client, actors)
    db.session.execute(text("UPDATE provenance_label SET payload = '{broken' WHERE code = :c"),
                       {"c": code})
    db.session.commit()
    response = client.get(f"/api/v1/provenance/{code}")
    assert response.status_code == 200 and response.get_json()["valid"] is False
    assert client.get(f"/provenance/{code}").status_code == 200


def test_a_label_copied_under_another_code_does_not_verify(client, actors):
    code = verified_label(client, actors)
    tamper(code, code="ZZZZZZZZZZ")
    assert client.get("/api/v1/provenance/ZZZZZZZZZZ").get_json()["valid"] is False


def test_unknown_code_is_404_problem_json_and_html_page(client):
    api = client.get("/api/v1/provenance/NOSUCHCODE")
    assert api.status_code == 404 and api.content_type == "application/problem+json"
    page = client.get("/provenance/NOSUCHCODE", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "No label with the code" in page.get_data(as_text=True)
    assert client.get("/provenance/NOSUCHCODE.svg").status_code == 404
    assert client.get("/api/v1/provenance/NOSUCHCODE/pieces/X-0001").status_code == 404


def test_public_key_route_is_not_taken_for_a_code(client, actors):
    code = verified_label(client, actors)
    keys = client.get("/api/v1/provenance/public-key")
    assert keys.status_code == 200
    body = keys.get_json()
    assert body["algorithm"] == "Ed25519"
    assert body["key_id"] == client.get(f"/api/v1/provenance/{code}").get_json()["key_id"]
    assert [k["key_id"] for k in body["keys"]] == [body["key_id"]]
    assert "retired_at" not in body["keys"][0]


def test_codes_are_case_insensitive(client, actors):
    code = verified_label(client, actors)
    assert client.get(f"/api/v1/provenance/{code.lower()}").get_json()["code"] == code


def test_the_page_shows_the_cultural_value_notice(client, actors):
    submit(client, actors, full_record(cultural_value=True))
    code = approve(client, actors)
    html = client.get(f"/provenance/{code}").get_data(as_text=True)
    assert "export from Kazakhstan needs a permit" in html
