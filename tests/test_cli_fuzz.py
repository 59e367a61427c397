"""Fuzzing the whole command line (issue 38): every subcommand with arbitrary values for its options and positionals
(negative, zero, huge, NaN and inf, empty, non-numeric, paths that do not exist or cannot be written) ends in exit
0, or in exit 2 with exactly one line on stderr: never a traceback. Work is stubbed at its first heavy step (loading
a task, a backbone, a worker pool, otter, a download), so that every check made before work runs for real."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srlora_utils.cli import build_parser, main
from srlora_utils.data.shipped import checkout_dir


class ReachedWork(Exception):
    """Raised by a stub: the command got past its checks to its first heavy step."""


def _stop(*args, **kwargs):
    raise ReachedWork


#: The first heavy step of each kind of work, replaced by :func:`_stop`.
STUBS = [
    ("srlora_utils.training.run", "load_task"),
    ("srlora_utils.cli", "profile_for"),
    ("srlora_utils.core.checkpoint", "checkpoint_profile"),
    ("concurrent.futures", "ProcessPoolExecutor"),
    ("srlora_utils.data.fixtures", "write_fixtures"),
    ("srlora_utils.analysis.reference", "check_official_backbone"),
    ("srlora_utils.course.student", "build_release"),
    ("srlora_utils.course.grading", "grade_submission"),
    ("srlora_utils.experiments.domain_gap", "measure_gap"),
    ("torchvision.datasets", "FashionMNIST"),
    ("srlora_utils.course.reading", "reading_table"),
]
ROOT = checkout_dir() or Path.cwd()


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


SUBCOMMANDS = _subcommands()


def _values(tmp: Path) -> list[str]:
    """Values any option or positional may get: numbers out of range, non-numbers, and paths of every kind."""
    numbers = ["-1", "0", "1", "2", "7", "14", "28", "3", "-3", "0.5", "1e-3", "-0.0", "999999999999", "1e308", "nan",
               "inf", "-inf", "4294967296"]  # fmt: skip
    texts = ["", " ", "abc", "[0]", "None", "true", "lora", "srlora", "lfw", "textures", "digits", "medfmc:chest",
             "reproduction:paper", "medical:offline", "offline", "budget", "ladder:digits:permuted", "1/2", "3/2",
             "x/y", "cpu", "cuda:0", "bogus"]  # fmt: skip
    paths = [str(tmp / "out" / "runs.jsonl"), str(tmp / "out-dir"), str(tmp / "file.txt" / "below.jsonl"),
             str(tmp / "file.txt"), "/proc/forbidden/x.jsonl", "/proc/x.jsonl", "/proc/forbidden",
             str(tmp / "missing.ipynb"), str(ROOT / "grids" / "registration-2" / "positive-control.toml"),
             str(ROOT / "notebooks" / "00_lora_from_scratch.ipynb"), str(tmp / "grade.zip"),
             str(tmp / "records.jsonl"), str(tmp / ("long" * 80) / "x.jsonl")]  # fmt: skip
    return numbers + texts + paths


def _valid(action: argparse.Action, tmp: Path) -> st.SearchStrategy[str]:
    """A value the option accepts on its own (a choice, a number in its range, a writable path, a known name), so
    that the fuzzing also reaches the checks made after parsing (names, combinations, outputs)."""
    if action.choices:
        return st.sampled_from([str(c) for c in action.choices])
    bound = getattr(action.type, "bound", None)
    if bound is not None:
        low = int(bound.low or 0) + (1 if bound.low_open else 0)
        return st.integers(low, low + 40).map(str) if bound.kind is int else st.sampled_from(["1e-3", "0.05", "1"])
    if action.dest == "grid":
        return st.sampled_from(["medical:offline", "reproduction:paper", str(ROOT / "grids" / "tuned-study.toml"),
                                str(ROOT / "grids" / "registration-2" / "positive-control.toml")])  # fmt: skip
    if action.dest == "shard":
        return st.sampled_from(["0/2", "1/2"])
    if getattr(action.type, "__name__", "") == "_path":
        return st.sampled_from([str(tmp / "out" / "runs.jsonl"), str(tmp / "out-dir"), str(tmp / "records.jsonl")])
    return st.sampled_from(["lfw", "textures", "digits", "ladder:digits:permuted", "medical:offline", "lora",
                            "srlora", "cpu", "dinov2_vits14_imgfocus", "vit_base_patch16_224", "official"])  # fmt: skip


def _argv(draw, tmp: Path) -> list[str]:
    """A command line for one subcommand: each option present or not, with a valid or an arbitrary value."""
    name = draw(st.sampled_from(sorted(SUBCOMMANDS)))
    sub = SUBCOMMANDS[name]
    pool = st.sampled_from(_values(tmp))
    argv = [name]
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        value = st.one_of(_valid(action, tmp), _valid(action, tmp), _valid(action, tmp), pool)
        if not action.option_strings:  # a positional
            many = action.nargs in ("*", "+")
            count = draw(st.integers(0 if action.nargs == "*" else 1, 2)) if many else 1
            argv += [draw(value) for _ in range(count)]
            continue
        if action.required or draw(st.sampled_from([False, False, False, True])):
            flag = action.option_strings[-1]
            if action.nargs == 0:
                argv.append(flag)
            elif action.nargs in ("*", "+"):
                argv += [flag, *[draw(value) for _ in range(draw(st.integers(1, 3)))]]
            else:
                argv += [flag, draw(value)]
    return argv


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory):
    """Heavy steps stubbed; a scratch folder with a file in the way and a records file, as the working directory."""
    import importlib

    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "file.txt").write_text("a file in the way\n")
    (tmp / "records.jsonl").write_text("")
    mp = pytest.MonkeyPatch()
    for module, attr in STUBS:
        mp.setattr(importlib.import_module(module), attr, _stop)
    mp.chdir(tmp)
    yield tmp
    mp.undo()


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``srlora argv`` in process: exit code, stdout, stderr (a stub reached counts as exit 0: checks passed)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
        except ReachedWork:
            code = 0
    return code, out.getvalue(), err.getvalue()


FUZZ = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data())
def test_every_subcommand_ends_in_exit_0_or_one_line(stubbed, data):
    argv = _argv(data.draw, stubbed)
    code, _, err = run_cli(argv)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("srlora: warning:")]
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert len(lines) == 1, (argv, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--task", "lfw", "--method", "lora", "--shots", "5", "--lr", "-1"],
        ["train", "--task", "lfw", "--method", "lora", "--shots", "5", "--weight-decay", "-3"],
        ["train", "--task", "lfw", "--method", "lora", "--shots", "5", "--img-size", "7"],
        ["train", "--task", "lfw", "--method", "lora", "--shots", "5", "--lr", "0"],
        ["train", "--task", "lfw", "--method", "lora", "--shots", "5", "--records", "/proc/x.jsonl"],
        ["lessons", "/proc/forbidden"],
        ["sweep", "medical:offline", "--tiny", "--records", "/proc/x.jsonl"],
        ["sweep", "medical:offline", "--tiny", "--jobs", "2", "--records", "/proc/x.jsonl"],
        ["tune", str(ROOT / "grids" / "registration-2" / "positive-control.toml"), "--records", "/proc/x.jsonl"],
    ],
)
def test_the_issue_commands_end_in_one_line_before_any_work(stubbed, argv):
    import time

    start = time.perf_counter()
    code, _, err = run_cli(argv)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert time.perf_counter() - start < 1.0  # in process, after the imports: no data or model is touched


def test_docs_list_the_checks_the_code_makes():
    from srlora_utils.cli import checks_markdown

    text = (ROOT / "docs" / "checks.md").read_text()
    generated = text.split("<!-- generated: srlora_utils.cli.checks_markdown() -->\n")[1].split("<!-- end")[0]
    assert generated == checks_markdown(), "docs/checks.md is stale: paste srlora_utils.cli.checks_markdown()"


def test_a_lesson_parameter_of_the_wrong_type_is_one_line():
    from srlora_utils import check_parameters
    from srlora_utils.errors import SrLoraError

    with pytest.raises(SrLoraError, match=r"shots='\[0\]' is text, not a list of whole numbers: pass shots=\[1\]"):
        check_parameters(shots="[0]")
    with pytest.raises(SrLoraError, match="unknown preset 'papr': use one of offline, tutorial, paper"):
        check_parameters(preset="papr")
    with pytest.raises(SrLoraError, match="unknown method 'sora'"):
        check_parameters(methods=["lora", "sora"])
    with pytest.raises(SrLoraError, match="rerun='False' must be True or False"):
        check_parameters(rerun="False")
    check_parameters(shots=[1, 5], preset="offline", methods=None, rerun=True, seed=3)  # the right types pass
