"""Labels as W3C Verifiable Credentials: the eddsa-jcs-2022 cryptosuite byte for byte against
the W3C test vectors, issued credentials verified by Digital Bazaar's implementation, the DID
document and the Bitstring Status List."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from marketplace.extensions import db
from marketplace.provenance import credentials, dataintegrity
from marketplace.provenance.models import LabelStatus, ProvenanceLabel
from marketplace.provenance.signing import canonical_json
from tests.provenance.helpers import PUBLIC_URL, verified_label
from tests.provenance.tools import verify_credentials_with_digital_bazaar

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vc-di-eddsa"
DID = "did:web:sheber.test"


def vector(name: str) -> str:
    return (VECTORS / name).read_text().strip()


def vector_json(name: str):
    return json.loads((VECTORS / name).read_text())


# --- the cryptosuite against the W3C vectors ---------------------------------------------------

def test_eddsa_jcs_2022_matches_the_w3c_test_vectors_byte_for_byte():
    keys = vector_json("keyPair.json")
    private_key = dataintegrity.private_key_from_multikey(keys["privateKeyMultibase"])
    public_raw = private_key.public_key().public_bytes_raw()
    assert dataintegrity.multikey(public_raw) == keys["publicKeyMultibase"]
    assert dataintegrity.public_key_from_multikey(keys["publicKeyMultibase"]) == public_raw

    unsigned = vector_json("unsigned.json")
    config = vector_json("proofConfigJCS.json")
    assert canonical_json(unsigned).decode() == vector("canonDocJCS.txt")
    assert canonical_json(config).decode() == vector("proofCanonJCS.txt")
    assert hashlib.sha256(canonical_json(unsigned)).hexdigest() == vector("docHashJCS.txt")
    assert hashlib.sha256(canonical_json(config)).hexdigest() == vector("proofHashJCS.txt")
    hash_data = dataintegrity.hash_data(unsigned, config)
    assert hash_data.hex() == vector("combinedHashJCS.txt")
    assert private_key.sign(hash_data).hex() == vector("sigHexJCS.txt")

    options = {key: value for key, value in config.items() if key != "@context"}
    signed = dataintegrity.add_proof(unsigned, private_key, options)
    assert signed["proof"]["proofValue"] == vector("sigBTC58JCS.txt")
    assert signed == vector_json("signedJCS.json")
    assert dataintegrity.proof_holds(vector_json("signedJCS.json"), public_raw)


def test_a_changed_vector_no_longer_verifies():
    keys = vector_json("keyPair.json")
    public_raw = dataintegrity.public_key_from_multikey(keys["publicKeyMultibase"])
    signed = vector_json("signedJCS.json")
    for change in (lambda d: d.__setitem__("name", "Forged"),
                   lambda d: d["proof"].__setitem__("created", "2024-01-01T00:00:00Z"),
                   lambda d: d["proof"].__setitem__("@context", ["https://example.test"]),
                   lambda d: d["proof"].__setitem__("proofValue", "z" + "1" * 60)):
        altered = copy.deepcopy(signed)
        change(altered)
        assert not dataintegrity.proof_holds(altered, public_raw)


def test_the_w3c_vector_verifies_with_digital_bazaar_too():
    """The outside implementation itself accepts the vector and refuses a changed one."""
    keys = vector_json("keyPair.json")
    did = f"did:key:{keys['publicKeyMultibase']}"
    method = f"{did}#{keys['publicKeyMultibase']}"
    controller = {"@context": credentials.DID_CONTEXTS, "id": did, "assertionMethod": [method],
                  "verificationMethod": [{"id": method, "type": "Multikey", "controller": did,
                                          "publicKeyMultibase": keys["publicKeyMultibase"]}]}
    signed = vector_json("signedJCS.json")
    altered = copy.deepcopy(signed)
    altered["credentialSubject"]["alumniOf"] = "Another School"
    results = verify_credentials_with_digital_bazaar([controller], [signed, altered])
    assert [r["verified"] for r in results] == [True, False]


# --- issued credentials ----------------------------------------------------------------------

def credential_of(client, code: str) -> dict:
    response = client.get(f"/api/v1/provenance/{code}/credential")
    assert response.status_code == 200
    return response.get_json()


def did_document(client) -> dict:
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200
    return response.get_json()


def test_a_label_is_a_verifiable_credential(client, actors):
    code = verified_label(client, actors)
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    vc = credential_of(client, code)
    assert vc["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert vc["type"] == ["VerifiableCredential", "ProvenanceLabelCredential"]
    assert vc["issuer"] == DID and vc["validFrom"] == label["issued_at"]
    subject = vc["credentialSubject"]
    assert subject["id"] == f"{PUBLIC_URL}/products/{actors.product.id}"
    assert subject["record"] == label["record"]["record"] and subject["code"] == code
    assert subject["labelSha256"] == hashlib.sha256(label["canonical"].encode()).hexdigest()
    status = vc["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == f"{PUBLIC_URL}/api/v1/provenance/status/0"
    assert status["statusListIndex"] == str(label["log_index"])
    proof = vc["proof"]
    assert proof["cryptosuite"] == "eddsa-jcs-2022" and proof["type"] == "DataIntegrityProof"
    assert proof["verificationMethod"] == f"{DID}#{label['key_id']}"
    assert label["credential_url"] == f"{PUBLIC_URL}/api/v1/provenance/{code}/credential"
    # the DID document's key verifies it (with our implementation)
    method = next(m for m in did_document(client)["verificationMethod"]
                  if m["id"] == proof["verificationMethod"])
    public_raw = dataintegrity.public_key_from_multikey(method["publicKeyMultibase"])
    assert dataintegrity.proof_holds(vc, public_raw)
    assert credential_of(client, code) == vc  # kept as issued


def test_issued_credentials_verify_with_digital_bazaar(client, actors, monkeypatch, app):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from marketplace.provenance import signing
    from tests.factories import make_product

    first = verified_label(client, actors)
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY",
                        signing.encode_private_key(Ed25519PrivateKey.generate()))
    second = verified_label(client, actors, "L2", product=make_product(actors.artisan))
    controller = did_document(client)
    assert controller["id"] == DID and len(controller["verificationMethod"]) == 2  # one retired
    assert all(m["type"] == "Multikey" and m["controller"] == DID
               for m in controller["verificationMethod"])
    assert controller["assertionMethod"] == [m["id"] for m in controller["verificationMethod"]]
    issued = [credential_of(client, first), credential_of(client, second)]
    status_list = client.get("/api/v1/provenance/status/0").get_json()
    forged = copy.deepcopy(issued[1])
    forged["credentialSubject"]["record"]["place"]["city"] = "Bishkek"
    results = verify_credentials_with_digital_bazaar([controller],
                                                     [*issued, status_list, forged])
    assert [r["verified"] for r in results] == [True, True, True, False], results


def test_revocation_sets_the_labels_bit_in_the_signed_status_list(client, actors):
    code = verified_label(client, actors)
    vc = credential_of(client, code)
    index = int(vc["credentialStatus"]["statusListIndex"])

    def bit() -> bool:
        response = client.get("/api/v1/provenance/status/0")
        assert response.status_code == 200
        status_list = response.get_json()
        assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        assert status_list["issuer"] == DID
        subject = status_list["credentialSubject"]
        assert subject["statusPurpose"] == "revocation" and subject["type"] == "BitstringStatusList"
        method = next(m for m in did_document(client)["verificationMethod"]
                      if m["id"] == status_list["proof"]["verificationMethod"])
        assert dataintegrity.proof_holds(
            status_list, dataintegrity.public_key_from_multikey(method["publicKeyMultibase"]))
        bits = credentials.decode_bits(subject["encodedList"])
        assert len(bits) * 8 == credentials.LIST_SIZE  # 16 KiB: the specification's minimum
        return credentials.bit_is_set(bits, index)

    assert bit() is False
    client.post(f"/api/v1/operator/provenance/{actors.product.id}/revoke",
                json={"reason": "Doubtful."}, headers=actors.operator_headers)
    assert bit() is True
    label = client.get(f"/api/v1/provenance/{code}").get_json()
    assert label["valid"] is False and label["signature_valid"] is True


@pytest.mark.parametrize("list_id", ["1", "-1", "x", "99999999999", "16383", "16384", "38805",
                                     "999999999"])
def test_unknown_status_lists_are_404(client, actors, list_id):
    verified_label(client, actors)
    response = client.get(f"/api/v1/provenance/status/{list_id}")
    assert response.status_code == 404
    assert response.get_json()["code"] == "provenance.status_list_not_found"


def test_a_label_past_the_32_bit_range_has_its_bit_in_a_far_status_list(client, actors):
    code = verified_label(client, actors)
    far = 2**40 + 9  # list 8388608, bit 9
    db.session.execute(update(ProvenanceLabel).where(ProvenanceLabel.code == code)
                       .values(log_index=far, status=LabelStatus.REVOKED))
    db.session.commit()
    list_id, index = credentials.status_position(far)
    response = client.get(f"/api/v1/provenance/status/{list_id}")
    assert response.status_code == 200, response.get_json()
    bits = credentials.decode_bits(response.get_json()["credentialSubject"]["encodedList"])
    assert credentials.bit_is_set(bits, index) and not credentials.bit_is_set(bits, index - 1)
    assert client.get(f"/api/v1/provenance/status/{list_id + 1}").status_code == 404


def test_bitstring_encoding_follows_the_specification():
    bits = bytearray(credentials.LIST_SIZE // 8)
    bits[0] = 0b1000_0001  # index 0 is the first byte's most significant bit
    decoded = credentials.decode_bits(credentials.encode_bits(bits))
    assert credentials.bit_is_set(decoded, 0) and credentials.bit_is_set(decoded, 7)
    assert not credentials.bit_is_set(decoded, 1)
    assert credentials.encode_bits(bits).startswith("u")
    assert credentials.encode_bits(bits) == credentials.encode_bits(bytearray(bits))
