"""The evaluation's figures: ROC and precision-recall over seeds, confusion matrices, calibration, errors by group.

Every figure is at most :data:`FIGURE_WIDTH` inches wide with fonts of at least 9 points (:data:`STYLE`), so that
it stays legible when a page shows it 1000 px wide; panels that compare arms share their axes.
"""

import functools

import numpy as np
import pandas as pd

from .errors import ERROR_MEASURES
from .operating_points import POINT_LABELS
from .tables import plural

__all__ = ["STYLE", "FIGURE_WIDTH", "POINT_MARKERS", "plot_confusion_matrices", "plot_roc_curves", "plot_pr_curves",
           "plot_calibration", "plot_errors_by_group"]

#: The figures' shared style: matplotlib rc settings (font sizes in points).
STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
         "legend.fontsize": 10, "figure.titlesize": 12}
#: The widest figure, in inches (a page shows at most about 1000 px).
FIGURE_WIDTH = 9.6
#: The marker of each operating point on the curves.
POINT_MARKERS = {"fixed_0.5": "o", "youden": "s", "sensitivity_0.95": "^"}


def _styled(plot):
    @functools.wraps(plot)
    def styled(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)
    return styled


def _panels(n, panel_height, **options):
    """``n`` panels in rows of two, the figure :data:`FIGURE_WIDTH` wide; unused panels hidden."""
    import matplotlib.pyplot as plt

    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(FIGURE_WIDTH if cols > 1 else FIGURE_WIDTH / 1.6,
                                                  panel_height * rows), squeeze=False, **options)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat[:n]


def _check_dict(value, name, what):
    if not isinstance(value, dict) or not value:
        raise TypeError(f"{name} must be a non-empty dict {{arm: {what}}}, got {type(value).__name__}")


@_styled
def plot_confusion_matrices(matrices, *, title):
    """One confusion matrix per arm: counts and row percentages, shaded by the row share on one shared scale.

    Parameters
    ----------
    matrices : dict
        ``{arm: (2, 2) counts [[tn, fp], [fn, tp]]}``.
    title : str
        What the counts are (operating point; one seed or summed over seeds).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_dict(matrices, "matrices", "(2, 2) counts")
    fig, axes = _panels(len(matrices), 3.9, sharex=True, sharey=True)
    classes = ["NORMAL", "PNEUMONIA"]
    for ax, (name, counts) in zip(axes, matrices.items()):
        counts = np.asarray(counts)
        share = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), count in np.ndenumerate(counts):
            ax.text(j, i, f"{count:g}\n{100 * share[i, j]:.1f}% of row", ha="center", va="center", fontsize=12,
                    color="white" if share[i, j] > 0.6 else "black")
        ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=classes, yticklabels=classes, title=name)
        ax.set_yticklabels(classes, rotation=90, va="center")
        ax.tick_params(labelleft=True, labelbottom=True)
    for ax in axes:
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _zoom(points, x, y, x_range, y_range):
    """The window around every operating point (with a margin), inside the axes' full range."""
    xs = np.concatenate([p[point][x] for p in points.values() for point in p])
    ys = np.concatenate([p[point][y] for p in points.values() for point in p])
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    return ((max(x_range[0], xs.min() - 0.05), min(x_range[1], xs.max() + 0.05)),
            (max(y_range[0], ys.min() - 0.05), min(y_range[1], ys.max() + 0.02)))


def _curves(curves, points, *, x, y, score, labels, limits, title, reference):
    """ROC or precision-recall: the whole curve beside a zoom on the operating points, in one style."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    _check_dict(curves, "curves", "curve over seeds")
    _check_dict(points, "points", "operating_point_rates")
    zoom = _zoom(points, x, y, *limits)
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 5.0))
    seeds = len(next(iter(curves.values()))[score])
    for ax, window in zip(axes, (limits, zoom)):
        reference(ax)
        for i, (name, c) in enumerate(curves.items()):
            values = np.asarray(c[score])
            spread = f" ± {values.std(ddof=1):.3f}" if seeds > 1 else ""
            ax.fill_between(c["grid"], c["low"], c["high"], color=f"C{i}", alpha=0.2, lw=0, step="post")
            ax.plot(c["grid"], c["mean"], color=f"C{i}", lw=1.8, drawstyle="steps-post",
                    label=f"{name}: {labels['score']} {values.mean():.3f}{spread}")
            for point, marker in POINT_MARKERS.items():
                ax.plot(points[name][point][x], points[name][point][y], marker, ls="", ms=7, mfc=f"C{i}", mec="k",
                        mew=0.8)
        ax.set(xlim=window[0], ylim=window[1], xlabel=labels["x"], ylabel=labels["y"])
        ax.grid(alpha=0.3)
    (x0, x1), (y0, y1) = zoom
    axes[0].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", lw=1, color="0.3"))
    axes[0].set_title("whole curve (dashed box: right panel)")
    axes[1].set_title("around the operating points")
    axes[0].legend(loc=labels["legend"], title=f"mean over {plural(seeds, 'seed')} ± SD" if seeds > 1 else "one seed")
    markers = [Line2D([], [], marker=m, ls="", ms=7, mfc="white", mec="k", label=POINT_LABELS[p])
               for p, m in POINT_MARKERS.items()]
    axes[1].legend(handles=markers, loc="lower right" if x == "fpr" else "lower left",
                   title="threshold chosen on validation,\none marker per seed")
    fig.suptitle(f"{title}: mean over {plural(seeds, 'seed')}, band = range over seeds" if seeds > 1 else
                 f"{title}: one seed")
    fig.tight_layout()
    return fig


@_styled
def plot_roc_curves(curves, points):
    """ROC curves over seeds: each arm's mean curve with its range over seeds, AUC mean ± SD in the legend, and
    each seed's three validation-chosen operating points on the test split.

    Parameters
    ----------
    curves : dict
        ``{arm: roc_over_seeds(...)}``.
    points : dict
        ``{arm: operating_point_rates(...)}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    def chance(ax):
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)

    labels = {"x": "1 − specificity (false-positive rate)", "y": "sensitivity (true-positive rate)",
              "score": "AUC", "legend": "lower right"}
    return _curves(curves, points, x="fpr", y="tpr", score="auc", labels=labels, limits=((0, 1), (0, 1.005)),
                   title="ROC on the test split", reference=chance)


