import pytest

from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    yield
