import pytest
from argon2 import PasswordHasher

from marketplace.accounts import service as accounts


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    # Still argon2id, at the lowest cost: these tests make users, none is about passwords.
    monkeypatch.setattr(accounts, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
