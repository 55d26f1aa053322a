"""Further evaluation sets scored by every arm: their metrics, or on a set of NORMAL images only its false-positive rate."""

import numpy as np

from .intervals import bootstrap_mean

__all__ = ["false_positive_rate"]


def false_positive_rate(scores, thresholds, *, groups=None, n_boot=2000, seed=0):
    """False-positive rate on an all-NORMAL set: mean over seeds, with an interval resampling patients and seeds.

    Parameters
    ----------
    scores : sequence of (N,) float arrays
        One per seed.
    thresholds : sequence of float
        Each seed's decision threshold.
    groups, n_boot, seed
        As in :func:`cxrlib.metrics.bootstrap_mean`.

    Returns
    -------
    dict
        ``false_positive_rate``, ``ci``, ``per_seed``, ``sd`` (between seeds; nan for one), ``n``.
    """

    calls = np.array([np.asarray(s) >= t for s, t in zip(scores, thresholds)], dtype=float)
    rate, ci = bootstrap_mean(calls, groups=groups, n_boot=n_boot, seed=seed)
    per_seed = calls.mean(axis=1)
    return {"false_positive_rate": rate, "ci": ci, "per_seed": [float(r) for r in per_seed],
            "sd": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan"), "n": int(calls.shape[1])}
