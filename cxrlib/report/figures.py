"""The run's figures on disk (:func:`save_figure`, the one writer of ``figures/``) and the report's own figure."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from ..atomic import atomic_path, write_json
from .html import CAPTIONS, arm_label, read_captions
from .summary import blanking_test

__all__ = ["FIGURE_METADATA", "describe_figure", "save_figure", "plot_at_a_glance"]


#: Key of an inline figure's metadata that names its file in the run folder (``figures/NN_name.png``): the
#: section pages link that file instead of embedding the figure a second time.
FIGURE_METADATA = "cxrlib_figure"
#: Resolution: charts at 2x (200 dpi, a 256-colour PNG, sharp on high-density screens and when zoomed); figures of
#: radiographs at 1.5x (150 dpi, JPEG quality 80), which keeps a full report's figures within a few megabytes.
_CHART_DPI, _PHOTO_DPI, _JPEG_QUALITY = 200, 150, 80


def _shows_images(fig) -> bool:
    """True when a figure draws pixel images (radiographs, heatmaps) rather than only lines, bars and text."""
    return any(min(image.get_array().shape[:2]) > 32 for ax in fig.axes for image in ax.get_images())


def describe_figure(fig) -> str:
    """A figure's alt text, read from what it draws: its title and each panel's title and axes (or "image")."""
    panels = []
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        what = ax.get_title() or ("image" if ax.get_images() else "")
        axes = "; ".join(f"{k}: {v}" for k, v in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if v)
        panels.append(f"{what} ({axes})" if what and axes else what or axes)
    panels = [p for p in panels if p]
    title = fig.get_suptitle()
    shown = sorted(set(panels), key=panels.index)
    counted = (f"{len(panels)} panel{'' if len(panels) == 1 else 's'}: " + ", ".join(shown[:8])
               + ("…" if len(shown) > 8 else "") if panels else "")
    return ". ".join(part for part in (title, counted) if part) or "A figure without titles or axis labels."


def save_figure(fig, stem: str | os.PathLike, caption: str) -> Path:
    """Save and close a figure as ``<stem>.png``, or ``<stem>.jpg`` when it shows radiographs, and
    record its caption and alt text (:func:`describe_figure`) in the folder's :data:`CAPTIONS`.

    The one writer of a run's ``figures/``: atomic, and a copy of the same figure in the other format (from an
    earlier version) is removed, so that the pages find this one.
    """
    import matplotlib.pyplot as plt

    if not str(caption).strip():
        raise ValueError(f"figure {Path(stem).name!r} needs a caption: one sentence on what a reader takes from it")
    stem = Path(stem)
    photo = _shows_images(fig)
    path = stem.with_name(f"{stem.name}.{'jpg' if photo else 'png'}")
    for stale in stem.parent.glob(f"{stem.name}.*"):
        if stale != path:
            stale.unlink()
    alt = describe_figure(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_PHOTO_DPI if photo else _CHART_DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    image = Image.open(buffer).convert("RGB")
    with atomic_path(path) as tmp:
        if photo:
            image.save(tmp, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
        else:
            image.quantize(256, method=Image.Quantize.MEDIANCUT).save(tmp, format="PNG", optimize=True)
    captions = read_captions(path.parent)
    captions[path.name] = {"caption": str(caption), "alt": alt}
    write_json(dict(sorted(captions.items())), path.parent / CAPTIONS)
    return path


def plot_at_a_glance(run: dict, metrics: dict):
    """Per arm: test ROC AUC with the trivial floor; AUC with the thorax blanked; Grad-CAM mass minus area."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(metrics["arms"])
    y = range(len(arms))
    fig, axes = plt.subplots(1, 3, figsize=(12, 0.55 * len(arms) + 1.6), sharey=True)

    def points(ax, values, intervals, color):
        for row, (value, ci) in enumerate(zip(values, intervals)):
            if value is None:
                ax.text(0.5, row, "not measured", transform=ax.get_yaxis_transform(), ha="center", va="center",
                        color="#888", fontsize=9)
                continue
            if ci and ci[0] is not None:
                ax.plot(ci, [row, row], color=color, lw=2.5, alpha=0.6)
            ax.plot(value, row, "o", color=color)

    ax = axes[0]
    trivial = metrics.get("baselines", {}).get("trivial", {})
    if trivial.get("roc_auc") is not None:
        low, high = trivial.get("ci", {}).get("roc_auc", [trivial["roc_auc"]] * 2)
        ax.axvspan(low, high, color="#999", alpha=0.25, lw=0)
        ax.axvline(trivial["roc_auc"], color="#666", ls="--", lw=1, label=f"trivial floor {trivial['roc_auc']:.3f}")
        ax.legend(loc="lower left", fontsize=8, frameon=False)
    points(ax, [metrics["arms"][a]["roc_auc"] for a in arms], [metrics["arms"][a].get("ci", {}).get("roc_auc")
                                                                 for a in arms], "#4C72B0")
    ax.set_title("Test ROC AUC (95% CI)", fontsize=10)

    ax = axes[1]
    perturbations = metrics.get("perturbations", {})
    blanked = [blanking_test(run, arm, perturbations)[1] for arm in arms]
    points(ax, [b.get("roc_auc") for b in blanked], [b.get("ci") for b in blanked], "#DD8452")
    ax.axvline(0.5, color="#666", ls="--", lw=1)
    ax.set_title("AUC with the thorax blanked\n(lung fields for cropped arms; 0.5 = chance)", fontsize=10)

    ax = axes[2]
    grad = metrics.get("gradcam", {})
    points(ax, [grad.get(a, {}).get("lung_mass_over_chance_mean") for a in arms],
           [grad.get(a, {}).get("lung_mass_over_chance_ci") for a in arms], "#55A868")
    ax.axvline(0, color="#666", ls="--", lw=1)
    ax.set_title("Grad-CAM mass on the lung fields over chance,\nin each network's own frame (0 = chance)",
                 fontsize=10)

    axes[0].set_yticks(list(y), [arm_label(run, a) for a in arms])
    axes[0].invert_yaxis()
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
