"""Links resolve, statically (no build): every relative link of README.md (from the repository root), of the course
site's pages (docs/*.md, the lessons, the appendix notebooks, the glossary: from where `make book` puts them) and every
repository path the README and the guides name in code; and the README's count of lessons is the real one.

The course site's layout (the Makefile's ``book`` target): docs/* (guides, landing page, conf.py),
notebooks/NN_*.ipynb (lessons) and notebooks/glossary.md in one folder, notebooks/appendix/*.ipynb in its
``appendix/`` subfolder. Anchors (``#...``) are not checked here (tests/test_book.py checks them on the built site)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
APPENDIX = sorted((ROOT / "notebooks" / "appendix").glob("*.ipynb"))
GLOSSARY = ROOT / "notebooks" / "glossary.md"


def site_layout() -> dict[str, Path]:
    """Path on the course site -> the repository file it comes from (the Makefile's ``book`` target copies them)."""
    site = {p.relative_to(ROOT / "docs").as_posix(): p for p in (ROOT / "docs").rglob("*") if p.is_file()}
    site |= {p.name: p for p in LESSONS}
    site |= {f"appendix/{p.name}": p for p in APPENDIX}
    if GLOSSARY.is_file():
        site["glossary.md"] = GLOSSARY
    return site


SITE = site_layout()

_FENCE = re.compile(r"^( {0,3})(```+|~~~+).*?^\1\2[ \t]*$", re.M | re.S)
_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
_HTML = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.I)


def markdown_links(text: str) -> list[str]:
    """The link targets of Markdown ``text`` (inline, reference definitions, HTML ``<a href>``/``<img src>``), code
    left out."""
    text = _CODE.sub(" ", _FENCE.sub(" ", text))
    found = [m.group(1) for pattern in (_INLINE, _REFERENCE, _HTML) for m in pattern.finditer(text)]
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in found]


def relative_target(link: str) -> str | None:
    """The file a relative link points to (query and anchor dropped), or None for a URL, an anchor or a MyST role."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link) or link.startswith(("#", "/", "{")):
        return None
    path = unquote(link.split("#", 1)[0].split("?", 1)[0])
    return path or None


def _resolve(base: str, target: str) -> str | None:
    """``target`` relative to the folder ``base`` (POSIX, relative to the root), normalised; None above the root."""
    parts: list[str] = [p for p in base.split("/") if p]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def notebook_markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _site_pages() -> list[tuple[str, str]]:
    """(site path, Markdown text) of every page whose links are checked against the site's layout."""
    pages = [(f"{p.name}", p.read_text(encoding="utf-8")) for p in sorted((ROOT / "docs").glob("*.md"))]
    pages += [(p.name, notebook_markdown(p)) for p in LESSONS]
    pages += [(f"appendix/{p.name}", notebook_markdown(p)) for p in APPENDIX]
    if GLOSSARY.is_file():
        pages.append(("glossary.md", GLOSSARY.read_text(encoding="utf-8")))
    return pages


def broken_site_links() -> list[str]:
    broken = []
    for page, text in _site_pages():
        folder = page.rpartition("/")[0]
        for link in markdown_links(text):
            target = relative_target(link)
            if target is not None and _resolve(folder, target) not in SITE:
                broken.append(f"{page}: {link!r} (no such page or file on the course site)")
    return broken


def test_the_link_reader_finds_links_and_skips_code():
    text = ("See [a](a.md), ![fig](img/x.png \"title\"), [b](<b c.md#part>), <a href='d.html'>d</a>, `[no](x.md)`,\n"
            "[ref]: e.md\n```\n[no](y.md)\n```\n[web](https://example.org) [here](#anchor)")  # fmt: skip
    links = markdown_links(text)
    assert links == ["a.md", "img/x.png", "b c.md#part", "https://example.org", "#anchor", "e.md", "d.html"]
    assert [relative_target(x) for x in links] == ["a.md", "img/x.png", "b c.md", None, None, "e.md", "d.html"]
    assert _resolve("appendix", "../glossary.md") == "glossary.md" and _resolve("", "../x.md") is None


def test_every_relative_link_of_the_readme_resolves():
    broken = []
    for link in markdown_links((ROOT / "README.md").read_text(encoding="utf-8")):
        target = relative_target(link)
        if target is not None and not (ROOT / target).exists():
            broken.append(link)
    assert not broken, f"README.md links to files that do not exist: {broken}"


def test_every_relative_link_on_the_course_site_resolves():
    broken = broken_site_links()
    assert not broken, "links that do not resolve on the course site:\n" + "\n".join(broken)


#: A repository path named in code (``grids/x.toml``): its first folder is one of the repository's.
_REPO_PATH = re.compile(r"^(?:benchmarks|data|docs|grids|notebooks|results|srlora_utils|tests)/[\w./-]+\.\w+$")


def test_every_repository_path_the_readme_and_guides_name_exists():
    """A path in code such as `docs/data.md` is a reference too (placeholders like `NN_*.ipynb` are skipped)."""
    missing = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in _CODE.finditer(_FENCE.sub(" ", page.read_text(encoding="utf-8"))):
            path = match.group(2).strip()
            in_repo = path.removeprefix("srlora_utils/_kit/")  # the wheel's copy of a repository folder (pyproject)
            if _REPO_PATH.match(path) and not (ROOT / in_repo).exists():
                missing.append(f"{page.relative_to(ROOT)}: `{path}`")
    assert not missing, "paths named that the repository lacks:\n" + "\n".join(missing)


_NUMBERS = dict(zip("one two three four five six seven eight nine ten eleven twelve".split(), range(1, 13)))
_COUNT = re.compile(r"\b(\d+|" + "|".join(_NUMBERS) + r")\s+(?:ordered\s+)?(?:lesson\s+)?(?:notebooks|lessons)\b"
                    r"(?!\s+at a time)", re.I)  # fmt: skip


@pytest.mark.parametrize("page", ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))])
def test_a_stated_number_of_lessons_is_the_number_of_lessons(page):
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
    for match in _COUNT.finditer(text):
        word = match.group(1).lower()
        stated = int(word) if word.isdigit() else _NUMBERS[word]
        assert stated == len(LESSONS), f"{page} says {match.group(0)!r}; there are {len(LESSONS)} lesson notebooks"


def test_the_course_page_states_each_notebooks_reading_time_by_the_rule():
    """docs/index.md lists every lesson and appendix notebook with its reading time, which is the rule's
    (srlora_utils.course.reading) within 5 minutes: an edited lesson whose time moved fails here."""
    import re

    from srlora_utils.course.reading import lesson_reading

    notebooks = ROOT / "notebooks"
    index = (ROOT / "docs" / "index.md").read_text()
    rows = re.findall(r"^\| \[[^\]]+\]\(([^)]+\.ipynb)\) \|[^|]*\| (\d+) min \|", index, flags=re.M)
    listed = {path: int(minutes) for path, minutes in rows}
    expected = {p.relative_to(notebooks).as_posix() for p in notebooks.glob("[0-9][0-9]_*.ipynb")}
    expected |= {p.relative_to(notebooks).as_posix() for p in (notebooks / "appendix").glob("*.ipynb")}
    assert set(listed) == expected, f"docs/index.md's table lists {sorted(listed)}"
    for path, minutes in listed.items():
        rule = lesson_reading(notebooks / path).minutes
        assert abs(minutes - rule) <= 5, f"docs/index.md says {path} reads in {minutes} min; the rule: {rule:.0f}"
