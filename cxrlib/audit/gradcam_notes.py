"""What notebook 05 says about the Grad-CAM maps: its tables and sentences, its ``metrics.json`` entries, its verdict.

Each function returns a table (pandas), a Markdown sentence or a list of them, from :class:`cxrlib.audit.ArmMaps`
and :func:`cxrlib.audit.check_maps`.
"""

from __future__ import annotations

import pandas as pd

from ..data.synthetic import SHORTCUT_DESCRIPTION, SHORTCUT_RATES, SYNTHETIC_NOTE, shortcut_truth
from .gradcam_checks import faithfulness_table, stage_labels
from .gradcam_measures import measure_label
from .gradcam_summaries import gradcam_sentence

__all__ = ["tag_spot", "maps_sentence", "failures_notes", "failures_caption", "paired_notes", "shortcut_notes",
           "checks_notes", "checks_caption", "gradcam_record", "gradcam_conclusion"]


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


def failures_notes(failures):
    """How the failure gallery's images were chosen, each arm's errors on the test split, and those every arm
    shares."""
    counts, every = failures["counts"], failures["every_arm"]
    normal, pneumonia = next(iter(counts.values()))["normal"], next(iter(counts.values()))["pneumonia"]
    call = (f"Each arm calls a test image by the class most of its {failures['seeds']} seeds give, each seed at its "
            "own validation Youden threshold; under each panel are P(PNEUMONIA) and the threshold, both means over "
            "the seeds, then how many seeds make the call, and the heatmap is the mean of those seeds' maps."
            if failures["seeds"] > 1 else "Each arm calls a test image at its validation Youden threshold; under each "
            "panel are its P(PNEUMONIA) and that threshold.")
    table = pd.DataFrame({arm: {f"false positives (of {normal} NORMAL)": c["false_positives"],
                                f"false negatives (of {pneumonia} PNEUMONIA)": c["false_negatives"]}
                          for arm, c in counts.items()}).T.rename_axis(columns="arm")
    return [f"{call} The surest error is the one whose P(PNEUMONIA) lies furthest beyond the threshold on the logit "
            "scale; an arm's own error is one that some other arm gets right (one image can serve several arms). "
            "Every arm is shown on every image, its panel in red where its call is wrong.",
            table,
            f"Of the {normal} NORMAL test images, {_are(every['false_positives'], 'a false positive')} of every arm; "
            f"of the {pneumonia} PNEUMONIA images, {_are(every['false_negatives'], 'a false negative')} of every arm."]


def failures_caption(failures):
    """The failure gallery's caption: what it shows, and how many test images fool every arm."""
    counts, every = failures["counts"], failures["every_arm"]
    normal, pneumonia = next(iter(counts.values()))["normal"], next(iter(counts.values()))["pneumonia"]
    return ("Where the models fail: misclassified test radiographs at each model's validation Youden threshold, "
            "false positives first; every arm is shown on every image (Grad-CAM heatmap, P(PNEUMONIA), threshold; "
            f"red: a wrong call; the ROI box where an arm crops). {every['false_positives']} of {normal} NORMAL and "
            f"{every['false_negatives']} of {pneumonia} PNEUMONIA test images fool every arm.")


def _are(n, what):
    """``3 are false positives`` / ``1 is a false positive``."""
    return f"{n} is {what}" if n == 1 else f"{n} are {what.split(' ', 1)[1]}s"


