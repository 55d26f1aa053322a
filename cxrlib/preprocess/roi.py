"""Preprocessing and thorax ROI (Galindo-Ramirez et al. 2022, sections 3.2-3.3).

Per radiograph: resize to ``preprocess_size`` (paper: 400x400), CLAHE (OpenCV), then the thorax ROI of
:mod:`cxrlib.roi` on the equalized image (mean threshold, morphological active contours, 21x21 mean
filter, bounding box with a margin), then crop the equalized image to the box and resize it to the
network input. When no lung field is found, or the box is implausibly small, the ROI falls back to the
whole image and says so (``RoiResult.fallback``, a warning from :func:`preprocess_image`, the
``fallback`` column of the batch table).

Speed: the contour steps run on a ``contour_size`` image (default 100x100) downsampled from the
equalized image after a Gaussian smoothing; every length is a fraction of the image side, so the same
steps also run at full size (``extract_roi(..., reference=True)``, with scikit-image's own snakes), and a
test checks that both agree on real radiographs. :func:`evaluate_roi` measures how much of a manual lung
mask the box keeps (``python -m cxrlib roi-eval``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from skimage.segmentation import (inverse_gaussian_gradient, morphological_chan_vese,
                                  morphological_geodesic_active_contour)

from . import contours as _roi
from ..data.images import ImageReadError, pair_images_and_masks, read_radiograph
from .plausibility import flag_boxes, lung_side_ratio

__all__ = [
    "ALGORITHM_VERSION",
    "PREPROCESS_RANGES",
    "ROI_GOALS",
    "BOTH_LUNGS_LEVEL",
    "PreprocessConfig",
    "RoiResult",
    "PreprocessResult",
    "resize_image",
    "apply_clahe",
    "extract_roi",
    "preprocess_image",
    "network_image",
    "box_iou",
    "agreement_sample",
    "compare_to_reference",
    "evaluate_roi",
    "evaluate_roi_on_boxes",
    "PAEDIATRIC_BOXES",
    "roi_eval_main",
]

#: Bumped whenever the algorithm or what the cache records changes in a way the parameters do not show; part of
#: the cache key (version 6: the boxes of version 5, with the lung fields' side ratio recorded).
ALGORITHM_VERSION = 6
#: The goals of issues 3, 10 and 21 for the ROI on manual lung masks (``area_median`` only on uncropped images).
ROI_GOALS = {"coverage_median": (">=", 0.995), "coverage_p05": (">=", 0.97),
             "area_median": ("<=", 0.60), "fallback_rate": ("<=", 0.01), "fallback_or_implausible_rate": ("<=", 0.01),
             "both_lungs_rate": (">=", 0.99), "area_ratio_median": ("<=", 1.3)}
#: A lung counts as kept (``both_lungs_rate``) when the box holds at least this share of its pixels.
BOTH_LUNGS_LEVEL = 0.9
#: Wider cuts (factors of ``split_radius``) that free a lung joined to the outside air by a wide neck.
_WIDER_CUTS = (2, 3)
#: Bounds of every PreprocessConfig parameter, declared once (the profile schema reads them too).
PREPROCESS_RANGES = {
    "preprocess_size": (16, 8192), "clahe_tile_grid": (1, 256), "roi_mean_filter": (1, 1001),
    "output_size": (8, 8192), "contour_size": (16, 8192), "chan_vese_iterations": (0, 1000),
    "grow_iterations": (0, 1000),
    "clahe_clip_limit": (0.0, 1000.0), "roi_margin": (0.0, 1.0), "smoothing_sigma": (0.0, 0.2),
    "split_radius": (0.0, 0.5), "min_field_fraction": (0.0, 1.0), "gradient_sigma": (0.0, 0.2),
    "min_lung_area": (0.0, 1.0), "min_box_side": (0.0, 1.0), "mirror_balance": (0.0, 1.0), "min_aspect": (0.0, 10.0),
}


@dataclass(frozen=True)
class PreprocessConfig:
    """Every parameter of the preprocessing; :meth:`key` hashes them (with the algorithm version).

    Lengths of the ROI steps are fractions of the image side (the value at 400x400 in brackets), so the
    steps mean the same at any ``preprocess_size`` and ``contour_size``.

    Attributes
    ----------
    preprocess_size : int
        Side of the resized radiograph (paper: 400).
    clahe_clip_limit, clahe_tile_grid : float, int
        OpenCV CLAHE clip limit and tiles per side.
    roi_margin : float
        Margin added to each side of the box, as a fraction of the box's height / width.
    roi_mean_filter : int
        Odd side of the mean filter on the mask, in pixels of the ``preprocess_size`` image (paper: 21).
    output_size : int
        Side of the processed crop (the model's input size).
    contour_size : int
        Side of the image the contour steps run on (at most ``preprocess_size``).
    smoothing_sigma : float
        Gaussian smoothing before the threshold (0.005: 2 px), removes noise and fine vessels.
    chan_vese_iterations : int
        Chan-Vese iterations at ``contour_size`` (scaled for the full-size reference).
    split_radius : float
        Necks narrower than twice this are cut between lung and outside air (0.03: 12 px); parts of the lung
        fields thinner than twice this reach at most this far beyond the lungs into the box (algorithm version 5).
    min_field_fraction : float
        Lung-field pieces smaller than this fraction of the largest are dropped.
    grow_iterations : int
        Balloon iterations of the geodesic contour at ``contour_size`` (10 at 100 px: up to 40 px at 400); 0 (the
        default since algorithm version 4) skips it: at 100 px it leaked further than at full size, and the
        lung-field box keeps the lungs without it (notebook 02's table of choices).
    gradient_sigma : float
        Gaussian scale of the edge map of the geodesic contour (0.01: 4 px).
    mirror_balance : float
        When one side of the spine holds less than this share of the other side's lung area, the box
        is mirrored about the spine so that an opaque lung stays inside (0: never, 1: always).
    min_aspect : float
        A box flatter than this height / width is extended downwards, to the lung bases the dark
        mask misses first (opaque lower lobes); adult lung fields are 0.65 to 1.4 times as tall as wide.
    min_lung_area : float
        Below this fraction of the image, the lung mask counts as degenerate (fallback).
    min_box_side : float
        A box narrower or shorter than this fraction of the image counts as degenerate (fallback).
    """

    preprocess_size: int = 400
    clahe_clip_limit: float = 2.0
    clahe_tile_grid: int = 8
    roi_margin: float = 0.04
    roi_mean_filter: int = 21
    output_size: int = 224
    contour_size: int = 100
    smoothing_sigma: float = 0.005
    chan_vese_iterations: int = 10
    split_radius: float = 0.03
    min_field_fraction: float = 0.1
    grow_iterations: int = 0
    gradient_sigma: float = 0.01
    mirror_balance: float = 0.5
    min_aspect: float = 0.8
    min_lung_area: float = 0.02
    min_box_side: float = 0.3

    def __post_init__(self):
        for name, (low, high) in PREPROCESS_RANGES.items():
            value = getattr(self, name)
            if isinstance(low, int):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                    raise ValueError(f"PreprocessConfig.{name} must be an integer in [{low}, {high}], got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high
                                                                                         and math.isfinite(value)):
                raise ValueError(f"PreprocessConfig.{name} must be a number in [{low}, {high}], got {value!r}")
        if self.roi_mean_filter % 2 == 0:
            raise ValueError("PreprocessConfig.roi_mean_filter must be odd (a centred window), "
                             f"got {self.roi_mean_filter}")
        if self.clahe_clip_limit <= 0 or self.split_radius <= 0 or self.gradient_sigma <= 0:
            raise ValueError("PreprocessConfig.clahe_clip_limit, split_radius and gradient_sigma must be > 0, got "
                             f"{self.clahe_clip_limit!r}, {self.split_radius!r}, {self.gradient_sigma!r}")

    def to_dict(self) -> dict:
        """The parameters as a plain dict (JSON-ready)."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Stable 16-hex-digit hash of the parameters and :data:`ALGORITHM_VERSION` (the cache key)."""
        payload = json.dumps({"algorithm_version": ALGORITHM_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RoiResult:
    """Outcome of :func:`extract_roi`.

    Attributes
    ----------
    box : tuple of float
        ``(y0, x0, y1, x1)`` as fractions of the image height / width; ``(0, 0, 1, 1)`` on fallback.
    lung_mask : (M, N) bool ndarray
        The final lung-field mask, in the frame of the equalized image.
    mask_area : float
        ``lung_mask``'s share of the image.
    fallback : bool
        True when the mask was degenerate and the box is the whole image.
    reason : str
        Why it fell back ('' otherwise).
    threshold : float
        The mean threshold of Eq. 2.
    stages : dict of str to ndarray
        Intermediate images at the working resolution, without the flat border: 'smoothed',
        'binary', 'contour', 'filtered', 'fields', 'lungs'.
    """

    box: tuple
    lung_mask: np.ndarray
    mask_area: float
    fallback: bool
    reason: str
    threshold: float
    stages: dict = field(repr=False)


@dataclass(frozen=True)
class PreprocessResult:
    """Outcome of :func:`preprocess_image`: every image of the chain and the ROI."""

    resized: np.ndarray
    equalized: np.ndarray
    roi: RoiResult
    processed: np.ndarray


# --------------------------------------------------------------------------- steps


def _check_gray(name, image):
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) uint8 grayscale image (cxrlib's convention), got "
                         f"shape {image.shape} dtype {image.dtype}; read files with cxrlib.data.read_radiograph")
    if min(image.shape) < 2:
        raise ValueError(f"{name} has shape {image.shape}; both sides must be at least 2 pixels")


def _check_config(config):
    if config is None:
        return PreprocessConfig()
    if not isinstance(config, PreprocessConfig):
        raise TypeError(f"config must be a PreprocessConfig, got {type(config).__name__}")
    return config


def resize_image(image, size):
    """Resize to a ``size`` x ``size`` square (paper: 400x400); the aspect ratio is not kept.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
    size : int
        Output side (>= 16).

    Returns
    -------
    resized : (size, size) uint8 ndarray
        Area interpolation when shrinking, bilinear when enlarging.
    """
    _check_gray("image", image)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an integer >= 16, got {size!r}")
    shrink = image.shape[0] >= size and image.shape[1] >= size
    return cv2.resize(image, (int(size), int(size)), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def apply_clahe(image, *, clip_limit=2.0, tile_grid=8):
    """Contrast-limited adaptive histogram equalization (OpenCV), the paper's Img_Ec.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
    clip_limit : float, optional
        OpenCV clip limit (> 0).
    tile_grid : int, optional
        Tiles per side (>= 1).

    Returns
    -------
    equalized : (H, W) uint8 ndarray
    """
    _check_gray("image", image)
    if isinstance(clip_limit, bool) or not isinstance(clip_limit, (int, float)) or not clip_limit > 0:
        raise ValueError(f"clip_limit must be a number > 0, got {clip_limit!r}")
    if isinstance(tile_grid, bool) or not isinstance(tile_grid, (int, np.integer)) or tile_grid < 1:
        raise ValueError(f"tile_grid must be an integer >= 1, got {tile_grid!r}")
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tile_grid), int(tile_grid)))
    return clahe.apply(image)


def _resized_and_equalized(image, config):
    """The radiograph at ``preprocess_size`` and its CLAHE: the start of every chain that reads one."""
    resized = resize_image(image, config.preprocess_size)
    return resized, apply_clahe(resized, clip_limit=config.clahe_clip_limit, tile_grid=config.clahe_tile_grid)


def _odd(value):
    return max(1, int(round(value)) // 2 * 2 + 1) if value >= 1 else 1


def extract_roi(equalized, config=None, *, reference=False):
    """Thorax ROI of an equalized radiograph: lung-field mask and box (steps of :mod:`cxrlib.roi`).

    Flat padding or a frame along the edges is set aside first (:func:`cxrlib.roi.uniform_border`);
    the steps run on the rest and the box is given in the frame of the whole image.

    Parameters
    ----------
    equalized : (H, W) uint8 ndarray
        The CLAHE image (:func:`apply_clahe`), normally ``preprocess_size`` square.
    config : PreprocessConfig, optional
    reference : bool, optional
        Run every step at full size with scikit-image's ``morphological_chan_vese`` and
        ``morphological_geodesic_active_contour`` (iterations scaled by the size ratio): the plain
        implementation the fast path is tested against; one to two seconds per image.

    Returns
    -------
    RoiResult
    """
    _check_gray("equalized", equalized)
    config = _check_config(config)
    height, width = equalized.shape
    R0, C0, R1, C1 = _roi.uniform_border(equalized)
    core = equalized[R0:R1, C0:C1]
    result = _extract_core(core, config, reference=reference)
    core_height, core_width = core.shape
    y0, x0, y1, x1 = result["box"]
    box = ((R0 + y0 * core_height) / height, (C0 + x0 * core_width) / width,
           (R0 + y1 * core_height) / height, (C0 + x1 * core_width) / width)
    lung_mask = np.zeros((height, width), dtype=bool)
    lungs = result["stages"]["lungs"]
    if lungs.shape != core.shape:
        lungs = cv2.resize(lungs.astype(np.float32), (core_width, core_height), interpolation=cv2.INTER_LINEAR) >= 0.5
    lung_mask[R0:R1, C0:C1] = lungs
    return RoiResult(box=tuple(float(v) for v in box), lung_mask=lung_mask, mask_area=float(lung_mask.mean()),
                     fallback=bool(result["reason"]), reason=result["reason"], threshold=result["threshold"],
                     stages=result["stages"])


def _resize_mask(mask, shape):
    """A boolean mask resized to ``shape`` (rows, columns) by bilinear interpolation and a 0.5 threshold."""
    if mask.shape == tuple(shape):
        return mask
    return cv2.resize(mask.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5


def _extract_core(image, config, *, reference):
    """The ROI steps on an image without padding; box as fractions of this image.

    The decisions (the body's box, the outside air, which dark pieces are lung fields, the midline) are taken
    at the working resolution (``contour_size``) in both paths; the reference runs the snakes, the threshold
    and the mean filter at full size and takes its decisions on its own masks brought to that resolution.
    """
    height, width = image.shape
    side = max(height, width)
    smoothed = cv2.GaussianBlur(image, (0, 0), config.smoothing_sigma * side) if config.smoothing_sigma else image
    work_side = min(config.contour_size, side)
    work = smoothed
    if work_side != side:
        shape = (max(2, round(width * work_side / side)), max(2, round(height * work_side / side)))
        work = cv2.resize(smoothed, shape, interpolation=cv2.INTER_AREA)
    run_side = side if reference else work_side
    steps = run_side / work_side
    work_filter = _odd(config.roi_mean_filter * work_side / config.preprocess_size)
    run_filter = _odd(config.roi_mean_filter * run_side / config.preprocess_size)
    split_radius = config.split_radius * work_side

    # The body's box, from the threshold of the whole image; the later steps run inside it.
    r0, c0, r1, c1 = _roi.field_of_view(_roi.mean_threshold(work)[0])
    work_view = work[r0:r1, c0:c1]
    view_midline = _roi.body_midline(work_view, np.zeros(work_view.shape, dtype=bool))
    # Air outside the body (beside the neck, the chest wall, the arms) is a third, darkest class: left in, it
    # pulls Eq. 2's mean down and becomes the dark phase of the two-phase contour, and lungs of similar
    # brightness to soft tissue (after CLAHE) join the bright phase. The air is found on the first threshold
    # and painted with the mean of the bright body, so the threshold and the contour see the body only.
    dark = _roi.mean_filter_mask(~_roi.mean_threshold(work_view)[0], work_filter)
    air = _roi.outside_air(dark, split_radius=split_radius, midline=view_midline, wider_cuts=_WIDER_CUTS)
    if reference:
        work_height, work_width = work.shape
        r0, r1 = round(r0 * height / work_height), round(r1 * height / work_height)
        c0, c1 = round(c0 * width / work_width), round(c1 * width / work_width)
    source = smoothed if reference else work
    view = source[r0:r1, c0:c1]
    air = _resize_mask(air, view.shape)
    if air.any() and not air.all():
        body = view[~air]
        threshold = float(body.mean())
        view = view.copy()
        view[air] = np.round(body[body >= threshold].mean()).astype(view.dtype)
    binary, threshold = _roi.mean_threshold(view)
    cv_iterations = int(round(config.chan_vese_iterations * steps))
    # Curvature flow moves a contour by a distance that grows as the square root of the number of smoothing
    # steps, so at ``steps`` times the resolution the same smoothing takes ``steps ** 2`` steps: ``steps``
    # iterations of ``steps`` smoothing steps each.
    smoothing = max(1, int(round(steps)))
    if reference:
        contour = morphological_chan_vese(view.astype(np.float64), cv_iterations,
                                          init_level_set=~binary, smoothing=smoothing).astype(bool)
    else:
        contour = _roi.chan_vese_contour(view, ~binary, iterations=cv_iterations)
    filtered = _roi.mean_filter_mask(contour, run_filter)
    candidates = _resize_mask(filtered, work_view.shape)
    for factor in (1, *_WIDER_CUTS):
        # A lung that touches the outside air through a wide neck is dropped with it; wider cuts free it.
        fields = _roi.select_lung_fields(candidates, split_radius=factor * split_radius,
                                         min_fraction=config.min_field_fraction, midline=view_midline)
        if fields.sum() >= config.min_lung_area * work.size:
            break
    fields = filtered & _resize_mask(fields, view.shape)
    lungs = fields
    if fields.any() and config.grow_iterations:
        gimage = inverse_gaussian_gradient(view.astype(np.float64) / 255.0, sigma=config.gradient_sigma * run_side)
        grow = int(round(config.grow_iterations * steps))
        if reference:
            lungs = morphological_geodesic_active_contour(gimage, grow, init_level_set=fields, smoothing=smoothing,
                                                          balloon=1).astype(bool)
        else:
            lungs = _roi.geodesic_contour(gimage, fields, iterations=grow, balloon=1)

    def frame(part, outside):
        full = np.full(source.shape, outside, dtype=part.dtype)
        full[r0:r1, c0:c1] = part
        return full

    stages = {"smoothed": source, "binary": frame(binary, True), "contour": frame(contour, False),
              "filtered": frame(filtered, False), "fields": frame(fields, False), "lungs": frame(lungs, False)}
    fields, lungs = stages["fields"], stages["lungs"]
    area = float(lungs.mean())
    reason, box = "", (0.0, 0.0, 1.0, 1.0)
    if not fields.any():
        reason = "no lung field found"
    elif area < config.min_lung_area:
        reason = f"lung mask covers {area:.3f} of the image (< min_lung_area {config.min_lung_area})"
    else:
        midline = (_roi.body_midline(work, _resize_mask(lungs, work.shape)) if config.mirror_balance > 0
                   else None)
        trimmed = _roi.trim_thin_parts(lungs, radius=max(1, round(config.split_radius * max(lungs.shape))))
        box = _roi.roi_box(trimmed, margin=config.roi_margin, midline=midline, balance=config.mirror_balance,
                           min_aspect=config.min_aspect)
        if min(box[2] - box[0], box[3] - box[1]) < config.min_box_side:
            reason = (f"box {box[2] - box[0]:.2f} x {box[3] - box[1]:.2f} of the image is smaller than "
                      f"min_box_side {config.min_box_side}")
            box = (0.0, 0.0, 1.0, 1.0)
    return {"box": box, "reason": reason, "threshold": threshold, "stages": stages}


def preprocess_image(image, config=None):
    """Whole chain for one radiograph: resize, CLAHE, thorax ROI, crop to the model input.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
        A radiograph as read by :func:`cxrlib.data.read_radiograph`.
    config : PreprocessConfig, optional

    Returns
    -------
    PreprocessResult
        ``processed`` is the ``(output_size, output_size)`` uint8 crop of the equalized image.

    Warns
    -----
    UserWarning
        When the ROI falls back to the whole image.
    """
    config = _check_config(config)
    _check_gray("image", image)
    resized, equalized = _resized_and_equalized(image, config)
    result = extract_roi(equalized, config)
    if result.fallback:
        warnings.warn(f"thorax ROI fell back to the whole image: {result.reason}", stacklevel=2)
    processed = _roi.crop_box(equalized, result.box, output_size=config.output_size)
    return PreprocessResult(resized=resized, equalized=equalized, roi=result, processed=processed)


def network_image(resized, equalized, box, *, clahe, roi, output_size):
    """The image one arm's network sees: resized or CLAHE, whole or cropped to the box.

    Parameters
    ----------
    resized, equalized : (S, S) uint8 ndarray
        The radiograph at ``preprocess_size`` before and after CLAHE.
    box : tuple of float
        ``(y0, x0, y1, x1)`` as fractions (:attr:`RoiResult.box`).
    clahe, roi : bool
        Which of the paper's steps apply.
    output_size : int

    Returns
    -------
    (output_size, output_size) uint8 ndarray
    """
    source = equalized if clahe else resized
    return _roi.crop_box(source, box if roi else (0.0, 0.0, 1.0, 1.0), output_size=output_size)


# --------------------------------------------------------------------------- fast path against the reference


def _box_intersection(a, b):
    """Area of the overlap of two boxes ``(y0, x0, y1, x1)``."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def box_iou(a, b):
    """Intersection over union of two boxes ``(y0, x0, y1, x1)`` (fractions or pixels, end-exclusive).

    Parameters
    ----------
    a, b : sequence of float

    Returns
    -------
    float
        In [0, 1]; NaN when both boxes are empty.
    """
    inter = _box_intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float("nan")


def _compare_one(task):
    path, config = task
    _, equalized = _resized_and_equalized(read_radiograph(path), config)
    fast, reference = extract_roi(equalized, config), extract_roi(equalized, config, reference=True)
    union = (fast.lung_mask | reference.lung_mask).sum()
    return {"path": str(path), "fallback_fast": fast.fallback, "fallback_reference": reference.fallback,
            "box_iou": box_iou(fast.box, reference.box),
            "mask_iou": float((fast.lung_mask & reference.lung_mask).sum() / union) if union else float("nan"),
            "max_edge_difference": float(max(abs(u - v) for u, v in zip(fast.box, reference.box)))}


def agreement_sample(masked_images, kermany_root, count, *, seed=0):
    """The seeded sample of real radiographs the fast path is held to the reference on (issue 10).

    Parameters
    ----------
    masked_images : str or Path
        Folder of ``*.jpeg`` radiographs with lung masks (lungmasks-shenzhen/images); half the sample.
    kermany_root : str or Path
        Kermany-layout folder (``split/class/*.jpeg``); the other half.
    count : int
        Size of the sample (>= 2).
    seed : int, optional

    Returns
    -------
    paths : list of Path
        ``count // 2`` masked images, then the rest from Kermany, each drawn without replacement from the
        sorted file list.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 2:
        raise ValueError(f"count must be an integer >= 2, got {count!r}")
    rng = np.random.default_rng(seed)
    pools = [sorted(Path(masked_images).glob("*.jpeg")), sorted(Path(kermany_root).glob("*/*/*.jpeg"))]
    paths = []
    for pool, size, folder in zip(pools, (count // 2, count - count // 2), (masked_images, kermany_root)):
        if len(pool) < size:
            raise ValueError(f"{folder} holds {len(pool)} matching .jpeg images; the sample needs {size}")
        paths += list(rng.choice(pool, size, replace=False))
    return paths


def compare_to_reference(paths, config=None, *, workers=None, progress=True):
    """Run the fast path and the full-size reference (``extract_roi(..., reference=True)``) on radiographs.

    Parameters
    ----------
    paths : sequence of str or Path
        Radiographs (any size; resized and equalized as in :func:`preprocess_image`).
    config : PreprocessConfig, optional
    workers : int, optional
        Processes (default: all cores); the reference takes about a second per image.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    agreement : pandas.DataFrame
        One row per image: path, fallback_fast, fallback_reference, box_iou (IoU of the two boxes; a
        fallback box is the whole image), mask_iou (of the lung masks), max_edge_difference (largest
        difference of a box edge, as a fraction of the side).
    """
    from .cache import map_parallel

    config = _check_config(config)
    paths = list(paths)
    if not paths:
        raise ValueError("paths is empty; give at least one radiograph")
    rows = map_parallel(_compare_one, [(path, config) for path in paths], workers=workers, progress=progress,
                        desc="fast vs reference")
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- evaluation on lung masks


def _two_lungs(mask):
    """The two largest connected components of a lung mask, ordered by column: (image left, image right).

    A mask with one component gives it twice (the lungs are joined); an empty mask gives two empty masks.
    """
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask, mask
    order = 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:2]
    if order.size == 1:
        return labels == order[0], labels == order[0]
    order = order[np.argsort(centroids[order, 0])]
    return labels == order[0], labels == order[1]


def _evaluate_one(task):
    stem, image_path, mask_path, config = task
    image = read_radiograph(image_path)
    mask = read_radiograph(mask_path) > 0
    result = extract_roi(_resized_and_equalized(image, config)[1], config)
    r0, c0, r1, c1 = _roi._box_pixels(result.box, mask.shape)

    def coverage(part):
        total = int(part.sum())
        return float(part[r0:r1, c0:c1].sum() / total) if total else float("nan")

    left, right = _two_lungs(mask)
    y0, x0, y1, x1 = result.box
    area = (y1 - y0) * (x1 - x0)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    tight = (rows[-1] + 1 - rows[0]) * (cols[-1] + 1 - cols[0]) / mask.size if rows.size else float("nan")
    return {"stem": stem, "image_path": str(image_path), "mask_path": str(mask_path),
            "coverage": coverage(mask), "coverage_left": coverage(left), "coverage_right": coverage(right),
            "area": area, "area_ratio": area / tight, "fallback": result.fallback, "reason": result.reason,
            "lung_side_ratio": lung_side_ratio(result.lung_mask, result.box),
            "roi_y0": y0, "roi_x0": x0, "roi_y1": y1, "roi_x1": x1, "mask_area": result.mask_area,
            "lung_fraction": float(mask.mean()), "height": image.shape[0], "width": image.shape[1]}


def evaluate_roi(images_dir, masks_dir, config=None, *, workers=None, progress=True, goals=None):
    """Measure how well the ROI box keeps the lungs, on radiographs with manual lung masks.

    Every image in ``images_dir`` that has a mask with the same stem in ``masks_dir`` (any size; nonzero
    pixels are lung) goes through the ROI extraction; coverage is the share of the mask's
    lung pixels inside the box, area the box's share of the image. Each lung (the two largest components
    of the mask; one component counts for both) has its own coverage, and ``area_ratio`` is the box area
    over the area of the tightest box around the mask, which stays meaningful when the lungs fill the frame.

    Parameters
    ----------
    images_dir, masks_dir : str or Path
    config : PreprocessConfig, optional
    workers : int, optional
        Processes (default: all cores).
    progress : bool, optional
        Show a progress bar.
    goals : dict, optional
        The goals to check, a subset of :data:`ROI_GOALS` (default: all of them).

    Returns
    -------
    summary : dict
        ``n``, ``coverage_median``, ``coverage_p05``, ``coverage_mean``, ``coverage_min``,
        ``area_median``, ``fallback_rate``, ``implausible_rate`` (boxes flagged by
        :func:`cxrlib.plausibility.flag_boxes`), ``fallback_or_implausible_rate``, ``both_lungs_rate`` (share of
        images where each lung keeps at least :data:`BOTH_LUNGS_LEVEL` of its pixels), ``area_ratio_median``,
        ``n_empty_masks``, ``images_without_mask``, ``masks_without_image``, ``goals`` (each goal of
        :data:`ROI_GOALS` and whether it is met), ``config``.
    per_image : pandas.DataFrame
        One row per pair: stem, paths, coverage, coverage_left, coverage_right (image left / right, i.e.
        the patient's right / left lung), area, area_ratio, fallback, reason, lung_side_ratio, box, mask_area,
        lung_fraction, roi_flags, implausible.
    """
    from .cache import map_parallel

    config = _check_config(config)
    goals = ROI_GOALS if goals is None else goals
    if not isinstance(goals, dict) or not set(goals) <= set(ROI_GOALS):
        raise ValueError(f"goals must be a dict with keys among {sorted(ROI_GOALS)}, got {goals!r}")
    pairs, unmatched_images, unmatched_masks = pair_images_and_masks(images_dir, masks_dir)
    rows = map_parallel(_evaluate_one, [(*pair, config) for pair in pairs], workers=workers,
                        progress=progress, desc="roi-eval")
    per_image = flag_boxes(pd.DataFrame(rows))
    empty = int(per_image["coverage"].isna().sum())
    if empty:
        warnings.warn(f"{empty} lung masks are empty; they are left out of the coverage statistics", stacklevel=2)
    coverage = per_image["coverage"].dropna()
    lungs = per_image.dropna(subset=["coverage"])
    both = np.minimum(lungs["coverage_left"], lungs["coverage_right"]) >= BOTH_LUNGS_LEVEL
    summary = {
        "n": int(len(per_image)),
        "coverage_median": float(coverage.median()) if len(coverage) else float("nan"),
        "coverage_p05": float(np.percentile(coverage, 5)) if len(coverage) else float("nan"),
        "coverage_mean": float(coverage.mean()) if len(coverage) else float("nan"),
        "coverage_min": float(coverage.min()) if len(coverage) else float("nan"),
        "area_median": float(per_image["area"].median()),
        "fallback_rate": float(per_image["fallback"].mean()),
        "implausible_rate": float(per_image["implausible"].mean()),
        "fallback_or_implausible_rate": float((per_image["fallback"] | per_image["implausible"]).mean()),
        "both_lungs_rate": float(both.mean()) if len(lungs) else float("nan"),
        "area_ratio_median": float(lungs["area_ratio"].median()) if len(lungs) else float("nan"),
        "n_empty_masks": empty,
        "images_without_mask": unmatched_images,
        "masks_without_image": unmatched_masks,
    }
    summary["goals"] = {name: {"goal": f"{op} {value}",
                               "met": bool(summary[name] >= value if op == ">=" else summary[name] <= value)}
                        for name, (op, value) in goals.items()}
    summary["config"] = {"key": config.key(), **config.to_dict()}
    return summary, per_image


#: Manual lung-field boxes on 40 paediatric Kermany test radiographs (how they were made: annotations/README.md).
PAEDIATRIC_BOXES = Path(__file__).parents[1] / "annotations" / "kermany_test_lung_boxes.csv"


def _box_one(task):
    path, box, config = task
    result = extract_roi(_resized_and_equalized(read_radiograph(path), config)[1], config)
    r0, c0, r1, c1 = result.box
    drawn, area = (box[2] - box[0]) * (box[3] - box[1]), (r1 - r0) * (c1 - c0)
    return {"coverage": _box_intersection(box, result.box) / drawn, "area": area, "area_ratio": area / drawn,
            "fallback": result.fallback, "roi_y0": r0, "roi_x0": c0, "roi_y1": r1, "roi_x1": c1}


def evaluate_roi_on_boxes(manifest, boxes=PAEDIATRIC_BOXES, config=None, *, workers=None, progress=True):
    """Measure the ROI box against manually drawn lung-field boxes (for images without lung masks).

    Parameters
    ----------
    manifest : pandas.DataFrame
        :func:`cxrlib.data.build_manifest` of a Kermany release (``path``, ``split``, ``label``, ``filename``);
        the annotated images are found in it by split, class and file name.
    boxes : str or Path, optional
        CSV with ``split``, ``class``, ``filename`` and the box ``y0, x0, y1, x1`` as fractions of the image
        (default: :data:`PAEDIATRIC_BOXES`).
    config : PreprocessConfig, optional
    workers : int, optional
    progress : bool, optional

    Returns
    -------
    summary : dict or None
        None when the manifest holds none of the annotated images. Otherwise ``n``, ``coverage_median``,
        ``coverage_p05``, ``coverage_min`` (share of the drawn box inside the ROI box), ``area_median`` (the ROI
        box's share of the image), ``area_ratio_median`` (ROI box over drawn box), ``fallback_rate``, and the
        same per class under ``by_class``.
    per_image : pandas.DataFrame or None
        The CSV's rows with ``coverage``, ``area``, ``area_ratio``, ``fallback`` and the ROI box.

    Raises
    ------
    ValueError
        When the manifest holds some of the annotated images but not all.
    """
    from .cache import map_parallel

    config = _check_config(config)
    table = pd.read_csv(boxes)
    missing = {"split", "class", "filename", "y0", "x0", "y1", "x1"} - set(table.columns)
    if missing:
        raise ValueError(f"boxes {str(boxes)!r} lacks the columns {sorted(missing)}")
    keys = ["split", "label", "filename"]
    found = table.merge(manifest[[*keys, "path"]].drop_duplicates(keys), left_on=["split", "class", "filename"],
                        right_on=keys, how="left")
    absent = found["path"].isna()
    if absent.all():
        return None, None
    if absent.any():
        raise ValueError(f"{int(absent.sum())} of the {len(found)} annotated images are not in the manifest "
                         f"(e.g. {found.loc[absent, 'filename'].iloc[0]}); the boxes are measured on the whole sample")
    drawn = table[["y0", "x0", "y1", "x1"]].to_numpy()
    tasks = [(path, tuple(box), config) for path, box in zip(found["path"], drawn)]
    per_image = pd.concat([table, pd.DataFrame(map_parallel(_box_one, tasks, workers=workers, progress=progress,
                                                            desc="roi vs boxes"))], axis=1)

    def summarize(rows):
        return {"n": int(len(rows)), "coverage_median": float(rows["coverage"].median()),
                "coverage_p05": float(np.percentile(rows["coverage"], 5)),
                "coverage_min": float(rows["coverage"].min()),
                "area_median": float(rows["area"].median()), "area_ratio_median": float(rows["area_ratio"].median()),
                "fallback_rate": float(rows["fallback"].mean())}

    summary = summarize(per_image)
    summary["by_class"] = {str(label): summarize(rows) for label, rows in per_image.groupby("class")}
    return summary, per_image


def _set_name(images_dir):
    """A set's name in roi-eval's report: the images folder's name, or its parent's when it is called 'images'."""
    folder = Path(images_dir).resolve()
    return folder.parent.name if folder.name == "images" else folder.name


def roi_eval_main(argv):
    """``python -m cxrlib roi-eval --images DIR --masks DIR [--stress OUT [--transforms T,...] [--seed N]] [--json]
    [--workers N] [--per-image CSV]``.

    Measures the ROI on the given set and, with ``--stress OUT``, on each stress transform of it
    (:data:`cxrlib.stress.STRESS_TRANSFORMS`), built into ``OUT/<transform>/`` first; the goal on the median box
    area is checked only on sets that keep the film's framing.

    Parameters
    ----------
    argv : list of str
        Arguments after ``roi-eval``.

    Returns
    -------
    status : int
        0 on success, 2 on an input error (printed as one line on stderr).
    """
    from ..atomic import write_csv
    from .stress import FRAMING_KEPT, STRESS_CROP, STRESS_TRANSFORMS, build_stress_set

    parser = argparse.ArgumentParser(
        prog="python -m cxrlib roi-eval",
        description="Measure how much of manual lung masks the thorax ROI box keeps (coverage, per lung) and how large "
                    "the box is (area, and area over the tightest box around the mask), on the given set and on stress "
                    "transforms of it. Images and masks are paired by file stem; nonzero mask pixels are lung.")
    parser.add_argument("--images", required=True, help="folder of radiographs")
    parser.add_argument("--masks", required=True, help="folder of lung masks with the same stems")
    parser.add_argument("--stress", metavar="OUT",
                        help="also build stress sets of the pairs into OUT/<transform>/ (outside git) and measure each: "
                             f"{', '.join(STRESS_TRANSFORMS)} (see cxrlib.stress); 'crop' cuts "
                             f"{STRESS_CROP['bottom_cut']} of the lungs' height at the bottom and "
                             f"{STRESS_CROP['side_cut']} of their width on one side")
    parser.add_argument("--transforms", default=",".join(STRESS_TRANSFORMS),
                        help="comma-separated stress transforms to build with --stress (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stress transforms (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--per-image", metavar="CSV",
                        help="also write the per-image table (all sets) to this CSV file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    progress = not args.no_progress and not args.json
    transforms = [t.strip() for t in args.transforms.split(",") if t.strip()] if args.stress else []
    unknown = sorted(set(transforms) - set(STRESS_TRANSFORMS))
    if unknown:
        print(f"error: --transforms {', '.join(unknown)} unknown; choose among {', '.join(STRESS_TRANSFORMS)}",
              file=sys.stderr)
        return 2
    name = _set_name(args.images)
    sets = {name: (Path(args.images), Path(args.masks), ROI_GOALS)}
    summaries, tables = {}, []
    try:
        for transform in transforms:
            folder = Path(args.stress) / transform
            build_stress_set(args.images, args.masks, folder, transform=transform, seed=args.seed, progress=progress)
            goals = ROI_GOALS if transform in FRAMING_KEPT else {k: v for k, v in ROI_GOALS.items()
                                                                 if k != "area_median"}
            sets[f"{name}/{transform}"] = (folder / "images", folder / "masks", goals)
        for set_name, (images, masks, goals) in sets.items():
            summary, per_image = evaluate_roi(images, masks, workers=args.workers, progress=progress, goals=goals)
            summaries[set_name] = summary
            tables.append(per_image.assign(set=set_name))
    except (ValueError, ImageReadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = summaries[name].pop("config")
    for summary in summaries.values():
        summary.pop("config", None)
    if args.per_image:
        write_csv(pd.concat(tables, ignore_index=True), args.per_image)
    report = {"sets": summaries, "config": config,
              "stress": {"folder": str(args.stress), "seed": args.seed, "transforms": transforms, **STRESS_CROP}
              if args.stress else None}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"ROI on lung masks: {summaries[name]['n']} image/mask pairs from {args.images}")
    labels = ["as given", *transforms]
    width = max(12, *(len(label) + 2 for label in labels))
    print(f"{'metric':<30}{'goal':<10}" + "".join(f"{label:>{width}}" for label in labels))
    for metric in ("coverage_median", "coverage_p05", "coverage_mean", "coverage_min", "area_median", "fallback_rate",
                   "implausible_rate", "fallback_or_implausible_rate", "both_lungs_rate", "area_ratio_median"):
        goal = ROI_GOALS.get(metric)
        cells = []
        for summary in summaries.values():
            met = summary["goals"].get(metric)
            cells.append(f"{summary[metric]:.4f}{'' if met is None or met['met'] else ' NO'}")
        print(f"{metric:<30}{(f'{goal[0]} {goal[1]}' if goal else ''):<10}" + "".join(f"{c:>{width}}" for c in cells))
    for set_name, summary in summaries.items():
        if summary["images_without_mask"] or summary["masks_without_image"] or summary["n_empty_masks"]:
            print(f"{set_name}: unpaired {summary['images_without_mask']} images, {summary['masks_without_image']} "
                  f"masks; empty masks: {summary['n_empty_masks']}")
    print(f"config key {config['key']}")
    return 0
