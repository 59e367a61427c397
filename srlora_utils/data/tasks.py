"""Few-shot tasks by name, through a registry of dataset families: offline stand-ins, the gap ladder, VTAB-1k, MedFMC,
MedMNIST, EuroSAT and any ImageFolder tree (one module each in :mod:`srlora_utils.data`).

``load_task(name, shots, seed, root, img_size)`` returns a :class:`FewShotTask`. K-shot train and
validation sets are drawn by ``seed`` from the training pool and are disjoint (MedFMC: the official
split ``exp`` fixes them); the test set is never used for model selection. Relative roots are read
under the data folder (:mod:`srlora_utils.data.paths`). A new family is one :func:`register_task` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SrLoraError
from ..models.normalization import Normalization
from .eurosat import load_eurosat
from .fewshot import FewShotTask
from .gap_ladder import ALL_RUNGS, load_ladder_task
from .imagefolder import load_imagefolder
from .medfmc import check_medfmc_exp, load_medfmc
from .medmnist import MEDMNIST_SIZES, load_medmnist
from .paths import resolve_root
from .shipped import DATA_GUIDE, kit_file
from .standins import TEXTURES_TEST_PER_CLASS, load_digits_standin, load_lfw_standin, load_textures_standin
from .vtab import load_vtab


@dataclass(frozen=True)
class TaskRequest:
    """What :func:`load_task` was asked for, as a family's loader receives it: the task ``name`` and the part after
    its colon (``sub``), the family's ``root`` folder (None for families that read none), ``shots``, ``seed``, the
    MedFMC split ``exp``, ``img_size``, ``augment``, ``norm`` and any further keyword ``options``."""

    name: str
    sub: str
    root: Path | None
    shots: int
    seed: int
    exp: int | None
    img_size: int
    augment: str
    norm: Normalization | None
    options: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """The family's folder (for families that read one: :func:`load_task` resolved it)."""
        if self.root is None:
            guide = kit_file(DATA_GUIDE)
            raise SrLoraError(f"task {self.name!r} reads a local folder: pass root=<folder> (see {guide})")
        return self.root


@dataclass(frozen=True)
class TaskFamily:
    """One dataset family: the ``kind`` before a task name's colon, how to write its names (``usage``), its loader
    (``load(request) -> FewShotTask``), whether it reads a local folder (``folder``) and whether its runs name an
    official split instead of drawing splits by seed (``official_splits``, as MedFMC)."""

    kind: str
    usage: str
    load: Callable[[TaskRequest], FewShotTask]
    folder: bool = True
    official_splits: bool = False


#: The families :func:`load_task` knows, by kind; :func:`register_task` adds one.
TASK_FAMILIES: dict[str, TaskFamily] = {}


def register_task(family: TaskFamily) -> TaskFamily:
    """Make ``family`` loadable by name (``load_task("<kind>:<sub>")``); a kind already registered is refused."""
    if family.kind in TASK_FAMILIES:
        raise SrLoraError(f"task family {family.kind!r} is already registered: choose another kind")
    TASK_FAMILIES[family.kind] = family
    return family


def _standin(loader: Callable[..., FewShotTask]) -> Callable[[TaskRequest], FewShotTask]:
    return lambda r: loader(r.shots, r.seed, r.img_size, r.augment, r.norm)


for _builtin in (
    TaskFamily("digits", "digits", _standin(load_digits_standin), folder=False),
    TaskFamily("lfw", "lfw", _standin(load_lfw_standin), folder=False),
    TaskFamily("textures", "textures[:large-test|:large-val]", folder=False, load=lambda r: load_textures_standin(
        r.shots, r.seed, r.img_size, r.augment, r.norm, variant=_textures_variant(r.sub))),
    TaskFamily("ladder", f"ladder:<digits|fashion>:<{'|'.join(ALL_RUNGS)}>", folder=False,
               load=lambda r: load_ladder_task(r.sub, r.shots, r.seed, r.img_size, r.augment, r.norm)),
    TaskFamily("vtab", "vtab:<task>",
               lambda r: load_vtab(r.sub, r.path, r.shots, r.seed, r.img_size, r.augment, r.norm)),
    TaskFamily("medfmc", "medfmc:<chest|colon|endo>", official_splits=True,
               load=lambda r: load_medfmc(r.sub, r.path, r.shots, int(r.exp or 0), r.img_size, r.augment, r.norm)),
    TaskFamily("medmnist", "medmnist:<flag>", lambda r: load_medmnist(r.sub, r.path, r.shots, r.seed, r.img_size,
                                                                        r.augment, r.norm, **r.options)),
    TaskFamily("eurosat", "eurosat", lambda r: load_eurosat(r.path, r.shots, r.seed, r.img_size, r.augment, r.norm)),
    TaskFamily("imagefolder", "imagefolder", lambda r: load_imagefolder(r.path, r.shots, r.seed, r.img_size,
                                                                          r.augment, r.norm)),
):  # fmt: skip
    register_task(_builtin)


