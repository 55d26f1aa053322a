"""The audit's figures: heatmaps over radiographs (the paper's Fig. 8, the failure gallery), mass distributions, the
checks of the maps."""

import numpy as np

from .gradcam_checks import stage_labels
from .gradcam_measures import box_pixels, measure_label, to_frame, upsample

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


def _draw_box(ax, box, shape, *, ls="--"):
    from matplotlib.patches import Rectangle

    y0, x0, y1, x1 = box_pixels(box, shape)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.2, ls=ls))


def _arm_overlay(image, heatmap, box, cropped, colormap):
    """An arm's heatmap over the whole radiograph: a cropped arm's placed into its box, the rest (which that arm
    never saw) dimmed and left uncoloured."""
    if not cropped:
        return overlay(image, heatmap, colormap=colormap)
    rgb = overlay(image, to_frame(heatmap, image.shape, box=box), colormap=colormap)
    y0, x0, y1, x1 = box_pixels(box, image.shape)
    outside = np.ones(image.shape, bool)
    outside[y0:y1, x0:x1] = False
    rgb[outside] = (np.repeat(image[outside, None], 3, axis=1) * 0.45).astype(np.uint8)
    return rgb


def plot_examples(examples, *, headers=None, colormap="jet"):
    """Radiographs and each arm's Grad-CAM over them, with each arm's P(PNEUMONIA) and call (the paper's Fig. 8).

    Parameters
    ----------
    examples : list of dict
        One per image: ``image`` (the whole radiograph, (M, N) uint8), ``box`` (the ROI box, fractions
        ``(y0, x0, y1, x1)``), ``label`` (the row's label, e.g. the true class), ``name`` (under the radiograph,
        e.g. its file) and ``panels``: ``{arm: {"heatmap": heatmap over that arm's input, "cropped": whether its
        input is the ROI crop, "probability": P(PNEUMONIA), "threshold": the threshold of its call, "correct":
        whether its call is right, "note": text after it (may be empty)}}``.
    headers : dict of str -> str, optional
        Column header per arm (default: its name).
    colormap : str
        Matplotlib colormap of the heatmaps.

    Returns
    -------
    matplotlib.figure.Figure
        Rows: images. Columns: the radiograph with the ROI box (dashed), then one per arm with its heatmap where
        that arm looked (a cropped arm's inside the box, solid, the rest dimmed); under each, the arm's
        P(PNEUMONIA), its threshold and whether its call is right (red when wrong). A colour bar gives the heatmaps' scale.
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    if not examples:
        raise ValueError("examples is empty")
    arms = list(examples[0]["panels"])
    headers = {arm: arm for arm in arms} | (headers or {})
    side = 1.75
    fig, axes = plt.subplots(len(examples), 1 + len(arms), figsize=(side * (1 + len(arms)) + 0.5,
                                                                    (side + 0.45) * len(examples) + 0.9),
                             squeeze=False, layout="constrained")
    for row, ex in zip(axes, examples):
        image = ex["image"]
        row[0].imshow(image, cmap="gray", vmin=0, vmax=255)
        _draw_box(row[0], ex["box"], image.shape)
        row[0].set_ylabel(ex["label"], fontsize=10)
        row[0].set_xlabel(ex.get("name", ""), fontsize=8.5, color="#444")
        for ax, arm in zip(row[1:], arms):
            panel = ex["panels"][arm]
            ax.imshow(_arm_overlay(image, panel["heatmap"], ex["box"], panel["cropped"], colormap))
            if panel["cropped"]:
                _draw_box(ax, ex["box"], image.shape, ls="-")
            verdict = ("right" if panel["correct"] else "wrong") + (f" {panel['note']}" if panel["note"] else "")
            ax.set_xlabel(f"P {panel['probability']:.2f}, threshold {panel['threshold']:.2f}\n{verdict}",
                          fontsize=9.5, color="#222" if panel["correct"] else "#c62828",
                          fontweight="normal" if panel["correct"] else "bold")
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, header in zip(axes[0], ["radiograph\n(ROI box dashed)"] + [headers[arm] for arm in arms]):
        ax.set_title(header, fontsize=10.5)
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap=colormap), ax=axes.ravel().tolist(), location="bottom",
                       shrink=0.6, aspect=40, pad=0.01)
    bar.set_label("Grad-CAM weight, relative to each map's peak (0 none, 1 peak)", fontsize=10)
    bar.ax.tick_params(labelsize=9)
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
        ax.legend(loc="lower left", fontsize=9)
        ax.set(ylim=(-1.02, 1.02), ylabel="share of heatmap mass minus chance")
        ax.set_title(measure_label(column), fontsize=11)
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

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
    for arm, table in randomization.items():
        left.plot(range(1, len(table) + 1), table["spearman_mean"], "o-", label=arm)
    first = next(iter(randomization.values()))
    left.set_xticks(range(1, len(first) + 1), stage_labels(first["stage"]))
    left.axhline(0, color="grey", lw=0.8)
    low = min(-0.2, min(float(t["spearman_mean"].min()) for t in randomization.values()) - 0.05)
    left.set_ylim(low, 1.02)
    left.set_ylabel("Spearman correlation with\nthe trained model's maps")
    left.set_xlabel("randomized so far, from the output down")
    left.set_title("Randomization: target 0 (closer to 0 is better)")
    left.legend()
    arms = list(faithfulness)
    x = np.arange(len(arms))
    for offset, (curve, color) in enumerate([("deletion", "tab:red"), ("insertion", "tab:green")]):
        gains = np.array([faithfulness[a][curve]["gain"] for a in arms])
        cis = np.array([faithfulness[a][curve]["gain_ci"] for a in arms])
        right.errorbar(x + (offset - 0.5) * 0.25, gains, yerr=[gains - cis[:, 0], cis[:, 1] - gains], fmt="o",
                       color=color, capsize=4, label=curve)
    right.axhline(0, color="grey", lw=0.8)
    right.set_xticks(x, arms)
    right.set_ylabel("gain over a random map\n(area under the logit curve)")
    right.set_title("Deletion and insertion: above 0 is better")
    right.legend()
    for ax in (left, right):
        ax.title.set_fontsize(12)
        ax.tick_params(labelsize=10.5)
        ax.xaxis.label.set_fontsize(11)
        ax.yaxis.label.set_fontsize(11)
        ax.legend(fontsize=10)
    fig.tight_layout()
    return fig
