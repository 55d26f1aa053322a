"""A stress set for the thorax ROI: radiographs with lung masks, cropped so that the lungs reach the image edge.

Public 224-px copies of chest radiographs are cut tight around the chest: the lung bases and one lateral lung
border often touch the image edge. :func:`build_stress_set` makes such images from any set of radiographs with
manual lung masks by cropping each image and its mask identically:

- bottom: the new lower edge cuts into the lungs by a fraction ``bottom_cut`` of the height of the lungs'
  bounding box (drawn uniformly per image), so both lung bases touch the lower edge;
- one side (left or right, drawn per image): the new edge cuts into the lung on that side by a fraction
  ``side_cut`` of the width of the lungs' bounding box, so that lung touches the side edge;
- top and the other side: untouched.

The crops are defined relative to the manual mask, so the property holds on every image whatever its framing;
the fraction of the image removed is recorded per image in ``crops.csv``. The draws come from
``numpy.random.default_rng(seed)`` in the sorted order of the stems, so the same seed rebuilds the same set.
``python -m cxrlib roi-eval --images DIR --masks DIR --stress OUT`` builds the set into ``OUT`` and measures
the ROI on it.
"""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .atomic import write_bytes, write_csv
from .data import read_radiograph

__all__ = ["STRESS_CROP", "stress_crop", "build_stress_set"]

#: Default crop fractions of :func:`build_stress_set` (fractions of the lungs' bounding box).
STRESS_CROP = {"bottom_cut": (0.02, 0.10), "side_cut": (0.0, 0.05)}


def _check_range(name, value):
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in value))
    if not ok or not 0 <= value[0] <= value[1] < 0.5:
        raise ValueError(f"{name} must be a (low, high) pair with 0 <= low <= high < 0.5 (fractions of the lungs' "
                         f"bounding box), got {value!r}")
    return float(value[0]), float(value[1])


def stress_crop(mask, *, bottom, side, side_name):
    """Pixel bounds of the stress crop of one image, from its lung mask.

    Parameters
    ----------
    mask : (M, N) bool ndarray
        Manual lung mask (True: lung); must not be empty.
    bottom : float
        Share of the lungs' bounding-box height cut off at the bottom, in [0, 0.5).
    side : float
        Share of the lungs' bounding-box width cut off on ``side_name``, in [0, 0.5).
    side_name : {'left', 'right'}
        Which side of the image (as displayed) is cut.

    Returns
    -------
    box : tuple of int
        ``(r0, c0, r1, c1)``, end exclusive; the lungs touch row ``r1 - 1`` and the cut side's column.
    """
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D (M, N) array, got {type(mask).__name__} "
                         f"{getattr(mask, 'shape', '')}")
    for name, value in (("bottom", bottom), ("side", side)):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < 0.5:
            raise ValueError(f"{name} must be a fraction in [0, 0.5), got {value!r}")
    if side_name not in ("left", "right"):
        raise ValueError(f"side_name must be 'left' or 'right', got {side_name!r}")
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    cols = np.flatnonzero(np.asarray(mask).any(axis=0))
    if rows.size == 0:
        raise ValueError("mask is empty; a stress crop needs lungs to cut into")
    height, width = mask.shape
    lung_height, lung_width = rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]
    r1 = rows[-1] + 1 - int(round(bottom * lung_height))
    c0, c1 = 0, width
    if side_name == "left":
        c0 = cols[0] + int(round(side * lung_width))
    else:
        c1 = cols[-1] + 1 - int(round(side * lung_width))
    return 0, int(c0), int(r1), int(c1)


def _write_png(image, path):
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    write_bytes(encoded.tobytes(), path)


def build_stress_set(images_dir, masks_dir, out_dir, *, seed=0, bottom_cut=STRESS_CROP["bottom_cut"],
                     side_cut=STRESS_CROP["side_cut"], progress=True):
    """Crop every radiograph and its lung mask identically so that the lungs touch the bottom and one side.

    Parameters
    ----------
    images_dir, masks_dir : str or Path
        Radiographs and their lung masks (same file stems; nonzero mask pixels are lung), as for
        :func:`cxrlib.preprocess.evaluate_roi`.
    out_dir : str or Path
        Folder to write to (keep it outside git); gets ``images/<stem>.png``, ``masks/<stem>.png`` and
        ``crops.csv``. Every file is written atomically; existing files are replaced.
    seed : int, optional
        Seed of the draws (side, cut fractions).
    bottom_cut, side_cut : (float, float), optional
        Ranges of the uniform draws of the cut fractions (of the lungs' bounding box height / width).
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    crops : pandas.DataFrame
        One row per image: stem, side, bottom_cut, side_cut, the crop ``r0, c0, r1, c1`` in pixels of the
        original, ``removed_bottom`` and ``removed_side`` (fractions of the original image's height / width).
        Images with an empty mask are left out.
    """
    from .preprocess import _pair_images_and_masks

    bottom_cut, side_cut = _check_range("bottom_cut", bottom_cut), _check_range("side_cut", side_cut)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out_dir = Path(out_dir)
    pairs, _, _ = _pair_images_and_masks(images_dir, masks_dir)
    sources = {Path(images_dir).resolve(), Path(masks_dir).resolve()}
    if out_dir.resolve() in sources | {p.parent for p in sources}:
        raise ValueError(f"out_dir {str(out_dir)!r} is the source data's folder; give a new folder (raw data is "
                         "never edited)")
    rng = np.random.default_rng(seed)
    rows = []
    for stem, image_path, mask_path in tqdm(pairs, desc="stress set", disable=not progress, unit="img"):
        side_name = "left" if rng.random() < 0.5 else "right"
        bottom, side = rng.uniform(*bottom_cut), rng.uniform(*side_cut)
        image, mask = read_radiograph(image_path), read_radiograph(mask_path) > 0
        if mask.shape != image.shape:
            mask = cv2.resize(mask.astype(np.uint8), image.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        if not mask.any():
            continue
        r0, c0, r1, c1 = stress_crop(mask, bottom=bottom, side=side, side_name=side_name)
        _write_png(image[r0:r1, c0:c1], out_dir / "images" / f"{stem}.png")
        _write_png(mask[r0:r1, c0:c1].astype(np.uint8) * 255, out_dir / "masks" / f"{stem}.png")
        height, width = image.shape
        rows.append({"stem": stem, "side": side_name, "bottom_cut": bottom, "side_cut": side,
                     "r0": r0, "c0": c0, "r1": r1, "c1": c1, "removed_bottom": 1 - r1 / height,
                     "removed_side": (c0 if side_name == "left" else width - c1) / width})
    crops = pd.DataFrame(rows)
    write_csv(crops, out_dir / "crops.csv")
    return crops
