"""Input checks shared by the preprocessing modules: images, masks, integers and numbers in a range.

Each raises ``TypeError`` or ``ValueError`` naming the parameter, the value and what is accepted.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = ["check_gray", "check_image", "check_mask", "check_int", "check_real"]


def check_gray(name, image):
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) uint8 grayscale image (cxrlib's convention), got "
                         f"shape {image.shape} dtype {image.dtype}; read files with cxrlib.data.read_radiograph")
    if min(image.shape) < 2:
        raise ValueError(f"{name} has shape {image.shape}; both sides must be at least 2 pixels")


def check_image(name, image, *, dtypes=None):
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(f"{name} must be a 2-D (M, N) array with sides >= 2, got shape {image.shape}")
    if dtypes is not None and image.dtype not in dtypes:
        accepted = ", ".join(str(np.dtype(d)) for d in dtypes)
        raise TypeError(f"{name} has dtype {image.dtype}; accepted: {accepted}")
    if image.dtype != bool and not np.issubdtype(image.dtype, np.number):
        raise TypeError(f"{name} has dtype {image.dtype}; expected numbers or booleans")


def check_mask(name, mask, shape=None):
    check_image(name, mask)
    if shape is not None and mask.shape != shape:
        raise ValueError(f"{name} has shape {mask.shape}; it must match the image's shape {shape}")


def check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_real(name, value, low, high, *, low_open=False):
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {bracket}{low}, {high}], got {value!r}")
