"""The transparency log: entries, RFC 6962 proofs, signed checkpoints, append-only storage.

The checkpoints and proofs are verified with Go's golang.org/x/mod/sumdb note and tlog packages
(tests/provenance/go/tlogcheck.go), an implementation that is not ours.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.provenance import merkle, notes, pieces, transparency
from marketplace.provenance.models import TransparencyCheckpoint
from tests.provenance.helpers import verified_label
from tests.provenance.tools import run_tlogcheck, tlogcheck


@pytest.fixture(scope="module")
def go_checker(tmp_path_factory):
    return tlogcheck(tmp_path_factory.mktemp("go"))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def publish():
    """Publish a checkpoint now, as the beat job would a minute after the last one."""
    return transparency.publish_checkpoint(force=True)


def log_with_events(client, actors) -> tuple[str, list[str]]:
    code = verified_label(client, actors)
    serials = pieces.issue_piece_serials(actors.product.id, 2, order_id=new_id())
    pieces.record_piece_event(serials[0], "packed", data={"weight_g": 900}, key="p1")
    db.session.commit()
    return code, serials


# --- Merkle arithmetic against the RFC's definitions ------------------------------------------

def test_proofs_verify_for_every_small_tree_and_fail_when_altered():
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(17)]
    for size in range(1, 18):
        tree = leaves[:size]
        root = merkle.root(tree)
        for index in range(size):
            proof = merkle.inclusion_proof(index, tree)
            assert merkle.verify_inclusion(index, size, tree[index], proof, root)
            assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"other"), proof,
                                               root)
            if proof:
                broken = [proof[0][::-1], *proof[1:]]
                assert not merkle.verify_inclusion(index, size, tree[index], broken, root)
        for old in range(0, size + 1):
            proof = merkle.consistency_proof(old, tree)
            old_root = merkle.root(leaves[:old])
            assert merkle.verify_consistency(old, size, old_root, root, proof)
            if 0 < old < size:
                assert not merkle.verify_consistency(old, size, merkle.root(leaves[1:old + 1]),
                                                     root, proof)


def test_rfc6962_hashing_of_a_known_tree():
    # leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right)
    la, lb = hashlib.sha256(b"\x00a").digest(), hashlib.sha256(b"\x00b").digest()
    assert merkle.leaf_hash(b"a") == la and merkle.leaf_hash(b"b") == lb
    assert merkle.root([la, lb]) == hashlib.sha256(b"\x01" + la + lb).digest()
    assert merkle.root([]) == hashlib.sha256(b"").digest()


# --- the log of what the marketplace attests ---------------------------------------------------

def test_labels_and_piece_events_are_logged_with_their_index(client, actors):
    code, serials = log_with_events(client, actors)
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    issued = client.get(f"/api/v1/transparency/entries/{label['log_index']}").get_json()
    entry = json.loads(issued["entry"])
    assert entry == {
        "v": 1, "type": "label_issued", "label_code": code, "key_id": label["key_id"],
        "level": "L1", "product_id": actors.product.id, "issued_at": label["issued_at"],
        "label_sha256": hashlib.sha256(label["canonical"].encode()).hexdigest(),
        "signature": label["signature"]}
    # the entry is canonical JSON and the leaf hash is RFC 6962's
    assert issued["entry"].encode() == json.dumps(entry, sort_keys=True,
                                                  separators=(",", ":")).encode()
    assert issued["leaf_hash"] == b64(hashlib.sha256(b"\x00" + issued["entry"].encode()).digest())

    history = client.get(f"/api/v1/provenance/{code}/pieces/{serials[0]}").get_json()
    previous = "0" * 64
    for event in history["events"]:
        logged = json.loads(client.get(
            f"/api/v1/transparency/entries/{event['log_index']}").get_json()["entry"])
        assert logged == {
            "v": 1, "type": "piece_event", "label_code": code, "serial": serials[0],
            "prev_head": previous, "hash": event["hash"],
            "event": {"serial": serials[0], "seq": event["seq"],
                      "event_type": event["event_type"], "time": event["time"],
                      "place": event["place"], "data": event["data"]}}
        previous = event["hash"]
    assert [e["event_type"] for e in history["events"]] == ["made", "verified", "sold", "packed"]
    assert transparency.tree_size() == 1 + 3 + 3 + 1


def test_revocation_and_supersession_are_logged(client, actors):
    from tests.provenance.helpers import approve, full_record, submit

    first = verified_label(client, actors)
    client.put(f"/api/v1/products/{actors.product.id}/provenance",
               json=full_record(hand_work_share=90), headers=actors.artisan_headers)
    submit(client, actors, full_record(hand_work_share=90))
    second = approve(client, actors)
    client.post(f"/api/v1/operator/provenance/{actors.product.id}/revoke",
                json={"reason": "Machine-made after all."}, headers=actors.operator_headers)
    kinds = [json.loads(client.get(f"/api/v1/transparency/entries/{i}").get_json()["entry"])
             for i in range(transparency.tree_size())]
    assert [(k["type"], k["label_code"]) for k in kinds] == [
        ("label_issued", first), ("label_revoked", first), ("label_issued", second),
        ("label_revoked", second)]
    assert kinds[3]["reason"] == "Machine-made after all."


def test_a_new_verification_supersedes_the_valid_label(client, actors):
    from marketplace.provenance import records

    first = verified_label(client, actors)
    db.session.execute(text("UPDATE provenance_record SET status = 'pending'"))
    db.session.commit()
    records.decide(actors.product.id, operator_id=actors.operator.id, decision="approve",
                   level="L1", evidence=[{"type": "studio_visit", "note": "again"}])
    old = client.get(f"/api/v1/provenance/{first}").get_json()
    new_code = old["superseded_by"]
    assert old["valid"] is False and old["signature_valid"] is True and new_code != first
    last = json.loads(client.get(
        f"/api/v1/transparency/entries/{transparency.tree_size() - 1}").get_json()["entry"])
    assert last["type"] == "label_superseded" and last["superseded_by"] == new_code


def test_checkpoints_and_proofs_verify_with_gos_sumdb_packages(client, actors, go_checker):
    verified_label(client, actors)
    first = publish()
    assert first.size == 1
    serials = pieces.issue_piece_serials(actors.product.id, 3, order_id=new_id())
    pieces.record_piece_event(serials[1], "shipped", data={"carrier": "dhl"}, key="s1")
    db.session.commit()
    second = publish()
    assert second.size == 1 + 9 + 1

    response = client.get("/api/v1/transparency/checkpoint")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    note = response.get_data(as_text=True)
    assert note == second.note
    vkey = client.get("/api/v1/transparency/key").get_data(as_text=True).strip()
    origin = "sheber.test/transparency"
    body, _, signature = note.partition("\n\n")
    assert body.split("\n") == [origin, str(second.size), b64(second.root_hash)]
    assert signature.startswith(f"\u2014 {origin} ") and vkey.startswith(f"{origin}+")

    size = second.size
    entries = [client.get(f"/api/v1/transparency/entries/{i}").get_json() for i in range(size)]
    proofs = [client.get(f"/api/v1/transparency/proof?index={i}&size={size}").get_json()
              for i in range(size)]
    consistency = client.get(f"/api/v1/transparency/consistency?from=1&to={size}").get_json()
    data = {
        "vkey": vkey, "checkpoints": [first.note, note],
        "entries": [{"index": e["index"], "entry": b64(e["entry"].encode()),
                     "leaf_hash": e["leaf_hash"]} for e in entries],
        "inclusions": [{"index": p["index"], "hashes": p["hashes"]} for p in proofs],
        "consistency": [{"from": 0, "hashes": consistency["hashes"]}],
    }
    result = run_tlogcheck(go_checker, data)
    assert [c.get("error") for c in result["checkpoints"]] == [None, None]
    assert [c["size"] for c in result["checkpoints"]] == [1, size]
    assert all(result["entries"]) and len(result["entries"]) == size
    assert all(result["inclusions"]) and len(result["inclusions"]) == size
    assert result["consistency"] == [True]
    # ours agrees
    checkpoint = notes.open_checkpoint(note, vkey)
    assert checkpoint.size == size and checkpoint.root_hash == second.root_hash

    # ... and Go refuses what is wrong
    altered = json.loads(json.dumps(data))
    altered["inclusions"][3]["hashes"][0] = b64(bytes(32))
    altered["entries"][5]["entry"] = b64(b'{"v":1}')
    altered["consistency"][0]["hashes"] = altered["consistency"][0]["hashes"][::-1]
    lied = note.replace(f"\n{size}\n", f"\n{size + 1}\n")
    altered["checkpoints"] = [first.note, lied]
    refused = run_tlogcheck(go_checker, altered)
    assert refused["checkpoints"][1]["error"]
    altered["checkpoints"] = [first.note, note]
    refused = run_tlogcheck(go_checker, altered)
    assert refused["inclusions"][3] is False and refused["entries"][5] is False
    assert refused["consistency"] == [False]
    other = notes.sign_note(notes.checkpoint_body(origin, size, second.root_hash), origin,
                            Ed25519PrivateKey.generate())
    altered["checkpoints"] = [first.note, other]
    assert run_tlogcheck(go_checker, altered)["checkpoints"][1]["error"]


def test_a_checkpoint_is_published_at_most_every_minute_and_only_when_the_log_grew(
        client, actors):
    verified_label(client, actors)
    first = transparency.publish_checkpoint()
    assert first is not None and first.size == 1
    assert transparency.publish_checkpoint() is None  # the log did not grow
    pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())
    db.session.commit()
    assert transparency.publish_checkpoint() is None  # grew, but within the minute
    # a minute later the beat job publishes
    from unittest import mock

    later = first.created_at + timedelta(seconds=61)
    with mock.patch("marketplace.provenance.transparency.utcnow", return_value=later):
        second = transparency.publish_checkpoint()
    assert second is not None and second.size == 4
    kept = db.session.query(TransparencyCheckpoint).order_by(TransparencyCheckpoint.size).all()
    assert [c.size for c in kept] == [1, 4]


def test_the_first_reader_of_a_log_without_checkpoint_gets_one(client, actors):
    response = client.get("/api/v1/transparency/checkpoint")
    assert response.status_code == 200
    assert response.get_data(as_text=True).split("\n")[:3] == [
        "sheber.test/transparency", "0", base64.b64encode(hashlib.sha256(b"").digest()).decode()]
    assert transparency.latest_checkpoint().size == 0


def test_the_beat_job_publishes_a_checkpoint(client, actors):
    from workers.maintenance import publish_checkpoint_task

    verified_label(client, actors)
    assert publish_checkpoint_task.run() == 1
    assert publish_checkpoint_task.run() is None


@pytest.mark.parametrize("statement", [
    "UPDATE transparency_entry SET kind = 'x'",
    "DELETE FROM transparency_entry",
    "UPDATE transparency_checkpoint SET size = size + 1",
    "DELETE FROM transparency_checkpoint",
])
def test_the_log_refuses_updates_and_deletes(client, actors, statement):
    verified_label(client, actors)
    transparency.publish_checkpoint()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
        db.session.flush()
    db.session.rollback()
    assert transparency.tree_size() == 1


def test_bad_ranges_are_clear_4xx(client, actors):
    verified_label(client, actors)
    assert client.get("/api/v1/transparency/entries/5").status_code == 404
    assert client.get("/api/v1/transparency/entries/-1").status_code == 404
    assert client.get("/api/v1/transparency/entries/x").status_code == 404
    for query in ("index=0&size=2", "index=1&size=1", "index=0&size=0", "index=a&size=1"):
        response = client.get(f"/api/v1/transparency/proof?{query}")
        assert response.status_code == 422, query
    for query in ("from=2&to=1", "from=0&to=2", "to=1"):
        response = client.get(f"/api/v1/transparency/consistency?{query}")
        assert response.status_code == 422, query
    assert client.get("/api/v1/transparency/consistency?from=0&to=1").get_json()["hashes"] == []


def test_verifier_keys_whose_base64_holds_a_plus_parse():
    for _ in range(64):  # about half of random keys have a "+" in their base64
        key = Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes_raw()
        vkey = notes.verifier_key("sheber.test/transparency", raw)
        assert notes.parse_verifier_key(vkey)[2] == raw
        note = notes.sign_note(notes.checkpoint_body("sheber.test/transparency", 3, bytes(32)),
                               "sheber.test/transparency", key)
        assert notes.open_checkpoint(note, vkey).size == 3
