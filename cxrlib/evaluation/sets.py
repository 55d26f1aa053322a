"""Further evaluation sets scored by every arm: their metrics, or on a NORMAL-only set its false-positive rate."""

import numpy as np
import pandas as pd

from .intervals import bootstrap_mean, evaluate_seeds
from .classification import METRIC_LABELS
from .tables import headed, interval, percent

__all__ = ["false_positive_rate", "evaluate_set", "set_predictions", "sets_notes"]


def false_positive_rate(scores, thresholds, *, groups=None, n_boot=2000, seed=0):
    """False-positive rate on an all-NORMAL set: mean over seeds, with an interval resampling patients and seeds.

    Parameters
    ----------
    scores : sequence of (N,) float arrays
        One per seed.
    thresholds : sequence of float
        Each seed's decision threshold.
    groups, n_boot, seed
        As in :func:`cxrlib.evaluation.bootstrap_mean`.

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


def evaluate_set(rows, scores, thresholds, *, n_boot=2000, seed=0):
    """Every arm on one further evaluation set, at its seeds' validation Youden thresholds.

    Parameters
    ----------
    rows : pandas.DataFrame
        The set's rows of ``processed.csv`` (``label``, ``patient_id``).
    scores : dict of str to list of (N,) float arrays
        ``{arm: [scores of each seed]}``.
    thresholds : dict
        ``{arm: {seed: {operating point: threshold}}}``, seeds in the order of ``scores``.
    n_boot, seed
        As in :func:`cxrlib.evaluation.bootstrap_intervals`.

    Returns
    -------
    dict
        ``{arm: record}``: with both classes present, accuracy, sensitivity, specificity, ROC AUC, their intervals
        and ``n`` (:func:`cxrlib.evaluation.evaluate_seeds`); on a set of one class, :func:`false_positive_rate`.
    """
    y = (rows["label"] == "PNEUMONIA").to_numpy(int)
    groups = rows["patient_id"].to_numpy()
    records = {}
    for arm, per_seed in scores.items():
        cuts = [thresholds[arm][s]["youden"] for s in thresholds[arm]]
        if y.any() and not y.all():
            m = evaluate_seeds(y, per_seed, cuts, groups=groups, n_boot=n_boot, seed=seed)
            records[arm] = {k: m[k] for k in ("accuracy", "sensitivity", "specificity", "roc_auc", "ci", "n")}
        else:
            records[arm] = false_positive_rate(per_seed, cuts, groups=groups, n_boot=n_boot, seed=seed)
    return records


def set_predictions(sets, scores, seeds):
    """One row per image of every further set, arm and seed: ``evaluation_set_predictions.csv``.

    ``sets`` is ``{name: rows}``, ``scores`` ``{name: {arm: [scores of each seed]}}`` (seeds in ``seeds``' order).
    """
    parts = [rows[["filename", "patient_id", "label"]].assign(set=name, arm=arm, seed=s, score=sc)
             for name, rows in sets.items() for arm, per_seed in scores[name].items()
             for s, sc in zip(seeds, per_seed)]
    return pd.concat(parts, ignore_index=True)


def _set_cells(record):
    """One arm's record on a further set as display cells: readable names, percentages."""
    if "false_positive_rate" in record:
        return {"false-positive rate": percent(record["false_positive_rate"]), "images": record["n"],
                "95% interval": interval(record["ci"]),
                "per seed": ", ".join(percent(v) for v in record["per_seed"])}
    return {"images": record["n"], **{METRIC_LABELS[k]: percent(record[k]) if k != "roc_auc" else f"{record[k]:.3f}"
                                      for k in ("accuracy", "sensitivity", "specificity", "roc_auc")}}


def sets_notes(sets, records, specs):
    """Per further set: what it is (images, labels, source, population, what it can show) and every arm's figures;
    or, without any, that the profile has none."""
    if not sets:
        return ["No further evaluation sets in this profile."]
    shown = []
    for name, rows in sets.items():
        about = {k: specs[name].get(k) for k in ("source", "population", "shows")}
        labels = ", ".join(f"{k} {v}" for k, v in rows.label.value_counts().items())
        shown.append(f"**{name}**: {len(rows)} images ({labels})"
                     + "".join(f"  \n*{k}:* {v}" for k, v in about.items() if v))
        shown.append(headed(pd.DataFrame({a: _set_cells(r) for a, r in records[name].items()}).T, "arm"))
    return shown
