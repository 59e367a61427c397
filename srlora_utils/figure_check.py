"""The course's figure rules as a check (issue 37), and its colour-blind-safe palette.

:func:`figure_problems` draws a figure as Jupyter's inline backend saves it (PNG at the figure's dpi,
``bbox_inches="tight"``) and lists what breaks the rules, one line each, naming the text:

* **cut**: a text whose extent leaves its axes' clip box while it is clipped (an annotation past the axes edge), a
  text of an axes (an annotation, ``ax.text``) that its frame runs through, or a text that leaves the saved image;
* **overlap**: two drawn texts (tick labels, axis labels, titles, legend entries, annotations, the suptitle) whose
  extents overlap;
* **too small**: a text under :data:`MIN_POINTS` pt at the size shown: its points times
  ``min(1, shown_width_px / saved width in px)`` (the course shows an image at most 800 px wide);
* **too tall**: a saved image taller than :data:`MAX_HEIGHT_PX` px.

:func:`install_figure_check` makes ``matplotlib.pyplot.show`` run it on every open figure first and raise an
:class:`~srlora_utils.errors.SrLoraError` listing the problems. ``import srlora_utils`` installs it when the
environment has ``SRLORA_CHECK_FIGURES=1`` (``make test`` sets it, so every figure a lesson shows is checked), and
always sets :data:`OKABE_ITO` as matplotlib's default colour cycle. Importing this module imports ``matplotlib``
only, not ``pyplot``.
"""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib
from cycler import cycler

from .errors import SrLoraError

if TYPE_CHECKING:  # the check imports these when it runs: importing the palette stays cheap
    from matplotlib.figure import Figure
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

#: Okabe and Ito's colour-blind-safe colours (Color Universal Design, 2008), in the order the default cycle uses:
#: blue, orange, bluish green, vermillion, sky blue, reddish purple, yellow (faint on white, so late), black.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
#: The smallest font size, in points at the size shown, that the course allows.
MIN_POINTS = 8.0
#: The tallest saved image the course allows, in pixels.
MAX_HEIGHT_PX = 1200
#: Overlaps and cuts smaller than this many pixels are rounding, not problems.
_SLACK_PX = 1.0


def use_colour_blind_palette() -> None:
    """Make :data:`OKABE_ITO` matplotlib's default colour cycle (``rcParams["axes.prop_cycle"]``; nothing else)."""
    matplotlib.rcParams["axes.prop_cycle"] = cycler(color=OKABE_ITO)


@dataclass(frozen=True)
class _Drawn:
    """A text as it was drawn into the saved image: its extent and clip rectangle in the image's pixels."""

    text: Text
    extent: Bbox
    clip: Bbox | None
    points: float
    #: For a text an axes holds (an annotation, ``ax.text``): the axes' box, whose frame must not run through it.
    frame: Bbox | None


