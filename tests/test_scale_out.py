"""Sweeps at scale: grid files, worker shares from launchers, records shared by concurrent and killed workers."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import srlora_utils as S
from srlora_utils.experiments.grids import grid_configs, grid_settings
from srlora_utils.experiments.launch import run_local_jobs, worker_share
from srlora_utils.training.config import TrainConfig, config_key
from srlora_utils.training.records import append_record, read_records

REPO = Path(__file__).resolve().parents[1]
QUICK_GRID = REPO / "grids" / "quick-cpu.toml"
SRLORA = str(Path(sys.executable).parent / "srlora")


def _keys(records: list[dict]) -> list[str]:
    return sorted(r["key"] for r in records)


def _grid_keys() -> list[str]:
    return sorted(config_key(c) for c in grid_configs(grid_settings(str(QUICK_GRID))))


# --- grid files and shares -----------------------------------------------------------------------------------------


def test_grid_files_expand_and_refuse_unknown_keys(tmp_path):
    configs = grid_configs(grid_settings(str(QUICK_GRID)))
    assert len(configs) == 12 and {c.method for c in configs} == {"linear_probe", "lora"}
    assert len(grid_configs(grid_settings(str(REPO / "grids" / "paper-all-methods.toml")))) == 660
    bad = tmp_path / "bad.toml"
    bad.write_text('methods = ["lora"]\nepoch = 3\n[tasks]\nlfw = [1]\n')
    with pytest.raises(S.SrLoraError, match=r"bad.toml: unknown keys \['epoch'\]; allowed: base, tasks"):
        grid_settings(str(bad))
    bad.write_text('methods = ["lora"]\n')
    with pytest.raises(S.SrLoraError, match="no tasks"):
        grid_settings(str(bad))


def test_worker_shares_come_from_torchrun_and_slurm(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"):
        monkeypatch.delenv(var, raising=False)
    assert worker_share().shard is None
    assert worker_share("1/4").shard == "1/4"
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "5")
    assert worker_share().shard == "2/4"
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "2")
    share = worker_share()
    assert share.shard == "2/3" and "torchrun" in share.source  # torchrun wins inside an allocation


def test_the_device_does_not_change_a_runs_key():
    cfg = grid_configs(grid_settings(str(QUICK_GRID)))[0]
    import dataclasses

    assert config_key(dataclasses.replace(cfg, device="cuda:3")) == config_key(cfg)


# --- concurrent appends --------------------------------------------------------------------------------------------


def _append_many(path: str, worker: int, n: int) -> None:
    for i in range(n):
        append_record(path, {"key": f"w{worker}-{i:03d}", "payload": "x" * 2000})


@pytest.mark.parametrize("store", ["runs.jsonl", "runs"])
def test_concurrent_workers_lose_nothing(tmp_path, store):
    """4 processes x 100 records started together (the old whole-file rewrite kept 111 of 400)."""
    path = str(tmp_path / store)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, w, 100)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    keys = _keys(read_records(path))
    assert len(keys) == 400 and len(set(keys)) == 400


# --- whole grids, launched as a user would -------------------------------------------------------------------------


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM"))}
    return {**env, "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_torchrun_with_three_processes_records_every_run_once(tmp_path):
    records = tmp_path / "records"  # a records directory, as on a cluster
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=3", "--no-python",
           SRLORA, "sweep", str(QUICK_GRID), "--records", str(records)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torchrun rank 0 of 3, share 0/3" in out.stdout
    assert _keys(read_records(records)) == _grid_keys()


@pytest.mark.slow
def test_local_jobs_split_the_grid_and_the_machine(tmp_path):
    """`sweep --jobs 2`: two worker processes of one thread each (on 2 cores) fed from one queue, the grid's runs
    once; a second launch finds nothing left to train."""
    records = tmp_path / "runs.jsonl"
    cmd = [SRLORA, "sweep", str(QUICK_GRID), "--records", str(records), "--seeds", "0", "1", "--jobs", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert f"2 local jobs, {threads} thread(s) each, one shared queue" in out.stdout
    settings = grid_settings(str(QUICK_GRID), seeds=[0, 1])
    runs = len(grid_configs(settings))
    assert f"{runs} runs trained now, 0 already in" in out.stdout
    assert _keys(read_records(records)) == sorted(config_key(c) for c in grid_configs(settings))
    again = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    assert again.returncode == 0 and f"0 runs trained now, {runs} already in" in again.stdout, again.stderr[-2000:]
    refused = subprocess.run(cmd + ["--shard", "0/2"], capture_output=True, text=True, env=_env())
    assert refused.returncode == 2 and "--jobs and --shard exclude each other" in refused.stderr


def test_a_failing_run_stops_the_local_queue_with_its_own_one_line_error(tmp_path):
    """A worker's error reaches the caller as the same SrLoraError, and nothing is recorded for it."""
    records = tmp_path / "runs.jsonl"
    bad = TrainConfig(task="imagefolder", method="linear_probe", epochs=1, img_size=28)  # no root: refused
    with pytest.raises(S.SrLoraError, match="task 'imagefolder' reads a local tree"):
        run_local_jobs([bad], str(records), jobs=2, progress=False)
    assert not records.exists()
    with pytest.raises(S.SrLoraError, match="--jobs 0"):
        run_local_jobs([bad], str(records), jobs=0)


@pytest.mark.slow
def test_three_shards_then_a_killed_worker_and_a_relaunch(tmp_path):
    records = tmp_path / "runs.jsonl"
    base = [SRLORA, "sweep", str(QUICK_GRID), "--records", str(records)]
    shards = [subprocess.Popen(base + ["--shard", f"{i}/3"], env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for i in range(2)]  # fmt: skip
    for p in shards:
        assert p.wait(timeout=600) == 0
    assert len(read_records(records)) == 8  # shards 0 and 1; shard 2 is the worker that gets killed
    victim = subprocess.Popen(base + ["--shard", "2/3"], env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 300
    while len(read_records(records)) < 9 and time.time() < deadline:
        time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)  # mid-run: one of its runs recorded, the next one in progress
    victim.wait()
    assert 9 <= len(read_records(records)) < 12
    with open(records, "a") as fh:  # and a crash during a write (an older writer): a truncated line
        fh.write('{"key": "half a rec')
    relaunch = subprocess.run(base, env=_env(), capture_output=True, text=True, timeout=600)
    assert relaunch.returncode == 0, relaunch.stderr[-2000:]
    assert "runs to do" in relaunch.stdout
    with pytest.warns(UserWarning, match="truncated"):
        recs = read_records(records)
    assert _keys(recs) == _grid_keys()  # complete, nothing duplicated
    report = subprocess.run([SRLORA, "report", str(records)], capture_output=True, text=True, env=_env())
    warnings = [line for line in report.stderr.splitlines() if line]
    assert len(warnings) == 1 and warnings[0].startswith("srlora: warning:") and "truncated record" in warnings[0]


def test_a_records_directory_ignores_temporary_files_and_reads_each_run_once(tmp_path):
    store = tmp_path / "recs"
    append_record(store, {"key": "a", "finished_at": "1"})
    append_record(store, {"key": "a", "finished_at": "1"})  # a relaunch racing a slow worker: one file
    (store / ".b.json.tmp123").write_text('{"key": "b"')  # a writer killed before its rename
    assert [r["key"] for r in read_records(store)] == ["a"]
    (store / "c.json").write_text("{not json")
    with pytest.raises(S.SrLoraError, match=r"c.json: not a JSON record; delete the file"):
        read_records(store)
    assert json.loads((store / "a.json").read_text())["key"] == "a"
