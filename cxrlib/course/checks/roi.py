"""Checks of exercise a (the thorax ROI, paper §3.2-3.3): the student's lung fields and thorax box."""

from __future__ import annotations

import math

import numpy as np

from .. import variants
from .common import TOLERANCES, as_box, call_student, student_of

__all__ = ["box_coverage_area", "check_lung_fields", "check_thorax_box", "grade_lung_fields", "grade_thorax_box"]


def _as_mask(value, shape, name):
    if value is None or value is Ellipsis:
        raise AssertionError(f"{name} returned {value!r}; it must return an (H, W) bool array, True on the lungs")
    mask = np.asarray(value)
    if mask.shape != shape:
        raise AssertionError(f"{name} returned shape {mask.shape}; it must have the image's shape {shape}")
    if mask.dtype != bool:
        raise AssertionError(f"{name} returned dtype {mask.dtype}; return a bool mask (e.g. `mask > 0`)")
    return mask




def box_coverage_area(box, lung_mask):
    """Share of the lung pixels inside a fractional box, and the box's share of the image.

    Parameters
    ----------
    box : tuple of float
        ``(y0, x0, y1, x1)`` fractions, end-exclusive.
    lung_mask : (M, N) bool ndarray

    Returns
    -------
    coverage, area : float
    """
    height, width = lung_mask.shape
    y0, x0, y1, x1 = box
    r0, c0 = int(math.floor(y0 * height)), int(math.floor(x0 * width))
    r1, c1 = int(math.ceil(y1 * height)), int(math.ceil(x1 * width))
    return float(lung_mask[r0:r1, c0:c1].sum() / lung_mask.sum()), float((y1 - y0) * (x1 - x0))


def check_lung_fields(lung_fields, image):
    """Public: `lung_fields(image)` returns a bool mask of the image's shape, neither empty nor everything."""
    mask = _as_mask(call_student(lung_fields, "lung_fields", image), image.shape, "lung_fields(image)")
    share = mask.mean()
    if not 0.05 <= share <= 0.7:
        raise AssertionError(f"lung_fields(image) marks {share:.0%} of the image; lungs cover about 15-40%. Look at "
                             "the stages: is the mask inverted (use ~binary, the dark pixels) or empty?")


def check_thorax_box(thorax_box, image):
    """Public: `thorax_box(image)` returns a valid fractional box."""
    as_box(call_student(thorax_box, "thorax_box", image), "thorax_box(image)")


def grade_lung_fields(lung_fields, student_id):
    """Hidden: mean Dice of `lung_fields` with the drawn lung masks, on the student's and on fresh images."""
    sid = student_of(student_id)
    cases = variants.roi_cases(sid) + variants.roi_cases(sid, stream="fresh")
    dice = []
    for case in cases:
        mask = _as_mask(call_student(lung_fields, "lung_fields", case.image), case.image.shape, "lung_fields(image)")
        dice.append(2 * (mask & case.lung_mask).sum() / max(1, mask.sum() + case.lung_mask.sum()))
    need = TOLERANCES["lung_dice"]
    if np.mean(dice) < need:
        raise AssertionError(f"the lung fields overlap the true lungs with mean Dice {np.mean(dice):.2f} over "
                             f"{len(cases)} images (needs >= {need}); per image: {np.round(dice, 2).tolist()}. "
                             "Check each step's output against the figures in the notebook.")


def grade_thorax_box(thorax_box, student_id):
    """Hidden: lung coverage and area of `thorax_box` against the drawn lung masks (own and fresh images)."""
    sid = student_of(student_id)
    cases = variants.roi_cases(sid) + variants.roi_cases(sid, stream="fresh")
    coverage, area = [], []
    for case in cases:
        box = as_box(call_student(thorax_box, "thorax_box", case.image), "thorax_box(image)")
        c, a = box_coverage_area(box, case.lung_mask)
        coverage.append(c)
        area.append(a)
    t = TOLERANCES
    problems = []
    if np.median(coverage) < t["box_coverage_median"] or min(coverage) < t["box_coverage_min"]:
        problems.append(f"the boxes keep a median {np.median(coverage):.1%} (lowest {min(coverage):.1%}) of the lung "
                        f"pixels; needs median >= {t['box_coverage_median']:.0%} and each >= "
                        f"{t['box_coverage_min']:.0%}: the box cuts off lung (add the margin, keep both lungs)")
    if np.median(area) > t["box_area_median"]:
        problems.append(f"the boxes cover a median {np.median(area):.0%} of the image; needs <= "
                        f"{t['box_area_median']:.0%} (the rib cage is about 45%): the box must exclude the labels, "
                        "arms and shoulders, so take it around the lung fields, not around the bright body")
    if problems:
        raise AssertionError(f"on {len(cases)} images of your variant: " + "; ".join(problems))
