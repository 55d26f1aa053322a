"""The training's figures: loss, accuracy and AUC per epoch; validation scores with the chosen thresholds."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_histories", "plot_training_curves", "plot_validation_scores"]


def plot_histories(histories, *, best_epochs=None):
    """Loss, accuracy at 0.5 and ROC AUC per epoch, train and validation; one row per arm, a line per seed.

    Each column (loss, accuracy, AUC) has one y-range for every arm, so arms compare by eye.

    Parameters
    ----------
    histories : dict of str -> dict of int -> pandas.DataFrame
        ``{arm: {seed: TrainingResult.history}}``.
    best_epochs : dict of str -> dict of int -> int, optional
        ``{arm: {seed: best epoch}}``, marked with dotted lines.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not histories:
        raise ValueError("histories is empty; pass {arm: {seed: history DataFrame}}")
    fig, axes = plt.subplots(len(histories), 3, figsize=(11, 2.5 * len(histories) + 0.8), squeeze=False,
                             sharey="col", layout="constrained")
    panels = [("loss", "loss (class-weighted cross-entropy)"), ("accuracy", "accuracy at threshold 0.5"),
              ("auc", "ROC AUC (validation only)")]
    lines = {}
    for row, (arm, by_seed) in zip(axes, histories.items()):
        for ax, (metric, _) in zip(row, panels):
            for seed, history in by_seed.items():
                if metric in history:
                    lines["train"], = ax.plot(history.epoch, history[metric], "o-", ms=3, alpha=0.8, color="tab:blue")
                lines["validation"], = ax.plot(history.epoch, history[f"val_{metric}"], "o-", ms=3, alpha=0.8,
                                               color="tab:orange")
                if best_epochs and arm in best_epochs and seed in best_epochs[arm]:
                    lines["epoch kept"] = ax.axvline(best_epochs[arm][seed], color="grey", ls=":")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=10)
        row[0].set_ylabel(arm, fontsize=12, fontweight="bold")
    for column, (metric, label) in enumerate(panels):
        axes[0, column].set_title(label, fontsize=12)
        axes[-1, column].set_xlabel("epoch", fontsize=11)
        low, high = axes[0, column].get_ylim()
        if metric != "loss" and high - low < 0.05:  # a flat curve is shown flat, not blown up
            middle = min(max((low + high) / 2, 0.025), 0.975)
            axes[0, column].set_ylim(middle - 0.025, middle + 0.025)
    seeds = max(len(by_seed) for by_seed in histories.values())
    fig.legend(lines.values(), lines.keys(), loc="outside upper center", ncols=len(lines), fontsize=11,
               title=f"one line per seed ({seeds} seeds)" if seeds > 1 else None, title_fontsize=11, frameon=False)
    return fig


def plot_training_curves(results):
    """:func:`plot_histories` of every arm and seed of ``{(arm, seed): TrainingResult}``, each best epoch marked."""
    histories, best = {}, {}
    for (arm, seed), result in results.items():
        histories.setdefault(arm, {})[seed] = result.history
        best.setdefault(arm, {})[seed] = result.best_epoch
    return plot_histories(histories, best_epochs=best)


def plot_validation_scores(results):
    """Validation P(pneumonia) by true class, with the chosen thresholds; one panel per arm (its first seed).

    Parameters
    ----------
    results : dict of str -> TrainingResult
        ``{arm: result}``, one seed's model per arm.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    columns = min(len(results), 4)
    rows = -(-len(results) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    bins = np.linspace(0, 1, 41)
    for ax, (name, result) in zip(axes.flat, results.items()):
        val = result.validation
        for label, color in (("NORMAL", "tab:blue"), ("PNEUMONIA", "tab:red")):
            ax.hist(val.score[val.label == label], bins=bins, alpha=0.6, color=color,
                    label=f"{label} (n={int((val.label == label).sum())})")
        for point, style, label in (("youden", "--", "Youden's J"), ("sensitivity_0.95", ":", "sensitivity ≥ 0.95")):
            ax.axvline(result.thresholds[point], color="k", ls=style,
                       label=f"{label}: {result.thresholds[point]:.3f}")
        ax.set(title=f"{name} (seed {result.settings.seed})", xlabel="P(PNEUMONIA)", ylabel="validation images")
        ax.legend(fontsize=9)
    for ax in list(axes.flat)[len(results):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
