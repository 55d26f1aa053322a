"""Percentile bootstrap intervals that resample patients (and training seeds): of every metric, of a mean.

Confidence intervals resample *patients* (all images of a drawn patient enter the resample together), so that
several images of one child do not count as independent evidence; a figure averaged over training seeds resamples
the seeds too (a two-level bootstrap, :func:`resample_seeds_and_patients`).
"""

import warnings

import numpy as np

from .checks import check_bootstrap, check_labels, check_scores, check_threshold, group_codes, make_rng
from .classification import METRIC_NAMES, classification_metrics, metric_values, score_ranks

__all__ = ["bootstrap_intervals", "evaluate", "evaluate_seeds", "bootstrap_mean", "resample_weights",
           "resample_seeds_and_patients", "percentile_intervals", "warn_undefined", "two_level_method"]


# --------------------------------------------------------------------------- bootstrap


def resample_weights(codes, n_boot, rng):
    """Yield image weights of patient-level resamples (drawn patients count as often as drawn)."""
    n_groups = codes.max() + 1
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        yield drawn[codes].astype(np.float64)


def resample_seeds_and_patients(codes, n_seeds, n_boot, rng):
    """Yield ``(image weights, seed weights)`` of a two-level bootstrap: patients and training seeds.

    A seed-averaged figure varies for two reasons: which patients were tested and which training run
    (seed) produced the model. Each resample draws the patients with replacement (as
    :func:`resample_weights`) and, independently, ``n_seeds`` seeds with replacement; the resampled figure
    is the mean over the drawn seeds (seed weights sum to 1). This is the hierarchical (two-stage) bootstrap of
    Davison & Hinkley (1997, section 3.8) with the two levels crossed, as every seed scores the same images. With
    few seeds the seed level is coarse (3 seeds give 10 distinct seed draws) and a little narrow (the variance of
    a mean of draws with replacement is (K - 1) / K of the seeds' own), so the intervals are approximate; with one
    seed they reduce to the patient bootstrap.
    """
    n_groups = codes.max() + 1
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        seeds = np.bincount(rng.integers(0, n_seeds, n_seeds), minlength=n_seeds) / n_seeds
        yield drawn[codes].astype(np.float64), seeds


def percentile_intervals(samples, confidence):
    """``{name: [low, high]}`` from ``{name: resampled values}``, and notes on undefined resamples."""
    alpha = (1 - confidence) / 2
    intervals, notes = {}, []
    for name, values in samples.items():
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            intervals[name] = [np.nan, np.nan]
            notes.append(f"{name}: undefined in every resample, interval nan")
            continue
        if finite.mean() < 0.99:
            notes.append(f"{name}: undefined in {100 * (1 - finite.mean()):.1f}% of resamples")
        lo, hi = np.percentile(values[finite], [100 * alpha, 100 * (1 - alpha)])
        intervals[name] = [float(lo), float(hi)]
    return intervals, notes


def warn_undefined(notes):
    if notes:
        warnings.warn(
            "bootstrap: " + "; ".join(notes) + " (a zero denominator, e.g. one class only; "
            "intervals use the resamples where the value is defined)",
            stacklevel=3,
        )


