"""EuroSAT RGB (10 land-use classes): a local tree, or torchvision's download when online."""

from __future__ import annotations

from pathlib import Path

from ..errors import SrLoraError
from .fewshot import FewShotTask
from .imagefolder import load_imagefolder
from .paths import is_fixture

EUROSAT_CLASSES = [
    "AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
    "Pasture", "PermanentCrop", "Residential", "River", "SeaLake",
]  # fmt: skip


def load_eurosat(root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None) -> FewShotTask:
    """EuroSAT RGB: a local ``root/eurosat/2750/<class>/`` tree, or torchvision's download when online.
    Other arguments (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    root = Path(root)
    tree = root / "eurosat" / "2750"
    if not tree.is_dir():
        try:
            from torchvision.datasets import EuroSAT

            EuroSAT(str(root), download=True)
        except Exception as err:  # noqa: BLE001 - any download failure gets the same advice
            raise SrLoraError(
                f"EuroSAT is not in {tree} and could not be downloaded ({err.__class__.__name__}): "
                f"unzip EuroSAT.zip (RGB) so that {tree}/<class>/*.jpg exist"
            ) from None
    task = load_imagefolder(tree, shots, seed, img_size, augment, norm)
    task.name, task.description = "eurosat", "EuroSAT RGB (10 land-use classes), fixed 30% test hold-out"
    task.fixture = is_fixture(tree.parent, tree)
    return task
