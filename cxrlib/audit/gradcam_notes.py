"""What notebook 05 says about the Grad-CAM maps: its tables and sentences, its ``metrics.json`` entries, its verdict.

Each function returns a table (pandas), a Markdown sentence or a list of them, from :class:`cxrlib.audit.ArmMaps`
and :func:`cxrlib.audit.check_maps`.
"""

from __future__ import annotations

import pandas as pd

from ..data.synthetic import SYNTHETIC_NOTE, shortcut_truth
from .gradcam_checks import faithfulness_table
from .gradcam_measures import MEASURE_LABELS
from .gradcam_summaries import gradcam_sentence

__all__ = ["tag_spot", "maps_sentence", "paired_notes", "shortcut_notes", "checks_notes", "gradcam_record",
           "gradcam_conclusion"]


def tag_spot(data, test):
    """On synthetic data, which test images carry the planted tag and its box (the generator's ground truth);
    ``(None, None)`` on real data or when no test image carries it."""
    if data["source"] != "synthetic":
        return None, None
    has_tag, box = shortcut_truth(data["root"], test["filename"])
    return (None, None) if box is None else (has_tag, box)


def maps_sentence(data, test, *, seeds, layer_name):
    """The data, the test images, whether lung-field masks exist, the models and the layer explained."""
    has_masks = "mask_path" in test.columns and (test["mask_path"] != "").any()
    synthetic = data["source"] == "synthetic"
    return ((SYNTHETIC_NOTE + "  \n" if synthetic else "") + f"{data['description']}  \n"
            f"{len(test)} test images; lung-field masks: **{'yes' if has_masks else 'none'}**; models: each arm's "
            f"{len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'}; Grad-CAM layer: "
            f"**{layer_name or 'the backbone default'}**.")


def paired_notes(paired):
    """Per compared pair: its name and the table of paired differences over chance (or why there is none)."""
    shown = []
    for label, result in paired.items():
        shown.append(f"**{label}**")
        if not result:
            shown.append("No image where both models' heatmaps have mass (a heatmap that is zero everywhere has no "
                         "measures): nothing to compare.")
            continue
        table = pd.DataFrame(result).T.rename(index=MEASURE_LABELS)
        shown.append(pd.DataFrame({
            "images": table["n"], "non-zero differences": table["n_nonzero"],
            "median difference": table["median_difference"].map("{:+.3f}".format),
            "mean difference (95% CI)": [f"{m:+.3f} ({lo:+.3f} to {hi:+.3f})"
                                         for m, (lo, hi) in zip(table["mean_difference"], table["mean_difference_ci"])],
            "Wilcoxon p": table["p_value"].map("{:.2g}".format)}))
    return shown


def _spot_area(regions):
    spot = regions["shortcut_spot"][0]
    return (spot[2] - spot[0]) * (spot[3] - spot[1])


def shortcut_notes(evidence, regions):
    """The planted shortcut's evidence per arm as a table, and the spot's share of the image; or, on real data,
    why there is nothing to compare."""
    if evidence is None:
        return ["Real radiographs carry no planted tag, so there is nothing to compare here; on real data the "
                "shortcut question is asked by the blanking and swap tests of the evaluation section and by "
                "the checks of section 7."]
    table = pd.DataFrame(evidence).T.rename(columns={"mean_in": "tag present", "mean_out": "tag absent"})
    return [table[["n_in", "n_out", "tag present", "tag absent", "difference"]].astype(float).round(3)
            .assign(**{"Mann-Whitney p": table["p_value"].map("{:.2g}".format)}),
            f"The spot is {_spot_area(regions):.1%} of the image: a heatmap spread evenly would put that share of "
            "its mass there."]


