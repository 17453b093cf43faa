"""The outside verifier against a live server: all checks hold for an honest history, and a
history rewritten consistently in the database (chain, head and all) is caught."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.provenance import pieces, signing, transparency
from marketplace.provenance.models import PieceEvent
from marketplace.provenance.verify import main
from tests.provenance.helpers import verified_label

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live(app, live_server, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", live_server)
    return live_server


def honest_history(client, actors) -> tuple[str, str]:
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    pieces.record_piece_event(serial, "packed", data={"weight_g": 700}, key="k1")
    db.session.commit()
    transparency.publish_checkpoint(force=True)
    return code, serial


def run(live: str, code: str, serial: str, state: Path) -> tuple[int, str]:
    out = io.StringIO()
    from marketplace.provenance.verify import Verifier

    verifier = Verifier(live, state_file=state, out=out)
    return verifier.run(code, [serial]), out.getvalue()


def rewrite_chain(serial: str, city: str) -> None:
    """What someone with the database could do: move the place of making and recompute every
    hash and the head, so that the chain itself verifies again."""
    events = list(db.session.execute(select(PieceEvent).where(PieceEvent.serial == serial)
                                     .order_by(PieceEvent.seq)).scalars())
    previous = pieces.GENESIS_HASH
    for event in events:
        place = dict(event.place) if event.place else None
        if event.event_type == "made":
            place = {**(place or {}), "city": city, "country": "DE"}
        body = {"serial": event.serial, "seq": event.seq, "event_type": event.event_type,
                "time": event.time.strftime("%Y-%m-%dT%H:%M:%SZ"), "place": place,
                "data": event.data}
        digest = hashlib.sha256(previous.encode() + signing.canonical_json(body)).hexdigest()
        db.session.execute(text("UPDATE provenance_piece_event SET place = :place, "
                                "prev_hash = :prev, hash = :hash WHERE id = :id"),
                           {"place": json.dumps(place) if place else None, "prev": previous,
                            "hash": digest, "id": event.id})
        previous = digest
    db.session.execute(text("UPDATE provenance_piece SET head_hash = :h WHERE serial = :s"),
                       {"h": previous, "s": serial})
    db.session.commit()
    db.session.expire_all()


def test_the_verifier_checks_everything_from_public_endpoints(client, actors, live, tmp_path):
    code, serial = honest_history(client, actors)
    state = tmp_path / "state.json"
    status, output = run(live, code, serial, state)
    assert status == 0, output
    for line in ("ok    issuer DID document", "ok    label signature",
                 "ok    credential proof", "ok    status list credential proof",
                 "ok    revocation status: not revoked", "ok    checkpoint signature",
                 "ok    label issuance in the transparency log",
                 f"ok    {serial} #1 made: chain link", f"ok    {serial} #4 packed: in the "
                 "transparency log", f"{code}: all checks hold"):
        assert line in output, output
    kept = json.loads(state.read_text())
    assert kept[f"{live.split('//')[1]}/transparency"]["size"] == transparency.tree_size()

    # the log grows: the next run proves the new checkpoint consistent with the one kept
    pieces.record_piece_event(serial, "shipped", data={"carrier": "dhl"}, key="k2")
    db.session.commit()
    transparency.publish_checkpoint(force=True)
    status, output = run(live, code, serial, state)
    assert status == 0, output
    assert "ok    consistent with the last checkpoint seen" in output


def test_a_revoked_label_fails_the_status_check(client, actors, live, tmp_path):
    code, serial = honest_history(client, actors)
    client.post(f"/api/v1/operator/provenance/{actors.product.id}/revoke",
                json={"reason": "Doubtful."}, headers=actors.operator_headers)
    status, output = run(live, code, serial, tmp_path / "state.json")
    assert status == 1 and "FAIL  revocation status: revoked" in output, output


def test_a_consistently_rewritten_chain_is_caught(client, actors, live, tmp_path):
    code, serial = honest_history(client, actors)
    state = tmp_path / "state.json"
    assert run(live, code, serial, state)[0] == 0
    rewrite_chain(serial, "Berlin")
    history = client.get(f"/api/v1/provenance/{code}/pieces/{serial}").get_json()
    assert history["verifies"] is True  # the chain alone no longer tells
    assert history["events"][0]["place"]["city"] == "Berlin"
    status, output = run(live, code, serial, state)
    assert status == 1, output
    assert f"FAIL  {serial} #1 made: in the transparency log" in output, output
    assert f"ok    {serial} #1 made: chain link" in output


def test_rewriting_the_log_too_breaks_consistency_with_what_was_seen(client, actors, live,
                                                                     tmp_path):
    code, serial = honest_history(client, actors)
    state = tmp_path / "state.json"
    assert run(live, code, serial, state)[0] == 0
    rewrite_chain(serial, "Berlin")
    # the insider also lifts the log's triggers, rewrites its entries and signs a new head
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        db.session.execute(text("ALTER TABLE transparency_entry DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER transparency_entry_no_update"))
    for event in db.session.execute(select(PieceEvent).where(PieceEvent.serial == serial)
                                    ).scalars():
        body = {"serial": event.serial, "seq": event.seq, "event_type": event.event_type,
                "time": event.time.strftime("%Y-%m-%dT%H:%M:%SZ"), "place": event.place,
                "data": event.data}
        entry = signing.canonical_json(pieces.log_entry(code, event.prev_hash, body, event.hash))
        db.session.execute(text("UPDATE transparency_entry SET entry = :e, leaf_hash = :h "
                                "WHERE \"index\" = :i"),
                           {"e": entry, "h": hashlib.sha256(b"\x00" + entry).digest(),
                            "i": event.log_index})
    db.session.commit()
    pieces.record_piece_event(serial, "shipped", data={"carrier": "dhl"}, key="k2")
    db.session.commit()
    transparency.publish_checkpoint(force=True)
    status, output = run(live, code, serial, state)
    assert status == 1, output
    assert "FAIL  consistent with the last checkpoint seen" in output, output
    # a verifier that never saw the old log has nothing to compare with: the kept file matters
    fresh_status, fresh = run(live, code, serial, tmp_path / "fresh.json")
    assert fresh_status == 0, fresh


def test_the_console_script_and_module_run(client, actors, live, tmp_path):
    code, serial = honest_history(client, actors)
    state = tmp_path / "state.json"
    done = subprocess.run([str(Path(sys.executable).parent / "sheber-verify"), live, code,
                           "--serial", serial, "--state", str(state)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{code}: all checks hold" in done.stdout
    done = subprocess.run([sys.executable, "-m", "marketplace.provenance.verify", live, code,
                           "--state", str(state)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert main([live, "NOSUCHCODE1", "--state", str(state)]) == 2
