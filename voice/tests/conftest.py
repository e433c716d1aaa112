import pytest

from voice.gateway import reset_breakers
from voice.tests.mistral_standin import no_proxy, stand_in  # noqa: F401 - shared fixtures


@pytest.fixture(autouse=True)
def _closed_circuit_breakers():
    """Start each test with every provider's circuit closed (breakers are process-wide).

    The project's conftest does the same; this one lets voice/tests run alone, without Django.
    """
    reset_breakers()
    yield
    reset_breakers()