def checks_notes(checks, maps):
    """The checks of the maps: the randomization's correlations per stage and arm, the deletion and insertion areas
    and how much the maps beat a random order."""
    rows, y, seeds = checks["rows"], maps.y, maps.seeds
    return [f"Randomization: {checks['randomized']} PNEUMONIA test images; Spearman correlation of the maps with "
            "the trained model's after randomizing the head and then each deeper block in turn (mean over images):",
            pd.DataFrame({a: r.set_index("stage")["spearman_mean"]
                          for a, r in checks["randomization"].items()}).round(3),
            f"Deletion and insertion: {len(rows)} test images ({int(y[rows].sum())} PNEUMONIA), "
            f"{len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'}, {checks['steps']} steps; areas under the "
            "explained class's logit (mean over seeds and images), and how much the map beats the random order "
            "(95% interval over patients and seeds):",
            faithfulness_table(checks["faithfulness"])]


def gradcam_record(maps, summary, paired, checks, evidence):
    """What notebook 05 adds to ``metrics.json``: per arm the summary, layer, seeds, frame and the checks; the paired
    comparisons; on synthetic data the planted shortcut's evidence."""
    randomization = checks["randomization"]
    updates = {"gradcam": {n: {**summary[n], "layer": maps.layers[n], "seeds": [int(x) for x in maps.seeds],
                               "frame": "the ROI box" if next(a.roi for a in maps.arms if a.name == n)
                               else "the whole image",
                               "frame_size": maps.frame_size,
                               "randomization_spearman": dict(zip(randomization[n]["stage"],
                                                                  randomization[n]["spearman_mean"])),
                               "faithfulness": checks["faithfulness"][n]}
                           for n in maps.names},
               "gradcam_comparisons": paired}
    if evidence is not None:
        updates["gradcam_shortcut"] = {f"{arm} | {what}": row for (arm, what), row in evidence.items()}
    return updates


def gradcam_conclusion(maps, summary, paired, checks, evidence, *, synthetic):
    """The closing paragraph of notebook 05: each arm's maps in words, the paired lung mass, the planted shortcut."""
    text = [("**SYNTHETIC data.** " if synthetic else "")
            + f"Over {len(maps.test)} test images, each heatmap in its own network's frame:"]
    for arm in maps.arms:
        sentence = gradcam_sentence(summary[arm.name], checks["faithfulness"][arm.name],
                                    checks["randomization"][arm.name], cropped=arm.roi)
        text.append(f"- **{arm.name}**: {sentence}")
    for label, result in paired.items():
        lung = result.get("lung_mass_over_chance")
        if lung:
            lo, hi = lung["mean_difference_ci"]
            text.append(f"- Lung mass over chance, {label}: {lung['mean_difference']:+.3f} (95% interval {lo:+.3f} to "
                        f"{hi:+.3f}): " + ("the first arm concentrates more on the lungs." if lo > 0 else
                                           "the second arm concentrates more on the lungs." if hi < 0 else
                                           "no difference detected."))
    if evidence is not None:
        spot_area = _spot_area(maps.regions)
        for n in maps.names:
            mass, prob = evidence[(n, "heatmap mass on the spot")], evidence[(n, "P(PNEUMONIA)")]
            looks = mass["difference"] > 0 and mass["p_value"] < 0.05
            follows = prob["difference"] > 0 and prob["p_value"] < 0.05
            text.append(
                f"- Planted shortcut, **{n}**: with the tag present **{mass['mean_in']:.1%}** of its heatmap mass is on "
                f"the tag spot, {mass['mean_out']:.1%} without (spot area {spot_area:.1%}; p = {mass['p_value']:.2g}); "
                f"mean P(PNEUMONIA) {prob['mean_in']:.2f} with the tag and {prob['mean_out']:.2f} without "
                f"(p = {prob['p_value']:.2g}). "
                + ("It looks at the marker and its predictions follow it." if looks and follows else
                   "Its predictions follow the marker, but the heatmap does not show it at this layer." if follows else
                   "Its heatmap goes to the marker, but its predictions do not follow it." if looks else
                   "By these measures it does not use the marker."))
    return "\n".join(text)
