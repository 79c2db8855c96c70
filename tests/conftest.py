"""pytest options shared by the test suite."""
import os
import pytest

# Test workers run side by side (pytest -n 2): one torch thread each, or their OpenMP threads spin-wait on each other
# (tradebot.agents.thread_budget). Notebooks and CLI subprocesses inherit it.
os.environ.setdefault("TRADEBOT_MAX_THREADS", "1")


def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False,
                     help='also run cells marked `#| slow` (long training); runs only notebooks that have them')


@pytest.fixture
def slow(request):
    return request.config.getoption('--slow')
