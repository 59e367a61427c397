"""The course's figure rules as a check (srlora_utils.figure_check): a clean figure passes; a planted overlap, cut
label, small text and tall figure are each found; ``plt.show()`` raises under the installed check; the default
colour cycle is Okabe-Ito's."""

from __future__ import annotations

import importlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

import srlora_utils  # sets the palette
from srlora_utils.errors import SrLoraError
from srlora_utils.figure_check import OKABE_ITO, figure_problems, install_figure_check


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def plain_show(monkeypatch):
    """``plt.show`` without the check (``make test`` installs it at import), restored after the test."""
    show = plt.show
    while getattr(show, "_srlora_figure_check", False):
        show = show.__wrapped__
    monkeypatch.setattr(plt, "show", show)
    return show


def _clean():
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([1, 2, 3], [1, 4, 9], label="squares")
    ax.set_xlabel("x (units)")
    ax.set_ylabel("y (units)")
    ax.set_title("A clean figure (synthetic data)")
    ax.legend()
    return fig, ax


def test_a_clean_figure_has_no_problem():
    fig, _ = _clean()
    assert figure_problems(fig) == []


def test_two_texts_at_one_place_overlap():
    fig, ax = _clean()
    ax.text(2, 5, "first label")
    ax.text(2, 5, "second label")
    (problem,) = figure_problems(fig)
    assert problem.startswith("overlap:") and "'first label'" in problem and "'second label'" in problem


def test_an_annotation_past_the_axes_edge_is_cut():
    fig, ax = _clean()
    ax.annotate("full_ft", (3, 9), xytext=(4, 4), textcoords="offset points", clip_on=True)
    (problem,) = figure_problems(fig)
    assert problem.startswith("cut:") and "annotation 'full_ft'" in problem and "on the right" in problem


def test_an_unclipped_annotation_across_the_axes_frame_is_cut():
    fig, ax = _clean()
    ax.annotate("full_ft", (3, 9), xytext=(4, 4), textcoords="offset points")  # drawn whole, the frame through it
    ax.annotate("beside", (1.02, 0.5), xycoords="axes fraction")  # wholly outside the axes: fine
    (problem,) = figure_problems(fig)
    assert problem.startswith("cut: annotation 'full_ft'") and "crosses its axes' edge" in problem


def test_a_text_left_out_of_the_layout_outside_the_figure_is_cut():
    fig, _ = _clean()
    fig.text(1.05, 0.5, "outside", in_layout=False)  # the tight crop does not widen for it
    (problem,) = figure_problems(fig)
    assert problem.startswith("cut:") and "'outside'" in problem and "leaves the saved image" in problem


def test_small_text_is_found_at_the_size_shown():
    fig, ax = _clean()
    ax.tick_params(axis="x", labelsize=5)
    (problem,) = figure_problems(fig)
    assert problem.startswith("too small: 5 pt text shows at 5.0 pt") and "x tick label '1.00'" in problem
    wide, ax = plt.subplots(figsize=(14, 3))  # about 1,140 px after the crop, shown at 800: 9 pt shows at 6.3 pt
    ax.plot([1, 2], [1, 2])
    ax.set_xlabel("x (units)", fontsize=9)
    problems = figure_problems(wide)
    assert any(p.startswith("too small: 9 pt text shows at") and "x-axis label 'x (units)'" in p for p in problems)
    assert figure_problems(wide, shown_width_px=2000) == []  # shown at full size: 9 pt is fine


def test_a_figure_taller_than_1200_px_is_found():
    fig, ax = plt.subplots(figsize=(4, 14), layout="tight")  # axes fill it: the tight crop keeps about 14 in
    ax.plot([1, 2], [1, 2])
    (problem,) = figure_problems(fig)
    assert problem.startswith("too tall:") and "at most 1200" in problem


def test_show_raises_under_the_installed_check_with_the_problem(plain_show):
    install_figure_check()
    install_figure_check()  # twice: one wrapper
    assert plt.show._srlora_figure_check and plt.show.__wrapped__ is plain_show
    fig, ax = _clean()
    plt.show()  # a clean figure shows
    ax.annotate("full_ft", (3, 9), xytext=(4, 4), textcoords="offset points", clip_on=True)
    with pytest.raises(SrLoraError) as err:
        plt.show()
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and lines[1].startswith("'A clean figure (synthetic data)': cut: annotation 'full_ft'")


def test_the_check_is_installed_at_import_only_when_asked(monkeypatch, plain_show):
    monkeypatch.delenv("SRLORA_CHECK_FIGURES", raising=False)
    importlib.reload(srlora_utils)  # the package's own code again (its modules are cached: quick)
    assert plt.show is plain_show
    monkeypatch.setenv("SRLORA_CHECK_FIGURES", "1")
    importlib.reload(srlora_utils)
    assert plt.show._srlora_figure_check and plt.show.__wrapped__ is plain_show


def test_the_default_colour_cycle_is_okabe_ito():
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == OKABE_ITO
    fig, ax = plt.subplots()
    first, second = ax.plot([0, 1]), ax.plot([1, 0])
    assert [first[0].get_color(), second[0].get_color()] == OKABE_ITO[:2]
