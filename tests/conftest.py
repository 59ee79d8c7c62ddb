"""Session set-up: Ctrl-C is live in the test process, and the check that the notebooks nbval executed reproduce
``reports/default`` runs after them."""

from __future__ import annotations

import signal

import pytest

# A shell without job control starts background commands with SIGINT ignored, and Python then never raises
# KeyboardInterrupt (nor do the processes it starts). The interrupt tests need SIGINT as a terminal delivers it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

NOTEBOOKS_RUN = pytest.StashKey[set[str]]()
"""Stems of the notebooks nbval executes in this session."""
LAST = "test_default_profile_tables_are_reproduced"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Record which notebooks nbval runs, and move the reproduction check after them."""
    config.stash[NOTEBOOKS_RUN] = {item.path.stem for item in items if item.path.suffix == ".ipynb"}
    last = [item for item in items if item.name == LAST]
    items[:] = [item for item in items if item.name != LAST] + last


@pytest.fixture
def notebooks_run(request: pytest.FixtureRequest) -> set[str]:
    """Stems of the notebooks nbval executes in this session (empty when it runs none)."""
    return request.config.stash.get(NOTEBOOKS_RUN, set())


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest (and steadiest on a shared machine) on one CPU thread; a module opts in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``. torch is imported here, not at the top, so that tests of
    torch-free imports see a clean process."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
