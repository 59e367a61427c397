"""Executing a notebook as ``make notebooks`` does: papermill through its Python API, in the notebook's own folder,
with the kernel talking over IPC (Unix sockets in a temporary folder of its own, so that parallel jobs never share
one). Over plain TCP, ipykernel >= 7 logs "Kernel is running over TCP without encryption" at every start; papermill's
command line cannot pass jupyter_client's settings. The kernel logs at CRITICAL only: at shutdown jupyter_client may
interrupt an idle kernel, which ipykernel then reports as an error ("KeyboardInterrupt caught in kernel") although
nothing failed; a cell that fails still fails the run (papermill raises), so no error is hidden.

Use: ``python -m srlora_utils.course.execute SOURCE.ipynb OUTPUT.ipynb``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def execute(source: str | Path, output: str | Path) -> None:
    """Execute notebook ``source`` top to bottom (default parameters) into ``output``, in ``source``'s folder."""
    import papermill as pm
    from traitlets.config import Config

    source, output = Path(source), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="srlora-kernel-") as sockets:
        config = Config(KernelManager={"transport": "ipc", "ip": f"{sockets}/k"})
        pm.execute_notebook(str(source), str(output), cwd=str(source.parent), progress_bar=False, config=config,
                            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m srlora_utils.course.execute SOURCE OUTPUT``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m srlora_utils.course.execute SOURCE.ipynb OUTPUT.ipynb", file=sys.stderr)
        return 2
    execute(*args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
