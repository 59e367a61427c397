"""pytest at the repository root. ``make test`` runs the suite on several workers (pytest-xdist, ``--dist loadgroup``):
every cell of one notebook must run on the same worker, in order, in that notebook's one kernel, so each notebook's
nbval items form one group; every other test is scheduled on its own."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path, sep, _ = item.nodeid.partition(".ipynb::")
        if sep:
            item.add_marker(pytest.mark.xdist_group(path))
