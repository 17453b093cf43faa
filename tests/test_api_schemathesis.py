"""Schemathesis over the whole API, writes included, with ``not_a_server_error``: every operation
of the served OpenAPI document (GET, POST, PUT, PATCH, DELETE) is called as a signed-in buyer,
artisan and operator on the conformance test's seeded rows (a verified product, a paid, shipped
and partly refunded order, a label with a flag, a commission, a payout batch), with bodies,
queries and path parameters schemathesis draws from the document, both ones that conform
(positive) and ones that break it (negative), and on generated ids. No answer may be a 5xx.

Stripe calls go to the emulator the fixtures start. Each call gets a fresh token, since some
operations end the caller's tokens (sign out everywhere). The figures (operations, calls,
statuses seen) are printed at the end: ``pytest -s tests/test_api_schemathesis.py``."""

from __future__ import annotations

import re
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)
from tests.factories import auth_headers
from tests.test_api_conformance import (  # noqa: F401  (_signing_key_and_carrier: a fixture)
    _seed,
    _signing_key_and_carrier,
)

# per operation, role and mode: on the seeded ids, and on generated ids where the path has some;
# bounded so the test takes about two minutes of the suite on an idle two-core machine
SEEDED_EXAMPLES = 4
RANDOM_ID_EXAMPLES = 1
REFUSED_ROLE_EXAMPLES = 1
ROLES = ("buyer", "artisan", "operator")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class Calls:
    def __init__(self):
        self.statuses: Counter[int] = Counter()
        self.by_method: Counter[str] = Counter()
        self.failures: list[str] = []
        self.nothing_negative: set[str] = set()


def _admitted_roles(operation) -> set[str]:
    """The roles the document says may call the operation ("Signed in as: buyer or artisan.");
    all of them for one open to anyone or signed-in users of any role."""
    found = re.search(r"Signed in as: ([\w ]+)\.", operation.definition.raw.get("description", ""))
    if not found or found.group(1) == "anyone":
        return set(ROLES)
    return {role for role in found.group(1).split(" or ") if role in ROLES} or set(ROLES)


def _run(operation, users: dict, role: str, calls: Calls, path_parameters, mode, examples):
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case):
        headers = auth_headers(users[role])  # fresh: the last call may have revoked the token
        response = case.call(headers=headers)
        calls.statuses[response.status_code] += 1
        calls.by_method[operation.method.upper()] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
        except Exception as exc:
            calls.failures.append(f"as the {role}: {operation.label} {mode.value}: "
                                  f"{case.as_curl_command()}\n{exc}"[:1500])

    try:
        run()
    except Unsatisfiable:
        # nothing of this operation can break the document (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, operation.label
        calls.nothing_negative.add(operation.label)


def test_no_operation_answers_a_server_error_for_any_role(app, client, stripe_webhooks,
                                                          fixed_rates, capsys):  # noqa: F811
    from marketplace.accounts.models import User
    from marketplace.extensions import db

    headers, ids = _seed(client)
    users = {}
    for role, role_headers in headers.items():
        from marketplace.accounts import service as accounts

        token = role_headers["Authorization"].split(" ", 1)[1]
        users[role] = db.session.get(User, accounts.user_for_token(token).id)
    document = client.get("/api/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sum(op.method.upper() in WRITES for op in operations) >= 40

    calls = Calls()
    for operation in operations:
        names = re.findall(r"{(\w+)}", operation.path)
        seeded = {name: ids[name] for name in names if name in ids} or None
        admitted = _admitted_roles(operation)
        for role in users:
            # a role the operation does not admit meets the guard: a few calls show it holds
            examples = SEEDED_EXAMPLES if role in admitted else REFUSED_ROLE_EXAMPLES
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _run(operation, users, role, calls, seeded, mode, examples)
                if names and role in admitted:
                    _run(operation, users, role, calls, None, mode, RANDOM_ID_EXAMPLES)

    total = sum(calls.statuses.values())
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {total} calls ("
              + ", ".join(f"{method} {count}" for method, count in sorted(calls.by_method.items()))
              + "), statuses " + ", ".join(f"{status}×{count}" for status, count
                                           in sorted(calls.statuses.items())))
    assert not calls.failures, "\n\n".join(calls.failures[:15])
    assert all(status < 500 for status in calls.statuses)
