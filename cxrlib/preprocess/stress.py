"""Stress sets for the thorax ROI: radiographs with lung masks, changed the way other hospitals' films differ.

Each transform changes an image and its manual lung mask identically (or the image alone, where the lungs do
not move), so the ROI can be scored on the result with :func:`cxrlib.preprocess.evaluate_roi`. They stand for
what a new hospital's films do that a tuning set may not: the ROI is judged on all of them, never tuned to one.

- ``crop``: the lower edge cuts into the lungs by ``bottom_cut`` of the lungs' box height and one side (drawn
  per image) by ``side_cut`` of its width, as in public 224-px copies cut tight around the chest;
- ``tight``: every edge within 0-6 % of the lungs' box (the apices included), as in a film collimated tight;
- ``rotate``: rotated by -10 to +10 degrees about the centre, the corners black, as a patient set askew;
- ``label``: a bright burned-in label with dark text over one lung's apex;
- ``low_contrast``: grey levels squeezed into a band 50-100 levels wide, a gamma of 0.7-1.4 and film grain;
- ``inverted``: white lungs on a black body (a MONOCHROME1 film read without its photometric tag).

The draws come from ``numpy.random.default_rng([seed, index of the transform])`` in the sorted order of the stems,
so the same seed rebuilds the same set. ``python -m cxrlib roi-eval --images DIR --masks DIR --stress OUT`` builds
every transform into ``OUT/<transform>/`` and measures the ROI on each.
"""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..atomic import write_bytes, write_csv
from ..data.images import pair_images_and_masks, read_radiograph

__all__ = ["STRESS_CROP", "STRESS_TRANSFORMS", "FRAMING_KEPT", "stress_crop", "stress_transform", "build_stress_set"]

#: Default crop fractions of the ``crop`` transform (fractions of the lungs' bounding box).
STRESS_CROP = {"bottom_cut": (0.02, 0.10), "side_cut": (0.0, 0.05)}
#: The transforms, in the order :func:`build_stress_set` and ``roi-eval --stress`` apply them.
STRESS_TRANSFORMS = ("crop", "tight", "rotate", "label", "low_contrast", "inverted")
#: Which transforms keep the framing of the film (the goal on the box's share of the image applies to them).
FRAMING_KEPT = {"rotate", "label", "low_contrast", "inverted"}


def _check_range(name, value):
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in value))
    if not ok or not 0 <= value[0] <= value[1] < 0.5:
        raise ValueError(f"{name} must be a (low, high) pair with 0 <= low <= high < 0.5 (fractions of the lungs' "
                         f"bounding box), got {value!r}")
    return float(value[0]), float(value[1])


def _lung_box(mask):
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("mask is empty; a stress transform needs lungs to act on")
    return rows[0], cols[0], rows[-1] + 1, cols[-1] + 1