def bootstrap_intervals(y_true, y_score, *, threshold=0.5, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Percentile bootstrap intervals of every metric, resampling patients.

    Parameters
    ----------
    y_true : (N,) array of 0/1
        True labels.
    y_score : (N,) float array
        Predicted probability of PNEUMONIA.
    threshold : float
        Decision threshold (fixed, not re-chosen per resample).
    groups : (N,) array, optional
        Patient id per image; patients are drawn with replacement and bring all
        their images. None resamples images.
    n_boot : int
        Number of resamples.
    confidence : float
        Coverage of the interval (0.95 -> 2.5th and 97.5th percentiles).
    seed : int or numpy.random.Generator
        Source of randomness; the same seed gives the same intervals.

    Returns
    -------
    dict
        ``{metric: [low, high]}`` for each name in METRIC_NAMES. Resamples where a
        metric is undefined (e.g. one class only) are left out of its interval.
    """
    y = check_labels(y_true)
    s = check_scores(y_score, y.size)
    pred = (s >= check_threshold(threshold)).astype(np.int64)
    codes = group_codes(groups, y.size)
    check_bootstrap(n_boot, confidence)
    samples = {k: [] for k in METRIC_NAMES}
    ranks = score_ranks(s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for w in resample_weights(codes, n_boot, make_rng(seed)):
            values, _ = metric_values(y, pred, s, w, ranks)
            for k in METRIC_NAMES:
                samples[k].append(values[k])
    intervals, notes = percentile_intervals(samples, confidence)
    warn_undefined(notes)
    return intervals


def evaluate(y_true, y_score, *, threshold=0.5, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Point estimates of :func:`classification_metrics` with their bootstrap intervals.

    Parameters are those of :func:`bootstrap_intervals`.

    Returns
    -------
    dict
        The metrics, plus ``"ci"`` (``{metric: [low, high]}``) and ``"ci_method"``
        (a sentence saying how the intervals were made).
    """
    out = classification_metrics(y_true, y_score, threshold=threshold)
    out["ci"] = bootstrap_intervals(
        y_true, y_score, threshold=threshold, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed
    )
    unit = "patients" if groups is not None else "images"
    out["ci_method"] = f"{100 * confidence:g}% percentile bootstrap, {n_boot} resamples of {unit}"
    return out


def evaluate_seeds(y_true, scores, thresholds, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """One arm trained with several seeds: mean and SD over seeds, and a bootstrap interval of the mean.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : sequence of (N,) float arrays
        P(pneumonia) of each seed's model on the same images.
    thresholds : sequence of float
        Each seed's decision threshold (chosen without the test split).
    groups, n_boot, confidence, seed
        As in :func:`bootstrap_intervals`; the interval of the seed-averaged metric resamples patients and
        seeds together (:func:`resample_seeds_and_patients`), so it holds the between-seed spread too.

    Returns
    -------
    dict
        The mean over seeds of every metric in METRIC_NAMES, ``sd`` (sample SD over seeds, nan for
        one seed), ``ci`` (``{metric: [low, high]}``), ``per_seed`` (a list of
        :func:`classification_metrics` outputs), ``n``, ``n_positive``, ``ci_method``.
    """
    y = check_labels(y_true)
    scores = [check_scores(s, y.size, "scores[i]") for s in scores]
    if not scores or len(scores) != len(thresholds):
        raise ValueError(f"scores ({len(scores)}) and thresholds ({len(thresholds)}) must be non-empty lists "
                         "of the same length, one per seed")
    preds = [(s >= check_threshold(t, "thresholds[i]")).astype(np.int64) for s, t in zip(scores, thresholds)]
    codes = group_codes(groups, y.size)
    check_bootstrap(n_boot, confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_seed = [classification_metrics(y, s, threshold=t) for s, t in zip(scores, thresholds)]
        ranks = [score_ranks(s) for s in scores]
        samples = {k: [] for k in METRIC_NAMES}
        for w, seed_weights in resample_seeds_and_patients(codes, len(scores), n_boot, make_rng(seed)):
            drawn = np.flatnonzero(seed_weights)
            values = [metric_values(y, preds[i], scores[i], w, ranks[i])[0] for i in drawn]
            for k in METRIC_NAMES:
                samples[k].append(float(np.dot(seed_weights[drawn], [v[k] for v in values])))
    intervals, notes = percentile_intervals(samples, confidence)
    warn_undefined(notes)
    out = {k: float(np.mean([m[k] for m in per_seed])) for k in METRIC_NAMES}
    out["sd"] = {k: float(np.std([m[k] for m in per_seed], ddof=1)) if len(per_seed) > 1 else float("nan")
                 for k in METRIC_NAMES}
    out["ci"] = intervals
    out["per_seed"] = per_seed
    out.update(n=int(y.size), n_positive=int(y.sum()))
    unit = "patients" if groups is not None else "images"
    out["ci_method"] = two_level_method(confidence, n_boot, len(scores), unit)
    return out


def two_level_method(confidence, n_boot, n_seeds, unit):
    """The sentence a record carries about how its intervals were made."""
    if n_seeds == 1:
        return f"{100 * confidence:g}% percentile bootstrap, one seed, {n_boot} resamples of {unit}"
    return (f"{100 * confidence:g}% percentile bootstrap of the mean over {n_seeds} seeds, {n_boot} resamples of "
            f"{unit} and of seeds together (two-level)")


def bootstrap_mean(values, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Mean of per-image values with a percentile bootstrap interval over patients (and seeds).

    Parameters
    ----------
    values : (N,) or (K, N) float array
        One value per image, or one row per training seed over the same images; nan values are ignored.
        With rows, the mean is over seeds and images and the interval resamples both
        (:func:`resample_seeds_and_patients`).
    groups : (N,) array, optional
        Patient id per image (None resamples images).
    n_boot, confidence, seed
        As in :func:`bootstrap_intervals`.

    Returns
    -------
    tuple
        ``(mean, [low, high])``.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"values must be a non-empty (N,) or (seeds, N) array, got shape {np.shape(values)}")
    check_bootstrap(n_boot, confidence)
    ok = np.isfinite(v)
    if not ok.any():
        warnings.warn("values has no finite entry; mean and interval are nan", stacklevel=2)
        return np.nan, [np.nan, np.nan]
    codes = group_codes(groups, v.shape[1])
    filled = np.where(ok, v, 0.0)
    means = []
    for w, seed_weights in resample_seeds_and_patients(codes, v.shape[0], n_boot, make_rng(seed)):
        weight = seed_weights[:, None] * w[None, :] * ok
        total = weight.sum()
        means.append(float((weight * filled).sum() / total) if total > 0 else np.nan)
    intervals, notes = percentile_intervals({"mean": means}, confidence)
    warn_undefined(notes)
    return float(v[ok].mean()), intervals["mean"]


# --------------------------------------------------------------------------- calibration, errors
