"""MedFMC (chest, colon, endo) in the challenge layout, read through its official few-shot splits exp1-exp5."""

from __future__ import annotations

import re
from numbers import Integral
from pathlib import Path

from ..errors import SrLoraError
from .fewshot import FewShotTask
from .images import ImageListDataset, make_transform
from .list_files import read_list
from .paths import is_fixture, need_dir

MEDFMC_CLASSES = {
    "chest": [
        "pleural_effusion", "nodule", "pneumonia", "cardiomegaly", "hilar_enlargement", "fracture_old",
        "fibrosis", "aortic_calcification", "tortuous_aorta", "thickened_pleura", "TB", "pneumothorax",
        "emphysema", "atelectasis", "calcification", "pulmonary_edema", "increased_lung_markings",
        "elevated_diaphragm", "consolidation",
    ],
    "colon": ["non_tumor", "tumor"],
    "endo": ["ulcer", "erosion", "polyp", "tumor"],
}  # fmt: skip
MEDFMC_MULTILABEL = {"chest": True, "colon": False, "endo": True}
#: MedFMC's official few-shot splits.
MEDFMC_EXPS = (1, 2, 3, 4, 5)


def check_medfmc_exp(exp: object, task: str = "medfmc") -> int:
    """``exp`` as an official MedFMC split (one of :data:`MEDFMC_EXPS`), or a one-line error naming ``task``."""
    if isinstance(exp, bool) or not isinstance(exp, Integral) or int(exp) not in MEDFMC_EXPS:
        raise SrLoraError(f"MedFMC has official splits exp1-exp5: exp must be one of 1-5, got {exp!r} for {task!r} "
                          "(pass exp=1..5)")  # fmt: skip
    return int(exp)


def load_medfmc(
    task: str, root: Path, shots: int, exp: int, img_size: int, augment: str = "official", norm=None
) -> FewShotTask:
    """MedFMC ``chest``/``colon``/``endo`` in the challenge layout under ``root``, official split ``exp`` (1-5).

    ``root/MedFMC_train/<task>/images/`` and ``root/data_anns/MedFMC/<task>/`` holding
    ``<task>_<N>-shot_train_exp<K>.txt``, ``<task>_<N>-shot_val_exp<K>.txt`` and ``test_WithLabel.txt``.
    Other arguments (``shots``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`.
    """
    if task not in MEDFMC_CLASSES:
        raise SrLoraError(f"unknown MedFMC task {task!r}: use chest, colon or endo")
    check_medfmc_exp(exp, f"medfmc:{task}")
    images = need_dir(Path(root) / "MedFMC_train" / task / "images", f"MedFMC {task} images")
    anns = need_dir(Path(root) / "data_anns" / "MedFMC" / task, f"MedFMC {task} split lists")
    classes, ml = MEDFMC_CLASSES[task], MEDFMC_MULTILABEL[task]
    train_list = anns / f"{task}_{shots}-shot_train_exp{exp}.txt"
    if not train_list.is_file():
        found = sorted({int(m.group(1)) for f in anns.glob(f"{task}_*-shot_train_exp{exp}.txt")
                        if (m := re.fullmatch(rf"{task}_(\d+)-shot_train_exp{exp}\.txt", f.name))})  # fmt: skip
        have = f"shots with a split there: {', '.join(map(str, found))}" if found else "no split lists are there"
        raise SrLoraError(f"MedFMC {task} has no {shots}-shot split exp{exp}: {train_list} is missing ({have}; "
                          "see data/README.md)")  # fmt: skip

    def part(file: str, train: bool) -> ImageListDataset:
        paths, labels = read_list(anns / file, len(classes), ml, root=images)
        return ImageListDataset(images, paths, labels, make_transform(img_size, train, augment=augment, norm=norm), ml)

    return FewShotTask(
        name=f"medfmc-{task}", train=part(f"{task}_{shots}-shot_train_exp{exp}.txt", True),
        val=part(f"{task}_{shots}-shot_val_exp{exp}.txt", False), test=part("test_WithLabel.txt", False),
        class_names=classes, multilabel=ml, shots=shots, seed=exp, exp=exp, fixture=is_fixture(root),
        normalization=norm, description=f"MedFMC {task}, official {shots}-shot split exp{exp}",
    )  # fmt: skip
