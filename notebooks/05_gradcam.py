# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Grad-CAM: where each arm's model looks
#
# The paper shows (its Fig. 8) that the model trained on the thorax ROI crops "looks inside the rib cage",
# while the model trained on the original images draws on labels, arms and the image borders. Here the same
# comparison is made for every arm of the study on every test image and **measured**: Grad-CAM (Selvaraju et al.
# 2017) of each arm's first-seed model, mapped into one whole-image frame (a cropped arm's heatmap, computed on its
# crop, is placed back into the ROI box), then the share of heatmap mass inside the ROI box, inside the
# lung-field mask, and where the heatmap peaks (pointing game), compared between arms image by image.
#
# **Inputs:** `processed.csv`, `training.json`, the models in `work_dir`, `test_predictions.csv` (04), `data.json`.
# **Outputs:** `gradcam.csv` (one row per test image and arm), `gradcam` entries in `metrics.json`,
# figures `05_*.png`.

# %% tags=["parameters"]
run_dir = "reports/dev"
work_dir = "data/work"
arms = {"original": {"clahe": False, "roi": False}, "paper": {"clahe": True, "roi": True}}
seeds = [0]
compare = [["paper", "original"]]
seed = 0
batch_size = 32
gradcam_layer = None
gradcam_examples = 8
audit_gradcam_images = 24

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from cxrlib import gradcam, metrics, synthetic, training
from cxrlib.inputs import read_images
from cxrlib.data import read_radiograph
from cxrlib.model import load_classifier
from cxrlib.study import SYNTHETIC_NOTE, StudyRun

BOOTSTRAP_RESAMPLES = 2000
FRAME_SIZE = 256  # side of the whole-image frame the measures are taken in
run = StudyRun(run_dir, step="05", work_dir=work_dir)
study_arms = run.arms(arms)
names = [a.name for a in study_arms]
pairs = [tuple(pair) for pair in compare]
first_seed = seeds[0]

# %% [markdown]
# ## 1. What is measured, and why so
#
# All heatmaps are compared in the frame of the whole radiograph. An arm without the crop has a heatmap over the
# whole frame; a cropped arm sees only the ROI box, so its heatmap is resized to the box and placed there, zero
# elsewhere. Consequences for the measures:
#
# * **mass in ROI** (share of heatmap mass inside the thorax box): for a cropped arm it is 1 *by construction*
#   (it cannot look elsewhere). It is the informative number for the whole-image arms: how much of their evidence
#   comes from outside the thorax (labels, arms, borders). The pointing game in the box is likewise always a hit
#   for a cropped arm.
# * **mass in mask** (inside the lung-field mask of preprocessing, when there is one) is not trivial for any arm.
# * **mask share in ROI** (of the mass *inside the box*, the share on the lung fields) compares *where inside
#   the thorax* each arm looks, with the same chance level for all (mask area / box area).
#
# Heatmaps come from the layer `gradcam_layer` (default: the backbone's last convolutional block), are coarse, and
# are upsampled bilinearly, so some mass bleeds across region edges. Each model explains its own predicted class
# (at its validation threshold).

# %%
trained = run.read_json("training.json")["arms"]
test = run.processed("test")
y = (test["label"] == "PNEUMONIA").to_numpy(int)
groups = test["patient_id"].to_numpy()
thresholds = {a: float(trained[a]["seeds"][str(first_seed)]["thresholds"]["youden"]) for a in names}
has_masks = "mask_path" in test.columns and (test["mask_path"] != "").any()

shortcut, tag_box = None, None
if run.is_synthetic:  # the generator's ground truth: which test images carry the planted tag, and where
    shortcut, tag_box = synthetic.shortcut_truth(run.data["root"], test["filename"])
    if tag_box is None:
        shortcut = None

display(Markdown(
    (SYNTHETIC_NOTE + "  \n" if run.is_synthetic else "") + f"{run.data['description']}  \n"
    f"{len(test)} test images; lung-field masks: **{'yes' if has_masks else 'none'}**; models: each arm's seed "
    f"{first_seed}; Grad-CAM layer: **{gradcam_layer or 'the backbone default'}**."
))

# %% [markdown]
# ## 2. Grad-CAM of every arm on every test image

