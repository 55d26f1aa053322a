"""The preprocessing's parameters (:class:`PreprocessConfig`, hashed into the cache key) and its results' types."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ALGORITHM_VERSION", "PREPROCESS_RANGES", "PreprocessConfig", "RoiResult", "PreprocessResult",
           "check_config"]

#: Bumped whenever the algorithm or what the cache records changes in a way the parameters do not show; part of
#: the cache key (version 7: padding corners set aside, lungs cut at the apex kept, films of inverted polarity read
#: on their negative; issue 21).
ALGORITHM_VERSION = 7
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
    inverted : bool
        True when the radiograph was read as a film of inverted polarity (white lungs): its lung fields crossed the
        mediastinum or lay on one side only, and the image's negative shows two lungs apart
        (:func:`cxrlib.preprocess.lungs_apart`).
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
    inverted: bool
    stages: dict = field(repr=False)


@dataclass(frozen=True)
class PreprocessResult:
    """Outcome of :func:`preprocess_image`: every image of the chain and the ROI."""

    resized: np.ndarray
    equalized: np.ndarray
    roi: RoiResult
    processed: np.ndarray


def check_config(config):
    if config is None:
        return PreprocessConfig()
    if not isinstance(config, PreprocessConfig):
        raise TypeError(f"config must be a PreprocessConfig, got {type(config).__name__}")
    return config