@contextmanager
def _recording() -> Iterator[dict[int, _Drawn]]:
    """Record every text that draws itself (visible, not empty) while the block runs, with its extent at that time."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    drawn: dict[int, _Drawn] = {}
    original = Text.draw

    def draw(self: Text, renderer) -> None:
        original(self, renderer)
        if renderer is None or not self.get_visible() or not self.get_text().strip():
            return
        extent = Text.get_window_extent(self, renderer).frozen()  # an annotation's arrow is not its text
        if not all(map(_finite, extent.extents)):
            return
        clip = None
        if self.get_clip_on():
            rects = [b.frozen() for b in [self.get_clip_box()] if b is not None]
            path = self.get_clip_path()
            if path is not None and hasattr(path, "get_fully_transformed_path"):
                rects.append(path.get_fully_transformed_path().get_extents())
            for rect in rects:
                clip = rect if clip is None else Bbox.intersection(clip, rect) or Bbox.null()
        ax = self.axes
        frame = ax.bbox.frozen() if ax is not None and any(t is self for t in ax.texts) else None
        drawn[id(self)] = _Drawn(self, extent, clip, float(self.get_fontsize()), frame)

    Text.draw = draw  # type: ignore[method-assign,assignment]
    try:
        yield drawn
    finally:
        Text.draw = original  # type: ignore[method-assign]


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _save(fig: Figure) -> tuple[int, int, list[_Drawn]]:
    """Save ``fig`` as the inline backend does; (width, height) of the PNG and the texts drawn into it."""
    buffer = io.BytesIO()
    with _recording() as drawn:
        fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight", facecolor=fig.get_facecolor(),
                    edgecolor=fig.get_edgecolor())  # fmt: skip
    width, height = struct.unpack(">II", buffer.getvalue()[16:24])  # the PNG header's IHDR chunk
    return width, height, list(drawn.values())


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _roles(fig: Figure) -> dict[int, tuple[str, str]]:
    """id(text) -> (what the text is, where: its axes) for the texts matplotlib keeps by role."""
    roles: dict[int, tuple[str, str]] = {}
    for i, ax in enumerate(fig.axes):
        titles = [ax.title, *(getattr(ax, f"_{side}_title") for side in ("left", "right"))]  # matplotlib keeps three
        title = next((t.get_text() for t in titles if t.get_text()), "")
        where = f"axes {i + 1}" + (f" {_short(title, 30)}" if title else "")
        for t in titles:
            roles[id(t)] = ("title", where)
        for name, axis in ax._axis_map.items():
            roles[id(axis.label)] = (f"{name}-axis label", where)
            roles[id(axis.offsetText)] = (f"{name}-axis offset text", where)
            for tick in [*axis.majorTicks, *axis.minorTicks]:
                roles[id(tick.label1)] = roles[id(tick.label2)] = (f"{name} tick label", where)
        legend = ax.get_legend()
        if legend is not None:
            roles.update({id(t): ("legend entry", where) for t in legend.get_texts()})
            roles[id(legend.get_title())] = ("legend title", where)
    for legend in fig.legends:
        roles.update({id(t): ("legend entry", "figure") for t in legend.get_texts()})
        roles[id(legend.get_title())] = ("legend title", "figure")
    for attr, role in (("_suptitle", "suptitle"), ("_supxlabel", "supxlabel"), ("_supylabel", "supylabel")):
        if getattr(fig, attr, None) is not None:
            roles[id(getattr(fig, attr))] = (role, "figure")
    return roles


def _name(d: _Drawn, roles: dict[int, tuple[str, str]]) -> str:
    from matplotlib.text import Annotation

    role, where = roles.get(id(d.text), ("annotation" if isinstance(d.text, Annotation) else "text", ""))
    return f"{role} {_short(d.text.get_text())}" + (f" ({where})" if where else "")


def _sides(inner: Bbox, outer: Bbox) -> dict[str, float]:
    """How far ``inner`` reaches past each side of ``outer``, in pixels (sides it stays within left out)."""
    past = {"left": outer.x0 - inner.x0, "right": inner.x1 - outer.x1,
            "bottom": outer.y0 - inner.y0, "top": inner.y1 - outer.y1}  # fmt: skip
    return {side: px for side, px in past.items() if px > _SLACK_PX}


def _inside(inner: Bbox, outer: Bbox) -> bool:
    """Whether ``inner`` reaches into ``outer`` by more than the slack (a text beside the axes does not)."""
    from matplotlib.transforms import Bbox

    both = Bbox.intersection(inner, outer)
    return both is not None and both.width > _SLACK_PX and both.height > _SLACK_PX


def _describe(past: dict[str, float]) -> str:
    return ", ".join(f"{px:.0f} px on the {side}" for side, px in past.items())


def figure_problems(fig: Figure, shown_width_px: float = 800) -> list[str]:
    """What breaks the course's figure rules in ``fig`` as the inline backend saves it, one line per problem naming
    the text (see the module's docstring): cut texts, overlapping texts, text under 8 pt at the size shown (images
    shown at most ``shown_width_px`` wide), an image taller than 1,200 px. An empty list: the figure is fine."""
    from matplotlib.transforms import Bbox

    width, height, drawn = _save(fig)
    roles = _roles(fig)
    scale = min(1.0, shown_width_px / width)
    image = Bbox.from_bounds(0, 0, width, height)
    problems: list[str] = []
    visible: list[tuple[_Drawn, Bbox]] = []
    for d in drawn:
        extent = d.extent
        if d.clip is not None:
            past = _sides(extent, d.clip)
            if past:
                problems.append(f"cut: {_name(d, roles)} is clipped at its axes' edge ({_describe(past)})")
            shown = Bbox.intersection(extent, d.clip)
            if shown is None:
                continue
            extent = shown
        elif d.frame is not None and _inside(extent, d.frame):
            past = _sides(extent, d.frame)
            if past:
                problems.append(f"cut: {_name(d, roles)} crosses its axes' edge ({_describe(past)} outside): the "
                                "frame runs through it")  # fmt: skip
        past = _sides(extent, image)
        if past:
            problems.append(f"cut: {_name(d, roles)} leaves the saved image ({_describe(past)})")
        visible.append((d, extent))
    size = f"an image {width} px wide shown at {min(width, shown_width_px):.0f} px"
    for points in sorted({d.points for d in drawn if d.points * scale < MIN_POINTS - 1e-9}):
        group = [d for d in drawn if d.points == points]
        names = "; ".join(_name(d, roles) for d in group[:3]) + (f"; and {len(group) - 3} more" * (len(group) > 3))
        problems.append(f"too small: {points:g} pt text shows at {points * scale:.1f} pt ({size}; at least "
                        f"{MIN_POINTS:g} pt needed): {names}")  # fmt: skip
    problems += _overlaps(visible, roles)
    if height > MAX_HEIGHT_PX:
        problems.append(f"too tall: the saved image is {height} px tall (at most {MAX_HEIGHT_PX}; "
                        f"{fig.get_figheight():g} in at {fig.dpi:g} dpi before the tight crop)")  # fmt: skip
    return problems


def _overlaps(visible: list[tuple[_Drawn, Bbox]], roles: dict[int, tuple[str, str]]) -> list[str]:
    """One line per pair of overlapping texts; pairs of one kind in one place (crowded tick labels) share a line."""
    from matplotlib.transforms import Bbox

    pairs: dict[tuple, list[tuple[_Drawn, _Drawn, Bbox]]] = {}
    for i, (a, box_a) in enumerate(visible):
        for b, box_b in visible[i + 1 :]:
            if not _inside(box_a, box_b):
                continue
            both = Bbox.intersection(box_a, box_b)
            assert both is not None
            key_a, key_b = (roles.get(id(d.text), (type(d.text).__name__, "")) for d in (a, b))
            pairs.setdefault(tuple(sorted((key_a, key_b))), []).append((a, b, both))
    lines = []
    for group in pairs.values():
        a, b, both = group[0]
        line = f"overlap: {_name(a, roles)} and {_name(b, roles)} ({both.width:.0f} x {both.height:.0f} px)"
        if len(group) > 1:
            line += f", and {len(group) - 1} more such pair{'s' * (len(group) > 2)}"
        lines.append(line)
    return lines


def figure_title(fig: Figure, number: int | None = None) -> str:
    """How a problem names ``fig``: its suptitle, else its first axes title, else its number."""
    texts = [getattr(fig, "_suptitle", None), *(ax.title for ax in fig.axes)]
    title = next((t.get_text() for t in texts if t is not None and t.get_text().strip()), "")
    return _short(title, 80) if title else f"figure {number if number is not None else '(unnumbered)'}"


def install_figure_check() -> None:
    """Wrap ``matplotlib.pyplot.show`` so that every open figure is checked first (:func:`figure_problems`); any
    problem raises an :class:`~srlora_utils.errors.SrLoraError` listing them, one line each with the figure's title.
    Installing twice changes nothing."""
    import matplotlib.pyplot as plt
    from matplotlib._pylab_helpers import Gcf

    if getattr(plt.show, "_srlora_figure_check", False):
        return
    original = plt.show

    @functools.wraps(original)
    def show(*args, **kwargs):
        problems = []
        for manager in Gcf.get_all_fig_managers():
            fig = manager.canvas.figure
            problems += [f"{figure_title(fig, manager.num)}: {p}" for p in figure_problems(fig)]
        if problems:
            raise SrLoraError(
                f"{len(problems)} figure problem{'s' * (len(problems) > 1)} (the course's figure rules, "
                "SRLORA_CHECK_FIGURES=1):\n" + "\n".join(problems)
            )
        return original(*args, **kwargs)

    show._srlora_figure_check = True  # type: ignore[attr-defined]
    plt.show = show
