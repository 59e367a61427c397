"""Headless Chromium for the browser tests (the course site, and the student's path in JupyterLab): Debian's
``chromium`` and, for WebDriver, its ``chromium-driver`` (the same version by construction, nothing downloaded).

A missing package is installed when it can be (apt-get as root or with passwordless sudo). Where it cannot, the test
skips and says why, except in CI (``CI`` or ``SRLORA_REQUIRE_BROWSER`` set), where a missing browser fails."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

#: Program -> the Debian package that provides it.
PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver"}


def in_ci() -> bool:
    """True in CI, where a browser test must run, never skip."""
    return bool(os.environ.get("CI") or os.environ.get("SRLORA_REQUIRE_BROWSER"))


def _apt_install(package: str) -> None:
    """``apt-get install package`` as root or with passwordless sudo; silently nothing otherwise."""
    if not shutil.which("apt-get"):
        return
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt (unattended upgrades) may hold the lock a while
    for cmd in (["apt-get", *wait, "update", "-qq"], ["apt-get", *wait, "install", "-y", "-qq", package]):
        subprocess.run(prefix + cmd, env=env, capture_output=True, timeout=900)


def require(program: str) -> str:
    """The path of ``program`` (``chromium`` or ``chromedriver``), installed first if needed and possible; else the
    test skips (outside CI) or fails (in CI). Test workers install one at a time (apt holds one lock: a second
    apt-get fails at once instead of waiting)."""
    names = [program, "chromium-browser"] if program == "chromium" else [program]
    found = next((p for p in map(shutil.which, names) if p), None)
    if not found:
        with open(Path(tempfile.gettempdir()) / "srlora-browser-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = next((p for p in map(shutil.which, names) if p), None)  # another worker may have installed it
            if not found:
                _apt_install(PACKAGES[program])
                found = next((p for p in map(shutil.which, names) if p), None)
    if not found:
        reason = f"{program} is not installed and could not be (needs apt-get as root or with sudo)"
        if in_ci():
            pytest.fail(f"{reason}; CI requires it")
        pytest.skip(f"{reason}: `apt-get install {PACKAGES[program]}` to run this test")
    return found


def image_outputs(nb_path) -> int:
    """How many figures (PNG, SVG or JPEG outputs) a notebook file stores."""
    nb = nbformat.read(nb_path, as_version=4)
    kinds = ("image/png", "image/svg+xml", "image/jpeg")
    return sum(any(k in o.get("data", {}) for k in kinds) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
