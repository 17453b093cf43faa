"""Buyers flag labels for review; operators see and resolve the flags."""

from __future__ import annotations

from tests.factories import auth_headers, make_buyer
from tests.provenance.helpers import verified_label


def test_buyer_flags_a_label_and_operator_sees_and_resolves_it(client, actors):
    code = verified_label(client, actors)
    buyer = auth_headers(make_buyer())
    response = client.post(f"/api/v1/provenance/{code}/flags",
                           json={"reason": "The seller's photos show a factory stamp."},
                           headers=buyer)
    assert response.status_code == 201
    flag = response.get_json()
    assert flag["label_code"] == code and flag["status"] == "open"

    queue = client.get("/api/v1/operator/provenance/flags", headers=actors.operator_headers)
    assert queue.status_code == 200
    assert [item["id"] for item in queue.get_json()["items"]] == [flag["id"]]

    resolved = client.post(f"/api/v1/operator/provenance/flags/{flag['id']}/resolve",
                           json={"note": "Stamp is the kiln maker's; piece is handmade."},
                           headers=actors.operator_headers)
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    assert client.get("/api/v1/operator/provenance/flags",
                      headers=actors.operator_headers).get_json()["items"] == []
    again = client.post(f"/api/v1/operator/provenance/flags/{flag['id']}/resolve", json={},
                        headers=actors.operator_headers)
    assert again.status_code == 409


def test_flag_needs_a_user_a_reason_and_a_known_code(client, actors):
    code = verified_label(client, actors)
    buyer = auth_headers(make_buyer())
    assert client.post(f"/api/v1/provenance/{code}/flags",
                       json={"reason": "fake"}).status_code == 401
    short = client.post(f"/api/v1/provenance/{code}/flags", json={"reason": "x"}, headers=buyer)
    assert short.status_code == 422 and "reason" in short.get_json()["errors"]
    assert client.post("/api/v1/provenance/NOSUCHCODE/flags", json={"reason": "fake!"},
                       headers=buyer).status_code == 404


def test_one_open_flag_per_user_and_label(client, actors):
    code = verified_label(client, actors)
    buyer = auth_headers(make_buyer())
    first = client.post(f"/api/v1/provenance/{code}/flags", json={"reason": "Looks printed."},
                        headers=buyer)
    assert first.status_code == 201
    second = client.post(f"/api/v1/provenance/{code}/flags", json={"reason": "Still printed."},
                         headers=buyer)
    assert second.status_code == 409


def test_flag_queue_is_for_operators_only(client, actors):
    assert client.get("/api/v1/operator/provenance/flags",
                      headers=actors.artisan_headers).status_code == 403
