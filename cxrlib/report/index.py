"""The run's front page, ``index.html``: the study as a reader sees it.

Everything on the page is read from the run folder: ``run.json`` (provenance), ``data.json`` (01),
``roi.json`` (02), ``training.json`` (03), ``metrics.json`` (04, 05) and ``figures/``. A section whose
inputs are missing (a step not run yet) says so instead of showing anything invented. The page is
static HTML with relative links, so it opens from disk without a server.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pandas as pd

from ..atomic import atomic_path, write_text
from ..models.backbones import shown_weights

__all__ = ["write_index", "check_run", "readme_headline", "plot_at_a_glance", "save_figure", "FIGURE_METADATA"]

#: Key of an inline figure's metadata that names its file in the run folder (``figures/NN_name.png``): the
#: section pages link that file instead of embedding the figure a second time.
FIGURE_METADATA = "cxrlib_figure"
_FIGURE_DPI = 100
_JPEG_QUALITY = 85

_SECTIONS = {
    "01_eda": "Exploratory data analysis",
    "02_preprocessing": "Preprocessing and thorax ROI",
    "03_training": "Training",
    "04_evaluation": "Evaluation",
    "05_gradcam": "Grad-CAM comparison",
}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f;line-height:1.55}
h1{font-size:1.65rem;margin-bottom:.3rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{margin-top:1.4rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}th,td{border:1px solid #ccc;padding:.25rem .55rem;
text-align:right;vertical-align:top}th:first-child,td:first-child{text-align:left}thead{background:#f3f3f3}
.banner{background:#fff4e5;border:1px solid #f0b66a;padding:.6rem .9rem;border-radius:4px}
.abstract{background:#f6f8fa;border-left:4px solid #4C72B0;padding:.6rem 1rem}
.summary{font-size:1.05rem;background:#f3f8f1;border-left:4px solid #55A868;padding:.4rem 1rem}
.wide{overflow-x:auto;max-width:100%}
.muted{color:#666;font-size:.9rem}figure{margin:1.2rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.88rem;color:#444}code{background:#f5f5f5;padding:0 .2rem}pre{background:#f5f5f5;padding:.6rem}
"""


