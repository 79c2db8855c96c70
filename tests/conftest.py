"""pytest options shared by the test suite."""
import pytest


def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False,
                     help='also run cells marked `#| slow` (long training); runs only notebooks that have them')


@pytest.fixture
def slow(request):
    return request.config.getoption('--slow')
