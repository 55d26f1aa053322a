"""The evaluation's figures: confusion matrices, ROC and precision-recall curves, calibration, errors by group."""

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .checks import check_labels, check_scores
from .classification import confusion_matrix
from .errors import ERROR_MEASURES, calibration

__all__ = ["plot_confusion_matrices", "plot_roc_curves", "plot_pr_curves", "plot_calibration", "plot_errors_by_group",
           "plot_subtype_errors"]


def _figure(n_axes, size=(4.2, 3.8)):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n_axes, figsize=(size[0] * n_axes, size[1]), squeeze=False)
    return fig, axes[0]


def _check_scores_dict(y_true, scores):
    y = check_labels(y_true)
    if not isinstance(scores, dict) or not scores:
        raise TypeError(f"scores must be a non-empty dict {{model name: (N,) probabilities}}, got {type(scores).__name__}")
    return y, {name: check_scores(s, y.size, f"scores[{name!r}]") for name, s in scores.items()}


def plot_confusion_matrices(y_true, predictions):
    """One confusion matrix per model (counts and row percentages).

    Parameters
    ----------
    y_true : (N,) array of 0/1
    predictions : dict
        ``{model name: (N,) 0/1 predictions}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = check_labels(y_true)
    if not isinstance(predictions, dict) or not predictions:
        raise TypeError("predictions must be a non-empty dict {model name: (N,) 0/1 predictions}")
    fig, axes = _figure(len(predictions))
    for ax, (name, pred) in zip(axes, predictions.items()):
        cm = confusion_matrix(y, pred)
        share = cm / cm.sum(axis=1, keepdims=True).clip(min=1)
        display = skm.ConfusionMatrixDisplay(cm, display_labels=["NORMAL", "PNEUMONIA"])
        display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
        for (i, j), count in np.ndenumerate(cm):
            display.text_[i, j].set_text(f"{count}\n({100 * share[i, j]:.1f}% of row)")
        ax.set_title(name)
    fig.tight_layout()
    return fig


def plot_roc_curves(y_true, scores):
    """ROC curves of several models on the same images, AUC in the legend.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : dict
        ``{model name: (N,) PNEUMONIA probabilities}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, scores = _check_scores_dict(y_true, scores)
    fig, (ax,) = _figure(1, (5, 4.5))
    for name, s in scores.items():
        skm.RocCurveDisplay.from_predictions(y, s, name=name, ax=ax)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.set_title("ROC")
    fig.tight_layout()
    return fig


def plot_pr_curves(y_true, scores):
    """Precision-recall curves of several models, average precision in the legend.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : dict
        ``{model name: (N,) PNEUMONIA probabilities}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, scores = _check_scores_dict(y_true, scores)
    fig, (ax,) = _figure(1, (5, 4.5))
    for name, s in scores.items():
        skm.PrecisionRecallDisplay.from_predictions(y, s, name=name, ax=ax)
    ax.axhline(y.mean(), ls=":", color="grey", lw=1, label=f"prevalence {y.mean():.2f}")
    ax.legend(loc="lower left")
    ax.set_title("Precision-recall")
    fig.tight_layout()
    return fig


def plot_calibration(y_true, scores, *, n_bins=10, min_count=20):
    """Reliability diagram per model: observed PNEUMONIA fraction per bin with its 95% Wilson interval and count.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : dict
        ``{model name: (N,) PNEUMONIA probabilities}``.
    n_bins, min_count : int
        The bins of :func:`calibration`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, scores = _check_scores_dict(y_true, scores)
    fig, axes = _figure(len(scores), (4.2, 4.4))
    for i, (ax, (name, s)) in enumerate(zip(axes, scores.items())):
        c = calibration(y, s, n_bins=n_bins, min_count=min_count)
        observed = np.asarray(c["prob_true"])
        # clipped: at 0 or n positives a Wilson bound can fall a rounding step inside the estimate
        err = np.clip([observed - c["ci_low"], np.asarray(c["ci_high"]) - observed], 0.0, None)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="perfect calibration")
        ax.errorbar(c["prob_pred"], observed, yerr=err, fmt="o-", ms=4, capsize=3, color=f"C{i}",
                    label="observed, 95% Wilson interval")
        for x, top, n in zip(c["prob_pred"], c["ci_high"], c["count"]):
            ax.annotate(f"n={n}", (x, top), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7)
        ax.set(xlabel="mean predicted probability in the bin", xlim=(-0.02, 1.02), ylim=(-0.02, 1.08),
               title=f"{name}: Brier {c['brier']:.3f}")
        ax.legend(loc="lower right", fontsize=7)
    axes[0].set_ylabel("observed PNEUMONIA fraction")
    fig.suptitle(f"Calibration: {n_bins} equal-width score bins; a bin with under {min_count} images joins the "
                 "next", fontsize=9)
    fig.tight_layout()
    return fig


def plot_errors_by_group(tables, *, title="Error rate by group"):
    """Error rate per group for several models, one panel per measure (NORMAL's false-positive rate, PNEUMONIA's
    miss rate), with Wilson interval bars and errors / images on each bar.

    Parameters
    ----------
    tables : dict
        ``{model name: DataFrame from errors_by_group}``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not isinstance(tables, dict) or not tables or not all("measure" in t for t in tables.values()):
        raise TypeError("tables must be a non-empty dict {model name: errors_by_group DataFrame}")
    measure = pd.concat([t["measure"] for t in tables.values()]).groupby(level=0).first()
    panels = [(m, sorted(measure.index[measure == m])) for m in ERROR_MEASURES if (measure == m).any()]
    width = 0.8 / len(tables)
    fig, axes = plt.subplots(1, len(panels), figsize=(1.5 + 1.8 * len(measure), 4.4), sharey=True, squeeze=False,
                             gridspec_kw={"width_ratios": [len(groups) for _, groups in panels]})
    for ax, (kind, groups) in zip(axes[0], panels):
        x = np.arange(len(groups))
        for i, (name, table) in enumerate(tables.items()):
            t = table.reindex(groups)
            # clipped: at 0 or n errors a Wilson bound can fall a rounding step inside the estimate (1 - 1e-16)
            err = np.clip(np.vstack([t["error_rate"] - t["ci_low"], t["ci_high"] - t["error_rate"]]), 0.0, None)
            bars = ax.bar(x + (i - (len(tables) - 1) / 2) * width, t["error_rate"], width, yerr=err, capsize=3,
                          color=f"C{i}", label=name)
            ax.bar_label(bars, [f"{e:g}/{n:g}" for e, n in zip(t["errors"], t["n"])], padding=2, fontsize=7)
        counts = pd.concat([t["n"] for t in tables.values()]).groupby(level=0).max()
        ax.set_xticks(x, [f"{g}\n(n={counts[g]:g})" for g in groups])
        ax.set(ylabel=f"{kind} (95% Wilson interval)", title=f"{ERROR_MEASURES[kind]} images:\n{kind}")
        ax.tick_params(labelleft=True)
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_subtype_errors(tables):
    """:func:`plot_errors_by_group` of each arm's errors by class and pneumonia subtype (its first seed)."""
    return plot_errors_by_group(tables, title="Errors by class and pneumonia subtype (first seed)")
