"""Torch datasets over images in memory (arrays) or on disk (path lists), and the backbone's transforms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from ..errors import SrLoraError
from ..models.normalization import IMAGENET_MEAN, IMAGENET_STD, Normalization

#: Training augmentations by name. ``official``: RandomResizedCrop with its default scale (0.08, 1) and a
#: horizontal flip, as the official recipe (right for 384 px scans and photographs). ``mild``: a small random
#: affine (rotation 10 degrees, shift 10%, scale 0.9-1.1) that keeps a tiny stand-in image readable.
#: ``none``: resize only.
AUGMENTATIONS: tuple[str, ...] = ("official", "mild", "none")


def make_transform(
    img_size: int, train: bool, flip: bool = True, augment: str = "official", norm: Normalization | None = None
) -> Callable:
    """Transforms at ``img_size``: ``augment`` (see :data:`AUGMENTATIONS`) when ``train``, Resize for evaluation;
    ``flip`` adds the official recipe's horizontal flip to training; ``norm`` gives the mean/std (None: ImageNet's)."""
    if augment not in AUGMENTATIONS:
        raise SrLoraError(f"unknown augmentation {augment!r}: use one of {', '.join(AUGMENTATIONS)}")
    mean, std = (norm.mean, norm.std) if norm is not None else (IMAGENET_MEAN, IMAGENET_STD)
    to_tensor = [T.ToTensor(), T.Normalize(mean, std)]
    resize = T.Resize((img_size, img_size), T.InterpolationMode.BICUBIC)
    if train and augment == "official":
        aug = [T.RandomResizedCrop(img_size, interpolation=T.InterpolationMode.BICUBIC)]
        if flip:
            aug.append(T.RandomHorizontalFlip())
        return T.Compose([T.Lambda(_to_rgb), *aug, *to_tensor])
    if train and augment == "mild":
        affine = T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), interpolation=T.InterpolationMode.BILINEAR)
        return T.Compose([T.Lambda(_to_rgb), resize, affine, *to_tensor])
    return T.Compose([T.Lambda(_to_rgb), resize, *to_tensor])


def _to_rgb(img: Image.Image) -> Image.Image:
    return img.convert("RGB") if img.mode != "RGB" else img


def _label_tensor(label, multilabel: bool) -> torch.Tensor:
    return torch.as_tensor(label, dtype=torch.float32 if multilabel else torch.long)


def load_image(path: Path) -> Image.Image:
    """The decoded image at ``path``; a missing, unreadable or undecodable file (PIL raises many kinds of error on
    a corrupt one: OSError, SyntaxError, ValueError, EOFError, DecompressionBombError, ...) is a one-line error."""
    try:
        with Image.open(path) as img:
            img.load()
            return img
    except FileNotFoundError:
        raise SrLoraError(f"image {path} is missing: check the data root and the list file") from None
    except (IsADirectoryError, PermissionError) as err:
        raise SrLoraError(f"image {path} cannot be read ({err.strerror}): check the list file") from None
    except Exception as err:  # noqa: BLE001 - UnidentifiedImageError, or a format-dependent one for a corrupt file
        raise SrLoraError(f"image {path} does not decode ({err.__class__.__name__}): replace or remove it") from None


class ArrayImageDataset(Dataset):
    """Images held as a uint8 array (N, H, W) or (N, H, W, C) with labels (N,) or (N, C)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable, multilabel: bool = False) -> None:
        if not (isinstance(images, np.ndarray) and images.dtype == np.uint8
                and (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3, 4)))):  # fmt: skip
            shape, dtype = getattr(images, "shape", None), getattr(images, "dtype", type(images).__name__)
            raise SrLoraError(f"images of shape {shape} and dtype {dtype}: expected a uint8 array (N, H, W) or "
                              "(N, H, W, C) with C 1, 3 or 4")  # fmt: skip
        if len(images) != len(labels):
            raise SrLoraError(f"{len(images)} images but {len(labels)} labels")
        if images.ndim == 4 and images.shape[-1] == 1:  # PIL reads one channel as (H, W)
            images = images[..., 0]
        self.images, self.labels, self.transform, self.multilabel = images, np.asarray(labels), transform, multilabel

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(Image.fromarray(self.images[i])), _label_tensor(self.labels[i], self.multilabel)


class ImageListDataset(Dataset):
    """Images on disk under ``root``, named by relative paths, with their labels."""

    def __init__(
        self, root: Path, paths: Sequence[str], labels: np.ndarray, transform: Callable, multilabel: bool = False
    ) -> None:
        self.root, self.paths, self.labels = Path(root), list(paths), np.asarray(labels)
        self.transform, self.multilabel = transform, multilabel

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(load_image(self.root / self.paths[i])), _label_tensor(self.labels[i], self.multilabel)

    def subset(self, indices: np.ndarray, transform: Callable | None = None) -> ImageListDataset:
        """The same images restricted to ``indices`` (optionally with another transform)."""
        return ImageListDataset(
            self.root, [self.paths[i] for i in indices], self.labels[indices], transform or self.transform,
            self.multilabel,
        )  # fmt: skip