# %%
measures, heatmaps, regions, layers = {}, {}, {}, {}
models = {arm.name: load_classifier(run.model_path(arm.name, first_seed)) for arm in study_arms}
for arm in study_arms:
    model = models[arm.name]
    layer = gradcam.find_layer(model, gradcam_layer)
    layers[arm.name] = layer.name
    if tag_box is not None:
        # the tag is small next to a heatmap cell: measure on its box grown by half a cell of the layer
        regions = {"shortcut_spot": [gradcam.expand_box(tag_box, 0.5 / layer.output.shape[1])] * len(test)}
    # a layer after a cached frozen prefix is explained on the prefix's features, computed once in 04
    explained, inputs = training.gradcam_inputs(
        model, read_images(test[arm.column], size=model.input_shape[1], progress=False),
        settings=trained[arm.name]["seeds"][str(first_seed)]["settings"], layer_name=layer.name, work_dir=work_dir,
        batch_size=batch_size)
    measures[arm.name], heatmaps[arm.name] = gradcam.measure_gradcam(
        test, explained, image_column=arm.column, crop=arm.roi, frame_size=FRAME_SIZE, regions=regions,
        layer_name=layer.name, threshold=thresholds[arm.name], batch_size=batch_size, inputs=inputs,
    )

cells = {n: heatmaps[n].shape[1] for n in names}
display(Markdown(
    "Heatmap resolution: " + ", ".join(f"{n} {c}x{c} cells ({layers[n]})" for n, c in cells.items())
    + (" — coarse: each cell spans more than 1/7 of the model's input side, so small structures (markers, labels) "
       "cannot be told apart from their surroundings; an earlier layer (`gradcam_layer`) gives finer maps."
       if min(cells.values()) < 7 else ".")
))

# the forward pass of Grad-CAM scores the images again: it must agree with 04
predicted = run.read_csv("test_predictions.csv")
agreement = 0.0
for n in names:
    of_arm = predicted[(predicted["arm"] == n) & (predicted["seed"] == first_seed)]
    if not (of_arm["filename"].to_numpy() == test["filename"].to_numpy()).all():
        raise ValueError("test_predictions.csv does not list the test images of processed.csv in order; rerun 04")
    agreement = max(agreement, float(np.abs(measures[n]["probability"].to_numpy() - of_arm["score"].to_numpy()).max()))
display(Markdown(f"Largest difference from the probabilities of 04: {agreement:.1e} (zero when the explained layer "
                 "follows a cached frozen part: Grad-CAM then runs on 04's features; otherwise up to their float16 "
                 "rounding)."))

long = pd.concat(
    [test[["filename", "patient_id", "label", "subtype"]].assign(
        arm=n, seed=first_seed, threshold=thresholds[n],
        correct=(measures[n]["probability"] >= thresholds[n]).astype(int) == y,
    ).join(measures[n]) for n in names],
    ignore_index=True,
)
_ = run.write_csv(long, "gradcam.csv")

# %% [markdown]
# ## 3. The paper's Fig. 8 on our arms
#
# The same patients under every arm: both classes, right and wrong predictions of the first compared pair.
# Columns: the whole image with the ROI box, then each arm's heatmap in the whole-image frame.

# %%
pred = {n: (measures[n]["probability"].to_numpy() >= thresholds[n]).astype(int) for n in names}
a, b = pairs[0] if pairs else (names[0], names[0])
chosen = gradcam.select_examples(y, pred[a], pred[b], n=gradcam_examples, seed=seed)
examples = []
for i in chosen:
    row = test.iloc[i]
    examples.append({
        "image": read_radiograph(row["path"]),
        "box": tuple(row[c] for c in gradcam.ROI_COLUMNS),
        "heatmaps": {n: heatmaps[n][i] for n in names},
        "cropped": {x.name: x.roi for x in study_arms},
        "title": row["label"] + "".join(f"\n{n} {'right' if pred[n][i] == y[i] else 'wrong'}" for n in (a, b)),
    })
run.show(gradcam.plot_examples(examples), "fig8_examples")

# %% [markdown]
# ## 4. Where the heatmap mass falls, per arm

