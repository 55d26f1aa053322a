"""The evaluation records as display tables and sentences: arms with their spread, stability, paired comparisons."""

import numpy as np
import pandas as pd

from .classification import METRIC_LABELS, METRIC_NAMES
from .operating_points import HEADLINE_METRICS, OPERATING_POINTS, POINT_LABELS, THRESHOLD_METRICS

__all__ = ["percent", "interval", "plural", "mean_sd", "headed", "metrics_table", "arms_table", "stability_table",
           "comparisons_table", "comparison_sentence"]


def percent(value, digits=1):
    """``0.912`` -> ``"91.2%"``."""
    return f"{100 * value:.{digits}f}%"


def interval(ci, *, as_percent=True, digits=1):
    """``[0.88, 0.93]`` -> ``"88.0–93.0%"`` (or ``"0.880–0.930"``)."""
    low, high = ci
    if as_percent:
        return f"{100 * low:.{digits}f}–{100 * high:.{digits}f}%"
    return f"{low:.3f}–{high:.3f}"


def plural(count, noun, nouns=None):
    """``plural(3, "seed")`` -> ``"3 seeds"``, ``plural(1, "seed")`` -> ``"1 seed"``; ``nouns``: an irregular
    plural."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def mean_sd(values, *, as_percent=True, digits=1):
    """Values of each seed -> ``"91.2% ± 0.8"`` (mean ± sample SD; the mean alone for one value; ``"n/a"`` if
    none is finite)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return "n/a"
    scale, unit, digits = (100, "%", digits) if as_percent else (1, "", 3)
    spread = f" ± {scale * v.std(ddof=1):.{digits}f}" if v.size > 1 else ""
    return f"{scale * v.mean():.{digits}f}{unit}{spread}"


def headed(frame, name):
    """A display table whose row labels are headed by ``name`` in the one header row (no index-name row)."""
    return frame.rename_axis(index=[None] * frame.index.nlevels, columns=name)


def metrics_table(results):
    """Metrics of several models as a display table, each with its interval.

    Parameters
    ----------
    results : dict
        ``{model name: dict from evaluate}``.

    Returns
    -------
    pandas.DataFrame
        One row per metric in METRIC_NAMES, one column per model, cells like
        ``"93.1% (91.0-95.2)"`` (percentages; AUC, average precision and Brier as decimals).
    """
    if not isinstance(results, dict) or not results:
        raise TypeError("results must be a non-empty dict {model name: evaluate() output}")
    rows = {}
    for key in METRIC_NAMES:
        cells = []
        for name, m in results.items():
            value, ci = m[key], m.get("ci", {}).get(key)
            if key in ("roc_auc", "average_precision", "brier"):
                cells.append(f"{value:.3f}" + (f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else ""))
            else:
                cells.append(f"{100 * value:.1f}%" + (f" ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})" if ci else ""))
        rows[key] = cells
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(results))


def arms_table(records, *, point=None, metrics=HEADLINE_METRICS):
    """Every arm's metrics as a display table: mean over seeds, its SD and its 95% interval.

    Parameters
    ----------
    records : dict
        ``evaluate_arms(...)["arms"]``.
    point : str, optional
        An operating point of :data:`OPERATING_POINTS`; None: the headline (``youden``).
        ``"without_fallback"`` gives the table on the images whose ROI did not fall back.
    metrics : sequence of str
        Which of :data:`HEADLINE_METRICS`, in order; the seeds' thresholds follow when one depends on them.

    Returns
    -------
    pandas.DataFrame
        One row per arm, one column per metric (its readable name, :data:`METRIC_LABELS`), cells like
        ``"89.7% ± 0.4 (87.1–92.2)"`` (percentages; AUC and average precision as decimals; no SD with one seed).
    """
    rows = {}
    for arm, record in records.items():
        m = record if point is None else (record["operating_points"][point] if point in OPERATING_POINTS
                                          else record.get(point))
        if m is None:
            continue
        cells = {}
        for key in metrics:
            scale, unit, digits = (1, "", 3) if key in ("roc_auc", "average_precision") else (100, "%", 1)

            def number(v):
                return "n/a" if v is None or not np.isfinite(v) else f"{scale * v:.{digits}f}"

            sd, (low, high) = m["sd"][key], m["ci"][key]
            spread = f" ± {number(sd)}" if sd is not None and np.isfinite(sd) else ""
            value = number(m[key])
            cells[METRIC_LABELS[key]] = (f"{value}{unit if value != 'n/a' else ''}{spread} "
                                         f"({number(low)}–{number(high)})")
        if set(metrics) & set(THRESHOLD_METRICS):
            cells["threshold of each seed"] = ", ".join(f"{t:.3f}" for t in m["thresholds"])
        rows[arm] = cells
    return headed(pd.DataFrame.from_dict(rows, orient="index"), "arm")


