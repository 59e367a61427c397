"""Offline stand-ins shipped with scikit-learn and scikit-image: ``digits``, ``lfw`` (faces vs non-faces) and
``textures`` (grey texture patches). They stand in for the paper's data; they are not medical or remote-sensing data.
"""

from __future__ import annotations

import numpy as np

from .fewshot import FewShotTask, array_task, fixed_holdout

STANDINS = ("digits", "lfw", "textures")
#: Test patches per class of ``textures`` (the study's first test set) and of ``textures:large-test``.
TEXTURES_TEST_PER_CLASS = {"": 30, "large-test": 200}
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
    of 0.08 points, not 0.56; the patches overlap, so they are not 1,200 independent images). Other arguments
    (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`.
    """
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_ubyte

    rng = np.random.default_rng(2024)
    pool, test, pool_y, test_y = [], [], [], []
    for c, name in enumerate(TEXTURE_SOURCES):
        img = getattr(skimage.data, name)()
        grey = img_as_ubyte(rgb2gray(img)) if img.ndim == 3 else img
        pool.append(_texture_patches(grey, patch, 200, (0.0, 0.6), rng))
        test.append(_texture_patches(grey, patch, per_class, (0.65, 1.0), rng))
        if variant:  # more test patches from their own generator: the pool and the first test patches stay as they are
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
