"""JSON columns are read with ``extensions.load_stored_json``: json.loads' scanner without its
wrapper, giving what json.loads gives for every input, values the app stored and others."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from marketplace.catalog.models import Product
from marketplace.extensions import db, load_stored_json
from tests.factories import make_artisan, make_product

SAME_AS_JSON_LOADS = [
    '{"en": "Felt bowl", "ru": "Войлочная пиала", "kk": "Киіз кесе"}',
    '["wool", "camel wool"]', "{}", "[]", '""', "null", "true", "0", "-12.5e3",
    "12345678901234567890", '{"a": {"b": [1, 2.0, null, "\\u00e9\\n\\"q\\""]}}',
    "NaN", "Infinity",
    # not as json.dumps writes them: whitespace around or inside
    ' {"a": 1}', '{"a": 1} ', '\n[1,2]\n', '{ "a" : [ 1 , 2 ] }',
]


@pytest.mark.parametrize("text", SAME_AS_JSON_LOADS)
def test_it_reads_what_json_loads_reads_from_text_and_from_utf8_bytes(text):
    expected = json.loads(text)
    for data in (text, text.encode(), bytearray(text.encode()), memoryview(text.encode())):
        value = load_stored_json(data)
        assert value == expected or (value != value and expected != expected)  # NaN
        assert type(value) is type(expected)


@pytest.mark.parametrize("text", ["", " ", "nope", '{"a": 1} x', "[1, 2", '{"a": 1}}', "1 2"])
def test_it_refuses_what_json_loads_refuses(text):
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        load_stored_json(text)
    with pytest.raises(json.JSONDecodeError):
        load_stored_json(text.encode())


def test_the_engine_reads_json_columns_with_it(app):
    assert db.engine.dialect._json_deserializer is load_stored_json
    title = {"en": "Felt bowl \"tulpar\"", "ru": "Войлочная пиала", "kk": "Киіз кесе"}
    product = make_product(make_artisan(), title=title, materials=["camel wool", "silk"])
    product_id = product.id
    db.session.commit()
    db.session.expunge_all()  # read from the database, not the identity map
    row = db.session.execute(select(Product.title, Product.materials)
                             .where(Product.id == product_id)).one()
    assert row.title == title
    assert row.materials == ["camel wool", "silk"]
