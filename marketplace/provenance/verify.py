"""Verify a Sheber label (and pieces) from public endpoints only, as an outsider would.

    python -m marketplace.provenance.verify https://host CODE [--serial SERIAL ...]
    sheber-verify https://host CODE [--serial SERIAL ...]

Checks the label's Ed25519 signature with the key in the issuer's did:web document, the
credential's Data Integrity proof (eddsa-jcs-2022), its revocation bit in the signed status list,
the label's and every piece event's entry in the transparency log and their inclusion in the
latest signed checkpoint, every piece event's chain link, and that the checkpoint is consistent
with the last one this verifier saw (kept in a small local file, with the log key first seen).
Prints each check; exits 0 when all hold, 1 when any fails, 2 when the host cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from marketplace.provenance import dataintegrity, merkle, notes
from marketplace.provenance.signing import CanonicalError, canonical_json

GENESIS = "0" * 64


class Unreachable(RuntimeError):
    """The host did not answer as a Sheber host does."""


def default_state_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return Path(base) / "sheber-verify" / "checkpoints.json"


class Verifier:
    def __init__(self, base_url: str, *, state_file: Path, timeout: float = 20.0, out=None):
        self.base = base_url.rstrip("/")
        self.host = urllib.parse.urlsplit(self.base).netloc
        self.did = "did:web:" + urllib.parse.quote(self.host, safe="")
        self.origin = f"{self.host}/transparency"
        self.state_file = state_file
        self.timeout = timeout
        self.out = out or sys.stdout
        self.failures = 0
        self.checkpoint: notes.Checkpoint | None = None
        self.did_document: dict | None = None

    # plumbing ---------------------------------------------------------------------------------

    def get(self, path: str, *, text: bool = False):
        url = path if path.startswith(("http://", "https://")) else self.base + path
        if urllib.parse.urlsplit(url).netloc != self.host:
            raise Unreachable(f"{url} is not on {self.host}")
        request = urllib.request.Request(url, headers={"Accept": "*/*",
                                                       "User-Agent": "sheber-verify"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise Unreachable(f"GET {url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"GET {url}: {exc}") from None
        if text:
            return body.decode("utf-8")
        try:
            return json.loads(body)
        except ValueError:
            raise Unreachable(f"GET {url}: not JSON") from None

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if not ok:
            self.failures += 1
        self.out.write(f"{'ok  ' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}\n")
        return ok

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_name(self.state_file.name + ".new")
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, self.state_file)

    # keys -------------------------------------------------------------------------------------

    def method_key(self, method_id: str) -> bytes | None:
        document = self.did_document or {}
        if method_id not in (document.get("assertionMethod") or []):
            return None
        for method in document.get("verificationMethod") or []:
            if method.get("id") == method_id and method.get("controller") == self.did:
                try:
                    return dataintegrity.public_key_from_multikey(method["publicKeyMultibase"])
                except (dataintegrity.ProofError, KeyError):
                    return None
        return None

    # the checks -------------------------------------------------------------------------------

    def verify_label(self, code: str) -> dict:
        label = self.get(f"/api/v1/provenance/{urllib.parse.quote(code)}")
        self.did_document = self.get("/.well-known/did.json")
        self.check("issuer DID document", self.did_document.get("id") == self.did, self.did)
        record = label.get("record")
        key = self.method_key(f"{self.did}#{label.get('key_id')}")
        canonical = str(label.get("canonical", "")).encode("utf-8")
        try:
            same = isinstance(record, dict) and canonical_json(record) == canonical
        except CanonicalError:
            same = False
        signed = False
        if key is not None and same:
            try:
                Ed25519PublicKey.from_public_bytes(key).verify(
                    base64.b64decode(label.get("signature", ""), validate=True), canonical)
                signed = True
            except (InvalidSignature, ValueError):
                signed = False
        self.check("label signature (Ed25519 over the canonical record)",
                   signed and record.get("code") == code.upper(),
                   f"key {label.get('key_id')}" if key else "the key is not in the DID document")
        return label

    def verify_credential(self, label: dict) -> None:
        vc = self.get(f"/api/v1/provenance/{label['code']}/credential")
        proof = vc.get("proof") or {}
        key = self.method_key(str(proof.get("verificationMethod")))
        self.check("credential proof (Data Integrity, eddsa-jcs-2022)",
                   key is not None and vc.get("issuer") == self.did
                   and dataintegrity.proof_holds(vc, key), str(proof.get("verificationMethod")))
        subject = vc.get("credentialSubject") or {}
        record = label.get("record") or {}
        self.check("credential subject is the signed record",
                   subject.get("code") == label["code"] and subject.get("record") == record.get(
                       "record") and subject.get("labelSha256") == hashlib.sha256(
                       str(label.get("canonical", "")).encode()).hexdigest())
        status = vc.get("credentialStatus") or {}
        try:
            status_list = self.get(str(status.get("statusListCredential")))
        except Unreachable as exc:
            self.check("status list", False, str(exc))
            return
        list_proof = status_list.get("proof") or {}
        list_key = self.method_key(str(list_proof.get("verificationMethod")))
        self.check("status list credential proof",
                   list_key is not None and status_list.get("issuer") == self.did
                   and dataintegrity.proof_holds(status_list, list_key))
        try:
            encoded = status_list["credentialSubject"]["encodedList"]
            bits = _decode_bits(encoded)
            index = int(status["statusListIndex"])
            revoked = bool(bits[index // 8] & (0x80 >> (index % 8)))
        except (KeyError, ValueError, IndexError, TypeError):
            self.check("revocation status", False, "unreadable status list entry")
            return
        self.check("revocation status", not revoked,
                   "revoked" if revoked else "not revoked")
        if label.get("superseded_by"):
            self.check("not superseded", False, f"superseded by {label['superseded_by']}")

    def verify_checkpoint(self) -> None:
        state = self._state()
        seen = state.get(self.origin) or {}
        vkey = self.get("/api/v1/transparency/key", text=True).strip()
        pinned = seen.get("vkey")
        if not self.check("log key", pinned in (None, vkey),
                          "same as first seen" if pinned else "first seen now, kept"):
            return
        try:
            checkpoint = notes.open_checkpoint(
                self.get("/api/v1/transparency/checkpoint", text=True), vkey)
        except notes.NoteError as exc:
            self.check("checkpoint signature", False, str(exc))
            return
        self.check("checkpoint signature", checkpoint.origin == self.origin,
                   f"tree size {checkpoint.size}")
        if checkpoint.origin != self.origin:
            return
        consistent = True
        if seen.get("size") is not None:
            old_size, old_root = int(seen["size"]), base64.b64decode(seen["root_hash"])
            if checkpoint.size < old_size:
                consistent = False
                detail = f"the log shrank from {old_size} to {checkpoint.size}"
            else:
                proof = self.get(f"/api/v1/transparency/consistency?from={old_size}"
                                 f"&to={checkpoint.size}")
                hashes = [base64.b64decode(h) for h in proof.get("hashes", [])]
                consistent = merkle.verify_consistency(old_size, checkpoint.size, old_root,
                                                       checkpoint.root_hash, hashes)
                detail = f"{old_size} -> {checkpoint.size}"
            self.check("consistent with the last checkpoint seen", consistent, detail)
        if consistent:
            self.checkpoint = checkpoint
            state[self.origin] = {"vkey": vkey, "size": checkpoint.size,
                                  "root_hash": base64.b64encode(checkpoint.root_hash).decode()}
            self._save_state(state)

    def verify_entry(self, name: str, index, expected: bytes | None = None,
                     expect_fields: dict | None = None) -> None:
        if not isinstance(index, int):
            self.check(name, False, "no log index")
            return
        if self.checkpoint is None:
            self.check(name, False, "no verified checkpoint")
            return
        if index >= self.checkpoint.size:
            self.check(name, False, f"entry {index} is newer than the checkpoint "
                                    f"({self.checkpoint.size}); try again in a minute")
            return
        entry = self.get(f"/api/v1/transparency/entries/{index}")
        raw = str(entry.get("entry", "")).encode("utf-8")
        matches = raw == expected if expected is not None else False
        if expect_fields is not None:
            try:
                logged = json.loads(raw)
                matches = all(logged.get(key) == value for key, value in expect_fields.items())
            except ValueError:
                matches = False
        if not matches:
            self.check(name, False, f"log entry {index} records something else")
            return
        proof = self.get(f"/api/v1/transparency/proof?index={index}&size={self.checkpoint.size}")
        hashes = [base64.b64decode(h) for h in proof.get("hashes", [])]
        included = merkle.verify_inclusion(index, self.checkpoint.size, merkle.leaf_hash(raw),
                                           hashes, self.checkpoint.root_hash)
        self.check(name, included, f"entry {index} in the checkpoint of size "
                                   f"{self.checkpoint.size}")

    def verify_label_entry(self, label: dict) -> None:
        self.verify_entry("label issuance in the transparency log", label.get("log_index"),
                          expect_fields={
                              "type": "label_issued", "label_code": label["code"],
                              "key_id": label.get("key_id"), "signature": label.get("signature"),
                              "label_sha256": hashlib.sha256(
                                  str(label.get("canonical", "")).encode()).hexdigest()})

    def verify_piece(self, code: str, serial: str) -> None:
        history = self.get(f"/api/v1/provenance/{code}/pieces/{urllib.parse.quote(serial)}")
        previous = GENESIS
        for event in history.get("events") or []:
            body = {"serial": history.get("serial"), "seq": event.get("seq"),
                    "event_type": event.get("event_type"), "time": event.get("time"),
                    "place": event.get("place"), "data": event.get("data")}
            name = f"{history.get('serial')} #{event.get('seq')} {event.get('event_type')}"
            try:
                digest = hashlib.sha256(previous.encode("ascii") + canonical_json(body)).hexdigest()
            except (CanonicalError, UnicodeEncodeError):
                digest = None
            linked = event.get("prev_hash") == previous and digest == event.get("hash")
            self.check(f"{name}: chain link", linked)
            entry = {"v": 1, "type": "piece_event", "label_code": code, "serial": serial,
                     "prev_head": previous, "event": body, "hash": event.get("hash")}
            try:
                expected = canonical_json(entry)
            except CanonicalError:
                expected = None
            self.verify_entry(f"{name}: in the transparency log", event.get("log_index"),
                              expected=expected)
            previous = str(event.get("hash"))
        self.check(f"{history.get('serial')}: head is the last event",
                   bool(history.get("events")) and history.get("head_hash") == previous)

    def run(self, code: str, serials: list[str]) -> int:
        code = code.strip().upper()
        try:
            label = self.verify_label(code)
            self.verify_credential(label)
            self.verify_checkpoint()
            self.verify_label_entry(label)
            for serial in serials:
                self.verify_piece(code, serial.strip().upper())
        except Unreachable as exc:
            self.out.write(f"FAIL  {exc}\n")
            return 2
        verdict = "all checks hold" if not self.failures else f"{self.failures} check(s) failed"
        self.out.write(f"{code}: {verdict}\n")
        return 0 if not self.failures else 1


def _decode_bits(encoded: str) -> bytes:
    import gzip

    if not encoded.startswith("u"):
        raise ValueError("not multibase base64url")
    text = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sheber-verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("host", help="the marketplace's base URL, e.g. https://sheber.kz")
    parser.add_argument("code", help="the label code")
    parser.add_argument("--serial", action="append", default=[],
                        help="a piece serial under the label (repeatable)")
    parser.add_argument("--state", type=Path, default=None,
                        help=f"where the last checkpoint seen is kept "
                             f"(default {default_state_file()})")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    verifier = Verifier(args.host, state_file=args.state or default_state_file(),
                        timeout=args.timeout)
    return verifier.run(args.code, args.serial)


if __name__ == "__main__":
    sys.exit(main())
