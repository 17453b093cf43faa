"""Builders for provenance tests: a full record, actors, submit and approve via the API."""

from __future__ import annotations

import copy

from tests.factories import auth_headers, make_artisan, make_operator, make_product

PUBLIC_URL = "https://sheber.test"

FULL_RECORD = {
    "makers": [
        {"name": "Aigerim Nurlanovna", "kind": "artisan", "role": "master",
         "place": {"city": "Almaty", "country": "KZ"}},
        {"name": "Zhetysu Wool Cooperative", "kind": "production_partner", "role": "wool carding",
         "place": {"city": "Taldykorgan", "region": "Zhetysu", "country": "kz"}},
    ],
    "place": {"city": "Almaty", "region": "Almaty", "country": "KZ"},
    "craft": "ceramics",
    "techniques": ["wheel-throwing", "sgraffito"],
    "materials": [
        {"name": "red clay", "origin": {"country": "KZ", "region": "Almaty Region"}},
        {"name": "silver", "origin": {"country": "KZ"}, "precious_metal": True,
         "fineness": 925, "hallmark": "925 KZ assay"},
    ],
    "dyes": [{"name": "madder root", "kind": "natural"}],
    "when": {"availability": "ready", "started_on": "2025-09-01", "finished_on": "2025-09-20",
             "hours": 12},
    "hand_work_share": 95,
    "design": {"origin": "traditional", "motif": "қошқар мүйіз"},
    "lineage": [{"master": "Serik Ospanov", "apprentice": "Aigerim Nurlanovna",
                 "since_year": 2012}],
    "certifications": [{"scheme": "Award of Excellence for Handicrafts", "issuer": "Test Council",
                        "reference": "TEST-001", "valid_until": "2040-12-31"}],
    "cultural_value": False,
}

EVIDENCE = [{"type": "studio_visit", "note": "Visited the workshop; wheel and kiln seen."},
            {"type": "material_receipt", "note": "Silver bought from the assay office.",
             "url": "https://example.test/receipt/1"}]
ATTESTATION = {"scheme": "Craft guild membership", "issuer": "Almaty Craft Guild",
               "reference": "GUILD-2025-014"}


def full_record(**changes) -> dict:
    record = copy.deepcopy(FULL_RECORD)
    record.update(changes)
    return record


class Actors:
    def __init__(self):
        self.artisan = make_artisan(name="Aigerim Nurlanovna")
        self.operator = make_operator()
        self.product = make_product(self.artisan)
        self.artisan_headers = auth_headers(self.artisan)
        self.operator_headers = auth_headers(self.operator)


def submit(client, actors: Actors, record: dict | None = None, product=None) -> None:
    product = product or actors.product
    put = client.put(f"/api/v1/products/{product.id}/provenance", json=record or full_record(),
                     headers=actors.artisan_headers)
    assert put.status_code == 200, put.get_json()
    sent = client.post(f"/api/v1/products/{product.id}/provenance/submit",
                       headers=actors.artisan_headers)
    assert sent.status_code == 200, sent.get_json()


def approve(client, actors: Actors, level: str = "L1", product=None) -> str:
    product = product or actors.product
    body = {"decision": "approve", "level": level, "evidence": EVIDENCE, "note": "ok"}
    if level == "L2":
        body["attestation"] = ATTESTATION
    response = client.post(f"/api/v1/operator/provenance/{product.id}/decision", json=body,
                           headers=actors.operator_headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["label_code"]


def verified_label(client, actors: Actors, level: str = "L1", product=None) -> str:
    submit(client, actors, product=product)
    return approve(client, actors, level, product=product)
