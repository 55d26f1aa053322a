"""The training's figures: loss, accuracy and AUC per epoch; validation scores with the chosen thresholds."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_histories", "plot_training_curves", "plot_validation_scores"]


def plot_histories(histories, *, best_epochs=None):
    """Loss, accuracy at 0.5 and ROC AUC per epoch, train and validation; one row per arm, a line per seed.

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
    fig, axes = plt.subplots(len(histories), 3, figsize=(12, 2.9 * len(histories)), squeeze=False)
    panels = [("loss", "loss (class-weighted BCE)"), ("accuracy", "accuracy at 0.5"), ("auc", "ROC AUC")]
    for row, (arm, by_seed) in zip(axes, histories.items()):
        for ax, (metric, label) in zip(row, panels):
            for i, (seed, history) in enumerate(by_seed.items()):
                tag = dict(label=None) if i else {}
                if metric in history:
                    ax.plot(history.epoch, history[metric], "o-", ms=3, alpha=0.8, color="tab:blue",
                            **(tag or {"label": "train"}))
                ax.plot(history.epoch, history[f"val_{metric}"], "o-", ms=3, alpha=0.8, color="tab:orange",
                        **(tag or {"label": "validation"}))
                if best_epochs and arm in best_epochs and seed in best_epochs[arm]:
                    ax.axvline(best_epochs[arm][seed], color="grey", ls=":", **(tag or {"label": "epoch kept"}))
            ax.set(title=f"{arm}: {label} ({len(by_seed)} seed{'s' if len(by_seed) > 1 else ''})", xlabel="epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            low, high = ax.get_ylim()
            if metric != "loss" and high - low < 0.05:  # a flat curve is shown flat, not blown up
                middle = min(max((low + high) / 2, 0.025), 0.975)
                ax.set_ylim(middle - 0.025, middle + 0.025)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
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
        for point, style in (("youden", "--"), ("sensitivity_0.95", ":")):
            ax.axvline(result.thresholds[point], color="k", ls=style,
                       label=f"{point} {result.thresholds[point]:.3f}")
        ax.set(title=f"{name} (seed {result.settings.seed})", xlabel="P(pneumonia)", ylabel="images")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(results):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