def _textures_variant(sub: str) -> str:
    if sub not in TEXTURES_TEST_PER_CLASS:
        raise SrLoraError(f"unknown task 'textures:{sub}': use textures, textures:large-test (1,200 test patches) "
                          "or textures:large-val (its test patches, 240 fixed validation patches)")  # fmt: skip
    return sub


def _family(name: str) -> TaskFamily:
    kind = name.partition(":")[0]
    if kind not in TASK_FAMILIES:
        raise SrLoraError(f"unknown task {name!r}: use {', '.join(f.usage for f in TASK_FAMILIES.values())}")
    return TASK_FAMILIES[kind]


def task_options(name: str, medmnist_size: int = 28) -> dict:
    """The loader keywords a run's settings give task ``name``: MedMNIST's archive ``size`` when it is not 28 px (the
    file without a suffix). A size other than 28 on any other task is refused: it would change nothing."""
    if medmnist_size not in MEDMNIST_SIZES:
        sizes = ", ".join(map(str, MEDMNIST_SIZES))
        raise SrLoraError(f"medmnist_size={medmnist_size} is not a MedMNIST+ size: use one of {sizes}")
    if medmnist_size == 28:
        return {}
    if _family(name).kind != "medmnist":
        raise SrLoraError(f"medmnist_size={medmnist_size} applies to medmnist:<flag> tasks, not {name!r}: drop it")
    return {"size": medmnist_size}


def check_exp(name: str, exp: int | None) -> None:
    """MedFMC tasks need their official split ``exp`` (one of 1-5; other families with official splits: 1, 2, ...);
    every other task draws splits by seed and refuses ``exp``."""
    family = _family(name)
    if family.kind == "medfmc":  # checked before any file is looked up
        check_medfmc_exp(exp, name)
    elif family.official_splits:
        if isinstance(exp, bool) or not isinstance(exp, int) or exp < 1:
            raise SrLoraError(f"task {name!r} names its official split: pass exp=1, 2, ... (got {exp!r})")
    elif exp is not None:
        raise SrLoraError(f"exp={exp} names a MedFMC split; task {name!r} draws its splits by seed: drop exp")


def load_task(
    name: str,
    shots: int = 5,
    seed: int = 0,
    root: str | Path | None = None,
    img_size: int | None = None,
    augment: str = "official",
    exp: int | None = None,
    norm: Normalization | None = None,
    **kwargs,
) -> FewShotTask:
    """A few-shot task by name: ``digits``/``lfw``/``textures`` (stand-ins), ``vtab:<task>``,
    ``medfmc:<chest|colon|endo>`` (``exp`` names the official split, 1-5), ``medmnist:<flag>``, ``eurosat`` or
    ``imagefolder`` (``root`` is the tree).

    ``shots``: K examples per class in the training split (and again, disjoint, in the validation split).
    ``seed``: draws both splits (except on MedFMC, where ``exp`` fixes them). ``root`` None: the dataset's folder
    under the data folder; a relative root is read under the data folder. ``img_size`` (required): side in px of the
    images the network sees. ``augment`` names the training augmentation
    (:data:`~srlora_utils.data.images.AUGMENTATIONS`), ``norm`` the mean/std (None: ImageNet's); further keywords go
    to the family's loader."""
    family = _family(name)
    check_exp(name, exp)
    kind, _, sub = name.partition(":")
    folder = None
    if family.folder:
        if kind == "imagefolder" and root is None:
            raise SrLoraError(f"task 'imagefolder' reads a local tree: pass root=<folder> (see {kit_file(DATA_GUIDE)})")
        folder = resolve_root(root, kind)
        if folder is None:
            raise SrLoraError(f"task {name!r} reads a local folder: pass root=<folder> (see {kit_file(DATA_GUIDE)})")
    if img_size is None:
        raise SrLoraError(f"load_task({name!r}) needs img_size: the side in px of the images the network sees")
    request = TaskRequest(name, sub, folder, shots, seed, exp, img_size, augment, norm, dict(kwargs))
    return family.load(request)
