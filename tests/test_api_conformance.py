"""Does every GET answer as the served OpenAPI document says? Schemathesis calls each one on the
WSGI app as a signed-in buyer, artisan and operator, on seeded rows (a verified product, a paid,
shipped and partly refunded order, a label with a piece and a flag, a payout batch) and on
generated ids and queries, and checks the schema, the status code and the content type.

The document's catch-all ``default`` response is left out here, so a status code the
operation does not name (a 500, an undocumented 409) fails the check."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace import schemas
from marketplace.extensions import db
from marketplace.orders.models import Order, TaxDocument
from marketplace.payouts import service as payouts
from marketplace.provenance.models import ProvenanceLabel, ProvenancePiece
from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)
from tests.factories import auth_headers, make_operator, make_product
from tests.payouts.helpers import artisan_with_account, deliver, paid_order, piece
from tests.shipping.conftest import CARRIER_SECRET
from tests.shipping.flow import (
    fulfilments,
    pack_every_box,
    paid,
    request_shipment,
    run_label_tasks,
    shipment_of,
    verified_product,
)

CHECKS = [response_schema_conformance, status_code_conformance, content_type_conformance,
          not_a_server_error]
GENERATED_EXAMPLES = 8  # per operation and role, on the seeded ids
RANDOM_ID_EXAMPLES = 3  # per operation and role, on generated ids (mostly 404s)


@pytest.fixture(autouse=True)
def _signing_key_and_carrier(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PROVENANCE_KEY_FILE", str(tmp_path / "signing_key"))
    monkeypatch.setitem(app.config, "PROVENANCE_SIGNING_KEY", None)
    monkeypatch.setitem(app.config, "TRANSPARENCY_KEY_FILE", str(tmp_path / "log_key"))
    monkeypatch.setitem(app.config, "CARRIER_WEBHOOK_SECRETS", {"sheber-post": CARRIER_SECRET})


@pytest.fixture(autouse=True)
def _bodies_read_in_one_pass_are_the_models_dumps(monkeypatch):
    """Every body read in one pass (``schemas.body_validator``) is checked against the model's
    own validate-then-dump: the same dict, the same JSON."""
    one_pass, compared = schemas._body, []

    def checked(model, data):
        body = one_pass(model, data)
        if schemas.body_validator(model) is not None:
            expected = model.model_validate(data).model_dump(mode="json", exclude_unset=True)
            assert body == expected, model.__name__
            assert json.dumps(body, sort_keys=True) == json.dumps(expected, sort_keys=True)
            compared.append(model)
        return body

    monkeypatch.setattr(schemas, "_body", checked)
    yield
    assert len(set(compared)) >= 10  # the bodies of many models, the catalogue's among them
    assert {"ProductPage", "ProductOut"} <= {model.__name__ for model in compared}


def _seed(client) -> tuple[dict[str, dict], dict[str, str]]:
    """Rows for every GET to find; returns (role → auth headers, path parameter → value)."""
    artisan = artisan_with_account("Aigerim Ceramics")
    operator = make_operator()
    operator_headers = auth_headers(operator)
    product = verified_product(client, artisan, operator, stock=5)
    make_product(artisan, stock=0, status="archived")
    order_id, _buyer, buyer_headers = paid(client, (product, 2))
    pack_every_box(client, order_id)
    assert request_shipment(client, operator_headers, order_id).status_code == 202
    assert run_label_tasks() == 1
    order = db.session.get(Order, order_id)
    refunded = client.post(f"/api/v1/operator/orders/{order_id}/refunds",
                           headers=operator_headers,
                           json={"amount": {"amount": 500, "currency": order.currency},
                                 "reason": "a chipped rim"})
    assert refunded.status_code == 201, refunded.get_json()
    label = db.session.execute(db.select(ProvenanceLabel)).scalars().one()
    serial = db.session.execute(db.select(ProvenancePiece.serial)).scalars().first()
    flagged = client.post(f"/api/v1/provenance/{label.code}/flags", headers=buyer_headers,
                          json={"reason": "The glaze looks machine-made."})
    assert flagged.status_code == 201, flagged.get_json()
    asked = client.post("/api/v1/commissions", headers=buyer_headers, json={
        "artisan_id": artisan.id, "description": "A larger bowl with a blue rim"})
    assert asked.status_code == 201, asked.get_json()

    delivered = paid_order((piece(artisan, 1_500_000), 1, 2_700))
    payouts.record_order(delivered.id)
    deliver(delivered, days_ago=30)
    run = client.post("/api/v1/operator/payouts/batches", headers=operator_headers, json={})
    assert run.status_code == 201, run.get_json()

    assert fulfilments(order_id)
    headers = {"buyer": buyer_headers, "artisan": auth_headers(artisan),
               "operator": operator_headers}
    ids = {"artisan_id": artisan.id, "product_id": product.id, "order_id": order_id,
           "shipment_id": shipment_of(order_id).id, "batch_id": run.get_json()["batch"]["id"],
           "name": "transfers.csv", "code": label.code, "serial": serial, "list_id": "0",
           "index": "0", "conversation_id": asked.get_json()["conversation_id"],
           "commission_id": asked.get_json()["id"],
           # the refund's credit note
           "number": db.session.execute(db.select(TaxDocument.number).where(
               TaxDocument.order_id == order_id,
               TaxDocument.kind == "credit_note")).scalar_one()}
    return headers, ids


def _without_default_responses(document: dict) -> dict:
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].pop("default", None)
    return document


def _check(operation, headers: dict, path_parameters: dict | None, examples: int) -> None:
    @given(case=operation.as_strategy(path_parameters=path_parameters))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def test_every_get_answers_as_documented_for_each_role(app, client, stripe_webhooks,
                                                       fixed_rates):  # noqa: F811
    headers, ids = _seed(client)
    document = _without_default_responses(client.get("/api/openapi.json").get_json())
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    gets = [operation for operation in operations if operation.method.upper() == "GET"]
    assert len(gets) >= 20

    for role, role_headers in headers.items():
        for operation in gets:
            names = re.findall(r"{(\w+)}", operation.path)
            seeded = {name: ids[name] for name in names}
            try:
                explicit = operation.Case(path_parameters=seeded)
                response = explicit.call(headers=role_headers)
                explicit.validate_response(response, checks=CHECKS, headers=role_headers)
                _check(operation, role_headers, seeded or None, GENERATED_EXAMPLES)
                if names:
                    _check(operation, role_headers, None, RANDOM_ID_EXAMPLES)
            except Exception as exc:
                exc.add_note(f"as the {role}: {operation.label}")
                raise