def comparison_sentence(comparison):
    """What one :func:`compare_seeds` record allows one to say about ``a - b``, in one sentence with its numbers."""
    c = comparison
    lo, hi = c["auc_difference_ci"]
    numbers = f"AUC {c['a']} − {c['b']} {c['auc_difference']:+.3f} (95% interval {lo:+.3f} to {hi:+.3f})"
    verdict = c["verdict"]
    if verdict == "a higher":
        return f"{numbers}: {c['a']} ranks the images better."
    if verdict == "b higher":
        return f"{numbers}: {c['b']} ranks the images better."
    if verdict == "equivalent":
        return f"{numbers}: equivalent within ±{c['equivalence_margin']:.2f}."
    return (f"{numbers}: no difference detected; this study could detect a difference of "
            f"±{c['minimal_detectable_difference']:.3f} or more ({100 * c['power']:.0f}% power).")


def comparisons_table(comparisons):
    """The paired comparisons of :func:`evaluate_arms` as a display table, one row per pair ``a - b``."""
    rows = {}
    for c in comparisons:
        lo, hi = c["auc_difference_ci"]
        rows[f"{c['a']} − {c['b']}"] = {
            "AUC difference (mean over seeds)": f"{c['auc_difference']:+.4f}",
            "95% interval (patients and seeds)": f"{lo:+.4f} to {hi:+.4f}",
            "SD between seeds": "-" if c["auc_difference_sd"] is None or not np.isfinite(c["auc_difference_sd"])
                                else f"{c['auc_difference_sd']:.4f}",
            "verdict": {"a higher": f"{c['a']} higher", "b higher": f"{c['b']} higher",
                        "equivalent": f"equivalent (±{c['equivalence_margin']:.2f})",
                        "not shown": "no difference detected"}[c["verdict"]],
            f"smallest detectable ({100 * c['power']:.0f}% power)": f"±{c['minimal_detectable_difference']:.3f}",
            "McNemar p per seed": ", ".join(f"{p:.2g}" for p in c["mcnemar_p_values"]),
            "only a right / only b right": ", ".join(f"{r['only_a_correct']}/{r['only_b_correct']}"
                                                     for r in c["per_seed"]),
        }
    return headed(pd.DataFrame.from_dict(rows, orient="index"), "a − b")


def stability_table(stability):
    """:func:`operating_point_stability` as a display table: one row per rule and arm, SDs in points."""
    def points(v):
        return "-" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"

    rows = {(POINT_LABELS[point], arm): {"threshold (mean over seeds)": f"{r['threshold_mean']:.3f}",
                           "threshold range": f"{r['threshold_min']:.3f}–{r['threshold_max']:.3f}",
                           "specificity SD between seeds (points)": points(r["specificity_sd"]),
                           "sensitivity SD between seeds (points)": points(r["sensitivity_sd"])}
            for point, by_arm in stability.items() for arm, r in by_arm.items()}
    return headed(pd.DataFrame.from_dict(rows, orient="index"), "threshold rule, arm")
