"""The gap ladder (issue 27): the same labels shown at rungs that move them away from natural-image statistics.

Task ``ladder:<source>:<rung>``. Two label sources, each on one 28x28 canvas: scikit-learn's ``digits`` (8x8, scaled
up) and ``fashion`` (Fashion-MNIST, :mod:`srlora_utils.data.fashion_mnist`). Four rungs (:data:`RUNGS`), every one a
fixed, seed-independent function of the image, so that the class information stays and only the look changes:

- ``natural``: the object pasted (its intensity as opacity) on a crop of a colour photograph (scikit-image's
  astronaut, coffee, chelsea and rocket; one crop per image, fixed);
- ``plain``: the grey image itself;
- ``highpass``: the image minus its Gaussian blur (sigma 1.5 px), around mid-grey: edges kept, flat areas gone;
- ``permuted``: one fixed permutation of the 784 pixel positions: every bit of the image is kept (raw-pixel distances
  are unchanged), the spatial structure a pretrained network relies on is destroyed.

Which rung is far from natural images is *measured*, not assumed: :mod:`srlora_utils.experiments.domain_gap`.
Splits: a pool (digits: scikit-learn's images outside the kit's fixed test half, 899; fashion: 2,000 fixed images of
the official train split) from which each seed draws K-shot train and validation sets, and a fixed test set of 50
images per class (500; fashion: from the official test split). Controlled stand-ins: not medical or remote-sensing
data. Fashion-MNIST read from a synthetic fixture (:func:`~srlora_utils.data.fixtures.write_fashion_mnist_fixture`)
is labelled as one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import SrLoraError
from .fashion_mnist import FASHION_CLASSES, find_fashion_mnist, load_fashion_mnist
from .fewshot import FewShotTask, array_task, fixed_holdout
from .paths import is_fixture

#: The rungs, in the order the ladder lists them (not an ordering of their measured gaps).
RUNGS = ("natural", "plain", "highpass", "permuted")
#: Rungs the second registration adds (grids/registration-2/ladder-rungs.toml), so each source has six: ``tiles``
#: (the 7 px tiles of the canvas moved by one fixed permutation: coarser than ``permuted``) and ``inverted`` (255
#: minus the image: a negative). Their gaps were measured before any of their runs.
EXTRA_RUNGS = ("tiles", "inverted")
#: Every rung a task may name.
ALL_RUNGS = RUNGS + EXTRA_RUNGS
#: The tile side (px) and permutation seed of the ``tiles`` rung (lesson 07's exercise 1 measured the same shuffle).
TILE_PX, TILE_SEED = 7, 0
#: The label sources, each with its class names.
LADDER_SOURCES = {"digits": tuple(str(i) for i in range(10)), "fashion": FASHION_CLASSES}
#: The canvas side (px) every rung is drawn on.
CANVAS = 28
#: Test images per class (fixed), and the fashion pool's size.
TEST_PER_CLASS, FASHION_POOL = 50, 2000
#: scikit-image colour photographs the ``natural`` rung's backgrounds are cut from.
BACKGROUNDS = ("astronaut", "coffee", "chelsea", "rocket")
_PERMUTATION_SEED, _BACKGROUND_SEED, _SPLIT_SEED = 2027, 2028, 2029


def parse_ladder(sub: str) -> tuple[str, str]:
    """(source, rung) of a task name's part after ``ladder:``; a one-line error naming the choices otherwise."""
    source, _, rung = sub.partition(":")
    if source not in LADDER_SOURCES or rung not in ALL_RUNGS:
        raise SrLoraError(f"unknown task 'ladder:{sub}': use ladder:<{'|'.join(LADDER_SOURCES)}>:"
                          f"<{'|'.join(ALL_RUNGS)}>")  # fmt: skip
    return source, rung


def ladder_tasks(rungs: tuple[str, ...] = RUNGS) -> list[str]:
    """Every ladder task name of ``rungs`` (default: the first registration's four), source by source."""
    return [f"ladder:{s}:{r}" for s in LADDER_SOURCES for r in rungs]


def _stratified(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                                   for c in np.unique(labels)]))  # fmt: skip


