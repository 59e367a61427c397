"""JupyterLab as the course opens it: without the "Would you like to get notified about official Jupyter news?"
pop-up, which JupyterLab 4 shows at every start until asked otherwise (and which covers part of a lesson).

The standard way is a settings override: ``overrides.json`` in JupyterLab's application settings folder
(``<app dir>/settings``, the app dir being ``$JUPYTERLAB_DIR`` or ``<sys.prefix>/share/jupyter/lab``) changes a
plugin setting's default for everyone who runs that JupyterLab; a user who sets it otherwise still wins.
:func:`quiet_jupyterlab` writes ``fetchNews: "false"`` of ``@jupyterlab/apputils-extension:notification`` there,
keeping whatever else the file holds. ``make setup`` runs it for the repository's environment and ``srlora lessons``
for a student's."""

from __future__ import annotations

import importlib.util
import json
import os
import site
import sys
from pathlib import Path

#: The plugin and setting that ask about Jupyter news, and the value that never asks (nor fetches).
NEWS_PLUGIN, NEWS_SETTING, NEWS_OFF = "@jupyterlab/apputils-extension:notification", "fetchNews", "false"


def lab_settings_dir() -> Path:
    """JupyterLab's application settings folder for this Python environment, by JupyterLab's own rule
    (``jupyterlab.commands.get_app_dir``, whose import takes seconds): ``$JUPYTERLAB_DIR``; else
    ``<sys.prefix>/share/jupyter/lab``, or the user base's when JupyterLab is a user-level install, or
    ``/usr/local/share/jupyter/lab`` for a system Python without its own."""
    if os.environ.get("JUPYTERLAB_DIR"):
        return Path(os.environ["JUPYTERLAB_DIR"]).resolve() / "settings"
    app_dir = Path(sys.prefix) / "share" / "jupyter" / "lab"
    spec = importlib.util.find_spec("jupyterlab")
    here = str(Path(spec.origin).parent) if spec is not None and spec.origin else ""
    user_base = site.getuserbase()
    if here.startswith(user_base) and not str(app_dir).startswith(user_base):
        app_dir = Path(user_base) / "share" / "jupyter" / "lab"
    elif sys.prefix.startswith("/usr") and not app_dir.exists() and Path("/usr/local/share/jupyter/lab").exists():
        app_dir = Path("/usr/local/share/jupyter/lab")
    return app_dir / "settings"


def quiet_jupyterlab(settings_dir: str | os.PathLike | None = None) -> Path:
    """Write (or update) ``overrides.json`` in ``settings_dir`` (default :func:`lab_settings_dir`) so that JupyterLab
    never asks about, nor fetches, Jupyter news; other overrides in the file stay. Returns the file. An unreadable or
    invalid existing file is left alone (``OSError``/``ValueError``: the caller says how to do it by hand)."""
    path = Path(settings_dir if settings_dir is not None else lab_settings_dir()) / "overrides.json"
    overrides = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if not isinstance(overrides, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    plugin = overrides.setdefault(NEWS_PLUGIN, {})
    if plugin.get(NEWS_SETTING) == NEWS_OFF:
        return path
    plugin[NEWS_SETTING] = NEWS_OFF
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(overrides, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def by_hand(path: Path) -> str:
    """What to do when :func:`quiet_jupyterlab` could not write ``path``."""
    body = json.dumps({NEWS_PLUGIN: {NEWS_SETTING: NEWS_OFF}})
    return f"answer No to JupyterLab's news question once, or put {body} into {path}"
