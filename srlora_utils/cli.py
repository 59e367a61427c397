"""The ``srlora`` command line: ``allocate`` (ranks of a backbone), ``train`` (one run), ``sweep`` (a preset's grid,
resumable and shardable), ``report`` (the paper's tables from records), ``fixtures`` (synthetic data in the official
layouts), ``lessons`` (the lesson notebooks, copied into a course folder), ``student`` and ``grade`` (the student
release and grading a folder of submissions), ``reading-time`` (how long each lesson takes to read), ``gap`` (the gap
ladder's domain gaps) and ``fetch`` (a dataset the offline lessons read)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, cast

import pandas as pd

from .checks import OPTION_BOUNDS, RUN_BOUNDS, Bound
from .core.allocation import RULES, allocate_ranks, lora_parameter_count, rank_table
from .core.profile import TARGETS
from .core.spectral import ESTIMATORS
from .errors import SrLoraError
from .models.backbones import OFFLINE_BACKBONE
from .training.config import FIELD_HELP, TrainConfig
from .training.records import write_json_atomic


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse would print the usage too)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def profile_for(backbone: str | None, target: str, estimator: str = "exact") -> pd.DataFrame:
    """Load ``backbone``, split its qkv when ``target`` needs it, and return its spectral profile (stable ranks by
    ``estimator``)."""
    from .core.profile import spectral_profile
    from .core.qkv import split_qkv
    from .models.backbones import load_backbone

    model = load_backbone(backbone)
    if target in ("official", "qv_separate"):
        split_qkv(model)
    return spectral_profile(model, cast(Any, target), estimator=cast(Any, estimator))


def _check_allocate(args: argparse.Namespace) -> None:
    """``srlora allocate``'s combinations and outputs, before any backbone is read."""
    from .data.outputs import check_output_file, check_output_folder

    if args.budget is not None and args.rule != "budget":
        raise SrLoraError(f"--budget applies to --rule budget, not --rule {args.rule}: add --rule budget or drop it")
    if args.r_max is not None and args.r_max < args.r_min:
        raise SrLoraError(f"--r-max {args.r_max} is below --r-min {args.r_min}: raise --r-max or lower --r-min")
    if args.json:
        check_output_file(args.json, "--json file")
    if args.lora_config:
        check_output_folder(args.lora_config, "--lora-config folder")


