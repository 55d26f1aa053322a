"""Grad-CAM measures summarized per arm with intervals, compared between arms and groups, and said in words."""

import warnings

import numpy as np
import pandas as pd

from ..evaluation.intervals import bootstrap_mean
from .gradcam_measures import CHANCE, MEASURES, measure_label

__all__ = ["summarize_measures", "summary_table", "paired_test", "compare_measures", "compare_groups",
           "select_examples", "seed_calls", "select_failures", "gradcam_sentence"]


def _measure_columns(measures):
    return [c for c in measures.columns if c in MEASURES + CHANCE or c.startswith("mass_in_")]


def _by_seed(measures, name="measures"):
    """One DataFrame per seed (a single DataFrame is one seed), all over the same images."""
    tables = [measures] if isinstance(measures, pd.DataFrame) else list(measures)
    if not tables or not all(isinstance(t, pd.DataFrame) for t in tables):
        raise TypeError(f"{name} must be the DataFrame from measure_gradcam, or a list of them (one per seed)")
    if any(not t.index.equals(tables[0].index) for t in tables):
        raise ValueError(f"{name}: every seed's measures must cover the same images (the same index)")
    return tables


def summarize_measures(measures, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Mean of each per-image measure over seeds and images, with a bootstrap interval of patients and seeds.

    Parameters
    ----------
    measures : pandas.DataFrame or list of them
        Output of :func:`measure_gradcam`, one per training seed (the same images).
    groups : (N,) array, optional
        Patient id per row.
    n_boot, confidence, seed
        As in :func:`cxrlib.evaluation.bootstrap_mean`.

    Returns
    -------
    dict
        ``n`` (images), ``seeds``, and per measure ``<name>_mean`` and ``<name>_ci``; the pointing games as
        ``<name>_rate`` (with ``<name>_rate_ci``). Measures that are nan for every row (no mask, or the thorax
        of a cropped arm) are left out.
    """

    tables = _by_seed(measures)
    out = {"n": int(len(tables[0])), "seeds": len(tables)}
    for column in _measure_columns(tables[0]):
        values = np.stack([t[column].to_numpy(dtype=float) for t in tables])
        if not np.isfinite(values).any():
            continue
        key = f"{column}_rate" if column.endswith("_pointing") else f"{column}_mean"
        mean, ci = bootstrap_mean(values, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
        out[key] = mean
        out[f"{column}_rate_ci" if key.endswith("_rate") else f"{column}_ci"] = ci
    return out


def summary_table(summaries):
    """Display table of :func:`summarize_measures` results: one column per model.

    Parameters
    ----------
    summaries : dict
        ``{model name: summarize_measures output}``.

    Returns
    -------
    pandas.DataFrame
        One row per measure (named by :func:`measure_label`), cells ``"mean (low to high)"``; '-' where a model
        lacks the measure (the thorax of a cropped arm: 1 by construction).
    """
    if not isinstance(summaries, dict) or not summaries:
        raise TypeError("summaries must be a non-empty dict {model name: summarize_measures output}")
    keys = []
    for summary in summaries.values():
        keys += [k for k in summary if k.endswith(("_mean", "_rate")) and k not in keys]
    table = {}
    for name, summary in summaries.items():
        cells = []
        for key in keys:
            if key not in summary:
                cells.append("-")
                continue
            lo, hi = summary[f"{key[:-5]}_ci" if key.endswith("_mean") else f"{key}_ci"]
            cells.append(f"{summary[key]:.3f} ({lo:.3f} to {hi:.3f})")
        table[name] = cells
    return pd.DataFrame(table, index=[measure_label(k[:-5]) for k in keys]).rename_axis(columns="arm")


def paired_test(values_a, values_b, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Wilcoxon signed-rank test (scipy) of ``a - b`` on paired per-image values, and the mean difference.

    Images where either value is nan are dropped; zero differences are dropped by
    the test ('wilcox' zero method). When every difference is zero there is no
    evidence of a difference: statistic 0, p-value 1.

    Parameters
    ----------
    values_a, values_b : (N,) or (K, N) float arrays
        The same images measured under model a and model b, one row per training seed. The test runs on the
        per-image means over seeds; the mean difference's interval resamples patients and seeds together.
    groups : (N,) array, optional
        Patient id per image, for the bootstrap interval of the mean difference.
        (The Wilcoxon test itself treats images as independent.)
    n_boot, confidence, seed
        As in :func:`cxrlib.evaluation.bootstrap_mean`.

    Returns
    -------
    dict
        ``n`` (pairs), ``n_nonzero``, ``statistic``, ``p_value``, ``median_difference``,
        ``mean_difference``, ``mean_difference_ci``.
    """
    from scipy.stats import wilcoxon


    a = np.atleast_2d(np.asarray(values_a, dtype=float))
    b = np.atleast_2d(np.asarray(values_b, dtype=float))
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"values_a and values_b must be (N,) or (seeds, N) of one shape, got "
                         f"{np.shape(values_a)} and {np.shape(values_b)}")
    ok = (np.isfinite(a) & np.isfinite(b)).all(axis=0)
    if ok.sum() == 0:
        raise ValueError("values_a and values_b have no pair where both are finite")
    diffs = a[:, ok] - b[:, ok]
    diff = diffs.mean(axis=0)
    g = None if groups is None else np.asarray(groups)[ok]
    nonzero = int(np.count_nonzero(diff))
    if nonzero == 0:
        statistic, p_value = 0.0, 1.0
    else:
        result = wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    mean, ci = bootstrap_mean(diffs, groups=g, n_boot=n_boot, confidence=confidence, seed=seed)
    return {
        "n": int(ok.sum()), "n_nonzero": nonzero, "statistic": statistic, "p_value": p_value,
        "median_difference": float(np.median(diff)), "mean_difference": mean, "mean_difference_ci": ci,
    }