# %%
summary = {n: gradcam.summarize_measures(measures[n], groups=groups, n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
           for n in names}
display(gradcam.summary_table(summary))
run.show(gradcam.plot_measure_distributions(measures), "mass_distributions")

# %% [markdown]
# ## 5. Paired tests
#
# For each compared pair, the Wilcoxon signed-rank test on the per-image differences (a − b) of each measure; the
# mean difference has a patient-bootstrap interval (the Wilcoxon test itself treats images as independent).

# %%
paired = {f"{a} - {b}": gradcam.compare_measures(measures[a], measures[b], groups=groups,
                                                 n_boot=BOOTSTRAP_RESAMPLES, seed=seed) for a, b in pairs}
for label, result in paired.items():
    display(Markdown(f"**{label}**"))
    if not result:
        display(Markdown("No image where both models' heatmaps have mass (a heatmap that is zero everywhere has no "
                         "measures): nothing to compare."))
        continue
    table = pd.DataFrame(result).T
    display(pd.DataFrame({
        "images": table["n"], "non-zero differences": table["n_nonzero"],
        "median difference": table["median_difference"].map("{:+.3f}".format),
        "mean difference (95% CI)": [f"{m:+.3f} ({lo:+.3f} to {hi:+.3f})"
                                     for m, (lo, hi) in zip(table["mean_difference"], table["mean_difference_ci"])],
        "Wilcoxon p": table["p_value"].map("{:.2g}".format)}))

# %% [markdown]
# ## 6. The planted shortcut
#
# In the synthetic training split a bright tag at a fixed spot outside the thorax goes with PNEUMONIA; in the test
# split it is on half the images of each class, independent of the label. A model that learned the tag (a) puts
# heatmap mass on that spot when the tag is there, and (b) gives higher P(PNEUMONIA) to tagged images. Both are
# compared between tagged and untagged test images (Mann-Whitney U). The spot is the tag's box grown by half a
# heatmap cell. Real radiographs carry no planted tag, so this section is measured on the synthetic demo only.

# %%
shortcut_table = None
if shortcut is not None:
    evidence = {}
    for n in names:
        evidence[(n, "heatmap mass on the spot")] = gradcam.compare_groups(
            measures[n]["mass_in_shortcut_spot"].to_numpy(), shortcut)
        evidence[(n, "P(PNEUMONIA)")] = gradcam.compare_groups(measures[n]["probability"].to_numpy(), shortcut)
        evidence[(n, "accuracy")] = gradcam.compare_groups((pred[n] == y).astype(float), shortcut)
    shortcut_table = pd.DataFrame(evidence).T.rename(columns={"mean_in": "tag present", "mean_out": "tag absent"})
    display(shortcut_table[["n_in", "n_out", "tag present", "tag absent", "difference"]].astype(float).round(3)
            .assign(**{"Mann-Whitney p": shortcut_table["p_value"].map("{:.2g}".format)}))
    spot = regions["shortcut_spot"][0]
    spot_area = (spot[2] - spot[0]) * (spot[3] - spot[1])
    display(Markdown(f"The spot is {spot_area:.1%} of the image: a heatmap spread evenly would put that share of "
                     "its mass there."))
else:
    display(Markdown("Real radiographs carry no planted tag, so there is nothing to compare here; on real data the "
                     "shortcut question is asked by the blanking and swap tests of the evaluation section and by "
                     "the checks of section 7."))

# %% [markdown]
# ## 7. Are the maps checked, not only measured?
#
# Two checks of the maps themselves, on a seeded sample of PNEUMONIA test images (the class explained):
#
# * **Randomization** (Adebayo et al. 2018): the classifier's head is re-initialised, then successively deeper blocks
#   (each weight redrawn with its trained mean and SD); the maps are recomputed and compared with the trained model's
#   by Spearman rank correlation. A map that stays the same when the weights behind the decision are destroyed
#   shows the image, not the model: correlations should fall towards 0.
# * **Deletion and insertion** (Petsiuk et al. 2018): the most salient pixels of the model's input are replaced by the
#   image's mean (deletion) or revealed on a flat image (insertion) in ten steps; the area under P(pneumonia) is
#   compared with the same curves for a random order of the pixels. A faithful map deletes faster (smaller area) and
#   inserts faster (larger area) than random.

# %%
pneumonia = test[test["label"] == "PNEUMONIA"]
check_rows = pneumonia.sample(n=min(audit_gradcam_images, len(pneumonia)), random_state=seed).index.to_numpy()
randomization, faithfulness = {}, {}
for arm in study_arms:
    model = models[arm.name]
    images = read_images(test.loc[check_rows, arm.column], size=model.input_shape[1], progress=False)
    randomization[arm.name] = gradcam.randomization_check(model, images, layer_name=layers[arm.name], seed=seed)
    maps = heatmaps[arm.name][check_rows]
    faithfulness[arm.name] = gradcam.deletion_insertion(model, images, maps, steps=10, seed=seed)
display(Markdown(f"{len(check_rows)} PNEUMONIA test images; Spearman correlation of the maps with the trained model's, "
                 "after randomizing the head and then each deeper block in turn (mean over images):"))
display(pd.DataFrame({a: r.set_index("stage")["spearman_mean"] for a, r in randomization.items()}).round(3))
faith_table = pd.DataFrame({a: f.mean() for a, f in faithfulness.items()}).T.round(3)
display(Markdown("Area under P(pneumonia) as the most salient pixels are deleted or inserted (mean over images); "
                 "`random_*`: the same with a random pixel order."))
display(faith_table)
run.show(gradcam.plot_faithfulness(randomization, faithfulness), "checks")

# %% [markdown]
# ## 8. metrics.json and conclusion

# %%
updates = {"gradcam": {n: {**summary[n], "layer": layers[n], "seed": first_seed, "frame_size": FRAME_SIZE,
                           "randomization_spearman": dict(zip(randomization[n]["stage"],
                                                              randomization[n]["spearman_mean"])),
                           "deletion_auc": float(faithfulness[n]["deletion_auc"].mean()),
                           "insertion_auc": float(faithfulness[n]["insertion_auc"].mean()),
                           "random_map_deletion_auc": float(faithfulness[n]["random_deletion_auc"].mean()),
                           "random_map_insertion_auc": float(faithfulness[n]["random_insertion_auc"].mean()),
                           "checked_images": int(len(check_rows))}
                       for n in names},
           "gradcam_comparisons": paired}
if shortcut_table is not None:
    updates["gradcam_shortcut"] = {f"{arm} | {what}": row for (arm, what), row in evidence.items()}
_ = metrics.update_json(run.dir / "metrics.json", updates)

text = [("**SYNTHETIC data.** " if run.is_synthetic else "") + f"Over {len(test)} test images:"]
for arm in study_arms:
    s = summary[arm.name]
    if arm.roi:
        text.append(f"- **{arm.name}** sees only the box: 100% of its heatmap mass is inside it by construction.")
    else:
        text.append(
            f"- **{arm.name}** puts **{s['mass_in_roi_mean']:.1%}** of its heatmap mass inside the thorax box (95% "
            f"interval {s['mass_in_roi_ci'][0]:.1%}–{s['mass_in_roi_ci'][1]:.1%}) where a heatmap spread evenly would "
            f"put {s['roi_area_share_mean']:.1%}: {s['mass_minus_roi_area_mean']:+.1%} over chance "
            f"({s['mass_minus_roi_area_ci'][0]:+.1%} to {s['mass_minus_roi_area_ci'][1]:+.1%}); its maximum lies in "
            f"the box for **{s['pointing_hit_rate']:.1%}** of the images.")
    if "mass_minus_mask_area_mean" in s:
        lo, hi = s["mass_minus_mask_area_ci"]
        text.append(f"  On the lung fields: {s['mass_in_mask_mean']:.1%} of its mass against {s['mask_area_share_mean']:.1%} "
                    f"of the frame, {s['mass_minus_mask_area_mean']:+.1%} over chance ({lo:+.1%} to {hi:+.1%}).")
    r = randomization[arm.name]
    f = faithfulness[arm.name].mean()
    text.append(f"  Checks: with the head and {len(r) - 1} deeper blocks randomized, the maps' Spearman correlation with "
                f"the trained ones is {r['spearman_mean'].iloc[-1]:.2f} "
                + ("(they change: the maps depend on the trained weights)" if r["spearman_mean"].iloc[-1] < 0.5 else
                   "(**they barely change: these maps do not explain the model**)")
                + f"; deletion area {f['deletion_auc']:.3f} against {f['random_deletion_auc']:.3f} for a random map "
                + ("(faster than random: faithful)." if f["deletion_auc"] < f["random_deletion_auc"] else
                   "(**not faster than random**)."))
for label, result in paired.items():
    share = result.get("mask_share_in_roi")
    if share:
        lo, hi = share["mean_difference_ci"]
        text.append(f"- Inside the box, share of mass on the lung fields, {label}: {share['mean_difference']:+.1%} "
                    f"(95% interval {lo:+.1%} to {hi:+.1%}): "
                    + ("the first arm concentrates more on the lungs." if lo > 0 else
                       "the second arm concentrates more on the lungs." if hi < 0 else "no difference shown."))
if shortcut_table is not None:
    for n in names:
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
display(Markdown("\n".join(text)))