def stress_crop(mask, *, bottom, side, side_name):
    """Pixel bounds of the ``crop`` transform of one image, from its lung mask.

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
    top, left, low, right = _lung_box(mask)
    height, width = mask.shape
    lung_height, lung_width = low - top, right - left
    r1 = low - int(round(bottom * lung_height))
    c0, c1 = 0, width
    if side_name == "left":
        c0 = left + int(round(side * lung_width))
    else:
        c1 = right - int(round(side * lung_width))
    return 0, int(c0), int(r1), int(c1)


def _crop(image, mask, rng, *, bottom_cut, side_cut):
    side_name = "left" if rng.random() < 0.5 else "right"
    bottom, side = rng.uniform(*bottom_cut), rng.uniform(*side_cut)
    r0, c0, r1, c1 = stress_crop(mask, bottom=bottom, side=side, side_name=side_name)
    height, width = image.shape
    return image[r0:r1, c0:c1], mask[r0:r1, c0:c1], {
        "side": side_name, "bottom_cut": bottom, "side_cut": side, "r0": r0, "c0": c0, "r1": r1, "c1": c1,
        "removed_bottom": 1 - r1 / height, "removed_side": (c0 if side_name == "left" else width - c1) / width}


def _tight(image, mask, rng):
    top, left, low, right = _lung_box(mask)
    margins = rng.uniform(0.0, 0.06, 4)  # of the lungs' box: top, left, bottom, right
    lung_height, lung_width = low - top, right - left
    r0 = max(0, top - int(round(margins[0] * lung_height)))
    c0 = max(0, left - int(round(margins[1] * lung_width)))
    r1 = min(image.shape[0], low + int(round(margins[2] * lung_height)))
    c1 = min(image.shape[1], right + int(round(margins[3] * lung_width)))
    return image[r0:r1, c0:c1], mask[r0:r1, c0:c1], {"r0": r0, "c0": c0, "r1": r1, "c1": c1,
                                                     "area_kept": (r1 - r0) * (c1 - c0) / image.size}


def _rotate(image, mask, rng):
    angle = rng.uniform(-10.0, 10.0)
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
    turned = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    turned_mask = cv2.warpAffine(mask.astype(np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST,
                                 borderValue=0) > 0
    return turned, turned_mask, {"angle": angle}


def _label(image, mask, rng):
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    lungs = 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:2]  # the two largest components, a lung drawn among them
    lung = int(lungs[rng.integers(2)] if len(lungs) == 2 else lungs[0])
    top, left = stats[lung, cv2.CC_STAT_TOP], stats[lung, cv2.CC_STAT_LEFT]
    lung_width = stats[lung, cv2.CC_STAT_WIDTH]
    height, width = image.shape
    label_h, label_w = int(rng.uniform(0.05, 0.09) * height), int(rng.uniform(0.15, 0.25) * width)
    centre_c = left + lung_width // 2
    r0 = int(np.clip(top - label_h // 3, 0, height - label_h))
    c0 = int(np.clip(centre_c - label_w // 2, 0, width - label_w))
    out = image.copy()
    out[r0:r0 + label_h, c0:c0 + label_w] = int(rng.integers(215, 256))
    scale = label_h / 40
    cv2.putText(out, "PORTABLE", (c0 + label_w // 20, r0 + int(0.75 * label_h)), cv2.FONT_HERSHEY_SIMPLEX,
                scale, 20, max(1, int(round(2 * scale))), cv2.LINE_AA)
    return out, mask, {"label_r0": r0, "label_c0": c0, "label_height": label_h, "label_width": label_w}


def _low_contrast(image, mask, rng):
    band = rng.uniform(50.0, 100.0)
    floor = rng.uniform(30.0, 225.0 - band)
    gamma = rng.uniform(0.7, 1.4)
    squeezed = floor + band * (image.astype(np.float32) / 255.0) ** gamma
    grain = rng.normal(0.0, 2.0, image.shape).astype(np.float32)
    return np.clip(np.round(squeezed + grain), 0, 255).astype(np.uint8), mask, {
        "band": band, "floor": floor, "gamma": gamma}


def _inverted(image, mask, rng):
    return 255 - image, mask, {}


def stress_transform(image, mask, transform, rng, *, bottom_cut=STRESS_CROP["bottom_cut"],
                     side_cut=STRESS_CROP["side_cut"]):
    """One radiograph and its lung mask changed by one of :data:`STRESS_TRANSFORMS`.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
    mask : (M, N) bool ndarray
        Manual lung mask; must not be empty.
    transform : str
        One of :data:`STRESS_TRANSFORMS`.
    rng : numpy.random.Generator
        Source of the draws.
    bottom_cut, side_cut : (float, float), optional
        Ranges of the ``crop`` transform's cuts (fractions of the lungs' bounding box).

    Returns
    -------
    image : (M', N') uint8 ndarray
    mask : (M', N') bool ndarray
    record : dict
        What was drawn (angles, cuts, the label's place, ...).
    """
    if transform not in STRESS_TRANSFORMS:
        raise ValueError(f"transform={transform!r} is unknown; choose one of {', '.join(STRESS_TRANSFORMS)}")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError("image must be a 2-D uint8 radiograph")
    if not isinstance(mask, np.ndarray) or mask.shape != image.shape:
        raise ValueError(f"mask must be a boolean array of the image's shape {image.shape}")
    mask = mask.astype(bool)
    _lung_box(mask)
    if transform == "crop":
        return _crop(image, mask, rng, bottom_cut=_check_range("bottom_cut", bottom_cut),
                     side_cut=_check_range("side_cut", side_cut))
    return {"tight": _tight, "rotate": _rotate, "label": _label, "low_contrast": _low_contrast,
            "inverted": _inverted}[transform](image, mask, rng)


def _write_png(image, path):
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    write_bytes(encoded.tobytes(), path)


def build_stress_set(images_dir, masks_dir, out_dir, *, transform="crop", seed=0, bottom_cut=STRESS_CROP["bottom_cut"],
                     side_cut=STRESS_CROP["side_cut"], progress=True):
    """Change every radiograph and its lung mask by one stress transform and write them as a new set.

    Parameters
    ----------
    images_dir, masks_dir : str or Path
        Radiographs and their lung masks (same file stems; nonzero mask pixels are lung), as for
        :func:`cxrlib.preprocess.evaluate_roi`.
    out_dir : str or Path
        Folder to write to (keep it outside git); gets ``images/<stem>.png``, ``masks/<stem>.png`` and
        ``transforms.csv``. Every file is written atomically; existing files are replaced.
    transform : str, optional
        One of :data:`STRESS_TRANSFORMS`.
    seed : int, optional
        Seed of the draws.
    bottom_cut, side_cut : (float, float), optional
        Ranges of the ``crop`` transform's cuts (of the lungs' bounding box height / width).
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    records : pandas.DataFrame
        One row per image: ``stem``, ``transform`` and what was drawn (for ``crop``: side, bottom_cut,
        side_cut, the crop ``r0, c0, r1, c1`` in pixels of the original, ``removed_bottom`` and ``removed_side``).
        Images with an empty mask are left out.
    """
    if transform not in STRESS_TRANSFORMS:
        raise ValueError(f"transform={transform!r} is unknown; choose one of {', '.join(STRESS_TRANSFORMS)}")
    bottom_cut, side_cut = _check_range("bottom_cut", bottom_cut), _check_range("side_cut", side_cut)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out_dir = Path(out_dir)
    pairs, _, _ = pair_images_and_masks(images_dir, masks_dir)
    sources = {Path(images_dir).resolve(), Path(masks_dir).resolve()}
    if out_dir.resolve() in sources | {p.parent for p in sources}:
        raise ValueError(f"out_dir {str(out_dir)!r} is the source data's folder; give a new folder (raw data is "
                         "never edited)")
    rng = np.random.default_rng([seed, STRESS_TRANSFORMS.index(transform)])
    rows = []
    for stem, image_path, mask_path in tqdm(pairs, desc=f"stress set ({transform})", disable=not progress,
                                            unit="img"):
        image, mask = read_radiograph(image_path), read_radiograph(mask_path) > 0
        if mask.shape != image.shape:
            mask = cv2.resize(mask.astype(np.uint8), image.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        if not mask.any():
            continue
        changed, changed_mask, record = stress_transform(image, mask, transform, rng, bottom_cut=bottom_cut,
                                                         side_cut=side_cut)
        _write_png(changed, out_dir / "images" / f"{stem}.png")
        _write_png(changed_mask.astype(np.uint8) * 255, out_dir / "masks" / f"{stem}.png")
        rows.append({"stem": stem, "transform": transform, **record})
    records = pd.DataFrame(rows)
    write_csv(records, out_dir / "transforms.csv")
    return records
