"""No input reaches a 500: every operation of the served OpenAPI document (read at run time, so
an endpoint added tomorrow is fuzzed too) is called with generated path parameters, query
strings and JSON bodies, anonymously and as a buyer, an artisan and an operator, on whichever
database the suite runs on. Any 5xx fails the test with the request that caused it.

First each operation gets the inputs that used to reach a 500 (JSON nested 1000 deep, NUL in
the path, the query and the body, integers beyond 64 bits, a JSON array, a cursor with a huge
number), then hypothesis generates the rest. The figures (requests tried, statuses seen) are
printed at the end: ``pytest -s tests/test_fuzz.py``."""

from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from marketplace.accounts import service as accounts
from marketplace.http import encode_cursor
from tests.factories import make_artisan, make_buyer, make_operator, make_product

EXAMPLES_PER_OPERATION = 12  # per principal, after the fixed cases
HUGE = 2**70

# every code point hypothesis can draw, control characters and NUL included
TEXT = st.text(max_size=24)
NUMBERS = st.integers(min_value=-HUGE, max_value=HUGE) | st.floats(allow_nan=False,
                                                                  allow_infinity=False)
LEAF = st.none() | st.booleans() | NUMBERS | TEXT
JSON_VALUES = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)
CURSORS = st.lists(LEAF, max_size=4).map(encode_cursor)

FIXED_BODIES: list[tuple[str, bytes | str]] = [
    ("application/json", "[" * 1000 + "]" * 1000),
    ("application/json", '{"a":' * 1000 + "1" + "}" * 1000),
    ("text/plain", "[" * 1000 + "]" * 1000),  # a view that parses whatever it is sent
    ("application/json", "[]"),
    ("application/json", '"just a string"'),
    ("application/json", '{"email": "a\\u0000@example.test", "password": "x\\u0000"}'),
    ("application/json", json.dumps({"amount": {"amount": HUGE, "currency": "KZT"}})),
    ("application/json", '{"amount": NaN, "x": Infinity}'),
    ("application/json", "\xff\xfe not json"),
    ("application/x-www-form-urlencoded", "email=a%00b&password=%00"),
]
FIXED_PATH_VALUES = ["\x00", "%00", "a\x00b", str(HUGE), "-1", "\r\n", "é" * 300, "..", " "]
FIXED_QUERIES = [
    {"material": "\x00"}, {"technique": "a\x00"}, {"artisan": "\x00"}, {"q": "\x00"},
    {"cursor": encode_cursor(["price_asc", HUGE, "x"])},
    {"cursor": encode_cursor(["newest", "2026-01-01T00:00:00", HUGE])},
    {"cursor": encode_cursor([HUGE, HUGE])}, {"cursor": "%%%"}, {"limit": str(HUGE)},
    {"min_price": str(HUGE)}, {"max_price": str(-HUGE)}, {"page": str(HUGE)},
    {"next": "/\r//evil.example"},
]


class Tally:
    def __init__(self):
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def record(self, method: str, url: str, response, body=None) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} {method} {url} body={body!r:.300}: "
                                 f"{response.get_data(as_text=True)[:300]}")


@pytest.fixture
def seeded():
    artisan = make_artisan()
    product = make_product(artisan, stock=3)
    return {"artisan": artisan, "buyer": make_buyer(), "operator": make_operator(),
            "ids": [product.id, artisan.id]}


def _operations(client) -> list[tuple[str, str, dict]]:
    document = client.get("/api/openapi.json").get_json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, operation))
    return found


def _body_properties(operation: dict) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return list(schema.get("properties", {}))


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda match: quote(values[match.group(1)], safe=""), path)


_tokens: dict[str, str] = {}


def _headers(principal) -> dict[str, str]:
    if principal is None:
        return {}
    if principal.id not in _tokens:
        _tokens[principal.id] = accounts.issue_token(principal)
    return {"Authorization": f"Bearer {_tokens[principal.id]}"}


def _call(client, tally: Tally, method: str, url: str, principal, *, content_type=None,
          data=None):
    headers = _headers(principal)
    if url.startswith("/api/v1/auth/"):
        _tokens.clear()  # the call may revoke the caller's tokens: take fresh ones after it
    if content_type:
        headers["Content-Type"] = content_type
    response = client.open(url, method=method, headers=headers, data=data)
    tally.record(method, url, response, data)
    return response


def _fuzz(client, tally, method, path, principal, path_values, queries, bodies) -> None:
    @given(values=path_values, query=queries, body=bodies)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def fuzz(values, query, body):
        url = _fill(path, values)
        if query:
            url += "?" + urlencode(query)
        if method == "GET":
            _call(client, tally, method, url, principal)
        else:
            _call(client, tally, method, url, principal,
                  content_type="application/json", data=json.dumps(body))

    fuzz()


def test_no_input_reaches_a_server_error(app, client, seeded, capsys):
    _tokens.clear()
    tally = Tally()
    operations = _operations(client)
    assert len(operations) >= 40
    principals = {"anonymous": None, "buyer": seeded["buyer"], "artisan": seeded["artisan"],
                  "operator": seeded["operator"]}
    known = st.sampled_from(seeded["ids"])
    path_values = known | TEXT.filter(bool) | st.sampled_from(FIXED_PATH_VALUES) | st.integers(
        min_value=-HUGE, max_value=HUGE).map(str)

    for method, path, operation in operations:
        names = re.findall(r"{(\w+)}", path)
        query_names = [parameter["name"] for parameter in operation.get("parameters", [])
                       if parameter.get("in") == "query"]
        properties = _body_properties(operation)
        seeded_path = _fill(path, {name: seeded["ids"][0] for name in names})
        # anonymous (the edge and the auth checks) and each role the operation admits
        roles = re.search(r"Signed in as: ([\w ]+)\.", operation.get("description", ""))
        admitted = ([None] + [principals[role] for role in roles.group(1).split(" or ")
                              if role in principals] if roles and roles.group(1) != "anyone"
                    else list(principals.values()))
        for principal in admitted:
            # the inputs that once reached a 500
            for value in FIXED_PATH_VALUES:
                _call(client, tally, method, _fill(path, dict.fromkeys(names, value)),
                      principal)
            for query in FIXED_QUERIES if method == "GET" else FIXED_QUERIES[:2]:
                _call(client, tally, method, f"{seeded_path}?{urlencode(query)}", principal)
            if method != "GET":
                for content_type, body in FIXED_BODIES:
                    _call(client, tally, method, seeded_path, principal,
                          content_type=content_type, data=body)

            queries = st.dictionaries(st.sampled_from(query_names + ["cursor", "next", "x"]),
                                      TEXT | CURSORS | NUMBERS.map(str), max_size=4)
            bodies = (st.fixed_dictionaries({}, optional=dict.fromkeys(properties, JSON_VALUES))
                      if properties else JSON_VALUES)

            _fuzz(client, tally, method, path, principal,
                   st.fixed_dictionaries(dict.fromkeys(names, path_values)), queries, bodies)

    total = sum(tally.statuses.values())
    with capsys.disabled():
        print(f"\nfuzz: {len(operations)} operations, {total} requests, statuses "
              + ", ".join(f"{status}×{count}" for status, count in sorted(tally.statuses.items())))
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert not any(status >= 500 for status in tally.statuses)
