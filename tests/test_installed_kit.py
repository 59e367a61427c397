"""The student's path, as a student lives it: the kit's wheel installed in a fresh environment, outside the checkout,
then ``srlora lessons DIR``, then the lessons run from that folder: through papermill (01 and 02 at cheap parameters;
05 training a study its shipped records lack), and in a real JupyterLab in Chromium (01, and 03 on the offline
preset: Run All Cells, figures on screen, screenshots in ``build/student-path/``).

The installation is read-only in spirit and checked in fact: a listing of every file of the environment's
site-packages with its SHA-256 is taken after ``pip install`` and must be the same after every lesson (the kit writes
runs, fixtures and caches under the lessons folder, never into the package).

The browser is Debian's ``chromium``, driven by Selenium through Debian's ``chromium-driver``: the driver comes from the
same distribution package set as the browser, so their versions match by construction and nothing is downloaded
(Playwright would want its own browser build, or a version-pinned protocol against a foreign one). One worker runs
this module (``conftest.GROUPED_MODULES``): the wheel is built and installed once."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from browser import image_outputs, require

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "student-path"
#: The lessons as the repository holds them (tests/test_wheel.py pins the list).
LESSONS = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
#: Lessons 01 and 02 at cheap papermill parameters (the only papermill run of 01-02 with injected parameters).
CHEAP = {"01_stable_rank_theory.ipynb": {"random_size": 128, "seed": 1},
         "02_rank_allocation.ipynb": {"r": 4, "target": "qv_separate"}}  # fmt: skip
#: The kernel the papermill runs use: the fresh environment's python, registered under this name.
KERNEL = "srlora-wheel-test"
pytestmark = pytest.mark.slow


@dataclass
class Kit:
    """The installed kit: its environment's python, site-packages and process environment, the lessons folder, and
    the listing of site-packages taken right after installation."""

    python: Path
    site: Path
    env: dict
    lessons: Path
    listing: dict[str, str]

    def run(self, *cmd, timeout: int = 900) -> subprocess.CompletedProcess:
        """Run ``cmd`` in the lessons folder with the environment's settings; its output is kept for the report."""
        done = subprocess.run(cmd, cwd=self.lessons, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done


def _listing(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links as links) -> its SHA-256."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(folder))] = f"link to {os.readlink(path)}"
        elif path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _unchanged(kit: Kit) -> None:
    now = _listing(kit.site)
    added, removed = sorted(set(now) - set(kit.listing)), sorted(set(kit.listing) - set(now))
    changed = sorted(k for k in set(now) & set(kit.listing) if now[k] != kit.listing[k])
    assert not (added or removed or changed), f"site-packages changed: added {added[:5]}, removed {removed[:5]}, " \
                                              f"changed {changed[:5]}"  # fmt: skip


def _source_tree(target: Path) -> Path:
    """A copy of the checkout without environments, builds, datasets or records other than the shipped ones: the wheel
    is built from it, so that a build leaves nothing in the checkout and stale files of an earlier build (setuptools
    keeps build/lib/) cannot slip into the wheel."""
    common = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*cache", ".hypothesis", ".ipynb_checkpoints")

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = set(common(folder, names))
        if Path(folder) == ROOT:
            skip |= {".venv", ".git", "build", "dist"} & set(names)
        if Path(folder) == ROOT / "data":  # the guide alone, not a developer's datasets
            skip |= set(names) - {"README.md"}
        if Path(folder) == ROOT / "results":
            skip |= set(names) - {"baseline-study", "lessons", "tuned-study", "gap-ladder", "registration-2"}
        return skip

    return Path(shutil.copytree(ROOT, target, ignore=ignore))


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Kit:
    """Build the wheel, install it into a fresh environment with nothing from the checkout on its path, make the
    installation read-only, and copy the lessons into a course folder with ``srlora lessons``."""
    tmp = tmp_path_factory.mktemp("installed-kit")
    src = _source_tree(tmp / "src")
    run = lambda *cmd, **kw: subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600, **kw)
    run(sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", str(tmp / "dist"))  # fmt: skip
    (wheel,) = (tmp / "dist").glob("srlora_utils-*.whl")

    # A fresh environment outside the checkout; the dependencies come from this one (a .pth file names its
    # site-packages: their .pth files, the editable install's among them, are not run), so nothing is downloaded.
    # Jupyter's shared files (JupyterLab's assets, extensions, server settings) are this environment's too.
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    py = venv / "bin" / "python"
    site = Path(run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "srlora-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "SRLORA_DATA")}
    share, etc = Path(sys.prefix) / "share" / "jupyter", Path(sys.prefix) / "etc" / "jupyter"
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", JUPYTER_PATH=str(share),
               JUPYTER_CONFIG_PATH=str(etc), JUPYTERLAB_DIR=str(share / "lab"))  # fmt: skip
    # A new user's Jupyter: no settings, workspaces or kernels from this machine's user folders.
    homes = ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
             "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR")  # fmt: skip
    env.update({name: str(tmp / "home" / name.lower()) for name in homes})
    run(py, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", str(wheel), cwd=tmp, env=env)
    run(py, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", KERNEL, cwd=tmp, env=env)
    for path in [site, *site.rglob("*")]:  # read-only, as a system-wide installation (root writes anyway: see below)
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)
    lessons = tmp / "my-course"
    out = run(venv / "bin" / "srlora", "lessons", str(lessons), cwd=tmp, env=env).stdout
    shipped = len(LESSONS) + 1 + len(list((ROOT / "notebooks" / "appendix").glob("*.ipynb")))  # and the glossary
    assert out.count("wrote ") == shipped and "jupyter lab" in out
    return Kit(py, site, env, lessons, _listing(site))


def test_the_course_folder_shows_each_lesson_once(kit):
    """Notebooks only: the paired percent scripts are for reviewers of the repository (JupyterLab with jupytext
    would open each as a second copy of its lesson)."""
    names = sorted(p.name for p in kit.lessons.iterdir() if p.is_file())
    assert names == sorted([f"{n}.ipynb" for n in LESSONS] + ["glossary.md"])
    appendix = sorted(p.name for p in (ROOT / "notebooks" / "appendix").glob("*.ipynb"))
    assert sorted(p.name for p in (kit.lessons / "appendix").glob("*")) == appendix


def test_every_hint_names_a_file_the_installed_kit_has(kit):
    """An error's hint names a path of the installation, not of a checkout the student does not have."""
    import re

    (kit.lessons / "bad-grid.toml").write_bytes(b"\xff\xfe not UTF-8")
    hints = []
    for argv in (["train", "--task", "imagefolder", "--img-size", "28"], ["sweep", "bad-grid.toml"]):
        done = subprocess.run([kit.python.parent / "srlora", *argv], cwd=kit.lessons, env=kit.env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        hints += re.findall(r"\(see ([^)]+)\)", lines[0])
    (kit.lessons / "bad-grid.toml").unlink()
    guide, grids = hints
    assert Path(guide).is_file() and Path(guide).name == "README.md" and "MedFMC" in Path(guide).read_text()
    assert Path(guide).is_relative_to(kit.site.resolve()) and list(Path(grids).parent.glob("*.toml"))


#: Run by the environment's python: lessons 01 and 02 (papermill), the first with a last cell that prints the
#: kernel's interpreter and package and where the kit finds its files with no checkout.
DRIVER = textwrap.dedent("""
    import json, sys
    import nbformat, papermill as pm
    folder, kernel, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    probe = ("import json, sys, srlora_utils\\n"
             "from srlora_utils.data.shipped import work_dir\\n"
             "from srlora_utils.analysis import study_files\\n"
             "print(json.dumps([sys.executable, srlora_utils.__file__, *map(str, study_files()), str(work_dir('x'))]))")
    first = next(iter(runs))
    nb = nbformat.read(f"{folder}/{first}", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    nbformat.write(nb, f"{folder}/probe-{first}")
    for name, parameters in runs.items():
        source = f"{folder}/probe-{name}" if name == first else f"{folder}/{name}"
        pm.execute_notebook(source, f"{folder}/out-{name}", parameters=parameters, kernel_name=kernel, cwd=folder,
                            progress_bar=False)
""")


def test_lessons_01_and_02_run_from_the_course_folder_on_the_installed_package(kit):
    kit.run(kit.python, "-c", DRIVER, str(kit.lessons), KERNEL, json.dumps(CHEAP))
    first = nbformat.read(kit.lessons / f"out-{next(iter(CHEAP))}", as_version=4)
    executable, package, grid, records, work = json.loads(first.cells[-1].outputs[0]["text"])
    assert Path(executable).parent == kit.python.parent  # the kernel is the fresh environment's python ...
    assert Path(package).resolve().is_relative_to(kit.site.resolve())  # ... importing the wheel's srlora_utils
    shipped = kit.site.resolve() / "srlora_utils" / "_kit"
    assert Path(grid) == shipped / "grids" / "baseline-study.toml"  # shipped files: the package's
    assert Path(records) == shipped / "results" / "baseline-study" / "records.jsonl"
    assert Path(work) == kit.lessons.resolve() / "build" / "x"  # generated files: under the notebooks' folder
    for name in CHEAP:
        nb = nbformat.read(kit.lessons / f"out-{name}", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors and any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    _unchanged(kit)


def test_lesson_05_trains_into_the_course_folder_never_into_site_packages(kit):
    """05 on its default records (the shipped study, inside the package) at CI size: every run is missing from them,
    so the study trains, and its records go to the course folder's results/ while the package stays as installed."""
    from srlora_utils.experiments import grid_configs, grid_settings

    settings = grid_settings(str(ROOT / "grids" / "baseline-study.toml"), tiny=True, epochs=2, exps=[1],
                             vtab_seeds=[0])  # what the lesson's tiny run trains  # fmt: skip
    code = ("import papermill as pm; pm.execute_notebook('05_baseline_comparison.ipynb', 'out-05.ipynb', "
            f"parameters={{'tiny': True, 'epochs': 2}}, kernel_name={KERNEL!r}, progress_bar=False)")  # fmt: skip
    kit.run(kit.python, "-c", code)
    written = kit.lessons / "results" / "baseline-study" / "records.jsonl"
    assert len(written.read_text().splitlines()) == len(grid_configs(settings))
    _unchanged(kit)


# --- JupyterLab in Chromium -----------------------------------------------------------------------------------------

#: JavaScript run in the page (``window.jupyterapp``: the server exposes the application): the open notebook's state.
STATE = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!w || !w.content || !w.context || !w.context.isReady || !w.sessionContext.session
    || !w.sessionContext.session.kernel) { return null; }
const code = w.content.widgets.filter(c => c.model.type === 'code');
const outputs = code.map(c => c.model.outputs.toJSON());
return {
  kernel: w.sessionContext.session.kernel.status, path: w.context.path, cells: code.length,
  pending: code.filter(c => c.model.executionCount === null).length,
  first_tags: code.length ? (code[0].model.getMetadata('tags') || []) : [],
  errors: outputs.flat().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
  stderr: outputs.flat().filter(o => o.output_type === 'stream' && o.name === 'stderr')
                 .map(o => [].concat(o.text).join('')),
  figures: outputs.flat().filter(o => o.data && ('image/png' in o.data || 'image/svg+xml' in o.data)).length,
};
"""
#: Scroll to every cell with a figure, wait for its images to decode, and count those on screen; the last figure is
#: left in view (for the screenshot).
#: The interpreter of the open notebook's kernel, asked of the kernel itself (nothing enters the notebook).
KERNEL_PYTHON = """
const done = arguments[arguments.length - 1];
const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
const future = kernel.requestExecute({code: 'import sys; print(sys.executable, end="")', store_history: false});
let out = '';
future.onIOPub = msg => { if (msg.header.msg_type === 'stream') { out += msg.content.text; } };
future.done.then(() => done(out));
"""
SHOW_FIGURES = """
const done = arguments[arguments.length - 1];
(async () => {
  const w = window.jupyterapp.shell.currentWidget;
  const shown = [];
  for (const cell of w.content.widgets) {
    if (cell.model.type !== 'code') continue;
    const data = cell.model.outputs.toJSON().filter(o => o.data);
    if (!data.some(o => 'image/png' in o.data || 'image/svg+xml' in o.data)) continue;
    await w.content.scrollToCell(cell, 'center');
    await new Promise(r => setTimeout(r, 300));
    for (const img of cell.node.querySelectorAll('.jp-OutputArea-output img')) {
      try { await img.decode(); } catch (e) {}
      const box = img.getBoundingClientRect();
      shown.push({width: img.naturalWidth, top: box.top, bottom: box.bottom, height: window.innerHeight});
    }
  }
  done(shown);
})();
"""


#: JupyterLab 4's question at start-up, which `srlora lessons` turns off (srlora_utils/course/jupyterlab.py).
NEWS_QUESTION = "official Jupyter news"


def test_jupyterlab_never_asks_about_jupyter_news(kit, lab):
    """The settings JupyterLab serves carry `srlora lessons`'s override: fetchNews defaults to "false" (Never), so
    the news question never shows (the browser test checks the page too)."""
    url, token = lab
    plugin = "@jupyterlab/apputils-extension:notification"
    with urllib.request.urlopen(f"{url}/lab/api/settings/{plugin}?token={token}", timeout=30) as answer:
        settings = json.load(answer)
    assert settings["schema"]["properties"]["fetchNews"]["default"] == "false", settings["schema"]["properties"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(kit):
    """A JupyterLab server in the course folder (127.0.0.1, a token, a free port), started from the environment's
    python as ``jupyter lab`` would be; yields its URL and token."""
    port, token = _free_port(), secrets.token_hex(16)
    log = open(kit.lessons.parent / "jupyterlab.log", "w")  # noqa: SIM115 - closed after the server
    server = subprocess.Popen(
        [kit.python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={kit.lessons}",
         "--LabApp.expose_app_in_browser=True", *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI runs as root
        cwd=kit.lessons, env=kit.env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (kit.lessons.parent / "jupyterlab.log").read_text()[-3000:]
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium under WebDriver (Debian's chromium and chromium-driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require("chromium")
    flags = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1300")
    for flag in flags:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=require("chromedriver")), options=options)
    driver.set_script_timeout(120)
    yield driver
    driver.quit()


def _wait(driver, until, timeout: float, what: str) -> dict:
    """Poll :data:`STATE` every half second until ``until(state)``; the last state is in the failure message."""
    state, end = None, time.monotonic() + timeout
    while time.monotonic() < end:
        state = driver.execute_script(STATE)
        if state is not None and until(state):
            return state
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f} s; last state {state}")


@pytest.mark.parametrize("lesson", ["01_stable_rank_theory", "03_medical_fewshot"])
def test_a_lesson_runs_all_cells_in_jupyterlab_in_a_browser(kit, lab, browser, lesson):
    """Open the lesson as a student would, Run All Cells (JupyterLab's own command, after Clear All Outputs, so
    that every cell is seen to run), wait for the kernel, then check what the student sees: no error, the parameters
    cell first, every figure the lesson draws on screen; a screenshot of the last one."""
    url, token = lab
    expected = image_outputs(kit.lessons / f"{lesson}.ipynb")  # what the shipped lesson stores
    browser.get(f"{url}/lab/tree/{lesson}.ipynb?token={token}")
    state = _wait(browser, lambda s: s["path"] == f"{lesson}.ipynb" and s["kernel"] == "idle", 120, "kernel ready")
    assert state["first_tags"] == ["parameters"], f"{lesson}: the first code cell is not the parameters cell"
    python = browser.execute_async_script(KERNEL_PYTHON)
    assert Path(python) == kit.python, f"{lesson}: the kernel runs {python}, not the kit's environment"
    start = time.monotonic()
    browser.execute_script("return window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    _wait(browser, lambda s: s["pending"] == s["cells"], 30, "outputs cleared")
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells'); return true")
    state = _wait(browser, lambda s: s["errors"] or (s["pending"] == 0 and s["kernel"] == "idle"), 900, "run all")
    seconds = time.monotonic() - start
    assert not state["errors"], f"{lesson}: error output in JupyterLab: {state['errors']}"
    bad = [t for t in state["stderr"] if "Traceback" in t or "Error" in t]
    assert not bad, f"{lesson}: errors on stderr: {bad}"
    page = browser.execute_script("return document.body.textContent")  # toasts and the notification centre too
    assert NEWS_QUESTION not in page, f"{lesson}: JupyterLab asks about Jupyter news (srlora lessons turns it off)"
    shown = browser.execute_async_script(SHOW_FIGURES)
    assert expected > 0 and state["figures"] == expected, f"{lesson}: {state['figures']} figures, {expected} stored"
    assert len(shown) == expected and all(s["width"] > 0 for s in shown), f"{lesson}: figures not displayed: {shown}"
    last = shown[-1]
    assert 0 <= last["top"] < last["bottom"] <= last["height"] + 1, f"{lesson}: the last figure is not in view"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{lesson}.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    print(f"{lesson}: all {state['cells']} code cells ran in JupyterLab in {seconds:.0f} s; {expected} figures shown; "
          f"screenshot {shot.relative_to(ROOT)}")  # fmt: skip
    _unchanged(kit)
