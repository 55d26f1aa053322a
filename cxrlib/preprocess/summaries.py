"""What notebook 02 says about the ROI over a study's images: its samples, rates by class, worst cases and record.

Each function returns a table (pandas) or a Markdown sentence, every number read from the processed manifest or an
evaluation; the notebook shows them and :func:`roi_record` is what it writes as ``roi.json``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.manifest import SPLITS
from .arms import arms_table
from .cache import cache_folder, preprocess_manifest
from .plausibility import failure_rates, flag_boxes, rates_sentence
from .roi_evaluation import ROI_GOALS, evaluate_roi

__all__ = ["parameters_note", "figure_samples", "sample_titles", "preprocess_study", "with_box_area", "roi_by_label",
           "cache_sentence", "preprocess_notes", "study_failures", "failures_sentence", "worst_cases",
           "unshown_sentence", "agreement_table", "evaluate_lungmasks", "lungmask_notes", "mask_groups",
           "paediatric_table", "roi_record", "roi_conclusion"]


def _tag(synthetic):
    return " (SYNTHETIC data)" if synthetic else ""


def parameters_note(description, config):
    """The data, the preprocessing parameters and their cache key, in Markdown."""
    return f"**Data:** {description}  \n**Parameters:** `{config}`  \n**Cache key:** `{config.key()}`"


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


def cache_sentence(processed, work_dir, config):
    """``Wrote processed.csv (N images); cache folder ... under work_dir.``"""
    return (f"Wrote `processed.csv` ({len(processed)} images); cache folder "
            f"`{cache_folder(Path(work_dir) / 'preprocess', config).name}` under `work_dir`.")


def preprocess_notes(processed, arms, work_dir, config):
    """What section 4 of notebook 02 shows: the arms' image sets, the ROI by class (3 decimals), the cache."""
    return [arms_table(arms), roi_by_label(processed).round(3), cache_sentence(processed, work_dir, config)]


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
            + rates_sentence(implausible, "have a box flagged implausible (area, height, shape or one-sided lung "
                                          "fields; `cxrlib.preprocess.plausibility`)"))


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
    """:func:`cxrlib.preprocess.compare_to_reference` for display: the image's file name, values to 3 decimals."""
    return agreement.assign(path=[Path(path).name for path in agreement["path"]]).rename(
        columns={"path": "image"}).round(3)


def evaluate_lungmasks(lungmask_dir, config):
    """:func:`cxrlib.preprocess.evaluate_roi` on ``lungmask_dir/images`` and ``lungmask_dir/masks``; (None, None)
    when the profile gives no folder."""
    if lungmask_dir is None:
        return None, None
    return evaluate_roi(Path(lungmask_dir) / "images", Path(lungmask_dir) / "masks", config)


def lungmask_notes(lung_eval, lungmask_dir):
    """The goals met on the lung masks, as a table and a sentence; or why they were not measured."""
    if lung_eval is None:
        return ["No `lungmask_dir` in this profile: lung coverage is not measured in this run."]
    table = pd.DataFrame([{"metric": name, "value": lung_eval[name], "goal": lung_eval["goals"][name]["goal"],
                           "met": lung_eval["goals"][name]["met"]} for name in ROI_GOALS]).round(4)
    return [table, f"{lung_eval['n']} image/mask pairs from `{Path(lungmask_dir).name}`; lowest coverage "
                   f"{lung_eval['coverage_min']:.3f}, mean {lung_eval['coverage_mean']:.4f}."]


def mask_groups(per_image):
    """The class of each lung-mask image from its stem (Shenzhen's ``_0`` normal, ``_1`` abnormal; else 'all')."""
    return per_image["stem"].str[-2:].map({"_0": "normal", "_1": "abnormal"}).fillna("all")


def paediatric_table(paediatric):
    """:func:`cxrlib.preprocess.evaluate_roi_on_boxes` per class, or why it was not measured."""
    if paediatric is None:
        return "The 40 annotated Kermany test radiographs are not in this run's data: not measured here."
    return pd.DataFrame({group: {"images": m["n"], "coverage, median": m["coverage_median"],
                                 "coverage, 5th percentile": m["coverage_p05"], "coverage, lowest": m["coverage_min"],
                                 "box area, median": m["area_median"], "box area / drawn box, median":
                                 m["area_ratio_median"], "fallback rate": m["fallback_rate"]}
                         for group, m in {"both classes": paediatric, **paediatric["by_class"]}.items()}).T.round(3)


def roi_record(processed, config, *, fallback, implausible, agreement, lung_eval, lungmask_dir, paediatric):
    """``roi.json``: the parameters, the ROI over the data set, its failures, the reference and the lung masks."""
    kept_area = processed.loc[~processed["fallback"], "box_area"]
    return {
        "config": config.to_dict(), "cache_key": config.key(),
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
