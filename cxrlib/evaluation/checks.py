"""Input checks shared by the evaluation modules: labels, scores, thresholds, patient groups, seeds, bootstrap settings.

Each raises ``TypeError`` or ``ValueError`` naming the parameter, the value and what is accepted.
"""

import numpy as np
import pandas as pd

__all__ = ["check_labels", "check_scores", "check_threshold", "group_codes", "make_rng", "check_bootstrap"]


def check_labels(y_true, name="y_true"):
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of 0/1 labels, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise ValueError(
            f"{name} must hold 0 (NORMAL) and 1 (PNEUMONIA) only, got values {bad.tolist()}"
        )
    return y.astype(np.int64)


def check_scores(y_score, n, name="y_score"):
    s = np.asarray(y_score, dtype=np.float64)
    if s.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like y_true, got {s.shape}")
    if not np.isfinite(s).all() or s.min() < 0 or s.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1], got range [{np.nanmin(s)}, {np.nanmax(s)}]")
    return s


def check_threshold(threshold, name="threshold"):
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise TypeError(f"{name} must be a number in (0, 1), got {threshold!r}")
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {threshold}")
    return float(threshold)


def group_codes(groups, n):
    if groups is None:
        return np.arange(n)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must have one patient id per image, shape ({n},), got {g.shape}")
    return pd.factorize(g)[0]


def make_rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")


def check_bootstrap(n_boot, confidence):
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
