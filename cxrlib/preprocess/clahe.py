"""The start of every chain that reads a radiograph: resize to a square, then CLAHE (paper §3.2, the paper's Img_Ec)."""

from __future__ import annotations

import cv2
import numpy as np

from .checks import check_gray

__all__ = ["resize_image", "apply_clahe", "resized_and_equalized"]


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
    check_gray("image", image)
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
    check_gray("image", image)
    if isinstance(clip_limit, bool) or not isinstance(clip_limit, (int, float)) or not clip_limit > 0:
        raise ValueError(f"clip_limit must be a number > 0, got {clip_limit!r}")
    if isinstance(tile_grid, bool) or not isinstance(tile_grid, (int, np.integer)) or tile_grid < 1:
        raise ValueError(f"tile_grid must be an integer >= 1, got {tile_grid!r}")
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tile_grid), int(tile_grid)))
    return clahe.apply(image)


def resized_and_equalized(image, config):
    """The radiograph at ``preprocess_size`` and its CLAHE: the start of every chain that reads one."""
    resized = resize_image(image, config.preprocess_size)
    return resized, apply_clahe(resized, clip_limit=config.clahe_clip_limit, tile_grid=config.clahe_tile_grid)
