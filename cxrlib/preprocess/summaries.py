"""What notebook 02 says about the ROI over a study's images: its samples, rates by class, worst cases and record.

Each function returns a table (pandas) or a Markdown sentence, every number read from the processed manifest or an
evaluation; the notebook shows them and :func:`roi_record` is what it writes as ``roi.json``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.manifest import SPLITS
from ..data.summaries import reader_table
from .arms import arms_table
from .cache import cache_folder, preprocess_manifest
from .plausibility import failure_rates, flag_boxes, rates_sentence
from .roi_evaluation import BOTH_LUNGS_LEVEL, ROI_GOALS, evaluate_roi

__all__ = ["parameters_note", "figure_samples", "sample_titles", "preprocess_study", "with_box_area", "roi_by_label",
           "roi_table", "cache_sentence", "preprocess_notes", "study_failures", "failures_sentence", "worst_cases",
           "unshown_sentence", "agreement_table", "evaluate_lungmasks", "lungmask_notes", "mask_groups",
           "paediatric_table", "roi_record", "roi_conclusion"]


def _tag(synthetic):
    return " (SYNTHETIC data)" if synthetic else ""


#: Each preprocessing setting for the reader: its label, its name where a profile sets it, its value and its job.
_SETTINGS = {
    "preprocess_size": ("resized side", "preprocess_size", "{} px", "every radiograph is resized to this square"),
    "clahe_clip_limit": ("CLAHE clip limit", "clahe_clip_limit", "{:g}", "how far CLAHE may raise local contrast"),
    "clahe_tile_grid": ("CLAHE tiles", "clahe_tile_grid", "{0} x {0}", "the regions CLAHE equalizes one by one"),
    "roi_margin": ("box margin", "roi_margin", "{:.0%}", "added to the box on each side, of its height or width"),
    "roi_mean_filter": ("mean filter", "roi_mean_filter", "{0} x {0} px", "the paper's filter on the lung mask"),
    "output_size": ("network input", "model_input_size", "{} px", "side of the crop the network sees"),
    "contour_size": ("working resolution", None, "{} px", "side of the copy the contour steps run on"),
    "smoothing_sigma": ("smoothing", None, "{:.1%} of the side", "Gaussian sigma before the threshold"),
    "chan_vese_iterations": ("contour iterations", None, "{}", "steps of the Chan-Vese contour"),
    "split_radius": ("neck radius", None, "{:.0%} of the side", "regions are cut at necks narrower than twice this"),
    "min_field_fraction": ("smallest lung piece", None, "{:.0%} of the largest", "smaller dark pieces are dropped"),
    "grow_iterations": ("geodesic growth", None, "{} iterations", "0: the contour is not grown to strong edges"),
    "gradient_sigma": ("edge scale", None, "{:.0%} of the side", "Gaussian scale of the growth's edge map"),
    "mirror_balance": ("mirroring", None, "{:.0%}", "the box is mirrored about the spine when one side holds less "
                                                      "than this share of the other side's lung area"),
    "min_aspect": ("flattest box", None, "{:g}", "a flatter box (height / width) is extended downwards"),
    "min_lung_area": ("smallest lung mask", None, "{:.0%} of the image", "a smaller mask falls back to the whole "
                                                                         "image"),
    "min_box_side": ("shortest box side", None, "{:.0%} of the side", "a shorter box falls back to the whole image"),
}


def parameters_note(description, config):
    """The data, and the preprocessing's settings as a Markdown table: what each is, its value and what it does
    (a profile's key shown as code where the profile sets it). The cache key is in ``roi.json``, not here."""
    rows = [f"| {label}{f' (`{key}`)' if key else ''} | {value.format(getattr(config, name))} | {job} |"
            for name, (label, key, value, job) in _SETTINGS.items()]
    return (f"**Data:** {description}  \n**Settings:** the profile sets the first six; the others are fixed for "
            "every run.\n\n| setting | value | what it does |\n|---|---|---|\n" + "\n".join(rows))


def figure_samples(manifest, *, n=2, seed=0):
    """A seeded sample of ``n`` training radiographs per class (the rows of the manifest), for the figures."""
    return manifest[manifest["subset"] == "train"].groupby("label").sample(n=n, random_state=seed)


def sample_titles(samples, *, synthetic):
    """A title per sampled image: its class, marked when the data is synthetic."""
    return [f"{label}{_tag(synthetic)}" for label in samples["label"]]


def preprocess_study(manifest, work_dir, config, *, arms):
    """Every image of the manifest through the cache under ``work_dir/preprocess`` (:func:`preprocess_manifest`), its
    boxes flagged against the study's own images (:func:`cxrlib.preprocess.flag_boxes`, the evaluation sets left out
    of the reference): what ``processed.csv`` holds."""
    processed = preprocess_manifest(manifest, Path(work_dir) / "preprocess", config, arms=arms)
    return flag_boxes(processed, reference=processed["subset"].isin(SPLITS))


def with_box_area(processed):
    """The processed manifest with ``box_area``, the ROI box's share of the image."""
    return processed.assign(box_area=(processed.roi_y1 - processed.roi_y0) * (processed.roi_x1 - processed.roi_x0))


def roi_by_label(processed):
    """Per class: images, fallback and implausible rates, median box and lung-mask areas (needs ``box_area``)."""
    return processed.groupby("label").agg(images=("path", "size"), fallback_rate=("fallback", "mean"),
                                          implausible_rate=("implausible", "mean"),
                                          box_area_median=("box_area", "median"),
                                          mask_area_median=("mask_area", "median"))


def roi_table(processed):
    """:func:`roi_by_label` for the reader: per class, images, the fallback and implausible rates and the median box
    and lung-mask areas, as percentages."""
    table = roi_by_label(processed)
    shares = table.drop(columns="images").map("{:.1%}".format)
    return reader_table(pd.concat([table[["images"]].astype(int), shares], axis=1), corner="class", columns={
        "fallback_rate": "fell back to the whole image", "implausible_rate": "box flagged implausible",
        "box_area_median": "box area, median (of the image)", "mask_area_median": "lung mask area, median"})


def cache_sentence(processed):
    """``Wrote processed.csv (N images); the crops are cached under work_dir.``"""
    return (f"Wrote `processed.csv` ({len(processed)} images); the crops are cached under `work_dir`, in the folder "
            "`roi.json` names.")


def preprocess_notes(processed, arms):
    """What section 4 of notebook 02 shows: the arms' image sets, the ROI by class, where the crops went."""
    return [arms_table(arms), roi_table(processed), cache_sentence(processed)]


def study_failures(processed):
    """The fallback and implausible rates by class on the study's own images (the evaluation sets left out).

    Returns
    -------
    dict
        ``fallback`` and ``implausible``, each :func:`cxrlib.preprocess.failure_rates`.
    """
    study = processed[processed["subset"].isin(SPLITS)]
    return {"fallback": failure_rates(study, "fallback"), "implausible": failure_rates(study, "implausible")}


def failures_sentence(fallback, implausible):
    """The two rates of :func:`study_failures` in words."""
    return ("On the study's images (evaluation sets left out):  \n"
            + rates_sentence(fallback, "fell back to the whole image") + "  \n"
            + rates_sentence(implausible, "have a box flagged implausible (area, height, shape, one-sided lung "
                                          "fields or polarity; `cxrlib.preprocess.plausibility`)"))


def worst_cases(processed):
    """The worst cases without ground truth, per class of the study's images: the three smallest and three largest
    boxes that are neither fallbacks nor flagged, then the first 6 flagged and the first 12 fallbacks per class."""
    study = processed[processed["subset"].isin(SPLITS)]
    kept = study[~study["fallback"] & ~study["implausible"]].sort_values("box_area")
    flagged, fallbacks = study[study["implausible"]], study[study["fallback"]]
    return pd.concat([part for _, group in kept.groupby("label") for part in (group.head(3), group.tail(3))]
                     + [group.head(6) for _, group in flagged.groupby("label")]
                     + [group.head(12) for _, group in fallbacks.groupby("label")])


def unshown_sentence(processed, worst):
    """How many flagged or fallback images :func:`worst_cases` leaves out; None when it shows them all."""
    study = processed[processed["subset"].isin(SPLITS)]
    unshown = int(study["implausible"].sum() + study["fallback"].sum()
                  - (worst["fallback"] | worst["implausible"]).sum())
    return f"{unshown} more flagged or fallback images are not shown; `processed.csv` marks them." if unshown else None


def agreement_table(agreement):
    """:func:`cxrlib.preprocess.compare_to_reference` for the reader: per image (its file name), whether each path
    fell back, the IoU of the boxes and of the lung masks and the largest difference of a box edge (3 decimals)."""
    table = agreement.assign(path=[Path(path).name for path in agreement["path"]]).set_index("path")
    table[["fallback_fast", "fallback_reference"]] = table[["fallback_fast", "fallback_reference"]].replace(
        {True: "yes", False: "no"})
    return reader_table(table.round(3), corner="image", columns={
        "fallback_fast": "fast path fell back", "fallback_reference": "reference fell back", "box_iou": "box IoU",
        "mask_iou": "lung mask IoU", "max_edge_difference": "largest box edge difference (of the side)"})


def evaluate_lungmasks(lungmask_dir, config):
    """:func:`cxrlib.preprocess.evaluate_roi` on ``lungmask_dir/images`` and ``lungmask_dir/masks``; (None, None)
    when the profile gives no folder."""
    if lungmask_dir is None:
        return None, None
    return evaluate_roi(Path(lungmask_dir) / "images", Path(lungmask_dir) / "masks", config)


#: The lung-mask goals for the reader (:data:`cxrlib.preprocess.ROI_GOALS`), and how their values read.
_GOAL_LABELS = {"coverage_median": "lung pixels inside the box, median",
                "coverage_p05": "lung pixels inside the box, 5th percentile",
                "area_median": "box area (of the image), median", "fallback_rate": "fell back to the whole image",
                "fallback_or_implausible_rate": "fell back or box flagged implausible",
                "both_lungs_rate": f"each lung {BOTH_LUNGS_LEVEL:.0%} inside the box",
                "area_ratio_median": "box area over the lungs' tightest box, median"}
_GOAL_FORMATS = {"coverage_median": "{:.2%}", "coverage_p05": "{:.2%}", "area_median": "{:.1%}",
                 "fallback_rate": "{:.2%}", "fallback_or_implausible_rate": "{:.2%}", "both_lungs_rate": "{:.2%}",
                 "area_ratio_median": "{:.3f}"}


def _goal(goal, number):
    """``'>= 0.995'`` as the reader reads it: ``≥ 99.50%``."""
    sign, value = goal.split()
    return {">=": "≥", "<=": "≤"}[sign] + " " + number.format(float(value))


def lungmask_notes(lung_eval, lungmask_dir):
    """The goals met on the lung masks, as a table and a sentence; or why they were not measured."""
    if lung_eval is None:
        return ["No `lungmask_dir` in this profile: lung coverage is not measured in this run."]
    table = pd.DataFrame({"value": [_GOAL_FORMATS[name].format(lung_eval[name]) for name in ROI_GOALS],
                          "goal": [_goal(lung_eval["goals"][name]["goal"], _GOAL_FORMATS[name]) for name in ROI_GOALS],
                          "met": ["yes" if lung_eval["goals"][name]["met"] else "no" for name in ROI_GOALS]},
                         index=[_GOAL_LABELS[name] for name in ROI_GOALS])
    return [reader_table(table, corner="on the lung masks"),
            f"{lung_eval['n']} image/mask pairs from `{Path(lungmask_dir).name}`; lowest coverage "
            f"{lung_eval['coverage_min']:.3f}, mean {lung_eval['coverage_mean']:.4f}."]


def mask_groups(per_image):
    """The class of each lung-mask image from its stem (Shenzhen's ``_0`` normal, ``_1`` abnormal; else 'all')."""
    return per_image["stem"].str[-2:].map({"_0": "normal", "_1": "abnormal"}).fillna("all")


def paediatric_table(paediatric):
    """:func:`cxrlib.preprocess.evaluate_roi_on_boxes` per class (shares as percentages), or why it was not
    measured."""
    if paediatric is None:
        return "The 40 annotated Kermany test radiographs are not in this run's data: not measured here."
    table = pd.DataFrame({group: {"images": str(m["n"]), "coverage, median": f"{m['coverage_median']:.1%}",
                                  "coverage, 5th percentile": f"{m['coverage_p05']:.1%}",
                                  "coverage, lowest": f"{m['coverage_min']:.1%}",
                                  "box area, median": f"{m['area_median']:.1%}",
                                  "box area / drawn box, median": f"{m['area_ratio_median']:.2f}",
                                  "fell back": f"{m['fallback_rate']:.1%}"}
                          for group, m in {"both classes": paediatric, **paediatric["by_class"]}.items()}).T
    return reader_table(table, corner="class")


def roi_record(processed, config, *, fallback, implausible, agreement, lung_eval, lungmask_dir, paediatric):
    """``roi.json``: the parameters, the ROI over the data set, its failures, the reference and the lung masks."""
    kept_area = processed.loc[~processed["fallback"], "box_area"]
    return {
        "config": config.to_dict(), "cache_key": config.key(), "cache_folder": cache_folder(Path("."), config).name,
        "dataset": {"n": int(len(processed)), "area_median": float(kept_area.median()),
                    "fallback_rate": float(processed["fallback"].mean()),
                    "by_label": {label: {k: float(v) for k, v in row.items()}
                                 for label, row in roi_by_label(processed).iterrows()}},
        "fallback": fallback,
        "implausible": implausible,
        "fast_vs_reference": {"images": int(len(agreement)), "mask_iou_median": float(agreement["mask_iou"].median()),
                              "box_iou_median": float(agreement["box_iou"].median()),
                              "max_edge_difference": float(agreement["max_edge_difference"].max())},
        "lungmasks": ({**{k: v for k, v in lung_eval.items() if k != "config"}, "source": str(lungmask_dir)}
                      if lung_eval else None),
        "paediatric_boxes": paediatric,
    }


def roi_conclusion(processed, lung_eval, *, synthetic):
    """The closing sentence of notebook 02: the crop over the data set and, when measured, on the lung masks."""
    kept_area = processed.loc[~processed["fallback"], "box_area"]
    summary = (f"{len(processed)} radiographs{_tag(synthetic)} cropped to the thorax; median box "
               f"{kept_area.median():.2f} of the image, fallback to the whole image "
               f"for {processed['fallback'].mean():.1%}")
    if lung_eval:
        summary += (f". On {lung_eval['n']} manual lung masks the box keeps a median {lung_eval['coverage_median']:.4f} "
                    f"of the lung pixels (5th percentile {lung_eval['coverage_p05']:.3f}) with a median box area of "
                    f"{lung_eval['area_median']:.2f}; goals met: "
                    f"{sum(g['met'] for g in lung_eval['goals'].values())}/{len(lung_eval['goals'])}")
    return f"Wrote `processed.csv` and `roi.json`.  \n**Conclusion:** {summary}."