@_styled
def plot_pr_curves(curves, points):
    """Precision-recall curves over seeds, in the style of :func:`plot_roc_curves`: average precision mean ± SD in
    the legend, the prevalence (the precision of calling every image PNEUMONIA) as a line, the operating points.

    Parameters
    ----------
    curves : dict
        ``{arm: pr_over_seeds(...)}``.
    points : dict
        ``{arm: operating_point_rates(...)}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    prevalence = next(iter(curves.values()))["prevalence"]

    def base_rate(ax):
        ax.axhline(prevalence, ls=":", color="grey", lw=1)
        ax.annotate(f"prevalence {100 * prevalence:.1f}%", (0.5, prevalence), xytext=(0, 3), ha="center",
                    textcoords="offset points", color="0.3", fontsize=10)

    labels = {"x": "recall = sensitivity (true-positive rate)", "y": "precision (positive predictive value)",
              "score": "AP", "legend": "center left"}
    return _curves(curves, points, x="tpr", y="precision", score="average_precision", labels=labels,
                   limits=((0, 1), (max(0.0, prevalence - 0.05), 1.005)), reference=base_rate,
                   title="Precision-recall on the test split")


@_styled
def plot_calibration(calibrations):
    """Reliability diagram per arm over seeds: the observed PNEUMONIA fraction per score bin, pooled over seeds, with
    its range over seeds; the Brier score and the mean predicted probability against the prevalence.

    Parameters
    ----------
    calibrations : dict
        ``{arm: calibration_over_seeds(...)}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_dict(calibrations, "calibrations", "calibration_over_seeds")
    first = next(iter(calibrations.values()))
    seeds = len(first["brier_per_seed"])
    fig, axes = _panels(len(calibrations), 4.2, sharex=True, sharey=True)
    for i, (ax, (name, c)) in enumerate(zip(axes, calibrations.items())):
        observed = np.asarray(c["prob_true"])
        err = np.clip([observed - np.asarray(c["seed_low"]), np.asarray(c["seed_high"]) - observed], 0.0, None)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="perfect calibration")
        ax.errorbar(c["prob_pred"], observed, yerr=err if seeds > 1 else None, fmt="o-", ms=5, capsize=3,
                    color=f"C{i}", label="observed fraction" + (", all seeds' images; bar: its range over seeds"
                                                                 if seeds > 1 else ""))
        spread = f" ± {c['brier_sd']:.3f}" if seeds > 1 else ""
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.04), title=f"{name}: Brier {c['brier']:.3f}{spread}\nmean predicted "
               f"{100 * c['mean_predicted']:.1f}%, observed {100 * c['prevalence']:.1f}%")
        ax.tick_params(labelleft=True, labelbottom=True)
    for ax in axes:
        ax.set_xlabel("mean predicted probability in the bin" if ax.get_subplotspec().is_last_row() else "")
        ax.set_ylabel("observed PNEUMONIA fraction" if ax.get_subplotspec().is_first_col() else "")
    fig.suptitle(f"Calibration on the test split, {plural(seeds, 'seed')}")
    bottom = 0.8 / fig.get_size_inches()[1]  # 0.8 inch for the legend and the bin rule
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 0.35 * bottom),
               ncol=2, frameon=False, fontsize=10)
    fig.text(0.5, 0.1 * bottom, f"Bins: {first['rule']}.", ha="center", fontsize=9, color="0.3")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


@_styled
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
    fig, axes = plt.subplots(1, len(panels), figsize=(min(FIGURE_WIDTH, 2.5 + 2.2 * len(measure)), 4.8), sharey=True,
                             squeeze=False, gridspec_kw={"width_ratios": [len(groups) for _, groups in panels]})
    for ax, (kind, groups) in zip(axes[0], panels):
        x = np.arange(len(groups))
        for i, (name, table) in enumerate(tables.items()):
            t = table.reindex(groups)
            # clipped: at 0 or n errors a Wilson bound can fall a rounding step inside the estimate (1 - 1e-16)
            err = np.clip(np.vstack([t["error_rate"] - t["ci_low"], t["ci_high"] - t["error_rate"]]), 0.0, None)
            bars = ax.bar(x + (i - (len(tables) - 1) / 2) * width, t["error_rate"], width, yerr=err, capsize=3,
                          color=f"C{i}", label=name)
            ax.bar_label(bars, [f"{e:g}" for e in t["errors"]], padding=2, fontsize=9)
        counts = pd.concat([t["n"] for t in tables.values()]).groupby(level=0).max()
        ax.set_xticks(x, [f"{g}\n(n={counts[g]:g})" for g in groups])
        ax.set(ylabel=f"{kind} (95% Wilson interval)", title=f"{ERROR_MEASURES[kind]} images:\n{kind}")
        ax.set_ylim(top=ax.get_ylim()[1] * 1.08)  # room for the bars' labels
        ax.tick_params(labelleft=True)
    axes[0, -1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