def compare_measures(measures_a, measures_b, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """:func:`paired_test` of two models' heatmaps on the same images, each against its own frame's chance.

    Two arms see different frames (the whole image, or the box), so their masses have different chance levels;
    only the masses over chance (``*_mass_over_chance``) and the ``mass_in_<name>`` columns of a shared region
    are compared.

    Parameters
    ----------
    measures_a, measures_b : pandas.DataFrame or list of them
        :func:`measure_gradcam` of each model, one per seed, the same seeds and images.

    Returns
    -------
    dict
        ``{measure: paired_test result}`` for the measures both share with at least one finite pair.
    """
    tables_a, tables_b = _by_seed(measures_a, "measures_a"), _by_seed(measures_b, "measures_b")
    if len(tables_a) != len(tables_b) or not tables_a[0].index.equals(tables_b[0].index):
        raise ValueError("measures_a and measures_b must cover the same seeds and images")
    out = {}
    for column in _measure_columns(tables_a[0]):
        if not (column.endswith("_over_chance") or column.startswith("mass_in_")) or column not in tables_b[0]:
            continue
        a = np.stack([t[column].to_numpy(float) for t in tables_a])
        b = np.stack([t[column].to_numpy(float) for t in tables_b])
        if (np.isfinite(a) & np.isfinite(b)).all(axis=0).any():
            out[column] = paired_test(a, b, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
    return out


def compare_groups(values, in_group):
    """Mean of a per-image value in and out of a group of images, with a Mann-Whitney U test (scipy).

    For example the heatmap mass on the synthetic shortcut spot, or P(PNEUMONIA), on
    images that carry the planted tag versus images that do not.

    Parameters
    ----------
    values : (N,) float array
        nan values are dropped.
    in_group : (N,) bool array

    Returns
    -------
    dict
        ``n_in``, ``n_out``, ``mean_in``, ``mean_out``, ``difference`` (in - out),
        ``statistic``, ``p_value`` (two-sided).
    """
    from scipy.stats import mannwhitneyu

    v = np.asarray(values, dtype=float)
    g = np.asarray(in_group)
    if v.ndim != 1 or g.shape != v.shape or g.dtype != bool:
        raise ValueError(f"values and in_group must be 1-D of one length, in_group boolean; got {v.shape}, "
                         f"{g.shape} {g.dtype}")
    ok = np.isfinite(v)
    inside, outside = v[ok & g], v[ok & ~g]
    if inside.size == 0 or outside.size == 0:
        # e.g. a model whose heatmaps are all zero (nan measures) on one group: nothing to compare
        warnings.warn(f"cannot compare groups: {inside.size} finite values in, {outside.size} out",
                      RuntimeWarning, stacklevel=2)
        nan = float("nan")
        return {"n_in": int(inside.size), "n_out": int(outside.size), "mean_in": nan, "mean_out": nan,
                "difference": nan, "statistic": nan, "p_value": nan}
    test = mannwhitneyu(inside, outside, alternative="two-sided")
    return {
        "n_in": int(inside.size), "n_out": int(outside.size), "mean_in": float(inside.mean()),
        "mean_out": float(outside.mean()), "difference": float(inside.mean() - outside.mean()),
        "statistic": float(test.statistic), "p_value": float(test.pvalue),
    }


def select_examples(y_true, pred_a, pred_b, *, n=8, seed=0):
    """Pick images for a side-by-side figure: both classes, right and wrong predictions.

    Images are grouped by (true class, model a right?, model b right?) and drawn
    round-robin from the non-empty groups, wrong predictions first, so that a small
    `n` still shows both classes and the errors.

    Returns
    -------
    (k,) int ndarray
        Row positions, k = min(n, number of images).
    """
    y = np.asarray(y_true).astype(int)
    a, b = np.asarray(pred_a).astype(int), np.asarray(pred_b).astype(int)
    if not (y.shape == a.shape == b.shape) or y.ndim != 1:
        raise ValueError(f"y_true, pred_a and pred_b must be 1-D of one length, got {y.shape}, {a.shape}, {b.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    cells = []
    for right_a, right_b in ((False, False), (True, False), (False, True), (True, True)):
        for label in (1, 0):
            members = np.flatnonzero((y == label) & ((a == y) == right_a) & ((b == y) == right_b))
            if members.size:
                cells.append(list(rng.permutation(members)))
    chosen = []
    while len(chosen) < min(n, y.size):
        for cell in cells:
            if cell and len(chosen) < n:
                chosen.append(cell.pop(0))
    return np.array(chosen, dtype=int)


def seed_calls(probabilities, thresholds):
    """An arm's call on each image from its seeds' calls, each at its own threshold: the class most seeds give.

    Parameters
    ----------
    probabilities : (K, N) float array
        P(PNEUMONIA) of each of K seeds' models on N images.
    thresholds : (K,) float array
        Each seed's threshold (P >= threshold: PNEUMONIA).

    Returns
    -------
    calls : (N,) int ndarray
        1 where more than half of the seeds call PNEUMONIA; a tie goes by ``margins``' sign.
    votes : (N,) int ndarray
        How many seeds call PNEUMONIA.
    margins : (N,) float ndarray
        Mean over seeds of logit(P) - logit(threshold): above 0 leans PNEUMONIA; the larger, the surer (the logit
        keeps ranking where P saturates near 0 or 1).
    """
    p = np.clip(np.atleast_2d(np.asarray(probabilities, dtype=float)), 1e-7, 1 - 1e-7)
    t = np.clip(np.asarray(thresholds, dtype=float).reshape(-1, 1), 1e-7, 1 - 1e-7)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"thresholds holds {t.shape[0]} values for {p.shape[0]} seeds; give one per seed")
    votes = (p >= t).sum(axis=0)
    margins = (np.log(p / (1 - p)) - np.log(t / (1 - t))).mean(axis=0)
    calls = np.where(2 * votes == p.shape[0], margins >= 0, 2 * votes > p.shape[0]).astype(int)
    return calls, votes, margins


def select_failures(y_true, wrong, margins, *, label, shared=1, per_arm=1):
    """Images for a failure gallery: the surest errors every arm makes, then each arm's surest errors of its own.

    First the ``shared`` images of class ``label`` that every arm gets wrong, surest first (the largest margin
    towards the wrong class, averaged over the arms); then, arm after arm and round after round, an arm with fewer
    errors of its own (images some other arm gets right) among the chosen images than the round's number gets its
    surest such error not yet chosen. An image chosen for one arm counts for every arm that gets it wrong too. With
    a single arm every error is its own.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    wrong : dict of str -> (N,) bool array
        Per arm, where its call is wrong.
    margins : dict of str -> (N,) float array
        Per arm, :func:`seed_calls`' margins (towards PNEUMONIA).
    label : {0, 1}
        The true class of the errors: 0 for false positives, 1 for false negatives.
    shared : int
        How many errors of every arm to show (fewer when there are fewer).
    per_arm : int
        How many of each arm's own errors to show at least (fewer when it has fewer).

    Returns
    -------
    list of (int, str or None)
        ``(row position, the arm it was chosen for)``, None for an error of every arm, in the order chosen.
    """
    if label not in (0, 1):
        raise ValueError(f"label must be 0 (false positives) or 1 (false negatives), got {label!r}")
    for name, value in (("shared", shared), ("per_arm", per_arm)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    y = np.asarray(y_true).astype(int)
    errors = {arm: np.asarray(w, dtype=bool) & (y == label) for arm, w in wrong.items()}
    every = np.logical_and.reduce(list(errors.values())) if len(errors) > 1 else np.zeros(y.shape, bool)
    sign = 1 if label == 0 else -1
    towards = {arm: sign * np.asarray(margins[arm], dtype=float) for arm in errors}
    surest = np.argsort(-np.mean(list(towards.values()), axis=0), kind="stable")
    chosen = [(int(i), None) for i in surest if every[i]][:shared]
    for round_ in range(per_arm):
        for arm, own in errors.items():
            own = own & ~every
            if sum(own[row] for row, _ in chosen) > round_:
                continue
            taken = {row for row, _ in chosen}
            candidates = [i for i in np.argsort(-towards[arm], kind="stable") if own[i] and i not in taken]
            if candidates:
                chosen.append((int(candidates[0]), arm))
    return chosen


def gradcam_sentence(summary, faithfulness, randomization, *, cropped):
    """One arm's Grad-CAM findings in a sentence, every number with its interval and chance level.

    Parameters
    ----------
    summary : dict
        :func:`summarize_measures` of the arm.
    faithfulness : dict
        :func:`faithfulness_summary` of the arm.
    randomization : pandas.DataFrame
        :func:`randomization_check` of the arm.
    cropped : bool
        Whether the arm sees only the ROI box.

    Returns
    -------
    str
        Markdown.
    """
    parts = []
    if "lung_mass_mean" in summary:
        lo, hi = summary["lung_mass_over_chance_ci"]
        parts.append(f"{summary['lung_mass_mean']:.1%} of its heatmap mass lies on the lung fields, which are "
                     f"{summary['lung_chance_mean']:.1%} of {'its box' if cropped else 'the image'}: "
                     f"{summary['lung_mass_over_chance_mean']:+.3f} over chance (95% interval {lo:+.3f} to {hi:+.3f}, "
                     + ("more than chance" if lo > 0 else "less than chance" if hi < 0 else "not different from chance")
                     + f"); its peak is on the lungs in {summary['lung_pointing_rate']:.1%} of images")
    if not cropped and "thorax_mass_mean" in summary:
        lo, hi = summary["thorax_mass_over_chance_ci"]
        parts.append(f"{summary['thorax_mass_mean']:.1%} of its mass is inside the thorax box, which is "
                     f"{summary['thorax_chance_mean']:.1%} of the image ({summary['thorax_mass_over_chance_mean']:+.3f} "
                     f"over chance, {lo:+.3f} to {hi:+.3f})")
    if cropped:
        parts.append("it sees only the box, so where it looks outside the thorax is not asked")
    last = randomization["spearman_mean"].iloc[-1]
    parts.append(f"with the output layer and {len(randomization) - 1} deeper blocks randomized its maps keep a Spearman "
                 f"correlation of {last:.2f} with the trained ones "
                 + ("(they change: the maps depend on the trained weights)" if last < 0.5 else
                    "(**they barely change: these maps do not explain the model**)"))
    parts.append("deletion " + faithfulness["deletion"]["verdict"] + ", insertion " + faithfulness["insertion"]["verdict"]
                 + f" (gain over a random map {faithfulness['deletion']['gain']:+.2f} and "
                 f"{faithfulness['insertion']['gain']:+.2f} logit-areas)")
    return "; ".join(parts) + "."
