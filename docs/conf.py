"""Sphinx configuration of the course site (`make book`): the executed notebooks rendered as they are stored.

Nothing is re-executed (``nb_execution_mode = "off"``): the pages show exactly the outputs that nbval checks.
MathJax is served from the site itself (sphinx-mathjax-offline), so math renders without network access.

Every image gets alt text for screen readers: a figure output's is its cell's authored one when the cell's metadata
has it (``"mystnb": {"image": {"alt": "..."}}``, which MyST-NB applies), else one generated here from the notebook
(:func:`figure_alt`): "Figure in <lesson title>, section <nearest heading>: <first sentence of the Markdown cell
before it>".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

project = "SR-LoRA reference kit: the course"
author = "SR-LoRA reference kit contributors"
copyright = "2026, SR-LoRA reference kit contributors"

extensions = ["myst_nb", "sphinx-mathjax-offline"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]

nb_execution_mode = "off"  # the stored outputs are the checked ones
nb_merge_streams = True  # one block per stream instead of one per progress-bar update
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "SR-LoRA: a course"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
    "use_sidenotes": False,
}
html_static_path: list[str] = []
html_last_updated_fmt = None


# --- alt text ---------------------------------------------------------------------------------------------------------

_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def _plain(markdown: str) -> str:
    """Markdown as a screen reader should say it: links, emphasis, code marks, math dollars and HTML tags dropped."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url) -> text
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"(\*\*|__|\*|`|\$)", "", text)
    return " ".join(text.split())


def _first_sentence(markdown: str, limit: int = 200) -> str:
    body = _plain(_HEADING.sub(" ", markdown))
    sentence = re.split(r"(?<=[.!?:])\s", body, maxsplit=1)[0] if body else ""
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def figure_alt(cells: list[dict], index: int) -> str:
    """Alt text for a figure output of code cell ``index`` of a notebook's ``cells`` (nbformat dicts): the lesson's
    title (its first heading), the nearest heading above the cell and the first sentence of the Markdown cell before
    it."""
    markdown = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells[:index]
                if c["cell_type"] == "markdown"]  # fmt: skip
    headings = [_plain(m.group(2)) for text in markdown for m in _HEADING.finditer(text)]
    title = headings[0] if headings else "the lesson"
    alt = f"Figure in {title}"
    if len(headings) > 1:
        alt += f", section {headings[-1]}"
    before = _first_sentence(markdown[-1]) if markdown else ""
    return f"{alt}: {before}" if before else alt


def _add_alt_texts(app, doctree) -> None:
    """Give every image of the page without alt text a generated one (a notebook's figures by :func:`figure_alt`)."""
    from docutils import nodes

    source = Path(app.env.doc2path(app.env.docname))
    cells = json.loads(source.read_text(encoding="utf-8"))["cells"] if source.suffix == ".ipynb" else []
    titles = [t.astext() for t in doctree.findall(nodes.title)]
    page = titles[0] if titles else app.env.docname
    by_cell: dict[int, list] = {}
    for image in doctree.findall(nodes.image):
        if image.get("alt", "").strip():
            continue  # authored: in the Markdown or in the cell's metadata
        cell = image.parent
        while cell is not None and "cell_index" not in getattr(cell, "attributes", {}):
            cell = cell.parent
        if cell is not None and cells:
            by_cell.setdefault(cell["cell_index"], []).append(image)
        else:
            image["alt"] = f"Figure in {page}"
    for index, images in by_cell.items():
        alt = figure_alt(cells, index)
        for k, image in enumerate(images, start=1):
            image["alt"] = alt if len(images) == 1 else f"{alt} (image {k} of {len(images)})"


def setup(app) -> dict:
    app.connect("doctree-read", _add_alt_texts)
    return {"parallel_read_safe": True}
