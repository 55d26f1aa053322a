"""Two models, or two arms over their seeds, compared on the same images: McNemar and paired bootstrap intervals.

Two models scored on the same images are compared with McNemar's test on their errors and a paired patient
bootstrap of the metric differences (the same resamples for both models); two arms trained with the same seeds by
the mean AUC difference over seeds, its interval, the smallest difference the study could detect and a verdict.
"""

import warnings

import numpy as np

from .checks import check_bootstrap, check_labels, check_scores, check_threshold, group_codes, make_rng
from .classification import METRIC_NAMES, metric_values, score_ranks
from .intervals import (percentile_intervals, resample_seeds_and_patients, resample_weights, two_level_method,
                        warn_undefined)

__all__ = ["compare_models", "compare_seeds", "EQUIVALENCE_MARGIN_AUC", "minimal_detectable_difference",
           "difference_verdict"]


def compare_models(
    y_true, score_a, score_b, *, threshold_a=0.5, threshold_b=0.5, groups=None,
    n_boot=2000, confidence=0.95, seed=0,
):
    """Paired comparison of two models scored on the same images.

    McNemar's test on the discordant errors (exact binomial when fewer than 25
    images are discordant, otherwise chi-square with continuity correction;
    statsmodels), and the difference ``a - b`` of every metric with a paired
    patient-bootstrap interval (both models on the same resamples).

    Parameters
    ----------
    y_true : (N,) array of 0/1
        True labels.
    score_a, score_b : (N,) float arrays
        PNEUMONIA probabilities of model a and model b for the same images.
    threshold_a, threshold_b : float
        Each model's decision threshold.
    groups, n_boot, confidence, seed
        As in :func:`bootstrap_intervals`.

    Returns
    -------
    dict
        ``mcnemar_statistic``, ``mcnemar_p_value``, ``mcnemar_method``,
        ``both_correct``, ``only_a_correct``, ``only_b_correct``, ``both_wrong``,
        ``auc_difference``, ``auc_difference_ci``, ``difference`` and
        ``difference_ci`` (``{metric: a - b}`` and ``{metric: [low, high]}``),
        ``ci_method``.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    y = check_labels(y_true)
    sa = check_scores(score_a, y.size, "score_a")
    sb = check_scores(score_b, y.size, "score_b")
    pa = (sa >= check_threshold(threshold_a, "threshold_a")).astype(np.int64)
    pb = (sb >= check_threshold(threshold_b, "threshold_b")).astype(np.int64)
    codes = group_codes(groups, y.size)
    check_bootstrap(n_boot, confidence)

    ca, cb = pa == y, pb == y
    table = np.array([[np.sum(ca & cb), np.sum(ca & ~cb)], [np.sum(~ca & cb), np.sum(~ca & ~cb)]])
    discordant = int(table[0, 1] + table[1, 0])
    exact = discordant < 25
    test = mcnemar(table, exact=exact, correction=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        va, _ = metric_values(y, pa, sa)
        vb, _ = metric_values(y, pb, sb)
        samples = {k: [] for k in METRIC_NAMES}
        ranks_a, ranks_b = score_ranks(sa), score_ranks(sb)
        for w in resample_weights(codes, n_boot, make_rng(seed)):
            ra, _ = metric_values(y, pa, sa, w, ranks_a)
            rb, _ = metric_values(y, pb, sb, w, ranks_b)
            for k in METRIC_NAMES:
                samples[k].append(ra[k] - rb[k])
    difference = {k: float(va[k] - vb[k]) for k in METRIC_NAMES}
    difference_ci, notes = percentile_intervals(samples, confidence)
    warn_undefined([f"difference in {note}" for note in notes])
    unit = "patients" if groups is not None else "images"
    return {
        "mcnemar_statistic": float(test.statistic),
        "mcnemar_p_value": float(test.pvalue),
        "mcnemar_method": "exact binomial" if exact else "chi-square with continuity correction",
        "both_correct": int(table[0, 0]),
        "only_a_correct": int(table[0, 1]),
        "only_b_correct": int(table[1, 0]),
        "both_wrong": int(table[1, 1]),
        "auc_difference": difference["roc_auc"],
        "auc_difference_ci": difference_ci["roc_auc"],
        "difference": difference,
        "difference_ci": difference_ci,
        "ci_method": f"{100 * confidence:g}% paired percentile bootstrap, {n_boot} resamples of {unit}",
    }


#: Two arms whose AUC difference has its interval inside +-this are called equivalent: the strict end of the
#: non-inferiority margins used for diagnostic AUC (0.02-0.05), fixed before any result was read.
EQUIVALENCE_MARGIN_AUC = 0.02


def compare_seeds(y_true, scores_a, scores_b, thresholds_a, thresholds_b, *, groups=None, n_boot=2000,
                  confidence=0.95, seed=0, equivalence_margin=EQUIVALENCE_MARGIN_AUC, power=0.8):
    """Two arms, each trained with the same seeds, on the same images: per seed and averaged.

    Per seed, :func:`compare_models` (McNemar on the discordant errors, paired bootstrap of every
    metric difference). Across seeds, the mean AUC difference with a paired two-level bootstrap interval
    of that mean (patients and seeds resampled together, one resample applied to both arms), its standard
    error, the smallest difference the study could detect (:func:`minimal_detectable_difference`) and what
    the interval allows one to say (:func:`difference_verdict`).

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores_a, scores_b : sequence of (N,) float arrays
        One per seed, in the same seed order.
    thresholds_a, thresholds_b : sequence of float
    groups, n_boot, confidence, seed
        As in :func:`bootstrap_intervals`.
    equivalence_margin : float
        AUC difference below which the arms are called equivalent when the interval lies inside it.
    power : float
        Power of :func:`minimal_detectable_difference`.

    Returns
    -------
    dict
        ``auc_difference`` (mean over seeds of a - b), ``auc_difference_ci``, ``auc_difference_sd``,
        ``auc_difference_se``, ``minimal_detectable_difference``, ``power``, ``equivalence_margin``,
        ``verdict``, ``mcnemar_p_values`` (one per seed), ``per_seed`` (the :func:`compare_models` outputs),
        ``ci_method``.
    """
    y = check_labels(y_true)
    if not (len(scores_a) == len(scores_b) == len(thresholds_a) == len(thresholds_b) > 0):
        raise ValueError("scores_a, scores_b, thresholds_a and thresholds_b need one entry per seed, the same seeds")
    per_seed = [compare_models(y, sa, sb, threshold_a=ta, threshold_b=tb, groups=groups, n_boot=n_boot,
                               confidence=confidence, seed=seed)
                for sa, sb, ta, tb in zip(scores_a, scores_b, thresholds_a, thresholds_b)]
    codes = group_codes(groups, y.size)
    sa = [check_scores(s, y.size, "scores_a[i]") for s in scores_a]
    sb = [check_scores(s, y.size, "scores_b[i]") for s in scores_b]
    ra, rb = [score_ranks(s) for s in sa], [score_ranks(s) for s in sb]
    ones = np.ones(y.size, dtype=np.int64)
    samples = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for w, seed_weights in resample_seeds_and_patients(codes, len(sa), n_boot, make_rng(seed)):
            drawn = np.flatnonzero(seed_weights)
            diffs = [metric_values(y, ones, sa[i], w, ra[i])[0]["roc_auc"]
                     - metric_values(y, ones, sb[i], w, rb[i])[0]["roc_auc"] for i in drawn]
            samples.append(float(np.dot(seed_weights[drawn], diffs)))
    interval, notes = percentile_intervals({"auc_difference": samples}, confidence)
    warn_undefined(notes)
    differences = [c["auc_difference"] for c in per_seed]
    unit = "patients" if groups is not None else "images"
    samples = np.asarray(samples)
    standard_error = float(np.nanstd(samples, ddof=1)) if np.isfinite(samples).sum() > 1 else float("nan")
    detectable = minimal_detectable_difference(standard_error, confidence=confidence, power=power)
    return {
        "auc_difference": float(np.mean(differences)),
        "auc_difference_ci": interval["auc_difference"],
        "auc_difference_sd": float(np.std(differences, ddof=1)) if len(differences) > 1 else float("nan"),
        "auc_difference_se": standard_error,
        "minimal_detectable_difference": detectable,
        "power": power,
        "equivalence_margin": equivalence_margin,
        "verdict": difference_verdict(interval["auc_difference"], equivalence_margin),
        "mcnemar_p_values": [c["mcnemar_p_value"] for c in per_seed],
        "per_seed": per_seed,
        "ci_method": "paired " + two_level_method(confidence, n_boot, len(per_seed), unit),
    }


def minimal_detectable_difference(standard_error, *, confidence=0.95, power=0.8):
    """The smallest true difference a two-sided test at ``1 - confidence`` detects with ``power``.

    Normal approximation: ``(z_(1 - alpha/2) + z_power) * SE``, with the standard error of the difference taken
    from the bootstrap resamples (so it holds the patients' and the seeds' variation); 2.80 SE at 95% and 80%.

    Parameters
    ----------
    standard_error : float
    confidence, power : float in (0, 1)

    Returns
    -------
    float
        nan when the standard error is.
    """
    from scipy.stats import norm

    if not (0 < confidence < 1 and 0 < power < 1):
        raise ValueError(f"confidence and power must be in (0, 1), got {confidence} and {power}")
    return float((norm.ppf(1 - (1 - confidence) / 2) + norm.ppf(power)) * standard_error)


def difference_verdict(ci, margin):
    """What an interval of a difference ``a - b`` allows one to say.

    Returns
    -------
    str
        ``"a higher"`` or ``"b higher"`` when the interval excludes 0; ``"equivalent"`` when it lies inside
        ``(-margin, margin)`` (two one-sided tests at the interval's level); else ``"not shown"``: no difference
        detected, and no equivalence either.
    """
    lo, hi = (float(v) for v in ci)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "not shown"
    if lo > 0:
        return "a higher"
    if hi < 0:
        return "b higher"
    return "equivalent" if -margin < lo and hi < margin else "not shown"
