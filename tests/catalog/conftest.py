from __future__ import annotations

import copy
import io

import pytest
from argon2 import PasswordHasher
from PIL import Image
from sqlalchemy import func, select

from marketplace.accounts import service as accounts
from marketplace.extensions import db


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    # Still argon2id, at the lowest cost: these tests make many users, none is about passwords.
    monkeypatch.setattr(accounts, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

PRODUCT_BODY = {
    "title": {"en": "Felted syrmaq rug", "ru": "Войлочный сырмак", "kk": "Киіз сырмақ"},
    "description": {"en": "Mosaic felt rug with the qoshqar müiz ornament.",
                    "ru": "Мозаичный войлочный ковёр с орнаментом «кошкар мюйиз».",
                    "kk": "Қошқар мүйіз өрнекті сырмақ."},
    "craft": "felt",
    "materials": ["Sheep wool", "natural dyes"],
    "techniques": ["felting", "mosaic inlay"],
    "price": {"amount": 12000000, "currency": "KZT"},
    "stock": 2,
    "weight_g": 3500,
    "dimensions_mm": {"l": 1200, "w": 300, "h": 300},
}


@pytest.fixture
def product_body():
    return copy.deepcopy(PRODUCT_BODY)


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(buffer, format=kind)
    return buffer.getvalue()


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()
