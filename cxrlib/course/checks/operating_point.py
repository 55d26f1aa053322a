"""Checks of exercise d (the operating point chosen on validation, and the optimism of choosing it on test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from .. import variants
from .common import TOLERANCES, as_number, student_of

__all__ = ["balanced_accuracy", "reference_optimism", "check_threshold", "check_optimism", "grade_threshold",
           "grade_optimism"]


def balanced_accuracy(labels, scores, threshold, *, weights=None):
    """(sensitivity + specificity) / 2 at a threshold (score >= threshold is PNEUMONIA), optionally weighted.

    Parameters
    ----------
    labels : (N,) int ndarray
    scores : (N,) float ndarray
    threshold : float
    weights : (N,) float ndarray, optional

    Returns
    -------
    float
    """
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    weights = np.ones(labels.size) if weights is None else np.asarray(weights, dtype=np.float64)
    pred = scores >= threshold
    sens = np.sum(weights * (pred & (labels == 1))) / np.sum(weights * (labels == 1))
    spec = np.sum(weights * (~pred & (labels == 0))) / np.sum(weights * (labels == 0))
    return float((sens + spec) / 2)


def reference_optimism(validation, test, *, n_resamples=2000, seed=0):
    """Mean optimism of choosing the threshold on test, over patient-level resamples of the test set.

    In each resample (patients drawn with replacement), the best balanced accuracy any threshold reaches on the
    resample (the threshold chosen on test) minus the balanced accuracy at the validation threshold.

    Parameters
    ----------
    validation, test : pandas.DataFrame
        Columns ``patient_id``, ``label``, ``score``.
    n_resamples : int, optional
    seed : int, optional

    Returns
    -------
    mean, sd : float
        Mean and standard deviation of the per-resample optimism.
    """
    from ...evaluation.operating_points import choose_threshold

    threshold = choose_threshold(validation["label"], validation["score"])
    codes, patients = pd.factorize(test["patient_id"])
    labels, scores = test["label"].to_numpy(), test["score"].to_numpy()
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        w = np.bincount(rng.integers(0, len(patients), len(patients)), minlength=len(patients))[codes].astype(float)
        if np.sum(w * labels) == 0 or np.sum(w * (1 - labels)) == 0:
            continue
        fpr, tpr, _ = roc_curve(labels, scores, sample_weight=w)
        values.append((1 + np.max(tpr - fpr)) / 2 - balanced_accuracy(labels, scores, threshold, weights=w))
    return float(np.mean(values)), float(np.std(values))




def check_threshold(threshold):
    """Public: `threshold` is a number in (0, 1)."""
    value = as_number(threshold, "threshold")
    if not 0 < value < 1:
        raise AssertionError(f"threshold = {value} must lie strictly between 0 and 1 (scores are probabilities)")


def check_optimism(optimism, n_resamples):
    """Public: `optimism` is a number in [0, 1) from at least the required number of resamples."""
    value = as_number(optimism, "optimism")
    count = as_number(n_resamples, "n_resamples")
    if count < TOLERANCES["min_resamples"]:
        raise AssertionError(f"use at least {TOLERANCES['min_resamples']} resamples, got n_resamples = {count:g}")
    if not 0 <= value < 1:
        raise AssertionError(f"optimism = {value} should be >= 0: in every resample the threshold chosen on the "
                             "resample itself does at least as well as the validation threshold")


def grade_threshold(threshold, student_id):
    """Hidden: `threshold` maximises Youden's J on the validation set (as :func:`cxrlib.evaluation.choose_threshold`)."""
    from ...evaluation.operating_points import choose_threshold

    value = as_number(threshold, "threshold")
    validation, test = variants.operating_point_tables(student_of(student_id))
    labels, scores = validation["label"].to_numpy(), validation["score"].to_numpy()
    best = balanced_accuracy(labels, scores, choose_threshold(labels, scores))
    mine = balanced_accuracy(labels, scores, value)
    if mine < best - 1e-12:
        on_test = balanced_accuracy(test["label"], test["score"], value) >= balanced_accuracy(
            test["label"], test["score"], choose_threshold(test["label"], test["score"])) - 1e-12
        hint = (" It is the best threshold on the test set: the operating point must be chosen on validation only."
                if on_test else "")
        raise AssertionError(f"threshold = {value:.4f} gives a validation balanced accuracy of {mine:.4f}; the best "
                             f"threshold on validation (Youden's J) reaches {best:.4f}.{hint}")


def grade_optimism(optimism, student_id):
    """Hidden: the mean optimism over test resamples against :func:`reference_optimism`."""
    value = as_number(optimism, "optimism")
    mean, _ = reference_optimism(*variants.operating_point_tables(student_of(student_id)))
    tol = TOLERANCES["optimism_abs"]
    if abs(value - mean) > tol:
        raise AssertionError(f"optimism = {value:.4f} is more than {tol} away from the mean over patient-level "
                             "resamples of the test set of [best balanced accuracy on the resample] - [balanced "
                             "accuracy at the validation threshold on the resample]")
