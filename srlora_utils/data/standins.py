"""Offline stand-ins shipped with scikit-learn and scikit-image: ``digits``, ``lfw`` (faces vs non-faces) and
``textures`` (grey texture patches). They stand in for the paper's data; they are not medical or remote-sensing data.
"""

from __future__ import annotations

import numpy as np

from .fewshot import FewShotTask, array_task, fixed_holdout

STANDINS = ("digits", "lfw", "textures")
#: Test patches per class of ``textures`` (the study's first test set) and of ``textures:large-test``.
TEXTURES_TEST_PER_CLASS = {"": 30, "large-test": 200, "large-val": 200}
#: ``textures:large-val``: validation patches per class, and the bands (fractions of each photograph's height) its
#: training pool and its validation set are cut from; its test set is ``textures:large-test``'s (rows 65-100%).
LARGE_VAL_PER_CLASS, LARGE_VAL_POOL_ROWS, LARGE_VAL_ROWS = 40, (0.0, 0.45), (0.47, 0.63)
#: scikit-image images (shipped in the wheel) whose grey-level texture names a class of the ``textures`` stand-in.
TEXTURE_SOURCES = ("brick", "grass", "gravel", "cell", "immunohistochemistry", "retina")


def load_digits_standin(shots: int, seed: int, img_size: int, augment: str = "official", norm=None) -> FewShotTask:
    """scikit-learn's 8x8 handwritten digits as a stand-in with a large gap from natural images. Arguments
    (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.repeat((d.images * (255 / 16)).round().astype(np.uint8)[..., None], 3, axis=-1)
    pool, test = fixed_holdout(len(images), 0.5)
    return array_task(
        "digits", images[pool], d.target[pool], images[test], d.target[test], [str(i) for i in range(10)],
        shots, seed, img_size, standin=True, augment=augment, norm=norm,
        description="scikit-learn digits (8x8 grey, 10 classes): stand-in for a large-gap task, not medical data",
    )  # fmt: skip


def load_lfw_standin(shots: int, seed: int, img_size: int, augment: str = "official", norm=None) -> FewShotTask:
    """scikit-image's LFW subset (25x25 faces vs non-faces) as a stand-in with a small gap. Arguments
    (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    from skimage.data import lfw_subset

    faces = lfw_subset()
    images = np.repeat((faces * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
    labels = np.array([1] * 100 + [0] * 100)
    pool, test = fixed_holdout(len(images), 0.5)
    return array_task(
        "lfw", images[pool], labels[pool], images[test], labels[test], ["non-face", "face"], shots, seed, img_size,
        standin=True, augment=augment, norm=norm,
        description="scikit-image LFW subset (faces vs non-faces): stand-in for a small-gap task",
    )  # fmt: skip


def _texture_patches(image: np.ndarray, size: int, n: int, rows: tuple[float, float], rng) -> np.ndarray:
    """``n`` random ``size``-px square patches whose top-left corners lie in the ``rows`` band of ``image``."""
    h, w = image.shape
    top = rng.integers(int(rows[0] * h), int(rows[1] * h) - size, n)
    left = rng.integers(0, w - size, n)
    return np.stack([image[t : t + size, x : x + size] for t, x in zip(top, left)])


def load_textures_standin(
    shots: int,
    seed: int,
    img_size: int,
    augment: str = "official",
    norm=None,
    patch: int = 48,
    per_class: int = 30,
    variant: str = "",
) -> FewShotTask:
    """Grey texture patches from six scikit-image photographs (brick, grass, gravel, cell, immunohistochemistry,
    retina): a stand-in for patch classification as in histology (MedFMC ColonPath), **not medical data**.

    Patches of ``patch`` px are cut at fixed, seed-independent positions: the pool (200 per class) from the top
    60% of each image, the test set (``per_class`` per class) from the bottom 35%, so no test pixel is in the pool.
    ``variant="large-test"`` (task ``textures:large-test``) keeps the pool and those test patches and cuts more from
    the same band, up to :data:`TEXTURES_TEST_PER_CLASS` per class (1,200 in all: a test accuracy then moves in steps
    of 0.08 points, not 0.56; the patches overlap, so they are not 1,200 independent images).
    ``variant="large-val"`` (task ``textures:large-val``) keeps ``large-test``'s 1,200 test patches, cuts a new pool
    from the top 45% of each photograph and a fixed validation set of 40 patches per class (240) from the band at
    47-63%, so validation can tell settings apart (one patch 0.42 points, not 5.6) with no pixel shared by train,
    validation and test. Other arguments (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as
    :func:`load_task`.
    """
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_ubyte

    if variant == "large-val":
        return _textures_large_val(shots, seed, img_size, augment, norm, patch)
    rng = np.random.default_rng(2024)
    pool, test, pool_y, test_y = [], [], [], []
    for c, name in enumerate(TEXTURE_SOURCES):
        img = getattr(skimage.data, name)()
        grey = img_as_ubyte(rgb2gray(img)) if img.ndim == 3 else img
        pool.append(_texture_patches(grey, patch, 200, (0.0, 0.6), rng))
        test.append(_texture_patches(grey, patch, per_class, (0.65, 1.0), rng))
        if variant == "large-test":  # more test patches from their own generator: the pool and first test patches stay
            extra = TEXTURES_TEST_PER_CLASS[variant] - per_class
            test[-1] = np.concatenate([test[-1], _texture_patches(grey, patch, extra, (0.65, 1.0),
                                                                  np.random.default_rng([2025, c]))])  # fmt: skip
        pool_y += [c] * 200
        test_y += [c] * len(test[-1])
    to_rgb = lambda a: np.repeat(np.concatenate(a)[..., None], 3, axis=-1)
    return array_task(
        "textures" + (f":{variant}" if variant else ""),
        to_rgb(pool), np.array(pool_y), to_rgb(test), np.array(test_y), list(TEXTURE_SOURCES),
        shots, seed, img_size, standin=True, augment=augment, norm=norm,
        description="grey texture patches of six scikit-image photographs: stand-in for histology-like patch "
        "classification, not medical data",
    )  # fmt: skip


def _texture_images() -> list[np.ndarray]:
    """The six scikit-image photographs of :data:`TEXTURE_SOURCES` in grey levels (uint8)."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_ubyte

    out = []
    for name in TEXTURE_SOURCES:
        img = getattr(skimage.data, name)()
        out.append(img_as_ubyte(rgb2gray(img)) if img.ndim == 3 else img)
    return out


def _textures_large_val(shots: int, seed: int, img_size: int, augment: str, norm, patch: int) -> FewShotTask:
    """``textures:large-val`` (see :func:`load_textures_standin`): a pool and a fixed validation set from their own
    bands, ``textures:large-test``'s test set; training images drawn by ``seed`` from the pool."""
    from .fewshot import sample_few_shot
    from .images import ArrayImageDataset, make_transform

    large = load_textures_standin(shots, seed, img_size, augment, norm, patch, variant="large-test")
    test_images, test_labels = large.test.images, large.test.labels  # type: ignore[attr-defined]
    pool, val, pool_y, val_y = [], [], [], []
    for c, grey in enumerate(_texture_images()):
        rng = np.random.default_rng([2026, c])
        pool.append(_texture_patches(grey, patch, 200, LARGE_VAL_POOL_ROWS, rng))
        val.append(_texture_patches(grey, patch, LARGE_VAL_PER_CLASS, LARGE_VAL_ROWS, rng))
        pool_y += [c] * 200
        val_y += [c] * LARGE_VAL_PER_CLASS
    to_rgb = lambda a: np.repeat(np.concatenate(a)[..., None], 3, axis=-1)
    pool_x, val_x, pool_labels = to_rgb(pool), to_rgb(val), np.array(pool_y)
    train_idx = sample_few_shot(pool_labels, shots, seed)
    plain = make_transform(img_size, False, norm=norm)
    return FewShotTask(
        name="textures:large-val",
        train=ArrayImageDataset(pool_x[train_idx], pool_labels[train_idx],
                                make_transform(img_size, True, augment=augment, norm=norm), False),
        val=ArrayImageDataset(val_x, np.array(val_y), plain, False),
        test=ArrayImageDataset(test_images, test_labels, plain, False),
        class_names=list(TEXTURE_SOURCES), multilabel=False, shots=shots, seed=seed, normalization=norm, standin=True,
        description="grey texture patches of six scikit-image photographs, 240 fixed validation patches from their "
        "own band: stand-in for histology-like patch classification, not medical data",
    )  # fmt: skip
