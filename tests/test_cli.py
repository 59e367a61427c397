import json
import subprocess
import sys
from pathlib import Path

import pytest

import srlora_utils as S
from srlora_utils.cli import main


def test_allocate_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "ranks.json"
    assert main(["allocate", "--rule", "budget", "--r", "8", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "blocks.11.attn.qkv.v" in text and "uniform LoRA r=8" in text and "(ratio 1.00x)" in text
    saved = json.loads(out.read_text())
    model = S.split_qkv(S.load_backbone())
    expected = S.allocate_ranks(S.spectral_profile(model, "official"), "budget", r=8)
    assert saved["ranks"] == expected
    assert saved["lora_params"] <= saved["uniform_lora_params"] == 8 * 36 * 768


def test_allocate_paper_rule_on_fused_target(capsys):
    assert main(["allocate", "--target", "qkv", "--estimator", "fast"]) == 0
    assert main(["allocate", "--target", "qkv", "--method", "fast"]) == 0  # the old spelling still parses
    text = capsys.readouterr().out
    assert "blocks.0.attn.qkv " in text and "1152x384" in text and text.count("stable rank: fast") == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["allocate", "--rule", "magic"], "invalid choice: 'magic'"),
        (["allocate", "--r", "eight"], "'eight' is not a whole number"),
        (["allocate", "--rule", "budget", "--budget", "10"], "budget of 10 LoRA parameters is too small"),
        (["allocate", "--backbone", "vit_nope"], "unknown backbone 'vit_nope'"),
        (["allocate", "--target", "everything"], "--target 'everything' is not a target of a backbone"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert _exit_code(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    # argparse prints its usage first; the error itself is one line
    assert message in lines[-1] and all(line.startswith(("usage:", " ")) for line in lines[:-1]), lines


def _exit_code(argv: list[str]) -> int:
    """What the console script would exit with: main's return value, or argparse's exit."""
    try:
        return main(argv)
    except SystemExit as done:
        return int(done.code or 0)


def test_console_script_is_installed_and_ends_an_error_in_one_line():
    """The one test that starts the real console script (a fresh interpreter: several seconds); the others call
    main() in this process."""
    script = Path(sys.executable).parent / "srlora"  # the venv's bin/, whether or not it is on PATH
    proc = subprocess.run([str(script), "allocate", "--backbone", "vit_nope"], capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and lines == [lines[0]] and "unknown backbone 'vit_nope'" in lines[0], proc.stderr


def test_train_command_appends_a_record(tmp_path, capsys):
    records = tmp_path / "runs.jsonl"
    argv = ["train", "--task", "lfw", "--method", "lora", "--shots", "1", "--epochs", "1", "--img-size", "28",
            "--records", str(records)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "lfw (stand-in) | lora | 1-shot seed 0" in out and "test: accuracy" in out
    assert len(records.read_text().splitlines()) == 1


def test_train_command_rejects_unknown_method(capsys):
    assert _exit_code(["train", "--method", "sora"]) == 2 and "invalid choice: 'sora'" in capsys.readouterr().err


def test_train_options_are_the_trainconfig_fields_with_its_defaults():
    import dataclasses

    from srlora_utils.cli import build_parser
    from srlora_utils.training.config import TrainConfig

    args = build_parser().parse_args(["train"])
    assert {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)} == dataclasses.asdict(TrainConfig())
    args = build_parser().parse_args(["train", "--warmup-iters", "3", "--lr", "0.01", "--exp", "2"])
    assert (args.warmup_iters, args.lr, args.exp) == (3, 0.01, 2)


def _notebook(path: Path, prose_words: int, code_words: int) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(" ".join(["word"] * prose_words)),
                nbformat.v4.new_code_cell(" ".join(["x"] * code_words)),
                nbformat.v4.new_code_cell("not counted " * 500, metadata={"tags": ["solution"]})]  # fmt: skip
    nbformat.write(nb, str(path))
    return path


def test_reading_time_prints_each_notebooks_minutes(tmp_path, capsys):
    (tmp_path / "appendix").mkdir()
    lesson = _notebook(tmp_path / "01_lesson.ipynb", 260, 60)  # 2 + 1 minutes
    extra = _notebook(tmp_path / "appendix" / "01a_more.ipynb", 130, 0)
    assert main(["reading-time", str(lesson), str(extra)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["notebook", "prose", "words", "code", "words", "tables", "figures", "minutes"]
    assert lines[1].split() == ["01_lesson.ipynb", "260", "60", "0", "0", "3"]
    assert lines[2].split() == ["appendix/01a_more.ipynb", "130", "0", "0", "0", "1"]
    assert "130 words a minute" in lines[3]
    assert _exit_code(["reading-time", str(tmp_path / "nope.ipynb")]) == 2
    assert "no such notebook" in capsys.readouterr().err


def test_reading_time_reads_the_lessons_by_default(capsys):
    from srlora_utils.cli import reading_time_notebooks

    lessons = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert reading_time_notebooks()[: len(lessons)] == lessons
    assert main(["reading-time"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{p.name} " in out or f" {p.name} " in out for p in lessons), out


def test_lessons_turns_off_jupyterlabs_news_pop_up(tmp_path, monkeypatch, capsys):
    """``srlora lessons`` writes JupyterLab's settings override (fetchNews "false") into the app dir's settings,
    keeping the other overrides there."""
    from srlora_utils.course.jupyterlab import NEWS_PLUGIN

    settings = tmp_path / "lab" / "settings"
    settings.mkdir(parents=True)
    (settings / "overrides.json").write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "x"}}))
    monkeypatch.setenv("JUPYTERLAB_DIR", str(tmp_path / "lab"))
    assert main(["lessons", str(tmp_path / "course")]) == 0
    out = capsys.readouterr().out
    assert f"JupyterLab: no news pop-up (settings override {settings / 'overrides.json'})" in out
    overrides = json.loads((settings / "overrides.json").read_text())
    assert overrides == {"@jupyterlab/apputils-extension:themes": {"theme": "x"}, NEWS_PLUGIN: {"fetchNews": "false"}}
    (settings / "overrides.json").write_text("[1]")  # not a JSON object: left alone, and the student told how
    assert main(["lessons", str(tmp_path / "course"), "--force"]) == 0
    assert "news pop-up left on" in capsys.readouterr().out and (settings / "overrides.json").read_text() == "[1]"
