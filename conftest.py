"""pytest at the repository root. ``make test`` runs the suite on several workers (pytest-xdist). Every cell of one
notebook must run on the same worker, in order, in that notebook's one kernel, and the course-site tests share one
build of the site; every other test is scheduled on its own.

xdist's own ``--dist loadgroup`` would do this from ``xdist_group`` marks, but with pytest 9.2 and xdist 3.8 it does
nothing: it renames each item's ``_nodeid``, which pytest 9.2 no longer reads. So the grouping is a scheduler of its
own (xdist's ``pytest_xdist_make_scheduler`` hook): xdist's scope scheduling, with a scope per notebook and per
grouped module, and one per test otherwise. ``tests/test_packaging.py`` checks that it groups as intended.
"""

from __future__ import annotations

#: Test modules whose tests must share one worker (they share a module-scoped build: the site, the installed wheel).
GROUPED_MODULES = ("tests/test_book.py", "tests/test_installed_kit.py")


def work_unit(nodeid: str) -> str:
    """The scheduling unit of a test: its notebook for a notebook cell, its module for a grouped module, else itself."""
    path, sep, _ = nodeid.partition(".ipynb::")
    if sep:
        return path + ".ipynb"
    module = nodeid.partition("::")[0]
    return module if module in GROUPED_MODULES else nodeid


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)