def source_images(source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A source's grey canvases as (pool images, pool labels, test images, test labels), uint8 (N, 28, 28)."""
    if source == "fashion":
        return _fashion_images(str(find_fashion_mnist()))
    return _source_images(source)


def source_is_fixture(source: str) -> bool:
    """Whether ``source`` is read from a synthetic fixture (:func:`~srlora_utils.data.fixtures.write_fixtures`)."""
    return source == "fashion" and is_fixture(find_fashion_mnist())


@lru_cache(maxsize=2)
def _fashion_images(folder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    train_x, train_y = load_fashion_mnist("train", folder)
    test_x, test_y = load_fashion_mnist("test", folder)
    pool = np.sort(np.random.default_rng(_SPLIT_SEED).choice(len(train_x), FASHION_POOL, replace=False))
    test = _stratified(test_y, TEST_PER_CLASS, _SPLIT_SEED)
    return train_x[pool], train_y[pool], test_x[test], test_y[test]


@lru_cache(maxsize=1)
def _source_images(source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if source == "digits":
        from PIL import Image
        from sklearn.datasets import load_digits

        d = load_digits()
        small = (d.images * (255 / 16)).round().astype(np.uint8)
        up = Image.Resampling.BILINEAR
        images = np.stack([np.asarray(Image.fromarray(im).resize((CANVAS, CANVAS), up)) for im in small])
        labels = d.target.astype(np.int64)
        pool, held = fixed_holdout(len(images), 0.5)  # the same test half as the ``digits`` stand-in
        test = held[_stratified(labels[held], TEST_PER_CLASS, _SPLIT_SEED)]
    else:
        raise SrLoraError(f"unknown ladder source {source!r}: use one of {', '.join(LADDER_SOURCES)}")
    return images[pool], labels[pool], images[test], labels[test]


@lru_cache(maxsize=1)
def _background_photos() -> tuple[np.ndarray, ...]:
    import skimage.data
    from skimage.transform import rescale

    # A quarter of each photograph's size: a 28 px crop then holds edges and texture, not one smooth patch.
    return tuple((rescale(getattr(skimage.data, n)(), 0.25, channel_axis=-1, anti_aliasing=True) * 255)
                 .round().astype(np.uint8) for n in BACKGROUNDS)  # fmt: skip


def _backgrounds(n: int, salt: int) -> np.ndarray:
    """``n`` fixed 28x28 colour crops (uint8 (n, 28, 28, 3)); ``salt`` keeps the pool's and the test set's apart."""
    photos, rng = _background_photos(), np.random.default_rng([_BACKGROUND_SEED, salt])
    which = rng.integers(0, len(photos), n)
    out = np.empty((n, CANVAS, CANVAS, 3), dtype=np.uint8)
    for i, p in enumerate(which):
        h, w = photos[p].shape[:2]
        top, left = rng.integers(0, h - CANVAS), rng.integers(0, w - CANVAS)
        out[i] = photos[p][top : top + CANVAS, left : left + CANVAS]
    return out


def pixel_permutation() -> np.ndarray:
    """The ``permuted`` rung's fixed permutation of the 784 pixel positions (the same for every image and source)."""
    return np.random.default_rng(_PERMUTATION_SEED).permutation(CANVAS * CANVAS)


def shuffle_tiles(grey: np.ndarray, tile: int = 7, seed: int = 0) -> np.ndarray:
    """The canvases ``grey`` (N, 28, 28) with their ``tile``-px square tiles moved by one fixed permutation drawn by
    ``seed`` (the same for every image): a coarser shuffle than the ``permuted`` rung's, for lesson 07's exercise."""
    n, side = len(grey), grey.shape[1]
    if side % tile:
        raise SrLoraError(f"tile={tile} does not divide the {side} px canvas: use a divisor such as 7 or 14")
    k = side // tile
    order = np.random.default_rng(seed).permutation(k * k)
    tiles = grey.reshape(n, k, tile, k, tile).transpose(0, 1, 3, 2, 4).reshape(n, k * k, tile, tile)[:, order]
    return tiles.reshape(n, k, k, tile, tile).transpose(0, 1, 3, 2, 4).reshape(grey.shape)


def draw_rung(grey: np.ndarray, rung: str, salt: int = 0) -> np.ndarray:
    """The grey canvases ``grey`` (uint8 (N, 28, 28)) at ``rung`` as uint8 RGB (N, 28, 28, 3); ``salt`` picks the
    ``natural`` rung's fixed backgrounds (0 for a pool, 1 for a test set)."""
    if rung not in ALL_RUNGS:
        raise SrLoraError(f"unknown rung {rung!r}: use one of {', '.join(ALL_RUNGS)}")
    if rung == "tiles":
        return draw_rung(shuffle_tiles(grey, TILE_PX, TILE_SEED), "plain")
    if rung == "inverted":
        return draw_rung(255 - grey, "plain")
    g = grey.astype(np.float32)
    if rung == "natural":
        alpha = np.clip(g / 48.0, 0.0, 1.0)[..., None]
        out = alpha * g[..., None] + (1 - alpha) * _backgrounds(len(grey), salt).astype(np.float32)
    elif rung == "plain":
        out = np.repeat(g[..., None], 3, axis=-1)
    elif rung == "highpass":
        from scipy.ndimage import gaussian_filter

        detail = g - gaussian_filter(g, sigma=(0, 1.5, 1.5))
        out = np.repeat((128 + 1.5 * detail)[..., None], 3, axis=-1)
    else:
        flat = grey.reshape(len(grey), -1)[:, pixel_permutation()].reshape(grey.shape)
        out = np.repeat(flat[..., None].astype(np.float32), 3, axis=-1)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def ladder_arrays(source: str, rung: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Task ``ladder:<source>:<rung>``'s (pool images, pool labels, test images, test labels), images uint8 RGB."""
    pool_x, pool_y, test_x, test_y = source_images(source)
    return draw_rung(pool_x, rung, 0), pool_y, draw_rung(test_x, rung, 1), test_y


def load_ladder_task(
    sub: str, shots: int, seed: int, img_size: int, augment: str = "official", norm=None
) -> FewShotTask:
    """Task ``ladder:<sub>`` (``sub`` = ``<source>:<rung>``): K-shot train and val drawn by ``seed`` from the
    source's pool at that rung, the fixed 500-image test set at that rung. Other arguments (``shots``, ``seed``,
    ``img_size``, ``augment``, ``norm``) as :func:`~srlora_utils.data.tasks.load_task`."""
    source, rung = parse_ladder(sub)
    pool_x, pool_y, test_x, test_y = ladder_arrays(source, rung)
    fixture = source_is_fixture(source)
    return array_task(
        f"ladder:{sub}", pool_x, pool_y, test_x, test_y, list(LADDER_SOURCES[source]), shots, seed, img_size,
        standin=not fixture, fixture=fixture, augment=augment, norm=norm,
        description=f"gap ladder: {source} labels at the {rung!r} rung (controlled stand-in, not medical or "
        "remote-sensing data)",
    )  # fmt: skip
