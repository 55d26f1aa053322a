"""The preprocessing's figures (notebook 02): CLAHE (paper Fig. 4), crops (Fig. 5), ROI stages, statistics, worst cases.

Every function returns a matplotlib Figure; images are read with :func:`cxrlib.data.read_radiograph` and
processed with :func:`cxrlib.preprocess.preprocess_image`.
"""

from __future__ import annotations

import textwrap
import warnings

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from ..data.images import read_radiograph
from .config import PreprocessConfig
from .roi import preprocess_image
from .roi_evaluation import ROI_GOALS

__all__ = [
    "plot_clahe_examples",
    "plot_processed_examples",
    "plot_roi_stages",
    "plot_roi_statistics",
    "plot_roi_gallery",
    "plot_worst_cases",
    "plot_lowest_coverage",
    "plot_roi_evaluation",
    "plot_lungmask_worst_cases",
    "plot_roi_extremes",
]


def _process(path, config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return preprocess_image(read_radiograph(path), config)


def _draw_box(ax, box, shape, color="red"):
    y0, x0, y1, x1 = box
    height, width = shape
    ax.add_patch(Rectangle((x0 * width - 0.5, y0 * height - 0.5), (x1 - x0) * width, (y1 - y0) * height,
                           fill=False, edgecolor=color, linewidth=1.5))


def _panel_title(ax, text, fontsize=8):
    """A title wrapped to its panel's width, so that neighbouring titles do not run into each other."""
    title = ax.set_title(text, fontsize=fontsize)
    lines = text.split("\n")
    overflow = title.get_window_extent().width / ax.get_window_extent().width
    if overflow > 1:
        chars = max(8, int(max(map(len, lines)) / overflow))
        title.set_text("\n".join(textwrap.fill(line, chars) for line in lines))


def _grid(rows, cols, size=2.2):
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    return fig, axes


def plot_clahe_examples(paths, titles, config=None):
    """Paper Fig. 4: each radiograph resized (left) and after CLAHE (right).

    Parameters
    ----------
    paths : list of str or Path
    titles : list of str
        One label per image (e.g. the class).
    config : PreprocessConfig, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    config = config or PreprocessConfig()
    per_row = 2
    rows = (len(paths) + per_row - 1) // per_row
    fig, axes = _grid(rows, 2 * per_row)
    for i, (path, title) in enumerate(zip(paths, titles)):
        result = _process(path, config)
        ax_a, ax_b = axes[i // per_row, 2 * (i % per_row)], axes[i // per_row, 2 * (i % per_row) + 1]
        ax_a.imshow(result.resized, cmap="gray", vmin=0, vmax=255)
        _panel_title(ax_a, f"{title}: original")
        ax_b.imshow(result.equalized, cmap="gray", vmin=0, vmax=255)
        _panel_title(ax_b, f"{title}: CLAHE")
    fig.tight_layout()
    return fig


def plot_processed_examples(paths, titles, config=None):
    """Paper Fig. 5: each radiograph with its ROI box and lung mask outline (left) and the processed crop (right).

    Parameters
    ----------
    paths : list of str or Path
    titles : list of str
    config : PreprocessConfig, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    config = config or PreprocessConfig()
    per_row = 2
    rows = (len(paths) + per_row - 1) // per_row
    fig, axes = _grid(rows, 2 * per_row)
    for i, (path, title) in enumerate(zip(paths, titles)):
        result = _process(path, config)
        ax_a, ax_b = axes[i // per_row, 2 * (i % per_row)], axes[i // per_row, 2 * (i % per_row) + 1]
        ax_a.imshow(result.resized, cmap="gray", vmin=0, vmax=255)
        ax_a.contour(result.roi.lung_mask, levels=[0.5], colors="lime", linewidths=0.6)
        _draw_box(ax_a, result.roi.box, result.resized.shape, "orange" if result.roi.fallback else "red")
        _panel_title(ax_a, f"{title}" + (" (fallback)" if result.roi.fallback else ""))
        ax_b.imshow(result.processed, cmap="gray", vmin=0, vmax=255)
        ax_b.set_title("processed", fontsize=8)
    fig.tight_layout()
    return fig


def plot_roi_stages(paths, config=None):
    """Every intermediate stage of the ROI extraction, one radiograph per row.

    Columns: CLAHE image; binary image of Eq. 1 (white: >= mean); Chan-Vese contour mask of the dark
    part; after the mean filter; lung fields (outside air and small pieces dropped); the final lung fields (after
    the geodesic contour, when ``config.grow_iterations`` is not 0) with the box; the processed crop.

    Parameters
    ----------
    paths : list of str or Path
    config : PreprocessConfig, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    config = config or PreprocessConfig()
    names = ["CLAHE", "binary (Eq. 1)", "contour (dark part)", "mean filter", "lung fields",
             "grown + box" if config.grow_iterations else "fields + box", "crop"]
    fig, axes = _grid(len(paths), len(names), size=1.9)
    for row, path in enumerate(paths):
        result = _process(path, config)
        stages = result.roi.stages
        panels = [result.equalized, stages["binary"], stages["contour"], stages["filtered"], stages["fields"],
                  result.equalized, result.processed]
        for col, (name, panel) in enumerate(zip(names, panels)):
            ax = axes[row, col]
            ax.imshow(panel.astype(np.uint8) * (255 if panel.dtype == bool else 1), cmap="gray", vmin=0, vmax=255)
            if row == 0:
                ax.set_title(name, fontsize=8)
        axes[row, 5].contour(result.roi.lung_mask, levels=[0.5], colors="lime", linewidths=0.6)
        _draw_box(axes[row, 5], result.roi.box, result.equalized.shape, "orange" if result.roi.fallback else "red")
    fig.tight_layout()
    return fig


def plot_roi_statistics(processed):
    """Distributions of the ROI box over a processed dataset, per class.

    Parameters
    ----------
    processed : pandas.DataFrame
        Output of :func:`cxrlib.preprocess.preprocess_manifest` (``label`` column optional).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Box area, box height, box width (fractions of the image) and lung-mask area.
    """
    table = processed.assign(box_area=(processed.roi_y1 - processed.roi_y0) * (processed.roi_x1 - processed.roi_x0),
                             box_height=processed.roi_y1 - processed.roi_y0,
                             box_width=processed.roi_x1 - processed.roi_x0)
    groups = table.groupby("label") if "label" in table.columns else [("all", table)]
    fig, axes = plt.subplots(1, 4, figsize=(13, 2.8))
    for column, ax in zip(["box_area", "box_height", "box_width", "mask_area"], axes):
        for label, group in groups:
            ax.hist(group.loc[~group.fallback, column], bins=np.linspace(0, 1, 41), alpha=0.55,
                    label=f"{label} (fallback {group.fallback.mean():.1%})")
        ax.set_xlabel(f"{column.replace('_', ' ')} (fraction of image)")
        ax.set_ylabel("images")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_roi_gallery(paths, config=None, *, titles=None, masks=None, columns=6):
    """Radiographs with their ROI box (red; orange on fallback), lung-field outline (green) and optional
    reference lung mask (cyan).

    Parameters
    ----------
    paths : list of str or Path
    config : PreprocessConfig, optional
    titles : list of str, optional
    masks : list of str or Path, optional
        Reference lung masks (nonzero = lung), one per image.
    columns : int, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    config = config or PreprocessConfig()
    rows = max(1, (len(paths) + columns - 1) // columns)
    fig, axes = _grid(rows, columns)
    for i, path in enumerate(paths):
        ax = axes[i // columns, i % columns]
        result = _process(path, config)
        ax.imshow(result.equalized, cmap="gray", vmin=0, vmax=255)
        ax.contour(result.roi.lung_mask, levels=[0.5], colors="lime", linewidths=0.5)
        if masks is not None:
            reference = cv2.resize((read_radiograph(masks[i]) > 0).astype(np.uint8), result.equalized.shape[::-1],
                                   interpolation=cv2.INTER_NEAREST)
            ax.contour(reference, levels=[0.5], colors="cyan", linewidths=0.6)
        _draw_box(ax, result.roi.box, result.equalized.shape, "orange" if result.roi.fallback else "red")
        if titles is not None:
            _panel_title(ax, titles[i], fontsize=7)
    fig.tight_layout()
    return fig


def plot_worst_cases(worst, config=None):
    """:func:`plot_roi_gallery` of :func:`cxrlib.preprocess.worst_cases`, each titled by its flag (or fallback, or box
    area), class and file name."""
    titles = [f"{'fallback' if r.fallback else r.roi_flags or f'area {r.box_area:.2f}'} {r.label[:4]} {r.filename[:14]}"
              for r in worst.itertuples()]
    return plot_roi_gallery(worst["path"].tolist(), config, titles=titles)


def plot_lowest_coverage(per_image, config=None, *, count=12):
    """:func:`plot_roi_gallery` of the ``count`` radiographs whose box keeps the least of their manual lung mask
    (:func:`cxrlib.preprocess.evaluate_roi`'s per-image table), with the mask drawn."""
    low = per_image.sort_values("coverage").head(count)
    return plot_roi_gallery(low["image_path"].tolist(), config, masks=low["mask_path"].tolist(),
                            titles=[f"{r.stem[:16]} cov {r.coverage:.3f}" for r in low.itertuples()])


def plot_roi_evaluation(per_image):
    """Coverage and box-area distributions on lung masks, with the goals of issue 3.

    Parameters
    ----------
    per_image : pandas.DataFrame
        Output of :func:`cxrlib.preprocess.evaluate_roi`.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    coverage = np.sort(per_image["coverage"].dropna().to_numpy())
    axes[0].hist(coverage, bins=np.linspace(min(0.9, coverage.min()) if len(coverage) else 0.9, 1, 41), color="C0")
    axes[0].axvline(ROI_GOALS["coverage_p05"][1], color="k", ls="--", lw=0.8, label="p05 goal 0.97")
    axes[0].set_xlabel("coverage (share of lung pixels in the box)")
    axes[0].set_ylabel("images")
    axes[0].legend(fontsize=7)
    axes[1].plot(coverage, np.arange(1, len(coverage) + 1) / max(len(coverage), 1), color="C0")
    axes[1].axhline(0.05, color="k", ls=":", lw=0.8)
    axes[1].axvline(ROI_GOALS["coverage_p05"][1], color="k", ls="--", lw=0.8)
    axes[1].set_xlim(min(0.9, coverage.min()) if len(coverage) else 0.9, 1.001)
    axes[1].set_xlabel("coverage")
    axes[1].set_ylabel("cumulative share of images")
    axes[2].hist(per_image["area"], bins=np.linspace(0, 1, 41), color="C1")
    axes[2].axvline(ROI_GOALS["area_median"][1], color="k", ls="--", lw=0.8, label="median goal 0.60")
    axes[2].axvline(per_image["area"].median(), color="C3", lw=1, label="median")
    axes[2].set_xlabel("box area (share of the image)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_lungmask_worst_cases(per_image, config=None, *, groups=None, count=6):
    """The radiographs whose box keeps the least of a lung, per group, with the manual mask (cyan).

    Parameters
    ----------
    per_image : pandas.DataFrame
        Output of :func:`cxrlib.preprocess.evaluate_roi` (``coverage_left`` / ``coverage_right`` columns).
    config : PreprocessConfig, optional
    groups : pandas.Series, optional
        A class per row (e.g. normal / abnormal); one row of the figure per class. Default: one group.
    count : int, optional
        Images per group, the lowest ``min(coverage_left, coverage_right)`` first.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Titles: group, stem, coverage of the image-left and image-right lung.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    table = per_image.assign(worst_lung=per_image[["coverage_left", "coverage_right"]].min(axis=1),
                             group="all" if groups is None else groups)
    picks = (table.sort_values("worst_lung").groupby("group", sort=True).head(count)
             .sort_values(["group", "worst_lung"]))
    titles = [f"{r.group}: {r.stem[:14]}\nL {r.coverage_left:.3f} R {r.coverage_right:.3f}" for r in picks.itertuples()]
    return plot_roi_gallery(picks["image_path"].tolist(), config, titles=titles, masks=picks["mask_path"].tolist(),
                            columns=count)


def plot_roi_extremes(processed, config=None, *, count=6, max_fallbacks=24):
    """Per class, the smallest and the largest boxes that are not fallbacks, then every fallback.

    Parameters
    ----------
    processed : pandas.DataFrame
        Output of :func:`cxrlib.preprocess.preprocess_manifest` (``path``, ``label``, box and ``fallback``).
    config : PreprocessConfig, optional
    count : int, optional
        Smallest and largest boxes shown per class.
    max_fallbacks : int, optional
        At most this many fallbacks are drawn (the title says how many there are).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    for name, value in (("count", count), ("max_fallbacks", max_fallbacks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    table = processed.assign(box_area=(processed.roi_y1 - processed.roi_y0) * (processed.roi_x1 - processed.roi_x0))
    kept = table[~table["fallback"]].sort_values("box_area")
    parts, titles = [], []
    for label, group in kept.groupby("label", sort=True):
        for kind, rows in (("smallest", group.head(count)), ("largest", group.tail(count))):
            parts.append(rows)
            titles += [f"{label[:4]} {kind} {r.box_area:.2f}" for r in rows.itertuples()]
    fallbacks = table[table["fallback"]]
    parts.append(fallbacks.head(max_fallbacks))
    titles += [f"{r.label[:4]} fallback" for r in fallbacks.head(max_fallbacks).itertuples()]
    picks = pd.concat(parts)
    fig = plot_roi_gallery(picks["path"].tolist(), config, titles=titles, columns=count)
    fig.suptitle(f"smallest and largest boxes per class; {len(fallbacks)} fallbacks"
                 + (f" (first {max_fallbacks} shown)" if len(fallbacks) > max_fallbacks else ""), fontsize=9)
    fig.tight_layout()
    return fig