def paired_notes(paired):
    """Per compared pair: its name and the table of paired differences over chance (or why there is none)."""
    shown = []
    for label, result in paired.items():
        shown.append(f"**{label}**")
        if not result:
            shown.append("No image where both models' heatmaps have mass (a heatmap that is zero everywhere has no "
                         "measures): nothing to compare.")
            continue
        table = pd.DataFrame(result).T.rename(index=measure_label)
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
    """The planted shortcut (synthetic data): where it is, its evidence per arm as a table, the spot's share of the
    image; on real data, one sentence saying that no shortcut was planted."""
    if evidence is None:
        return ["No shortcut was planted in these radiographs, so there is nothing to compare here; on real data the "
                "shortcut question is asked by the blanking and swap tests of the evaluation section and by the "
                "checks of the maps below."]
    train, test = SHORTCUT_RATES["train"], SHORTCUT_RATES["test"]
    table = pd.DataFrame(evidence).T
    shown = pd.DataFrame({
        "images with the tag": table["n_in"].astype(int), "images without": table["n_out"].astype(int),
        "mean with the tag": table["mean_in"].astype(float).round(3),
        "mean without": table["mean_out"].astype(float).round(3),
        "difference": table["difference"].astype(float).round(3),
        "Mann-Whitney p": table["p_value"].map("{:.2g}".format)})
    return [f"The synthetic demo plants a shortcut: a {SHORTCUT_DESCRIPTION}, on {train['PNEUMONIA']:.0%} of the "
            f"PNEUMONIA and {train['NORMAL']:.0%} of the NORMAL training images, and on {test['PNEUMONIA']:.0%} of the "
            f"PNEUMONIA and {test['NORMAL']:.0%} of the NORMAL test images, so that on test it says nothing of the "
            "label. The spot is the tag's box grown by half a heatmap cell.",
            shown,
            f"The spot is {_spot_area(regions):.1%} of the image: a heatmap spread evenly would put that share of "
            "its mass there."]


def checks_notes(checks, maps):
    """The checks of the maps: the randomization's correlations per stage and arm, the deletion and insertion areas
    and how much the maps beat a random order."""
    rows, y, seeds = checks["rows"], maps.y, maps.seeds
    return [f"Randomization: {checks['randomized']} PNEUMONIA test images; Spearman correlation of the maps with "
            "the trained model's after randomizing the output layer and then each deeper block in turn (mean over "
            "images):",
            pd.DataFrame({a: r["spearman_mean"].to_numpy() for a, r in checks["randomization"].items()},
                         index=stage_labels(next(iter(checks["randomization"].values()))["stage"]))
            .round(3).rename_axis(columns="randomized so far"),
            f"Deletion and insertion: {len(rows)} test images ({int(y[rows].sum())} PNEUMONIA), "
            f"{len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'}, {checks['steps']} steps; areas under the "
            "explained class's logit (mean over seeds and images), and how much the map beats the random order "
            "(95% interval over patients and seeds):",
            faithfulness_table(checks["faithfulness"])]


def checks_caption(checks):
    """The checks figure's caption, with which arms' maps pass each check as measured."""
    faithful = {curve: [a for a, f in checks["faithfulness"].items() if f[curve]["verdict"] == "faithful"]
                for curve in ("deletion", "insertion")}
    n = len(checks["faithfulness"])
    passed = "; ".join(f"{curve}: {len(arms)} of {n} arms' maps beat a random order" + (f" ({', '.join(arms)})"
                                                                                      if arms else "")
                       for curve, arms in faithful.items())
    return ("Left: correlation of each arm's maps with its trained maps as the output layer and then deeper blocks "
            "are randomized (target 0: a map that stays put does not depend on what was learned). Right: how much "
            f"the maps beat a random pixel order on the logit, with 95% intervals (above 0 is better); {passed}.")


def gradcam_record(maps, summary, paired, checks, evidence, failures):
    """What notebook 05 adds to ``metrics.json``: per arm the summary, layer, seeds, frame and the checks; the paired
    comparisons; the failure gallery's counts and images; on synthetic data the planted shortcut's evidence."""
    randomization = checks["randomization"]
    updates = {"gradcam": {n: {**summary[n], "layer": maps.layers[n], "seeds": [int(x) for x in maps.seeds],
                               "frame": "the ROI box" if next(a.roi for a in maps.arms if a.name == n)
                               else "the whole image",
                               "frame_size": maps.frame_size,
                               "randomization_spearman": dict(zip(randomization[n]["stage"],
                                                                  randomization[n]["spearman_mean"])),
                               "faithfulness": checks["faithfulness"][n]}
                           for n in maps.names},
               "gradcam_comparisons": paired,
               "gradcam_failures": {"operating_point": "youden", "call": "the class most seeds give",
                                    "counts": failures["counts"], "every_arm": failures["every_arm"],
                                    "shown": [{"filename": f, "kind": k, "chosen_for": a}
                                              for f, k, a in failures["chosen"]]}}
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