def _paper_printed() -> dict:
    """The paper's own Table 2 row, as quoted once in :data:`cxrlib.metrics.LITERATURE_TABLE2`."""
    from ..evaluation.literature import LITERATURE_TABLE2

    return LITERATURE_TABLE2["Galindo-Ramirez 2022"]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _esc(value) -> str:
    return html.escape(str(value))


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(m: dict, key: str, *, percent: bool = True) -> str:
    value, ci = m.get(key), m.get("ci", {}).get(key)
    if value is None:
        return "n/a"
    if percent:
        return f"{100 * value:.1f}%" + (f" (95% CI {100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else "")
    return f"{value:.3f}" + (f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def _table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _frame(frame: pd.DataFrame) -> str:
    return f"<div class='wide'>{frame.to_html(border=0, escape=True)}</div>"


def _shows_images(fig) -> bool:
    """True when a figure draws pixel images (radiographs, heatmaps) rather than only lines, bars and text."""
    return any(min(image.get_array().shape[:2]) > 32 for ax in fig.axes for image in ax.get_images())


def save_figure(fig, stem: str | os.PathLike) -> Path:
    """Save and close a figure as ``<stem>.png``, or ``<stem>.jpg`` (quality 85) when it shows radiographs.

    The one writer of a run's ``figures/``: atomic, and a copy of the same figure in the other format (from an
    earlier version) is removed, so that :func:`_figure` finds this one.
    """
    import matplotlib.pyplot as plt

    stem = Path(stem)
    photo = _shows_images(fig)
    path = stem.with_name(f"{stem.name}.{'jpg' if photo else 'png'}")
    for stale in stem.parent.glob(f"{stem.name}.*"):
        if stale != path:
            stale.unlink()
    options = {"format": "jpg", "pil_kwargs": {"quality": _JPEG_QUALITY}} if photo else {"format": "png"}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=_FIGURE_DPI, bbox_inches="tight", facecolor="white", **options)
    plt.close(fig)
    return path


def _figure(run_dir: Path, stem: str, caption: str) -> str:
    """A saved figure (``figures/<stem>.png`` or ``.jpg``) with its caption; nothing when the step did not make it."""
    found = sorted((run_dir / "figures").glob(f"{stem}.*"))
    if not found:
        return ""
    return (f'<figure><img src="figures/{_esc(found[0].name)}" alt="{_esc(caption)}" loading="lazy">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _missing(step: str) -> str:
    return f"<p class='muted'>Not available: step {_esc(step)} has not run in this folder.</p>"


def _arm_label(run: dict, arm: str) -> str:
    spec = run.get("parameters", {}).get("arms", {}).get(arm, {})
    steps = [name for name, key in (("CLAHE", "clahe"), ("thorax crop", "roi")) if spec.get(key)]
    return f"{arm} ({' + '.join(steps) or 'no preprocessing'})"


def _headline(m: dict) -> str:
    return (f"accuracy {_ci(m, 'accuracy')}, sensitivity {_pct(m.get('sensitivity'))}, specificity "
            f"{_pct(m.get('specificity'))}, ROC AUC {_ci(m, 'roc_auc', percent=False)}")


def _gradcam_sentences(metrics: dict) -> list[str]:
    """Where the heat falls in each network's own frame, next to that frame's chance level, and the paired test."""
    shares = []
    for arm, g in metrics.get("gradcam", {}).items():
        if g.get("lung_mass_over_chance_ci"):
            lo, hi = g["lung_mass_over_chance_ci"]
            shares.append(f"{_esc(arm)} {_pct(g['lung_mass_mean'])} against {_pct(g['lung_chance_mean'])} of "
                          f"{_esc(g.get('frame', 'its frame'))} (difference {g['lung_mass_over_chance_mean']:+.3f}, "
                          f"95% CI {lo:+.3f} to {hi:+.3f})")
    if not shares:
        return []
    sentences = ["Grad-CAM, in the frame each network saw (the whole image, or the ROI box for cropped arms): the "
                 "share of heatmap mass on the lung fields against their share of that frame, which is what a map "
                 "spread evenly would give: " + "; ".join(shares) + "."]
    tests = [f"{_esc(pair)} {c['lung_mass_over_chance']['mean_difference']:+.3f} (95% CI "
             f"{c['lung_mass_over_chance']['mean_difference_ci'][0]:+.3f} to "
             f"{c['lung_mass_over_chance']['mean_difference_ci'][1]:+.3f})"
             for pair, c in metrics.get("gradcam_comparisons", {}).items() if "lung_mass_over_chance" in c]
    if tests:
        sentences.append("Paired differences in that mass over chance between arms, on the same images: "
                         + "; ".join(tests) + ".")
    return sentences


def _lead(metrics: dict) -> tuple[dict, str]:
    """The records that lead the report and how to name them: a stable threshold rule's, or the Youden rule's
    with the warning that the headline is threshold-free."""
    from ..evaluation.operating_points import OPERATING_POINTS

    arms = metrics.get("arms", {})
    point = metrics.get("headline", {}).get("point")
    if point:
        return {a: m["operating_points"][point] for a, m in arms.items()}, OPERATING_POINTS[point]
    return arms, ("validation-chosen (Youden) threshold, which moves between seeds, so the ROC AUC is the figure to "
                  "read first")


def _abstract(run: dict, data: dict, roi: dict, training: dict, metrics: dict) -> str:
    parts = [f"This run reproduces Galindo-Ramirez et al. (2022) on {_esc(data.get('description', 'unknown data'))}."]
    if roi.get("dataset"):
        d = roi["dataset"]
        parts.append(f"The thorax ROI crop kept a median {_pct(d.get('area_median'))} of the image area and fell "
                     f"back to the whole image for {round(d.get('fallback_rate', 0) * d.get('n', 0))} of "
                     f"{d.get('n')} images.")
    if roi.get("lungmasks"):
        lm = roi["lungmasks"]
        parts.append(f"On {lm['n']} radiographs with manual lung masks, the ROI box kept a median "
                     f"{_pct(lm['coverage_median'])} of lung pixels (5th percentile {_pct(lm['coverage_p05'])}).")
    arms = metrics.get("arms", {})
    if arms:
        seeds = metrics.get("seeds", [])
        first = next(iter(arms.values()))
        lead, named = _lead(metrics)
        parts.append(f"On the {first.get('n')} test images, as the mean over {len(seeds)} training "
                     f"{'seeds' if len(seeds) > 1 else 'seed'}, at the {_esc(named)}: "
                     + "; ".join(f"{_esc(_arm_label(run, arm))} {_headline(m)}" for arm, m in lead.items())
                     + ". The paper reports {accuracy:.0%} accuracy, {sensitivity:.0%} sensitivity and "
                       "{specificity:.0%} specificity.".format(**_paper_printed()))
        from ..evaluation.tables import comparison_sentence

        parts += [_esc(comparison_sentence(c)) for c in metrics.get("comparisons", [])]
        parts += _gradcam_sentences(metrics)
        shortcut = metrics.get("gradcam_shortcut", {})
        for arm in arms:
            row = shortcut.get(f"{arm} | P(PNEUMONIA)")
            if row and row.get("p_value") is not None:
                parts.append(f"Planted shortcut: the {_esc(arm)} model's mean P(PNEUMONIA) is {row['mean_in']:.2f} on "
                             f"test images carrying the marker and {row['mean_out']:.2f} on those without "
                             f"(Mann-Whitney p = {row['p_value']:.2g}).")
    elif training:
        parts.append("The models are trained; evaluation on the test split has not run yet.")
    return "<p class='abstract'>" + " ".join(parts) + "</p>"


def _blanked(run: dict, arm: str, perturbations: dict) -> tuple[str, dict]:
    """The blanking test that asks whether an arm needs the thorax: the ROI box for whole-image arms, the lung
    fields for cropped arms (whose input is the box)."""
    cropped = run.get("parameters", {}).get("arms", {}).get(arm, {}).get("roi")
    key = "mask_blanked" if cropped else "thorax_blanked"
    return ("lung fields" if cropped else "thorax box"), perturbations.get(arm, {}).get(key, {})


def _plain_summary(run: dict, data: dict, metrics: dict) -> str:
    """Five sentences a clinician reads in a minute, every number from the run's records."""
    arms = metrics.get("arms")
    if not arms:
        return ""
    synthetic = data.get("source") == "synthetic"
    seeds = metrics.get("seeds", [])
    n = next(iter(arms.values())).get("n")
    names = ", ".join(_esc(_arm_label(run, arm)) for arm in arms)
    what = ("synthetic radiographs generated for teaching" if synthetic else
            "chest X-rays of children (Kermany 2018" + (", as third-party 224×224 copies)" if "224x224" in
                                                         data.get("description", "") else ")"))
    times = {1: "once", 2: "twice"}.get(len(seeds), f"{len(seeds)} times")
    sentences = [(f"We trained {len(arms)} versions of the paper's pneumonia classifier that differ only in how "
                  f"their images were prepared ({names}), each {times}" if len(arms) > 1 else
                  f"We trained the paper's pneumonia classifier on {names} images {times}")
                 + (" with different random starts" if len(seeds) > 1 else "")
                 + f", and tested {'them' if len(arms) > 1 or len(seeds) > 1 else 'it'} on {n} {what} that "
                   "were never seen during training."]
    best = max(arms, key=lambda arm: arms[arm]["roc_auc"])
    lead, named = _lead(metrics)
    m = lead[best]
    sentences.append(f"The best at ranking, {_esc(best)}, separated pneumonia from normal with an area under the ROC "
                     f"curve of {m['roc_auc']:.2f} (1 is perfect, 0.5 is chance); at the {_esc(named)} (chosen "
                     f"beforehand on validation images) it found {_pct(m['sensitivity'])} of pneumonias and cleared "
                     f"{_pct(m['specificity'])} of normal images"
                     + ("." if synthetic else f" (the paper reports {_paper_printed()['sensitivity']:.0%} and "
                                              f"{_paper_printed()['specificity']:.0%})."))
    comparisons = metrics.get("comparisons", [])
    if comparisons:
        better = [c for c in comparisons if c["auc_difference_ci"][0] > 0]
        worse = [c for c in comparisons if c["auc_difference_ci"][1] < 0]
        lows = [c["auc_difference_ci"][0] for c in comparisons]
        highs = [c["auc_difference_ci"][1] for c in comparisons]
        equivalent = [c for c in comparisons if c.get("verdict") == "equivalent"]
        if not better and not worse and len(equivalent) == len(comparisons):
            margin = max(c["equivalence_margin"] for c in comparisons)
            sentences.append("No preparation step changed how well the images are ranked: every pair compared is "
                             f"equivalent within ±{margin:.2f} in AUC (the 95% intervals of the differences run from "
                             f"{min(lows):+.3f} to {max(highs):+.3f}).")
        elif not better and not worse:
            detectable = max(c["minimal_detectable_difference"] for c in comparisons)
            sentences.append("No preparation step was shown to rank the images better or worse than its comparison "
                             f"(the 95% intervals of the AUC differences, from {min(lows):+.3f} to {max(highs):+.3f}, "
                             "all include zero); that is not equality: this study could only have detected "
                             f"differences of about ±{detectable:.3f} or more.")
        else:
            parts = [f"{_esc(c['a'])} ranked {'better' if c in better else 'worse'} than {_esc(c['b'])} "
                     f"(AUC {c['auc_difference']:+.3f}, 95% CI {c['auc_difference_ci'][0]:+.3f} to "
                     f"{c['auc_difference_ci'][1]:+.3f})" for c in better + worse]
            others = len(comparisons) - len(parts)
            sentences.append("Compared on the same images, " + "; ".join(parts)
                             + ("; every other difference in ranking is within chance." if others else "."))
    floor = metrics.get("baselines", {}).get("trivial", {}).get("roc_auc")
    perturbations = metrics.get("perturbations", {})
    if floor is not None:
        gains = [g["auc_difference"] for g in metrics.get("gain_over_trivial", {}).values()]
        outside = [arm for arm in arms if (_blanked(run, arm, perturbations)[1].get("ci") or [0])[0] > 0.5]
        text = (f"A simple model that sees only global image statistics (file size, brightness, contrast) already "
                f"reaches an AUC of {floor:.2f}; the networks add {min(gains):+.3f} to {max(gains):+.3f}.")
        if perturbations:
            text += (" With the thorax (or, for cropped versions, the lung fields) blanked out, "
                     + (f"{', '.join(_esc(a) for a in outside)} still rank{'s' if len(outside) == 1 else ''} the "
                        "images better than chance, so part of what "
                        f"{'it uses' if len(outside) == 1 else 'they use'} lies outside the lungs." if outside else
                        "no version ranks the test images better than chance without the chest."))
        sentences.append(text)
    closing = []
    for name, by_arm in metrics.get("evaluation_sets", {}).items():
        rates = [r["false_positive_rate"] for r in by_arm.values() if r.get("false_positive_rate") is not None]
        if rates:
            closing.append(f"On {next(iter(by_arm.values())).get('n')} normal X-rays of another population "
                           f"({_esc(name)}), the versions called pneumonia in {_pct(min(rates))} to {_pct(max(rates))} "
                           "of them.")
    closing.append("These are synthetic images: the run shows the method at work and nothing about patients."
                   if synthetic else "This is a research reproduction on one hospital's data, not a tool for "
                                     "diagnosing patients.")
    sentences.append(" ".join(closing))
    return "<div class='summary'><p>" + " ".join(sentences) + "</p></div>"


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
    blanked = [_blanked(run, arm, perturbations)[1] for arm in arms]
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

    axes[0].set_yticks(list(y), [_arm_label(run, a) for a in arms])
    axes[0].invert_yaxis()
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _data_section(data: dict) -> str:
    if not data:
        return _missing("01")
    counts = data.get("counts", {})
    rows = [[subset, c.get("NORMAL", 0), c.get("PNEUMONIA", 0), c.get("NORMAL", 0) + c.get("PNEUMONIA", 0)]
            for subset, c in counts.items()]
    leak = data.get("leakage", {})
    text = (f"<p><strong>{_esc(data.get('description'))}</strong>. Folder: <code>{_esc(Path(str(data.get('root'))).name)}</code>; "
            f"manifest hash <code>{_esc(str(data.get('manifest_sha256'))[:16])}…</code>.</p>"
            "<p>The release's test split is the evaluation set and is read only by the evaluation steps. Validation "
            "(epoch and threshold choice) is carved from the training split by patient identifier, stratified by "
            "class.</p>")
    released = data.get("release_counts", {})
    if released:
        text += _table([[split, c.get("NORMAL", 0), c.get("PNEUMONIA", 0), c.get("NORMAL", 0) + c.get("PNEUMONIA", 0)]
                        for split, c in released.items()], ["split as released", "NORMAL", "PNEUMONIA", "total"])
    text += _table(rows, ["subset used here", "NORMAL", "PNEUMONIA", "total"])
    if leak:
        text += (f"<p>Byte-identical files: {leak.get('n_duplicate_groups', 0)} groups "
                 f"({leak.get('n_duplicate_files', 0)} files), {leak.get('n_groups_crossing_subsets', 0)} crossing "
                 f"subsets. Patient identifiers in more than one subset: {leak.get('n_cross_split_patients', 0)} "
                 "(all between the release's train and test folders; see the EDA section).</p>")
    return text


def _method_section(run: dict, roi: dict, training: dict) -> str:
    p = run.get("parameters", {})
    text = ("<h3>Preprocessing and ROI (paper §3.2–3.3)</h3>"
            f"<p>Each radiograph is resized to {p.get('preprocess_size', '?')}×{p.get('preprocess_size', '?')} and "
            f"enhanced with CLAHE (clip limit {p.get('clahe_clip_limit', '?')}, {p.get('clahe_tile_grid', '?')}×"
            f"{p.get('clahe_tile_grid', '?')} tiles). The thorax ROI follows the paper's operations (mean-intensity "
            "threshold, morphological active contours, "
            f"{p.get('roi_mean_filter', '?')}×{p.get('roi_mean_filter', '?')} mean filter on the mask, bounding box, "
            f"margin {p.get('roi_margin', '?')}); how each underspecified step was read is explained in the "
            "preprocessing section. The crop is resized to the network input.</p>")
    if roi.get("dataset"):
        d = roi["dataset"]
        text += _table([["images", d.get("n")], ["median box area (share of image)", _pct(d.get("area_median"))],
                        ["fallback to whole image", _pct(d.get("fallback_rate"))]], ["ROI on this dataset", ""])
    if roi.get("lungmasks"):
        lm = roi["lungmasks"]
        text += _table([["radiographs with masks", lm["n"]], ["median lung coverage", _pct(lm["coverage_median"])],
                        ["5th percentile lung coverage", _pct(lm["coverage_p05"])],
                        ["median box area", _pct(lm["area_median"])], ["fallback rate", _pct(lm["fallback_rate"])]],
                       [f"ROI against manual lung masks ({Path(lm.get('source', 'lungmask_dir')).name})", ""])
    text += "<h3>Classifier (paper §3.4, §4.2)</h3>"
    if not training:
        return text + _missing("03")
    models = [(arm, seed, t) for arm, by_seed in training.get("arms", {}).items()
              for seed, t in by_seed["seeds"].items()]
    settings = {k: shown_weights(v) if k == "weights" else v
                for k, v in models[0][2].get("settings", {}).items() if k != "seed"}
    text += (f"<p>Backbone <code>{_esc(settings.get('backbone'))}</code> with a new head (global average pooling, "
             "dropout, one sigmoid unit), Adam with the paper's exponential decay Lr = Lr<sub>i</sub>·D<sup>s/ds</sup>, "
             "class weights for the imbalance; every arm is trained once per seed with the same settings; the epoch "
             "is chosen by validation AUC and the three operating points on validation only. The paper's Table 1 "
             "(its hyperparameters) is lost from our copy, so the values below are this study's choice.</p>")
    text += _table([[k, v] for k, v in settings.items()], ["setting (our choice)", "value"])
    rows = [[_arm_label(run, arm), seed, t.get("best_epoch"), t.get("epochs_run"), f"{t.get('val_auc', float('nan')):.3f}",
             f"{t.get('threshold', float('nan')):.3f}", t.get("train_seconds")] for arm, seed, t in models]
    text += _table(rows, ["arm", "seed", "best epoch", "epochs run", "validation AUC",
                          "threshold (Youden, on validation)", "training seconds"])
    return text


def _results_section(run_dir: Path, run: dict, training: dict, metrics: dict) -> str:
    arms = metrics.get("arms")
    if not arms:
        return _missing("04")
    from ..evaluation.operating_points import OPERATING_POINTS
    from ..evaluation.tables import arms_table
    from ..evaluation.literature import paper_table2, trained_as

    seeds = metrics.get("seeds", [])
    headline = metrics.get("headline", {})
    lead = headline.get("point")
    text = (f"<h3>Test metrics per arm: mean over {len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'} ± SD between "
            "seeds (95% interval resampling patients and seeds)</h3>")
    spreads = {p: v for p, v in headline.get("max_specificity_sd", {}).items() if v is not None}
    spread = (f"between-seed SD of specificity, in points: "
              + ", ".join(f"{_esc(p)} up to {100 * v:.1f}" for p, v in spreads.items()) if spreads else
              "one seed, so no between-seed spread is measured")
    text += (f"<p>Headline: {_esc(OPERATING_POINTS[lead])}. " if lead else
             "<p>Headline: threshold-free (ROC AUC, average precision). ") + (
        f"{spread.capitalize()}; the rule: {_esc(headline.get('rule', ''))}.</p>")
    if metrics.get("operating_point_stability"):
        from ..evaluation.tables import stability_table

        text += _frame(stability_table(metrics["operating_point_stability"]))
    for point, meaning in OPERATING_POINTS.items():
        text += f"<h4>Operating point {_esc(point)}: {_esc(meaning)}</h4>" + _frame(arms_table(arms, point=point))
    if any(m.get("fallback_images") for m in arms.values()):
        n = next(iter(arms.values()))["fallback_images"]
        text += (f"<h4>Without the {n} test images whose ROI fell back to the whole image or gave an implausible box "
                 "(same images left out for every arm)</h4>" + _frame(arms_table(arms, point="without_fallback")))
    if metrics.get("comparisons"):
        from ..evaluation.tables import comparisons_table

        text += ("<h3>Arms compared on the same images</h3><p>Equivalent: the interval lies inside the stated margin; "
                 "no difference detected: neither, with the smallest difference the study could detect.</p>"
                 + _frame(comparisons_table(metrics["comparisons"])))
    text += "<h3>The paper's Table 2, rebuilt</h3>"
    text += ("<p class='muted'>Published columns are quoted from the papers ('-': not reported); the Kermany 2018 "
             "column is our addition; ours are measured in this run (means over seeds).</p>"
             + _frame(paper_table2({_arm_label(run, arm): {**m, **trained_as(training.get("arms", {}), arm)}
                                    for arm, m in arms.items()})))
    for name, caption in [("04_confusion_matrices", "Confusion matrices at the validation-chosen thresholds (first seed)."),
                          ("04_roc", "ROC curves on the test split (first seed)."),
                          ("04_precision_recall", "Precision-recall curves on the test split (first seed)."),
                          ("04_errors_by_subtype", ("False-positive rate on NORMAL images, miss rate on PNEUMONIA "
                                                    "images by subtype (first seed).")),
                          ("04_calibration", "Calibration on the test split (first seed).")]:
        text += _figure(run_dir, name, caption)
    return text


def _gradcam_section(run_dir: Path, run: dict, metrics: dict) -> str:
    summaries = metrics.get("gradcam")
    if not summaries:
        return _missing("05")
    from ..audit.gradcam_summaries import summary_table

    text = ("<p>Heatmap mass is measured in the frame each network saw: the whole image for arms without the crop, "
            "the ROI box for cropped arms (which see nothing else), each against that frame's chance level (the "
            "region's share of it). Means over every seed's model and the test images.</p>")
    text += _frame(summary_table({_arm_label(run, arm): m for arm, m in summaries.items()}))
    for name, caption in [("05_fig8_examples", "The paper's Fig. 8: heatmaps of every arm on the same test "
                                                   "images, both classes, right and wrong predictions."),
                          ("05_mass_distributions", "Per-image heatmap mass over chance on the lung fields and "
                                                    "the thorax box, in each network's own frame (first seed)."),
                          ]:
        text += _figure(run_dir, name, caption)
    return text


def _audit_section(run: dict, metrics: dict) -> str:
    if "perturbations" not in metrics:
        return _missing("04")
    arms = metrics.get("arms", {})
    trivial = metrics.get("baselines", {}).get("trivial", {})
    text = ("<p>Does each arm's network add to what a trivial model on global image statistics (file size, grey-level "
            "statistics, border band, central half) already gets, and do its decisions need the thorax?</p>")
    rows = []
    for arm, m in arms.items():
        gain = metrics.get("gain_over_trivial", {}).get(arm, {})
        p = metrics["perturbations"].get(arm, {})
        blanked = p.get("thorax_blanked", {})
        mask = p.get("mask_blanked", {})
        swap = p.get("swap", {})

        def auc(entry):
            return (f"{entry['roc_auc']:.3f} ({entry['ci'][0]:.3f}–{entry['ci'][1]:.3f})"
                    if entry.get("roc_auc") is not None else "n/a")

        rows.append([_arm_label(run, arm), _ci(m, "roc_auc", percent=False),
                     (f"{gain['auc_difference']:+.3f} ({gain['auc_difference_ci'][0]:+.3f} to "
                      f"{gain['auc_difference_ci'][1]:+.3f})") if gain else "n/a",
                     auc(p.get("none", {})), auc(blanked), auc(mask), auc(p.get("thorax_only", {})),
                     _pct(swap.get("follows_thorax_rate"))])
    text += (f"<p>Trivial floor: ROC AUC {_ci(trivial, 'roc_auc', percent=False)} on the test split; file size alone "
             f"{trivial.get('file_size_roc_auc', float('nan')):.3f}.</p>")
    text += _table(rows, ["arm", "ROC AUC", "gain over the trivial floor (95% CI)", "AUC, audit sample",
                          "thorax box blanked", "lung fields blanked", "thorax only", "swap: follows the thorax"])
    notes = []
    for arm in arms:
        region, entry = _blanked(run, arm, metrics["perturbations"])
        if entry.get("ci") and entry["ci"][0] is not None and entry["ci"][0] > 0.5:
            notes.append(f"<strong>{_esc(arm)}</strong> keeps an AUC of {entry['roc_auc']:.3f} with the {region} "
                         f"blanked: it uses signal outside {'them' if region.endswith('s') else 'it'}.")
    if notes:
        text += "<p>" + " ".join(notes) + "</p>"
    for name, by_arm in metrics.get("evaluation_sets", {}).items():
        rows = [[_arm_label(run, arm), _pct(r.get("false_positive_rate")),
                 ", ".join(_pct(v) for v in r.get("per_seed", [])),
                 f"{_pct(r['ci'][0])}–{_pct(r['ci'][1])}" if r.get("ci") else "", r.get("n")]
                for arm, r in by_arm.items() if "false_positive_rate" in r]
        about = metrics.get("evaluation_set_descriptions", {}).get(name, {})
        if rows:
            text += (f"<h4>{_esc(name)}</h4>"
                     + "".join(f"<p><em>{_esc(k)}:</em> {_esc(v)}</p>" for k, v in about.items() if v)
                     + _table(rows, ["arm", "false-positive rate (mean over seeds)", "per seed",
                                     "95% CI (images and seeds)", "images"]))
    grad = metrics.get("gradcam", {})
    rows = []
    for arm, g in grad.items():
        f = g.get("faithfulness")
        if not f:
            continue
        rows.append([_arm_label(run, arm),
                     ", ".join(f"{k} {v:.2f}" for k, v in g.get("randomization_spearman", {}).items() if v is not None)]
                    + [f"{f[c]['gain']:+.2f} ({f[c]['gain_ci'][0]:+.2f} to {f[c]['gain_ci'][1]:+.2f}): {f[c]['verdict']}"
                       for c in ("deletion", "insertion")])
    if rows:
        n = next(g["faithfulness"]["n"] for g in grad.values() if g.get("faithfulness"))
        text += ("<h4>Grad-CAM maps checked</h4><p>Spearman correlation of the maps after randomizing the head and then "
                 "deeper blocks (should fall towards 0); deletion and insertion on the logit of the explained class, on "
                 f"{n} test images of both classes and every seed: how much the map beats a random pixel order "
                 "(95% CI over patients and seeds), and the verdict as measured (faithful only where the interval "
                 "lies above 0).</p>"
                 + _table(rows, ["arm", "randomization (cascading)", "deletion: map beats random by",
                                 "insertion: map beats random by"]))
    return text


def _limitations(run: dict, data: dict, roi: dict, training: dict, metrics: dict) -> str:
    items = []
    if data.get("source") == "synthetic":
        items.append("The data is synthetic: generated radiographs with a planted shortcut. The run shows the "
                     "method at work, not how it performs on patients.")
    elif "224x224" in data.get("description", ""):
        items.append("The images are third-party 224×224 copies of the Kermany release (aspect ratio not kept), "
                     "not the full-resolution originals the paper used; the 400×400 preprocessing upsamples them.")
    if data.get("source") != "synthetic":
        items.append("Single-centre paediatric data (Guangzhou Women and Children's Medical Center, children aged "
                     "one to five): results need not transfer to adults or to other hospitals and devices.")
        leak = data.get("leakage", {})
        items.append(f"The release holds {leak.get('n_duplicate_groups', '?')} groups of byte-identical files and "
                     f"{leak.get('n_cross_split_patients', '?')} patient numbers that occur in both its train and test "
                     "folders. Patient numbers are counted separately for bacterial and viral files, so the file "
                     "names cannot tell whether these are the same children; keyed by number and subtype, train and "
                     "test share no patient. Validation is split from train by patient number (conservative: it may "
                     "merge two children, never split one).")
    models = [(arm, t) for arm, by_seed in training.get("arms", {}).items() for t in by_seed["seeds"].values()]
    arms = metrics.get("arms", {})
    if models and arms:
        val_aucs = {}
        for arm, t in models:
            val_aucs.setdefault(arm, []).append(t["val_auc"])
        gaps = {arm: sum(aucs) / len(aucs) - arms[arm]["roc_auc"] for arm, aucs in val_aucs.items() if arm in arms}
        widest = max(gaps, key=gaps.get)
        items.append("Epochs and thresholds are chosen on validation images, which are easier than the test split: "
                     f"the largest gap is {_esc(widest)}'s, validation ROC AUC {arms[widest]['roc_auc'] + gaps[widest]:.3f} "
                     f"against test {arms[widest]['roc_auc']:.3f}. A threshold that suits validation need not suit "
                     "test; the three operating points show how much that matters.")
        last = sum(t.get("best_epoch") == t.get("epochs_run") for _, t in models)
        if last:
            items.append(f"For {last} of {len(models)} models the best validation epoch was the last one trained: "
                         "longer training might have helped them.")
    settings = [t.get("settings", {}) for _, t in models]
    if any(x.get("train_mode") == "frozen" for x in settings):
        items.append("Training mode <em>frozen</em>: the ImageNet Xception base is not fine-tuned (CPU budget); the "
                     "paper fine-tuned for 100 epochs on a GPU (params/paper.yaml).")
    elif settings and settings[0].get("train_mode") == "finetune":
        first = settings[0]
        trained = (f"Only Xception's layers from <code>{_esc(first['finetune_from_block'])}</code> on are"
                   if first.get("finetune_from_block") else "All of Xception's layers are")
        items.append(f"{trained} trained, for {first.get('epochs')} epochs at {first.get('model_input_size')} px, on a "
                     f"{_esc(str(models[0][1].get('device', 'CPU')))}; the paper's regime (all layers, 400 px, 100 epochs, "
                     "<code>params/paper.yaml</code>) needs a GPU and was not run here.")
    failures = [(roi[key], what) for key, what in (("fallback", "fell back to the whole image"),
                                                    ("implausible", "gave a box flagged implausible"))
                if roi.get(key)]
    if failures:
        said = "; ".join(f"{what} for {f['count']} of {f['n']} of the study's images ("
                         + ", ".join(f"{label} {_pct(v['rate'])}" for label, v in f["by_label"].items()) + ")"
                         for f, what in failures)
        shown = any(f["count"] for f, _ in failures)
        items.append(f"The thorax crop {said}. A failure more common in one class frames that class differently, a cue "
                     "the network could learn" + ("; results without those images are given above." if shown else "."))
    agreement = roi.get("fast_vs_reference", {})
    if agreement:
        items.append(f"The ROI is computed on a reduced-size fast path; on {agreement['images']} images checked in this "
                     f"run its box agrees with the full-size reference with median IoU "
                     f"{agreement['box_iou_median']:.2f} (the preprocessing section shows the worst cases).")
    items.append("The paper's Table 1 (hyperparameters) and its figures are lost from our copy of the paper; the "
                 "settings above are this study's choices, and the paper's own Table 2 row is not internally "
                 "consistent (see the evaluation section).")
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _sections(run_dir: Path, run: dict) -> str:
    rows = []
    for stem, title in _SECTIONS.items():
        status = run.get("steps", {}).get(stem, {})
        if (run_dir / f"{stem}.html").is_file():
            rows.append(f'<li><a href="{stem}.html">{_esc(title)}</a> '
                        f"<span class='muted'>{status.get('seconds', '?')} s</span></li>")
        elif status:
            rows.append(f"<li>{_esc(title)}: {_esc(status.get('status', ''))}</li>")
    return "<ol>" + "".join(rows) + "</ol>"


_POLICIES = {"float32": "float32", "mixed_bfloat16": "mixed bfloat16 (bfloat16 arithmetic, float32 weights)",
             "mixed_float16": "mixed float16 (float16 arithmetic, float32 weights)"}


def _numerics(training):
    """The Keras dtype policies the run's models trained in (``training.json``), in words."""
    policies = sorted({t.get("dtype_policy", "not recorded") for by_seed in training.get("arms", {}).values()
                       for t in by_seed["seeds"].values()})
    return ", ".join(_POLICIES.get(p, p) for p in policies) or "no model trained yet"


def write_index(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/index.html`` from the run's JSON records and figures; returns its path."""
    run_dir = Path(run_dir)
    run = _read_json(run_dir / "run.json")
    data = _read_json(run_dir / "data.json") or run.get("data", {})
    roi = _read_json(run_dir / "roi.json")
    training = _read_json(run_dir / "training.json")
    metrics = _read_json(run_dir / "metrics.json")
    banner = ""
    if data.get("source") == "synthetic":
        banner = ("<p class='banner'><strong>Synthetic demo data.</strong> Every number and figure in this run comes "
                  "from generated radiographs, not patients; it shows the method at work and nothing clinical.</p>")
    git = run.get("git", {})
    provenance = _table(
        [["data", data.get("description", "not described yet")],
         ["started / finished", f"{run.get('started', '?')} / {run.get('finished', 'not finished')}"],
         ["device", run.get("device", "?")],
         ["numerics", _numerics(training)],
         ["code", f"{git.get('commit') or 'unknown'}{' (with uncommitted changes)' if git.get('dirty') else ''}"],
         ["command", _LOCAL_PATH.sub(lambda m: "…/" + Path(m.group(0)).name, run.get("command", "?"))]],
        ["", ""],
    )
    profile = run.get("parameters", {}).get("run_name", run_dir.name)
    glance = ""
    if metrics.get("arms"):
        save_figure(plot_at_a_glance(run, metrics), run_dir / "figures" / "00_at_a_glance")
        glance = _figure(run_dir, "00_at_a_glance", "At a glance, per arm: test ROC AUC against the trivial floor "
                                                    "(grey band: its 95% CI); AUC with the thorax blanked (the lung "
                                                    "fields for cropped arms); Grad-CAM heatmap mass on the lung "
                                                    "fields minus their share of the frame each network saw. Dots: "
                                                    "means over seeds; bars: 95% CIs over patients and seeds.")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cxr-study · {_esc(run_dir.name)}</title><style>{_STYLE}</style></head><body>
<h1>Pneumonia detection on chest X-rays: a measured reproduction of Galindo-Ramirez et al. (2022)</h1>
<p class="muted">Run <code>{_esc(run_dir.name)}</code> · reproduces V. H. Galindo-Ramirez et al., "Detection and
Classification of Pneumonia in X-Ray Images Using Preprocessing Techniques and Deep Learning", Research in Computing
Science 151(6), 2022.</p>
{banner}
<h2>In brief</h2>
{_plain_summary(run, data, metrics) or _missing("04")}
{glance}
<h2>Abstract</h2>
{_abstract(run, data, roi, training, metrics)}
<h2>Data</h2>
{_data_section(data)}
{_figure(run_dir, "01_samples", "Random images per class.")}
<h2>Method</h2>
{_method_section(run, roi, training)}
{_figure(run_dir, "02_clahe", "The paper's Fig. 4: original and CLAHE-enhanced images.")}
{_figure(run_dir, "02_processed", "The paper's Fig. 5: original images with the ROI box, and the processed crops.")}
{_figure(run_dir, "02_stages", "Every stage of the ROI extraction on a few images.")}
{_figure(run_dir, "02_lungmask_distributions", "The ROI box against manual lung masks: coverage and area.")}
{_figure(run_dir, "03_curves", "Training and validation accuracy and loss per epoch, every arm and seed.")}
<h2>Results</h2>
{_results_section(run_dir, run, training, metrics)}
<h2>Where the models look (Grad-CAM)</h2>
{_gradcam_section(run_dir, run, metrics)}
<h2>Shortcut audit</h2>
{_audit_section(run, metrics)}
{_figure(run_dir, "05_checks", "Grad-CAM checks: cascading randomization and deletion/insertion per arm.")}
<h2>Discussion and limitations</h2>
{_limitations(run, data, roi, training, metrics)}
<h2>Sections</h2>
<p>Each section as its executed notebook shows it, code hidden (the executed <code>NN_name.ipynb</code> files, with
their code and every log line, stay in the run folder where the study ran; they are not part of a committed
report):</p>
{_sections(run_dir, run)}
<h2>Provenance and how to rerun</h2>
{provenance}
<p>Full record: <a href="run.json">run.json</a> (code version, package versions, every parameter, data manifest hash,
device). To rerun this profile: <code>python -m cxrlib run params/{_esc(profile)}.yaml</code>; change a value with
<code>--set key=value</code>.</p>
</body></html>
"""
    index = run_dir / "index.html"
    write_text(page, index)
    return index


def readme_headline(run_dir: str | os.PathLike) -> str:
    """The README's headline table of a run, in Markdown, built from its ``metrics.json`` (never typed by hand)."""
    from ..evaluation.tables import arms_table

    run_dir = Path(run_dir)
    run, metrics = _read_json(run_dir / "run.json"), _read_json(run_dir / "metrics.json")
    table = arms_table(metrics["arms"])
    columns = ["accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc"]
    header = ["arm", "accuracy", "sensitivity", "specificity", "precision", "F1", "ROC AUC"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([_arm_label(run, arm), *(str(row[c]) for c in columns)]) + " |"
              for arm, row in table.iterrows()]
    trivial = metrics.get("baselines", {}).get("trivial")
    if trivial:
        lo, hi = trivial["ci"]["roc_auc"]
        lines.append("| trivial floor (global image statistics) | " + " | ".join(["–"] * 5)
                     + f" | {trivial['roc_auc']:.3f} ({lo:.3f}–{hi:.3f}) |")
    paper = _paper_printed()
    lines.append("| paper (as printed) | " + " | ".join("–" if paper[c] is None else f"{paper[c]:.0%}" for c in columns)
                 + " |")
    return "\n".join(lines) + "\n"


_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_LOCAL_PATH = re.compile(r"(?<![\w./:-])/(?:home|root|tmp|work|Users|mnt|var|opt|srv)(?:/[\w.-]+)+")
_STDERR = 'data-mime-type="application/vnd.jupyter.stderr"'
_WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">'
_INLINE_IMAGE = re.compile(r"""src\s*=\s*["']data:image/""", re.IGNORECASE)
#: A ``<script src="http(s)://...">`` element: the section pages must open offline (pipeline removes these).
REMOTE_SCRIPT = re.compile(r"""<script[^>]*\ssrc\s*=\s*["']https?://[^"']*["'][^>]*>(?:\s*</script>)?""",
                           re.IGNORECASE)


def check_run(run_dir: str | os.PathLike) -> list[str]:
    """What a reader of a rendered run would trip over, one line per problem (empty: none).

    Every ``href``/``src`` of every HTML page must resolve inside the run folder (web addresses, anchors and
    ``data:`` URLs aside); no page may embed an image inline (a second copy of a file in ``figures/``), show an absolute
    local path, stderr output or a widget, or load a script from the web (the report must open offline); no
    record (``.json``, ``.csv``) may hold an absolute local path.
    """
    run_dir = Path(run_dir)
    pages = sorted(run_dir.glob("*.html"))
    if not pages:
        return [f"{run_dir} holds no HTML pages"]
    problems = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in _LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:", "#", "data:")):
                continue
            local = target.split("#", 1)[0].split("?", 1)[0]
            if local and not (page.parent / local).exists():
                problems.append(f"{page.name}: link to {target!r} does not resolve")
        for match in sorted(set(_LOCAL_PATH.findall(text))):
            problems.append(f"{page.name}: shows the local path {match!r}")
        if _STDERR in text:
            problems.append(f"{page.name}: shows stderr output")
        if _WIDGET_VIEW in text:
            problems.append(f"{page.name}: embeds a widget, which shows nothing offline")
        if _INLINE_IMAGE.search(text):
            problems.append(f"{page.name}: embeds an image inline (figures are linked from figures/, not copied)")
        if REMOTE_SCRIPT.search(text):
            problems.append(f"{page.name}: loads a script from the web (fails offline)")
    for record in sorted([*run_dir.rglob("*.json"), *run_dir.rglob("*.csv")]):
        name = record.relative_to(run_dir)
        if name.parts[0].startswith("."):  # the runner's own copies (.sources/), not records
            continue
        found = _LOCAL_PATH.search(record.read_text(encoding="utf-8", errors="replace"))
        if found:
            problems.append(f"{name}: holds the local path {found.group(0)!r}")
    return problems
