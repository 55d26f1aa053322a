"""Boxes ``(y0, x0, y1, x1)`` as fractions of an image: their pixels, the crop they give, their overlap."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .checks import check_image, check_int

__all__ = ["box_pixels", "check_box", "crop_box", "box_intersection", "box_iou"]


def box_pixels(box, shape):
    """Integer pixel bounds ``(r0, c0, r1, c1)`` of a fractional box (outward rounding, at least 1 pixel)."""
    height, width = shape
    y0, x0, y1, x1 = box
    r0, c0 = int(math.floor(y0 * height + 1e-9)), int(math.floor(x0 * width + 1e-9))
    r1, c1 = int(math.ceil(y1 * height - 1e-9)), int(math.ceil(x1 * width - 1e-9))
    r0, c0 = min(max(r0, 0), height - 1), min(max(c0, 0), width - 1)
    return r0, c0, max(r1, r0 + 1), max(c1, c0 + 1)


def check_box(box):
    if not (isinstance(box, (tuple, list, np.ndarray)) and len(box) == 4):
        raise ValueError(f"box must be (y0, x0, y1, x1) fractions, got {box!r}")
    y0, x0, y1, x1 = (float(v) for v in box)
    if not (0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1):
        raise ValueError(f"box must satisfy 0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1, got {box!r}")
    return y0, x0, y1, x1


def crop_box(image, box, *, output_size):
    """Crop a fractional box out of an image and resize the crop to a square.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
    box : tuple of float
        ``(y0, x0, y1, x1)`` as fractions of the height and width (see :func:`roi_box`).
    output_size : int
        Side of the output; the crop is stretched to a square, as the network input is square.

    Returns
    -------
    crop : (output_size, output_size) uint8 ndarray
    """
    check_image("image", image, dtypes=(np.uint8,))
    box = check_box(box)
    check_int("output_size", output_size, 1)
    r0, c0, r1, c1 = box_pixels(box, image.shape)
    crop = image[r0:r1, c0:c1]
    shrink = crop.shape[0] >= output_size and crop.shape[1] >= output_size
    return cv2.resize(crop, (output_size, output_size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def box_intersection(a, b):
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
    inter = box_intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float("nan")
