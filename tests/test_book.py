"""The course site (`make book`), opened in headless Chromium: every page loads with its title and rendered math,
every figure of the stored notebooks is on its page and decodes, every image has alt text (a sentence, not a file
name), every internal link resolves, solutions are folded, nothing is fetched from the network; screenshots of the
landing page and one lesson stay in build/.

Chromium is Debian's package, installed when missing where it can be (``tests/browser.py``: otherwise the test skips,
except in CI, where it fails)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from browser import image_outputs, require

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "build" / "book"
SHOTS = ROOT / "build" / "book-screenshots"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GUIDES = sorted(p.stem for p in (ROOT / "docs").glob("*.md") if p.name != "index.md")
#: The glossary and the appendix notebooks (the Makefile's ``book`` target puts them beside the lessons, and in
#: ``appendix/``).
EXTRAS = ["glossary.html"] * (ROOT / "notebooks" / "glossary.md").is_file() + [
    f"appendix/{nb.stem}.html" for nb in sorted((ROOT / "notebooks" / "appendix").glob("*.ipynb"))
]
PAGES = ["index.html"] + [f"{g}.html" for g in GUIDES] + [nb.with_suffix(".html").name for nb in NOTEBOOKS] + EXTRAS
pytestmark = pytest.mark.slow  # one worker runs this module (conftest.GROUPED_MODULES): the site is built once

#: The page checker, run by Chromium on the site's own origin: each page in an iframe, once MathJax has typeset it
#: and its images have loaded (or failed), is summarised into a <pre id="result"> that --dump-dom prints.
CHECKER = """<!doctype html><html><body><script>
const pages = %s;
function settle(img) { return img.complete ? null : new Promise(r => { img.onload = img.onerror = r; }); }
function visit(page) {
  return new Promise(resolve => {
    const frame = document.createElement("iframe");
    frame.style.width = "1200px"; frame.style.height = "900px";
    frame.onload = async () => {
      const win = frame.contentWindow, doc = frame.contentDocument;
      if (win.MathJax && win.MathJax.startup) { try { await win.MathJax.startup.promise; } catch (e) {} }
      const imgs = [...doc.querySelectorAll("img")];
      await Promise.all(imgs.map(settle));
      const figures = imgs.filter(i => (i.getAttribute("src") || "").startsWith("_images/"));
      const solutions = [...doc.querySelectorAll(".tag_solution")];
      resolve({page, title: doc.title, h1: (doc.querySelector("h1") || {}).textContent || "",
               figures: figures.length, decoded: figures.filter(i => i.naturalWidth > 0).length,
               broken: imgs.filter(i => !i.naturalWidth).map(i => i.getAttribute("src")),
               math: doc.querySelectorAll("mjx-container").length,
               solutions: solutions.length,
               folded: solutions.filter(s => { const d = s.querySelector("details"); return d && !d.open; }).length});
    };
    frame.src = page; document.body.appendChild(frame);
  });
}
(async () => {
  const out = [];
  for (const page of pages) { out.push(await visit(page)); }
  const pre = document.createElement("pre"); pre.id = "result"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script></body></html>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    return require("chromium")


@pytest.fixture(scope="module")
def site() -> Path:
    """The site as `make book` builds it (from the stored notebooks; nothing re-executed)."""
    done = subprocess.run(["make", "-s", "book"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"make book failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return SITE


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on localhost (pages in iframes must share an origin for the checker to read them)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on stderr
        pass


def _chromium(binary: str, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--virtual-time-budget=30000"]  # fmt: skip
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=300)


class _Links(HTMLParser):
    """Every href/src of a page, every id it defines, and each image's (src, alt)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.images: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "img":
            self.images.append((a.get("src") or "", a.get("alt")))
        for key in ("href", "src"):
            if a.get(key):
                self.refs.append((tag, a[key]))


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_page_loads_with_math_figures_and_folded_solutions(chromium, server, site):
    checker = site / "_site_check.html"
    checker.write_text(CHECKER % json.dumps(PAGES), encoding="utf-8")
    try:
        done = _chromium(chromium, "--dump-dom", f"{server}/_site_check.html")
    finally:
        checker.unlink()
    dom = done.stdout
    assert '<pre id="result">' in dom, f"the checker did not finish:\n{done.stderr[-2000:]}"
    result = json.loads(dom.split('<pre id="result">', 1)[1].split("</pre>", 1)[0].replace("&quot;", '"'))
    by_page = {r["page"]: r for r in result}
    assert sorted(by_page) == sorted(PAGES)
    for page, r in by_page.items():
        assert r["h1"].strip(), f"{page}: no heading rendered"
        assert not r["broken"], f"{page}: images that do not load: {r['broken']}"
    for page in ("index.html", "01_stable_rank_theory.html"):
        assert by_page[page]["math"] > 0, f"{page}: MathJax did not typeset the math"
    for nb in NOTEBOOKS:
        r = by_page[nb.with_suffix(".html").name]
        expected = image_outputs(nb)
        assert expected > 0 and r["figures"] == r["decoded"] == expected, f"{nb.name}: {r} vs {expected} figures"
        assert r["solutions"] >= 1 and r["folded"] == r["solutions"], f"{nb.name}: solutions not folded: {r}"


def test_every_internal_link_resolves_and_nothing_comes_from_the_network(site):
    checked = 0
    for page in sorted(site.glob("*.html")):
        parsed = _parse(page)
        for tag, ref in parsed.refs:
            url = urlparse(ref)
            if url.scheme in ("http", "https") or ref.startswith("//"):
                assert tag == "a", f"{page.name}: <{tag}> loads {ref} from the network"
                continue
            if url.scheme in ("mailto", "javascript", "data"):
                continue
            path, fragment = url.path, url.fragment  # a query (?digest=...) names the same file
            target = (page.parent / unquote(path)).resolve() if path else page
            assert target.exists(), f"{page.name}: link {ref!r} points to a missing file"
            if fragment and target.suffix == ".html":
                assert unquote(fragment) in _parse(target).ids, f"{page.name}: link {ref!r}: no such anchor"
            checked += 1
    assert checked > 100  # navigation, table of contents, figures, scripts: the test saw the real site


def test_every_image_has_alt_text(site):
    """Alt text a screen reader can say: a figure's authored text (its cell's ``mystnb.image.alt``) or the one
    docs/conf.py generates from the lesson (title, section, the sentence before it); never empty, never the file's
    name (what Sphinx writes when there is none)."""
    pages = [p for p in sorted(site.rglob("*.html")) if not p.relative_to(site).parts[0].startswith("_")]
    bad, images = [], 0
    for page in pages:
        for src, alt in _parse(page).images:
            images += 1
            text = (alt or "").strip()
            if not text or text == src or re.search(r"\.(png|jpe?g|gif|svg|webp)$", text, re.I):
                bad.append(f"{page.relative_to(site)}: <img src={src!r} alt={alt!r}>")
    assert images >= sum(image_outputs(nb) for nb in NOTEBOOKS), f"only {images} images on the site"
    assert not bad, "images without alt text:\n" + "\n".join(bad)


def test_screenshots_of_the_landing_page_lesson_00_and_lesson_05s_main_figure(chromium, server, site):
    """Chromium's view of the landing page, lesson 00's page, and lesson 05's main figure (the primary comparison
    under both protocols, the first figure of its section 5), in build/book-screenshots/."""
    lesson_05 = (site / "05_baseline_comparison.html").read_text()
    section = re.search(r'<section id="[^"]*each-method-runs-at-its-own-setting[^"]*">', lesson_05)
    assert section, "lesson 05 has no section 'The answer when each method runs at its own setting'"
    figure = re.search(r'<img[^>]*src="([^"]+\.png)"', lesson_05[section.end() :])
    assert figure, "lesson 05's section 5 shows no figure"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots = (("index.html", "landing.png", "1280,1600"), ("00_lora_from_scratch.html", "lesson-00.png", "1280,1600"),
             (figure.group(1), "lesson-05-main-figure.png", "900,700"))  # fmt: skip
    for page, name, size in shots:
        out = SHOTS / name
        out.unlink(missing_ok=True)
        _chromium(chromium, f"--screenshot={out}", f"--window-size={size}", f"{server}/{page}")
        assert out.is_file() and out.stat().st_size > 20_000, f"no screenshot of {page}"
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