def _allocate(args: argparse.Namespace) -> int:
    _check_allocate(args)
    args.estimator = args.estimator or ("fast" if args.checkpoint else "exact")
    args.target = args.target or ("all_linear" if args.checkpoint else "official")
    if args.checkpoint:
        from .core.checkpoint import checkpoint_profile

        target = args.target if "," not in args.target else args.target.split(",")
        profile = checkpoint_profile(args.checkpoint, target, args.estimator)
    else:
        if args.target not in TARGETS:
            raise SrLoraError(
                f"--target {args.target!r} is not a target of a backbone: use one of {', '.join(TARGETS)}"
            )
        profile = profile_for(args.backbone, args.target, args.estimator)
    ranks = allocate_ranks(profile, args.rule, r=args.r, budget=args.budget, r_min=args.r_min, r_max=args.r_max)
    uniform = allocate_ranks(profile, "uniform", r=args.r)
    table = rank_table(profile, ranks)
    total = lora_parameter_count(ranks, profile)
    base = lora_parameter_count(uniform, profile)
    name = args.checkpoint or args.backbone or OFFLINE_BACKBONE
    print(f"model: {name}   target: {args.target}   rule: {args.rule}   stable rank: {args.estimator}")
    with pd.option_context("display.max_rows", None, "display.width", 120):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(
        f"total: {len(ranks)} modules, ranks {min(ranks.values())}..{max(ranks.values())}, "
        f"{total:,} LoRA parameters; uniform LoRA r={args.r} on the same modules: {base:,} "
        f"(ratio {total / base:.2f}x)"
    )
    if args.json:
        write_json_atomic(
            args.json,
            {
                "backbone": name,
                "target": args.target,
                "rule": args.rule,
                "r": args.r,
                "budget": args.budget,
                "estimator": args.estimator,
                "ranks": ranks,
                "lora_params": total,
                "uniform_lora_params": base,
                "modules": table.to_dict(orient="records"),
            },
        )
        print(f"wrote {args.json}")
    if args.lora_config:
        from .core.peft_config import srlora_config

        srlora_config(ranks, head=None if args.checkpoint else "head").save_pretrained(args.lora_config)
        print(f"wrote {Path(args.lora_config) / 'adapter_config.json'} (peft.LoraConfig.from_pretrained reads it)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``srlora`` argument parser: allocate, train, sweep, tune, report, fixtures, check-backbone, lessons,
    reading-time, gap and fetch."""
    parser = _Parser(prog="srlora", description="Stable-rank-guided LoRA rank allocation (SR-LoRA).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_allocate(sub)
    _add_train(sub)
    _add_sweep(sub)
    _add_tune(sub)
    r = sub.add_parser("report", help="the paper's tables from records, next to the authors' numbers")
    r.add_argument("records", nargs="+", help="JSON-lines records files")
    r.add_argument("--where", nargs="*", default=[], metavar="KEY=VALUE", help="keep runs whose config matches")
    r.set_defaults(func=_report)

    f = sub.add_parser(
        "fixtures",
        help="write synthetic MedFMC, VTAB-1k, MedMNIST, EuroSAT and Fashion-MNIST data in the official "
        "layouts (SRLORA_DATA=FOLDER then runs the tutorial and paper presets on them)",
    )
    f.add_argument(
        "folder", type=_path, help="data folder to write MedFMC/, VTAB-1k/, medmnist/, eurosat/ and fashion-mnist/ into"
    )
    f.add_argument("--size", type=_number(OPTION_BOUNDS["size"]), default=32,
                   help="image size in px of MedFMC, VTAB-1k and EuroSAT (32)")  # fmt: skip
    f.set_defaults(func=_fixtures)

    b = sub.add_parser("check-backbone", help="which timm checkpoint reproduces the official ViT-B/16 rank list")
    b.add_argument("names", nargs="*", help="timm checkpoints (default: the two candidates)")
    b.set_defaults(func=_check_backbone)
    _add_lessons(sub)
    _add_course(sub)
    _add_reading_time(sub)
    _add_gap(sub)
    return parser


def _add_gap(sub) -> None:
    g = sub.add_parser("gap", help="measure the gap ladder's domain gaps (raw-pixel minus frozen-feature 5-NN)")
    g.add_argument("tasks", nargs="*", help="ladder tasks (default: all 8, ladder:<digits|fashion>:<rung>)")
    g.add_argument(
        "--out", type=_path, help="write the gap records here (JSON, atomically), e.g. results/gap-ladder/gaps.json"
    )
    g.add_argument(
        "--backbone", default=None, help=f"backbone whose frozen features are read (default: {OFFLINE_BACKBONE})"
    )
    g.set_defaults(func=_gap)
    d = sub.add_parser("fetch", help="download a dataset the offline lessons read (needs a network)")
    d.add_argument("dataset", choices=["fashion-mnist"], help="fashion-mnist: the gap ladder's second label source")
    d.add_argument("--dest", type=_path, default=None, help="folder to write it to (default: data/fashion-mnist)")
    d.set_defaults(func=_fetch)


def _gap(args: argparse.Namespace) -> int:
    from .data.gap_ladder import ladder_tasks
    from .data.outputs import check_output_file
    from .experiments.domain_gap import measure_gaps

    if args.out:
        check_output_file(args.out, "--out file")

    for r in measure_gaps(args.tasks or ladder_tasks(), args.out, args.backbone):
        print(f"{r['task']:<26} raw-pixel 5-NN {r['raw_knn']:6.2f}%  frozen-feature 5-NN {r['feature_knn']:6.2f}%  "
              f"gap {r['gap']:+7.2f} points  ({r['pool']} images)")  # fmt: skip
    if args.out:
        print(f"-> {args.out}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from .data.fashion_mnist import fetch_fashion_mnist
    from .data.outputs import check_output_folder

    if args.dest:
        check_output_folder(args.dest, "--dest folder")

    print(f"Fashion-MNIST: {fetch_fashion_mnist(args.dest)}")
    return 0


def _add_allocate(sub) -> None:
    p = sub.add_parser("allocate", help="print the LoRA rank of every adapted matrix of a backbone")
    p.add_argument(
        "--backbone", default=None, help=f"timm name or checkpoint path (default: offline {OFFLINE_BACKBONE})"
    )
    p.add_argument("--target", default=None,
                   help=f"which matrices get LoRA: for a backbone one of {', '.join(TARGETS)} (default: official); "
                   "with --checkpoint all_linear, a regular expression over module names, or a comma list of name "
                   "endings such as query,value (default: all_linear)")  # fmt: skip
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="any transformer: a .safetensors file, a folder of (sharded) ones, or a Hub id; read one "
                   "matrix at a time (instead of --backbone)")  # fmt: skip
    p.add_argument("--targets", dest="target", help=argparse.SUPPRESS)  # the old spelling of --target
    p.add_argument("--rule", choices=RULES, default="paper", help="rank rule (default: paper)")
    p.add_argument("--r", type=_number(RUN_BOUNDS["r"]), default=8,
                   help="uniform rank, and the reference for the default budget (8)")  # fmt: skip
    p.add_argument("--budget", type=_number(OPTION_BOUNDS["budget"]), default=None,
                   help="LoRA parameter budget for --rule budget")  # fmt: skip
    p.add_argument("--r-min", type=_number(OPTION_BOUNDS["r_min"]), default=1,
                   help="smallest rank for --rule budget (1)")  # fmt: skip
    p.add_argument("--r-max", type=_number(OPTION_BOUNDS["r_max"]), default=None,
                   help="largest rank (default: the matrix size)")  # fmt: skip
    p.add_argument(
        "--estimator",
        choices=ESTIMATORS,
        default=None,
        help="how stable ranks are computed: exact (float64 SVD), fast (certified: rounds as exact) or "
        "official (the script's float32 arithmetic); default exact, fast with --checkpoint",
    )
    p.add_argument("--method", choices=ESTIMATORS, dest="estimator", help=argparse.SUPPRESS)  # the old spelling
    p.add_argument("--lora-config", type=_path, default=None, metavar="DIR",
                   help="also save the peft.LoraConfig to DIR")  # fmt: skip
    p.add_argument("--json", type=_path, default=None, metavar="FILE", help="also write the allocation as JSON")
    p.set_defaults(func=_allocate)


def _add_train(sub) -> None:
    from .data.images import AUGMENTATIONS
    from .data.medmnist import MEDMNIST_SIZES
    from .models.normalization import NORMALIZATIONS
    from .training.methods import METHODS, PEER_SETUPS, SCALINGS  # light: no torch model is built at import
    from .training.nested import EVAL_RANKS

    t = sub.add_parser("train", help="run one few-shot experiment and append its record")
    choices = {"method": METHODS, "augment": AUGMENTATIONS, "normalize": NORMALIZATIONS, "scaling": SCALINGS,
               "eval_rank": EVAL_RANKS, "medmnist_size": MEDMNIST_SIZES, "peers": PEER_SETUPS}  # fmt: skip
    for f in dataclasses.fields(TrainConfig):  # one option per field, with TrainConfig's default: no default twice
        t.add_argument(f"--{f.name.replace('_', '-')}", type=_field_type(f), default=f.default,
                       choices=choices.get(f.name), help=f"{FIELD_HELP[f.name]} (default: {f.default})")  # fmt: skip
    t.add_argument("--records", type=_path, default="results/runs.jsonl",
                   help="JSON-lines file the record is appended to")  # fmt: skip
    t.add_argument("--force", action="store_true", help="run again even if the record exists")
    t.set_defaults(func=_train)


def _add_tune(sub) -> None:
    u = sub.add_parser("tune", help="run a tuned protocol: selection, edge rule, confirmation (resumes from records)")
    u.add_argument("grid", help="a .toml grid file with a [tuning] table (grids/tuned-study.toml)")
    u.add_argument("--records", type=_path, required=True, help="a .jsonl file; recorded runs are skipped")
    u.add_argument("--jobs", type=_number(OPTION_BOUNDS["jobs"]), default=1,
                   help="local processes sharing one queue (default 1)")  # fmt: skip
    u.add_argument("--dry-run", action="store_true", help="list the chosen settings and the runs left; train nothing")
    u.set_defaults(func=_tune)


def _tune(args: argparse.Namespace) -> int:
    from .experiments.grids import grid_settings
    from .experiments.tuning import TuningPlan, chosen_table, reused_records, run_tuned, tuned_records, tuning_state

    settings = grid_settings(args.grid)
    reused = reused_records(TuningPlan.from_settings(settings, args.grid))
    if args.dry_run:
        state = tuning_state(settings, {**reused, **tuned_records(args.records)})
    else:
        state = run_tuned(args.grid, args.records, args.jobs, reused=reused)
    done = set(tuned_records(args.records)) | set(reused)
    from .training.config import config_key

    runs = state.configs()
    left = sum(config_key(c) not in done for c in runs)
    print(chosen_table(state).to_string())
    print(f"{len(runs)} runs known so far, {left} left to run -> {args.records}")
    return 0


def _add_sweep(sub) -> None:
    from .training.methods import METHODS

    w = sub.add_parser("sweep", help="run a preset's or a grid file's runs (resumes from its records)")
    w.add_argument("grid", help="a .toml grid file, or domain:preset (reproduction:paper, medical:paper, ...)")
    w.add_argument(
        "--records", type=_path, default="results/runs.jsonl",
        help="a .jsonl file (one machine) or a directory (clusters, network file systems); recorded runs are skipped",
    )  # fmt: skip
    w.add_argument(
        "--shard", default=None, metavar="I/N",
        help="run every N-th run from the I-th (0-based); default: from torchrun or a SLURM array, else all",
    )  # fmt: skip
    w.add_argument("--workers", type=_number(RUN_BOUNDS["workers"]), default=None,
                   help="data-loading processes per run (default: the grid's)")  # fmt: skip
    w.add_argument(
        "--jobs", type=_number(OPTION_BOUNDS["jobs"]), default=1,
        help="local worker processes taking the grid's runs from one queue (cores/N threads each); on a 2-core CPU, "
             "--jobs 2 trains about 1.4x more runs per hour than one process",
    )  # fmt: skip
    w.add_argument("--dry-run", action="store_true", help="list the runs and how many are done; train nothing")
    w.add_argument("--tiny", action="store_true", help="CI size: offline backbone, 28 px, 1 epoch, 2 splits")
    w.add_argument("--backbone", default=None)
    w.add_argument("--img-size", type=_number(RUN_BOUNDS["img_size"]), default=None)
    w.add_argument("--epochs", type=_number(RUN_BOUNDS["epochs"]), default=None)
    w.add_argument("--shots", type=_number(RUN_BOUNDS["shots"]), nargs="+", default=None)
    w.add_argument("--exps", type=_number(RUN_BOUNDS["exp"]), nargs="+", default=None,
                   help="MedFMC splits (default: the grid's)")  # fmt: skip
    w.add_argument("--seeds", type=_number(RUN_BOUNDS["seed"]), nargs="+", default=None)
    w.add_argument("--methods", nargs="+", choices=METHODS, default=None)
    w.add_argument("--device", default=None)
    w.set_defaults(func=_sweep)


def _add_lessons(sub) -> None:
    le = sub.add_parser("lessons", help="copy the lesson notebooks into a course folder (and turn off JupyterLab's "
                        "news pop-up)")  # fmt: skip
    le.add_argument("folder", type=_path, help="where to copy them (created if needed), e.g. my-course")
    le.add_argument("--force", action="store_true", help="overwrite lesson files already in the folder")
    le.set_defaults(func=_lessons)


def _lessons(args: argparse.Namespace) -> int:
    import shlex

    from .data.outputs import check_output_folder
    from .data.shipped import copy_lessons

    check_output_folder(args.folder, "lessons folder")
    written = copy_lessons(args.folder, force=args.force)
    for path in written:
        print(f"wrote {path}")
    _quiet_jupyterlab()
    first = next(p.name for p in written if p.suffix == ".ipynb")
    print(f"{len(written)} lessons; start with: cd {shlex.quote(args.folder)} && jupyter lab {first}")
    return 0


def _quiet_jupyterlab() -> None:
    """This environment's JupyterLab without the news pop-up (a settings override); a hint when that cannot be
    written (a system-wide JupyterLab, say)."""
    from .course.jupyterlab import by_hand, lab_settings_dir, quiet_jupyterlab

    try:
        print(f"JupyterLab: no news pop-up (settings override {quiet_jupyterlab()})")
    except (OSError, ValueError) as err:
        path = lab_settings_dir() / "overrides.json"
        print(f"JupyterLab: news pop-up left on ({type(err).__name__}: {err}); {by_hand(path)}")


def _add_course(sub) -> None:
    s = sub.add_parser("student", help="the student release of the lessons (solutions and hidden checks removed, "
                       "grader.check cells in) and each lesson's autograder zip, built with otter-grader")  # fmt: skip
    s.add_argument("--out", type=_path, default="build", help="folder for student/ and autograder/ (default: build)")
    s.add_argument("lessons", nargs="*", metavar="LESSON", help="executed lesson notebooks (default: every lesson)")
    s.set_defaults(func=_student)
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks with a lesson's autograder zip")
    g.add_argument("autograder", help="the lesson's zip from `srlora student` (build/autograder/NAME-autograder.zip)")
    g.add_argument("folder", help="a folder holding one submitted .ipynb per student")
    g.add_argument("--out", type=_path, default=None, metavar="CSV",
                   help="also write the scores as CSV (written atomically)")  # fmt: skip
    g.set_defaults(func=_grade)


def _student(args: argparse.Namespace) -> int:
    from .course.student import build_release
    from .data.outputs import check_output_folder
    from .data.shipped import LESSONS, shipped_path

    lessons = [Path(p) for p in args.lessons] or sorted(shipped_path(LESSONS).glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in lessons if not p.is_file()]
    if missing:
        raise SrLoraError(f"no such lesson notebook: {', '.join(missing)}")
    check_output_folder(args.out, "--out folder")
    for lesson in lessons:
        release = build_release(lesson, args.out)
        print(f"{lesson.stem}: {release.student} ({release.points} points), {release.autograder}")
    print(f"give students {Path(args.out) / 'student'}/; grade with: srlora grade <autograder zip> <folder>")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from .course.grading import grade_folder
    from .data.outputs import check_output_file
    from .training.records import write_text_atomic

    if args.out:
        check_output_file(args.out, "--out file")

    table = pd.DataFrame(grade_folder(args.folder, args.autograder))
    print(table.to_string(index=False))
    if args.out:
        write_text_atomic(args.out, table.to_csv(index=False))
        print(f"wrote {args.out}")
    return 0


def _add_reading_time(sub) -> None:
    t = sub.add_parser("reading-time", help="how long each lesson takes to read, by the course's rule (prose 130 "
                       "words a minute, code 60, 1.5 minutes a table or figure)")  # fmt: skip
    t.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="executed notebooks (default: the lessons and the appendix notebooks of this checkout or of "
                   "the installed kit)")  # fmt: skip
    t.set_defaults(func=_reading_time)


def reading_time_notebooks() -> list[Path]:
    """The notebooks ``srlora reading-time`` reads by default: the lessons (``NN_*.ipynb``) and the appendix
    notebooks of the checkout, or of the installed kit."""
    from .data.shipped import LESSONS, shipped_path

    folder = shipped_path(LESSONS)
    return sorted(folder.glob("[0-9][0-9]_*.ipynb")) + sorted((folder / "appendix").glob("*.ipynb"))


def _reading_time(args: argparse.Namespace) -> int:
    from .course.reading import CODE_WPM, PER_EXHIBIT, PROSE_WPM, reading_table

    paths: list[str | Path] = [Path(p) for p in args.notebooks] or [*reading_time_notebooks()]
    if not paths:
        raise SrLoraError("no notebooks to read: name some (srlora reading-time NOTEBOOK ...)")
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise SrLoraError(f"no such notebook: {', '.join(missing)}")
    try:
        rows = reading_table(paths)
    except Exception as err:  # nbformat's errors for a file that is not a notebook
        why = (str(err).strip().splitlines() or [""])[0]
        raise SrLoraError(f"cannot read a notebook ({type(err).__name__}: {why}); name executed .ipynb files") from None
    for row, path in zip(rows, paths, strict=True):
        path = Path(path)
        row["notebook"] = f"appendix/{path.name}" if path.parent.name == "appendix" else path.name
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"minutes: prose at {PROSE_WPM} words a minute, code at {CODE_WPM}, {PER_EXHIBIT:g} a table or figure "
          "(solutions and hidden cells left out; srlora_utils.course.reading)")  # fmt: skip
    return 0


def _sweep_grid(args: argparse.Namespace, device: str | None) -> tuple[dict, list]:
    """The grid ``srlora sweep`` names, with its options on top: its settings and runs (executed on ``device``)."""
    from .experiments.grids import grid_configs, grid_settings

    keys = ("backbone", "img_size", "epochs", "shots", "exps", "seeds", "methods", "workers")
    settings = grid_settings(args.grid, args.tiny, **{k: getattr(args, k) for k in keys})
    configs = grid_configs(settings)
    if device is not None:  # where a run executes does not change what it is: the key stays the grid's
        configs = [dataclasses.replace(c, device=device) for c in configs]
    return settings, configs


def _sweep(args: argparse.Namespace) -> int:
    from .experiments.launch import worker_share
    from .experiments.sweeps import run_configs, shard
    from .training.config import config_key
    from .training.records import done_keys

    if args.jobs > 1 and not args.dry_run:
        return _local_jobs(args)
    share = worker_share(args.shard)
    settings, configs = _sweep_grid(args, args.device or share.device)
    mine = shard(configs, share.shard)
    done = done_keys(args.records)
    left = [c for c in mine if config_key(c) not in done]
    where = f"{share.source}" + (f", share {share.shard}" if share.shard else "")
    if args.dry_run:
        for c in mine:
            split = f"exp{c.exp}" if c.exp is not None else f"seed {c.seed}"
            state = "done" if c not in left else "to run"
            print(f"{state:6} {c.task} {c.method} {c.shots}-shot {split} ({c.backbone or 'offline backbone'}, "
                  f"{c.img_size} px, {c.epochs} epochs)")  # fmt: skip
        print(f"{len(mine)} runs in this share ({len(configs)} in the grid; {where}), "
              f"{len(mine) - len(left)} already in {args.records}")  # fmt: skip
        return 0
    print(f"{len(left)} of {len(mine)} runs to do ({where}; {len(configs)} in the grid) -> {args.records}")
    stop = settings.get("stop_at_perfect_val", False)
    run_configs(mine, records=args.records, progress=True, stop_at_perfect_val=stop)
    print(f"records: {args.records}; tables: srlora report {args.records}")
    return 0


def _local_jobs(args: argparse.Namespace) -> int:
    """``sweep --jobs N``: N local worker processes fed from one queue of the grid's missing runs, the machine's cores
    split between them (:func:`~srlora_utils.experiments.launch.run_local_jobs`)."""
    from .experiments.launch import local_threads, run_local_jobs

    if args.shard is not None:
        raise SrLoraError("--jobs and --shard exclude each other: --jobs N shares the whole grid out itself")
    settings, configs = _sweep_grid(args, args.device)
    print(f"{args.jobs} local jobs, {local_threads(args.jobs)} thread(s) each, one shared queue -> {args.records}")
    trained = run_local_jobs(configs, args.records, args.jobs, settings.get("stop_at_perfect_val", False))
    print(f"{trained} runs trained now, {len(configs) - trained} already in {args.records}; "
          f"tables: srlora report {args.records}")  # fmt: skip
    return 0


def _report(args: argparse.Namespace) -> int:
    from .analysis.report import report_file

    print(report_file(args.records, args.where))
    return 0


def _check_backbone(args: argparse.Namespace) -> int:
    from .analysis.reference import OFFICIAL_BACKBONE_CANDIDATES, check_official_backbone

    found = []
    for name in args.names or OFFICIAL_BACKBONE_CANDIDATES:
        result = check_official_backbone(name)  # downloads when online; a one-line error otherwise
        verdict = "reproduces the shipped list" if result["reproduces"] else f"{result['differences']} ranks differ"
        print(f"{name}: {verdict}")
        found += [name] if result["reproduces"] else []
    print(f"official backbone: {found[0]}" if len(found) == 1 else f"no single match among them ({len(found)})")
    return 0 if len(found) == 1 else 1


def _fixtures(args: argparse.Namespace) -> int:
    from .data.fixtures import write_fixtures
    from .data.outputs import check_output_folder

    check_output_folder(args.folder, "fixtures folder")

    paths = write_fixtures(args.folder, size=args.size)
    print(f"synthetic fixtures (not data, not results): {', '.join(map(str, paths.values()))}")
    print(f"run a paper grid on them: SRLORA_DATA={args.folder} srlora sweep reproduction:paper --tiny")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .training.run import train

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    rec = train(cfg, records=args.records, force=args.force)
    metrics = ", ".join(f"{k} {v:.2f}" for k, v in rec["test"].items())
    print(
        f"{rec['task']} | {cfg.method} | {cfg.shots}-shot seed {cfg.seed} | best epoch {rec['best_epoch']} | "
        f"test: {metrics} | trainable {rec['trainable_params']:,} | {rec['total_s']:.1f} s -> {args.records}"
    )
    return 0


def _field_type(field: dataclasses.Field) -> Callable[[str], object]:
    """The command-line type of a TrainConfig field: its range (:data:`~srlora_utils.checks.RUN_BOUNDS`) for a
    number, true/false for a flag, else text."""
    if field.name in RUN_BOUNDS:
        return _number(RUN_BOUNDS[field.name])
    types: dict[str, Callable[[str], object]] = {"str": _text, "bool": _yes_no}
    return types[str(field.type).removesuffix(" | None")]


def _number(bound: Bound) -> Callable[[str], int | float]:
    """An option's type that reads a number and checks its range (argparse prints the refusal in one line)."""

    def parse(text: str) -> int | float:
        try:
            return bound.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.bound = bound  # type: ignore[attr-defined]  # what the option accepts, for the docs and the fuzzing test
    return parse


def _text(text: str) -> str:
    """A name option's value: not empty, no NUL byte (names are checked against their choices later)."""
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a name: give a non-empty name")
    return text


def _path(text: str) -> str:
    """A file or folder option's value: not empty and without a NUL byte (whether it can be written is checked
    before any work, :mod:`srlora_utils.data.outputs`)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: name a file or folder")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} holds a NUL byte: name a file or folder")
    return text


def _yes_no(text: str) -> bool:
    """A boolean option's value: true/false (also yes/no, 1/0)."""
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
    return value in ("true", "yes", "1")


def _options_by_bound() -> dict[int, list[str]]:
    """The command-line options that read each :class:`Bound` (by ``id``), as ``srlora <command> --option``."""
    import argparse

    found: dict[int, list[str]] = {}
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        for action in sub._actions:
            bound = getattr(action.type, "bound", None)
            if bound is not None:
                found.setdefault(id(bound), []).append(f"`{name} {action.option_strings[-1]}`")
    return found


def checks_table() -> list[dict[str, str]]:
    """The kit's number checks, a row each: the value, the options that read it, what it accepts, and the message a
    refused value gets (``docs/checks.md`` holds this table; a test compares them)."""
    options = _options_by_bound()
    rows = []
    for bounds, where in ((RUN_BOUNDS, "TrainConfig, grids"), (OPTION_BOUNDS, "")):
        for name, bound in bounds.items():
            low = bound.low if bound.low is not None else 0
            bad = bound.kind(low if bound.low_open else low - 1)
            given = ", ".join(filter(None, [where, *options.get(id(bound), [])]))
            rows.append({"value": name, "given by": given, "accepts": bound.describe(),
                         "message for a refused value": bound.message(name, bad)})  # fmt: skip
    return rows


def checks_markdown() -> str:
    """:func:`checks_table` as the Markdown table ``docs/checks.md`` holds."""
    rows = checks_table()
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row[k].replace("|", "\\|") for k in head) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _one_line(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    return f"srlora: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``srlora`` console script."""
    warnings.formatwarning = _one_line  # a warning is one line here, as errors are
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SrLoraError as err:
        print(f"srlora: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
