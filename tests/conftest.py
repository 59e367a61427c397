"""Shared fixtures: a tiny random timm ViT (fast), the offline DINOv2 ViT-S/14 (loaded once) and the synthetic
data trees of every dataset family (written once)."""

from __future__ import annotations

import pytest
import timm
import torch

import srlora_utils as S


def make_tiny_vit(num_classes: int = 3) -> torch.nn.Module:
    """A 2-block, width-192 timm ViT on 32 px inputs with random weights (seeded)."""
    torch.manual_seed(0)
    return timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=32, depth=2, num_classes=num_classes
    ).eval()


@pytest.fixture(autouse=True, scope="session")
def _empty_data_folder(tmp_path_factory):
    """Tests never read the checkout's data/: the data folder is an empty temporary one unless a test moves it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SRLORA_DATA", str(tmp_path_factory.mktemp("data")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory):
    """Every synthetic fixture (MedFMC, VTAB-1k, MedMNIST, EuroSAT, Fashion-MNIST) in one data folder, written once
    per session; tests read it and never change it (copy a tree first to damage it)."""
    from srlora_utils.data.fixtures import write_fixtures

    folder = tmp_path_factory.mktemp("fixtures") / "data"
    write_fixtures(folder)
    return folder


@pytest.fixture
def tiny_vit() -> torch.nn.Module:
    return make_tiny_vit()


@pytest.fixture(scope="session")
def offline_vit() -> torch.nn.Module:
    return S.load_backbone(img_size=56)


def tuned_grid_text(epochs: int, tasks: str, tuning: str, blocks: str) -> str:
    """A small tuned-protocol grid file (as grids/tuned-study.toml, on the offline comparison preset): its epochs, its
    ``tasks`` table, the lines of its ``[tuning]`` table and its ``[[blocks]]``."""
    return f"""
base = "comparison:offline"
epochs = {epochs}
peers = "authors"
select_after_warmup = true
tasks = {tasks}
seeds = [100, 101, 102]

[primary]
method = "srlora_budget"
reference = "lora"
half_width = 2.5
margin = 2.0
confidence = 0.95

[tuning]
selection_seeds = [100, 101, 102]
{tuning}

{blocks}
"""


def retrain_stored_run(settings: dict, records: list[dict], stored: dict) -> dict:
    """Train the stored run ``stored`` of the tuned grid ``settings`` again, as `srlora tune` trains it (its config
    from the grid's stages over ``records``), and check it: the same key and selected epoch, every test metric (selected
    and last epoch) within one test image. Returns the new record."""
    from srlora_utils.experiments.tuning import tuning_state
    from srlora_utils.training.config import config_key
    from srlora_utils.training.run import train

    state = tuning_state(settings, {r["key"]: r for r in records})
    cfg = next(c for c in state.configs() if config_key(c) == stored["key"])
    again = train(cfg, progress=False)
    one_image = 100 / stored["test_images"]
    assert again["key"] == stored["key"] and again["best_epoch"] == stored["best_epoch"]
    for part in ("test", "test_last"):
        for name, value in stored[part].items():
            assert abs(again[part][name] - value) <= one_image + 1e-9, (part, name, again[part][name], value)
    return again
