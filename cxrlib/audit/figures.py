"""The audit's figures: heatmaps over radiographs (the paper's Fig. 8), mass distributions, the checks of the maps."""

import numpy as np

from .gradcam_measures import MEASURE_LABELS, box_pixels, to_frame, upsample

__all__ = ["overlay", "plot_examples", "plot_measure_distributions", "plot_faithfulness"]


def overlay(image, heatmap, *, alpha=0.4, colormap="jet"):
    """Colour heatmap blended over a grayscale image.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
        Grayscale image.
    heatmap : (h, w) float ndarray
        Values in [0, 1]; resized to the image.
    alpha : float
        Weight of the heatmap colour.
    colormap : str
        Matplotlib colormap name.

    Returns
    -------
    (M, N, 3) uint8 ndarray
        RGB image.
    """
    import matplotlib

    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"image must be a 2-D uint8 grayscale array, got {getattr(image, 'dtype', None)} "
                         f"{getattr(image, 'shape', None)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    h = np.clip(upsample(heatmap, image.shape), 0.0, 1.0)
    colour = matplotlib.colormaps[colormap](h)[..., :3]
    gray = np.repeat(image[..., None] / 255.0, 3, axis=2)
    return np.round(255 * ((1 - alpha) * gray + alpha * colour)).astype(np.uint8)


def _draw_box(ax, box, shape, color="white"):
    from matplotlib.patches import Rectangle

    y0, x0, y1, x1 = box_pixels(box, shape)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=color, lw=1.2, ls="--"))


def plot_examples(examples):
    """The paper's Fig. 8 for several images and arms: where each arm's model looks.

    Parameters
    ----------
    examples : list of dict
        One per image, with ``image`` (the whole radiograph, (M, N) uint8), ``box`` (ROI fractions),
        ``heatmaps`` (``{arm: heatmap over that arm's input}``), ``cropped`` (``{arm: bool}``, whether
        the arm's input is the ROI crop) and ``title``.

    Returns
    -------
    matplotlib.figure.Figure
        Rows: images. Columns: the whole image with the ROI box, then one per arm with its heatmap in
        the whole-image frame (a cropped arm's heatmap placed into the box, nothing outside it).
    """
    import matplotlib.pyplot as plt

    if not examples:
        raise ValueError("examples is empty")
    arms = list(examples[0]["heatmaps"])
    columns = 1 + len(arms)
    fig, axes = plt.subplots(len(examples), columns, figsize=(2.3 * columns, 2.3 * len(examples)), squeeze=False)
    headers = ["input + ROI box"] + [f"{arm}" + (" (crop)" if examples[0]["cropped"][arm] else "") for arm in arms]
    for row, ex in zip(axes, examples):
        image = ex["image"]
        row[0].imshow(image, cmap="gray")
        for ax, arm in zip(row[1:], arms):
            heatmap = ex["heatmaps"][arm]
            placed = to_frame(heatmap, image.shape, box=ex["box"]) if ex["cropped"][arm] else heatmap
            ax.imshow(overlay(image, placed))
        for ax in row:
            _draw_box(ax, ex["box"], image.shape)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(ex.get("title", ""), fontsize=8)
    for ax, header in zip(axes[0], headers):
        ax.set_title(header, fontsize=9)
    fig.tight_layout()
    return fig


def plot_measure_distributions(measures, *, columns=("lung_mass_over_chance", "thorax_mass_over_chance")):
    """Per-image distributions of heatmap measures over chance for several models (box plot + points).

    Parameters
    ----------
    measures : dict
        ``{model name: DataFrame from measure_gradcam}`` (same images).
    columns : tuple of str
        Measures to show; those that are nan everywhere are skipped, and models for which a measure is nan
        everywhere (the thorax of a cropped arm) are left out of its panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not isinstance(measures, dict) or not measures:
        raise TypeError("measures must be a non-empty dict {model name: measure_gradcam DataFrame}")
    shown = [c for c in columns if any(c in m and m[c].notna().any() for m in measures.values())]
    if not shown:
        raise ValueError(f"none of the columns {columns} has a finite value")
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.8), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only
    for ax, column in zip(axes[0], shown):
        names = [n for n, m in measures.items() if column in m and m[column].notna().any()]
        data = [measures[n][column].dropna().to_numpy() for n in names]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names)
        for i, values in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, values.size), values, s=6, alpha=0.4)
        ax.axhline(0, ls=":", color="grey", label="chance (a uniform map)")
        ax.legend(loc="lower left", fontsize=8)
        ax.set(title=MEASURE_LABELS.get(column, column), ylim=(-1.02, 1.02),
               ylabel="share of heatmap mass minus chance")
    fig.tight_layout()
    return fig


def plot_faithfulness(randomization, faithfulness):
    """The two map checks per arm: correlation after cascading randomization, and deletion/insertion gains.

    Parameters
    ----------
    randomization : dict of str -> pandas.DataFrame
        ``{arm: randomization_check(...)}``.
    faithfulness : dict of str -> dict
        ``{arm: faithfulness_summary(...)}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for arm, table in randomization.items():
        left.plot(range(1, len(table) + 1), table["spearman_mean"], "o-", label=arm)
    first = next(iter(randomization.values()))
    left.set_xticks(range(1, len(first) + 1), [f"+{i} block{'s' if i > 1 else ''}" if i else "head"
                                                for i in range(len(first))], fontsize=9)
    left.axhline(0, color="grey", lw=0.8)
    low = min(-0.2, min(float(t["spearman_mean"].min()) for t in randomization.values()) - 0.05)
    left.set(ylim=(low, 1.02), ylabel="Spearman with the trained maps", xlabel="randomized so far, from the output",
             title="Randomization: maps should change (towards 0)")
    left.legend(fontsize=8)
    arms = list(faithfulness)
    x = np.arange(len(arms))
    for offset, (curve, color) in enumerate([("deletion", "tab:red"), ("insertion", "tab:green")]):
        gains = np.array([faithfulness[a][curve]["gain"] for a in arms])
        cis = np.array([faithfulness[a][curve]["gain_ci"] for a in arms])
        right.errorbar(x + (offset - 0.5) * 0.25, gains, yerr=[gains - cis[:, 0], cis[:, 1] - gains], fmt="o",
                       color=color, capsize=4, label=f"{curve}: map beats random by")
    right.axhline(0, color="grey", lw=0.8)
    right.set_xticks(x, arms)
    right.set(ylabel="area under the logit, map vs random", title="Deletion and insertion (above 0: faithful)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
