"""pytest options shared by the test suite."""
import os, tempfile
import pytest

# Test workers run side by side (pytest -n 2): one torch thread each, or their OpenMP threads spin-wait on each other
# (tradebot.compute.thread_budget). Notebooks and CLI subprocesses inherit it.
os.environ.setdefault("TRADEBOT_MAX_THREADS", "1")

# Notebooks run with nbs/ as the working directory; hypothesis would keep its example database in nbs/.hypothesis.
# Tests leave no files in the source tree: the database goes to a temporary folder instead.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "tradebot-hypothesis"))


def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False,
                     help='also run cells marked `#| slow` (long training); runs only notebooks that have them')


@pytest.fixture
def slow(request):
    return request.config.getoption('--slow')
