"""Fashion-MNIST (Zalando's 70,000 28x28 grey product images, 10 classes), read from its four official ``idx`` files.

The files are found, in this order, in ``data/fashion-mnist/`` (or a ``root`` given), in torchvision's download layout
below it (``FashionMNIST/raw/``), and where Debian's ``dataset-fashion-mnist`` package installs them
(``/usr/share/datasets/fashion-mnist``). With a network, :func:`fetch_fashion_mnist` downloads them through
torchvision. The ``idx`` reader is hand-written (a 16-byte header and the raw bytes: a dozen lines, checked against
the header) so that reading needs neither torchvision's folder layout nor a network.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ..errors import SrLoraError
from .paths import data_dir

#: Fashion-MNIST's classes, in label order.
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot")  # fmt: skip
#: The official files: split -> (images, labels).
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}  # fmt: skip
#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
#: The folder under the data folder that the kit reads (and :func:`fetch_fashion_mnist` fills).
FASHION_ROOT = "fashion-mnist"
_HOW = ("install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), or with a network run "
        "`srlora fetch fashion-mnist`, or place the four official idx .gz files in data/fashion-mnist/")  # fmt: skip


def _holds_files(folder: Path) -> bool:
    return all((folder / f).is_file() for pair in FASHION_FILES.values() for f in pair)


def find_fashion_mnist(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the four official files: ``root`` (when given), ``data/fashion-mnist`` or its
    ``FashionMNIST/raw``, or Debian's; a one-line error saying how to get them otherwise."""
    if root is not None:
        candidates = [Path(root), Path(root) / "FashionMNIST" / "raw"]
    else:
        base = data_dir() / FASHION_ROOT
        candidates = [base, base / "FashionMNIST" / "raw", DEBIAN_FOLDER]
    for folder in candidates:
        if _holds_files(folder):
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise SrLoraError(f"Fashion-MNIST is not in {looked}: {_HOW}")


def read_idx(path: Path, kind: str) -> np.ndarray:
    """The array in the gzipped ``idx`` file at ``path``: ``kind`` "images" (N, 28, 28) or "labels" (N,), uint8;
    a file whose header does not match its size or kind is a one-line error."""
    magic, dims = (2051, 3) if kind == "images" else (2049, 1)
    try:
        raw = gzip.decompress(Path(path).read_bytes())
    except (OSError, EOFError) as err:
        raise SrLoraError(f"{path} is not a readable gzip file ({err}): replace it (see {_HOW})") from None
    header = np.frombuffer(raw[: 4 * (dims + 1)], dtype=">u4")
    if len(header) != dims + 1 or header[0] != magic:
        raise SrLoraError(f"{path} is not an idx {kind} file (magic {header[:1].tolist()}, expected {magic})")
    shape = tuple(int(d) for d in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (dims + 1))
    if data.size != int(np.prod(shape)):
        raise SrLoraError(f"{path} holds {data.size} bytes for a header of shape {shape}: the file is truncated")
    return data.reshape(shape)


def write_idx(path: Path, array: np.ndarray, kind: str) -> Path:
    """Write uint8 ``array`` to ``path`` as a gzipped ``idx`` file of ``kind`` "images" or "labels" (the header
    :func:`read_idx` checks): synthetic fixtures in the official layout."""
    magic = 2051 if kind == "images" else 2049
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    Path(path).write_bytes(gzip.compress(header + np.asarray(array, dtype=np.uint8).tobytes()))
    return Path(path)


def load_fashion_mnist(split: str, root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's ``split`` ("train": 60,000, "test": 10,000) as (images (N, 28, 28) uint8, labels (N,)), from
    the folder :func:`find_fashion_mnist` finds under ``root``."""
    folder = find_fashion_mnist(root)
    images_file, labels_file = FASHION_FILES[split]
    images, labels = read_idx(folder / images_file, "images"), read_idx(folder / labels_file, "labels")
    if len(images) != len(labels) or images.shape[1:] != (28, 28) or labels.max(initial=0) >= len(FASHION_CLASSES):
        raise SrLoraError(f"{folder}: {split} images {images.shape} and labels {labels.shape} do not match "
                          "Fashion-MNIST (28x28 images, one label 0-9 each)")  # fmt: skip
    return images, labels.astype(np.int64)


def fetch_fashion_mnist(dest: str | os.PathLike | None = None) -> Path:
    """Download Fashion-MNIST through torchvision into ``dest`` (default ``data/fashion-mnist``) unless it is already
    found; returns the folder that holds the files. Needs a network."""
    try:
        return find_fashion_mnist(dest)
    except SrLoraError:
        pass
    from torchvision.datasets import FashionMNIST

    target = Path(dest) if dest is not None else data_dir() / FASHION_ROOT
    try:
        FashionMNIST(str(target), train=True, download=True)
        FashionMNIST(str(target), train=False, download=True)
    except Exception as err:  # noqa: BLE001 - urllib/HTTP errors of several kinds when there is no network
        raise SrLoraError(f"Fashion-MNIST could not be downloaded ({err.__class__.__name__}): with no network, "
                          "install Debian's dataset-fashion-mnist package or place the four official idx .gz files "
                          f"in {target}") from None  # fmt: skip
    return find_fashion_mnist(target)
