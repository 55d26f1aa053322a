"""Figures for the exploratory data analysis (notebook 01); each returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .manifest import CLASSES
from .images import read_radiograph

__all__ = ["plot_class_counts", "plot_image_sizes", "plot_intensity_histograms", "plot_sample_grid"]

_PALETTE = {"NORMAL": "#4C72B0", "PNEUMONIA": "#DD8452"}


def plot_class_counts(manifest: pd.DataFrame, *, by: str = "subset") -> plt.Figure:
    """Bar plot of images per ``by`` column (split or subset) and class, counts written on the bars."""
    order = [s for s in ("train", "val", "test") if s in set(manifest[by])]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    sns.countplot(data=manifest, x=by, hue="label", order=order, hue_order=list(CLASSES), palette=_PALETTE, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fontsize=8)
    ax.set_xticks(range(len(order)), ["validation" if s == "val" else s for s in order])
    ax.get_legend().set_title("class")
    ax.set(xlabel=by, ylabel="images", title=f"Images per {by} and class")
    fig.tight_layout()
    return fig


def plot_image_sizes(sizes: pd.DataFrame) -> plt.Figure:
    """Width against height per class, and the aspect ratio (width / height) histogram."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.scatterplot(data=sizes, x="width", y="height", hue="label", hue_order=list(CLASSES), palette=_PALETTE,
                    s=10, alpha=0.5, linewidth=0, ax=left)
    left.set(title="Image size (pixels)")
    sns.histplot(data=sizes, x="aspect", hue="label", hue_order=list(CLASSES), palette=_PALETTE,
                 element="step", bins=40, ax=right)
    right.set(title="Aspect ratio (width / height)")
    fig.tight_layout()
    return fig


def plot_sample_grid(manifest: pd.DataFrame, *, per_class: int = 6, seed: int = 0) -> plt.Figure:
    """A row of randomly chosen images per class (and pneumonia subtype in the title)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(CLASSES), per_class, figsize=(1.9 * per_class, 2.1 * len(CLASSES)))
    for row, label in zip(axes, CLASSES):
        rows = manifest[manifest["label"] == label]
        picks = rows.iloc[rng.choice(len(rows), size=min(per_class, len(rows)), replace=False)]
        for ax in row:
            ax.axis("off")
        for ax, (_, item) in zip(row, picks.iterrows()):
            ax.imshow(read_radiograph(item["path"]), cmap="gray")
            ax.set_title(f"{label.lower()} {item['subtype']}".strip(), fontsize=8)
    fig.tight_layout()
    return fig


def plot_intensity_histograms(manifest: pd.DataFrame, *, per_class: int = 200, seed: int = 0) -> plt.Figure:
    """Mean normalised grey-level histogram per class over a random sample, with its spread."""
    rng = np.random.default_rng(seed)
    bins = np.arange(257)
    peak = 0.0
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for label in CLASSES:
        rows = manifest[manifest["label"] == label]
        picks = rows.iloc[rng.choice(len(rows), size=min(per_class, len(rows)), replace=False)]
        hists = np.stack([np.histogram(read_radiograph(p), bins=bins, density=True)[0] for p in picks["path"]])
        mean, low, high = hists.mean(0), *np.percentile(hists, [10, 90], axis=0)
        ax.plot(bins[:-1], mean, color=_PALETTE[label], label=f"{label} (n={len(picks)})")
        ax.fill_between(bins[:-1], low, high, color=_PALETTE[label], alpha=0.2)
        peak = max(peak, mean[8:].max())
    ax.set_ylim(0, 1.5 * peak)  # the black border's spike at grey level 0 would flatten everything else
    ax.set(xlabel="grey level", ylabel="density",
           title="Grey-level histograms (mean, 10-90th percentile band; y axis clipped)")
    ax.legend()
    fig.tight_layout()
    return fig
