"""The canonical form we sign is RFC 8785 for the values we allow."""

from __future__ import annotations

import pytest

from marketplace.provenance.signing import CanonicalError, canonical_json


def test_sorted_keys_no_spaces_utf8_unescaped():
    value = {"b": [1, True, None], "a": {"z": "қошқар", "y": "line\nbreak \"q\""}, "€": 0}
    assert canonical_json(value) == (
        '{"a":{"y":"line\\nbreak \\"q\\"","z":"қошқар"},"b":[1,true,null],"€":0}'
    ).encode()


def test_control_characters_are_escaped_as_rfc_8785_does():
    assert canonical_json("\x01\x1f\t") == b'"\\u0001\\u001f\\t"'


@pytest.mark.parametrize("value", [1.5, {"x": 2.0}, [float("nan")], 2**53, {1: "a"},
                                   {"when": object()}])
def test_values_outside_the_interoperable_subset_are_refused(value):
    with pytest.raises(CanonicalError):
        canonical_json(value)
