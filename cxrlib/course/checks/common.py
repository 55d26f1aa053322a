"""What every exercise's checks share: the pass marks, and a student's names and functions called with clear errors."""

from __future__ import annotations

import math

from .. import variants

__all__ = ["TOLERANCES", "require_defined", "call_student", "student_of", "as_box", "as_number"]


#: Pass marks and tolerances of the hidden checks (the instructor guide prints them as the rubric).
TOLERANCES = {
    "lung_dice": 0.8,  # mean Dice of the student's lung fields with the drawn lung masks
    "box_coverage_median": 0.97,  # median share of the lung pixels inside the box
    "box_coverage_min": 0.9,
    "box_area_median": 0.65,  # median box area as a share of the image (the rib cage is about 0.45)
    "metric_abs": 1e-9,  # Eq. 11-15 and ROC AUC against cxrlib.evaluation
    "ci_abs": 0.02,  # each end of the bootstrap interval against cxrlib's (2000 resamples)
    "min_resamples": 200,
    "optimism_abs": 0.01,  # mean optimism against the reference (2000 resamples)
    "marker_iou": 0.5,  # intersection over union of the located box with the planted marker's box
    "auc_abs": 0.01,  # the reported ROC AUCs against the student's own models
    "whole_gap_min": 0.15,  # validation minus test AUC of the whole-image model: the shortcut shows
    "gap_closing_min": 0.15,  # the crop model's gap is at least this much smaller (above the sampling noise)
    "crop_test_auc_min": 0.55,  # and the crop model learned something real on the shortcut-free test
}


def require_defined(value, name):
    if value is None:
        raise AssertionError(f"{name} is not defined: run the cell that defines it (Run > Run All Cells)")
    if value is Ellipsis:
        raise AssertionError(f"{name} is still `...`: replace the `...` with your answer and run the cell")


def call_student(function, name, *args, **kwargs):
    """Call a student's function; turn its failure into a message that names the call."""
    require_defined(function, name)
    if not callable(function):
        raise AssertionError(f"{name} must be a function, got {type(function).__name__}")
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        raise AssertionError(f"{name}(...) raised {type(exc).__name__}: {exc}") from None


def student_of(student_id):
    try:
        return variants.check_student_id(student_id)
    except ValueError as exc:
        raise AssertionError(str(exc)) from None


def as_box(value, name):
    if value is None or value is Ellipsis:
        raise AssertionError(f"{name} is {value!r}; it must be (y0, x0, y1, x1) as fractions of the image")
    try:
        box = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} is {value!r}; it must be four numbers (y0, x0, y1, x1)") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise AssertionError(f"{name} is {value!r}; it must be four finite numbers (y0, x0, y1, x1)")
    y0, x0, y1, x1 = box
    if not (0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1):
        raise AssertionError(f"{name} is {box}; it needs 0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1 (fractions "
                             "of the height and width, as cxrlib.preprocess.roi_box returns)")
    return box


def as_number(value, name):
    require_defined(value, name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} must be one number, got {value!r}") from None
    if not math.isfinite(number):
        raise AssertionError(f"{name} must be finite, got {number}")
    return number
