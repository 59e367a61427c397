"""A lesson's reading time, by one stated rule (issue 37), so that "too long to teach" is a number a test can hold:

* words of Markdown and of visible outputs (the words inside tables included) at :data:`PROSE_WPM` a minute;
* words of visible code at :data:`CODE_WPM` a minute;
* :data:`PER_EXHIBIT` minutes for each table or figure a student looks at;
* cells tagged ``solution``, ``hide-cell`` or ``remove-cell`` are not counted at all; a cell tagged ``hide-input``
  or ``remove-input``, or whose source JupyterLab hides (``jupyter.source_hidden``), counts its outputs but not its
  source; ``remove-output`` (and ``jupyter.outputs_hidden``) drops its outputs.

A word is a run of characters between white space (HTML tags stripped first). A table is an HTML output holding a
``<table>`` or a Markdown table; a figure is an image output.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

#: Reading speeds (words a minute) and the minutes a table or figure takes.
PROSE_WPM, CODE_WPM, PER_EXHIBIT = 130, 60, 1.5
#: Tags that take a whole cell out of the count.
SKIPPED = ("solution", "hide-cell", "remove-cell")


@dataclass(frozen=True)
class ReadingEstimate:
    """What a lesson asks a reader to read: words of prose and of code, tables and figures, and the minutes the rule
    gives them."""

    prose_words: int
    code_words: int
    tables: int
    figures: int

    @property
    def minutes(self) -> float:
        """The rule's estimate: prose at 130 words a minute, code at 60, 1.5 minutes a table or figure."""
        return self.prose_words / PROSE_WPM + self.code_words / CODE_WPM + PER_EXHIBIT * (self.tables + self.figures)


def _words(text: str) -> int:
    return len(text.split())


def _strip_html(text: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def _is_markdown_table(text: str) -> bool:
    return bool(re.search(r"^\s*\|.*\|\s*$\n^\s*\|[\s:|-]+\|\s*$", text, flags=re.M))


def _output(output: dict) -> tuple[int, int, int]:
    """(words, tables, figures) of one output as a reader sees it: its richest text form."""
    if output.get("output_type") == "stream":
        return _words(str(output.get("text", ""))), 0, 0
    if output.get("output_type") == "error":
        return _words(" ".join(output.get("traceback", []))), 0, 0
    data = output.get("data", {})
    if any(k.startswith("image/") for k in data):
        return 0, 0, 1
    if "text/html" in data:
        text = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
        return _words(_strip_html(text)), int("<table" in text.lower()), 0
    if "text/markdown" in data:
        text = "".join(data["text/markdown"]) if isinstance(data["text/markdown"], list) else data["text/markdown"]
        return _words(text), int(_is_markdown_table(text)), 0
    text = data.get("text/plain", "")
    return _words("".join(text) if isinstance(text, list) else text), 0, 0


def reading_estimate(cells: list[dict]) -> ReadingEstimate:
    """The :class:`ReadingEstimate` of a notebook's ``cells`` (nbformat dicts) by the module's rule."""
    prose = code = tables = figures = 0
    for cell in cells:
        meta = cell.get("metadata", {})
        tags = set(meta.get("tags", []))
        if tags & set(SKIPPED):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        jupyter = meta.get("jupyter", {})
        if cell["cell_type"] == "markdown":
            prose += _words(source)
            tables += int(_is_markdown_table(source))
            figures += len(re.findall(r"!\[[^\]]*\]\(", source))
            continue
        if cell["cell_type"] != "code":
            continue
        if not (tags & {"hide-input", "remove-input"} or jupyter.get("source_hidden")):
            code += _words(source)
        if "remove-output" in tags or jupyter.get("outputs_hidden"):
            continue
        for output in cell.get("outputs", []):
            w, t, f = _output(output)
            prose, tables, figures = prose + w, tables + t, figures + f
    return ReadingEstimate(prose, code, tables, figures)


def lesson_reading(path: str | Path) -> ReadingEstimate:
    """:func:`reading_estimate` of the stored, executed notebook at ``path``."""
    import nbformat

    return reading_estimate(nbformat.read(str(path), as_version=4)["cells"])


def reading_table(paths: list[str | Path]) -> list[dict]:
    """One row per notebook of ``paths``: its name, words of prose and code, tables, figures and reading minutes."""
    rows = []
    for path in paths:
        e = lesson_reading(path)
        rows.append({"notebook": Path(path).name, "prose words": e.prose_words, "code words": e.code_words,
                     "tables": e.tables, "figures": e.figures, "minutes": round(e.minutes)})  # fmt: skip
    return rows
