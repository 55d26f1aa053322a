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
# 2017) of each arm's model of every seed, measured in the frame that network saw (the whole image, or the ROI box
# for a cropped arm): the share of heatmap mass on the lung fields and where the heatmap peaks (pointing game),
# each against the chance level of that frame, compared between arms image by image; then two checks of the maps
# themselves.
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
audit_gradcam_images = 100

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from cxrlib import audit
from cxrlib import evaluation as metrics
from cxrlib.data import synthetic
from cxrlib.data import read_radiograph
from cxrlib.models import gradcam_inputs, load_classifier, read_images
from cxrlib.run.study import SYNTHETIC_NOTE, StudyRun

BOOTSTRAP_RESAMPLES = 2000
FRAME_SIZE = 256  # side of the frame the measures are taken in
RANDOMIZATION_IMAGES = 24  # of the checked images, those in the randomization check (first seed)
DELETION_STEPS = 5  # shares of the pixels deleted or inserted per curve
run = StudyRun(run_dir, step="05", work_dir=work_dir)
study_arms = run.arms(arms)
names = [a.name for a in study_arms]
pairs = [tuple(pair) for pair in compare]
first_seed = seeds[0]

# %% [markdown]
# ## 1. What is measured, and why so
#
# Every heatmap is measured in the frame its network saw: the whole radiograph for an arm without the crop, the
# ROI box for a cropped arm (which sees nothing else). Measured in the whole image instead, a cropped arm's
# heatmap could only fall inside the box and would look "more on the lungs" for free.
#
# * **Lung mass**: the share of heatmap mass on the lung-field mask of preprocessing, against its **chance
#   level**, the mask's share of the frame (what a heatmap spread evenly would put there). Arms are compared on
#   the mass *over chance*, as their frames differ.
# * **Thorax mass** (whole-image arms only): the share inside the ROI box, against the box's share of the image;
#   how much of their evidence lies outside the thorax (labels, arms, borders). For a cropped arm it is 1 by
#   construction and is not reported.
# * **Pointing game**: whether the heatmap's peak lies on the lungs (or in the box); a random peak hits with the
#   region's share of the frame.
#
# Heatmaps come from the layer `gradcam_layer` (default: the backbone's last convolutional block), are coarse, and
# are upsampled bilinearly, so some mass bleeds across region edges. Each model explains its own predicted class
# (at its validation threshold). Means are over seeds and images, with 95% intervals that resample patients and
# seeds.

# %%
trained = run.read_json("training.json")["arms"]
test = run.processed("test")
y = (test["label"] == "PNEUMONIA").to_numpy(int)
groups = test["patient_id"].to_numpy()
thresholds = {(a, s): float(trained[a]["seeds"][str(s)]["thresholds"]["youden"]) for a in names for s in seeds}
has_masks = "mask_path" in test.columns and (test["mask_path"] != "").any()

shortcut, tag_box = None, None
if run.is_synthetic:  # the generator's ground truth: which test images carry the planted tag, and where
    shortcut, tag_box = synthetic.shortcut_truth(run.data["root"], test["filename"])
    if tag_box is None:
        shortcut = None

display(Markdown(
    (SYNTHETIC_NOTE + "  \n" if run.is_synthetic else "") + f"{run.data['description']}  \n"
    f"{len(test)} test images; lung-field masks: **{'yes' if has_masks else 'none'}**; models: each arm's "
    f"{len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'}; Grad-CAM layer: **{gradcam_layer or 'the backbone default'}**."
))

# %% [markdown]
# ## 2. Grad-CAM of every arm on every test image

# %%
measures, heatmaps, regions, layers = {}, {}, {}, {}
models = {(arm.name, s): load_classifier(run.model_path(arm.name, s)) for arm in study_arms for s in seeds}
for arm in study_arms:
    images = read_images(test[arm.column], size=models[arm.name, first_seed].input_shape[1], progress=False)
    for s in seeds:
        model = models[arm.name, s]
        layer = audit.find_layer(model, gradcam_layer)
        layers[arm.name] = layer.name
        if tag_box is not None:
            # the tag is small next to a heatmap cell: measure on its box grown by half a cell of the layer
            regions = {"shortcut_spot": [audit.expand_box(tag_box, 0.5 / layer.output.shape[1])] * len(test)}
        # a layer after a cached frozen prefix is explained on the prefix's features, computed once in 04
        explained, inputs = gradcam_inputs(
            model, images, settings=trained[arm.name]["seeds"][str(s)]["settings"], layer_name=layer.name,
            work_dir=work_dir, batch_size=batch_size)
        measures[arm.name, s], heatmaps[arm.name, s] = audit.measure_gradcam(
            test, explained, image_column=arm.column, crop=arm.roi, frame_size=FRAME_SIZE, regions=regions,
            layer_name=layer.name, threshold=thresholds[arm.name, s], batch_size=batch_size, inputs=inputs,
            progress=False)

cells = {n: heatmaps[n, first_seed].shape[1] for n in names}
display(Markdown(
    "Heatmap resolution: " + ", ".join(f"{n} {c}x{c} cells ({layers[n]})" for n, c in cells.items())
    + (" — coarse: each cell spans more than 1/7 of the model's input side, so small structures (markers, labels) "
       "cannot be told apart from their surroundings; an earlier layer (`gradcam_layer`) gives finer maps."
       if min(cells.values()) < 7 else ".")
))

# the forward pass of Grad-CAM scores the images again: it must agree with 04
predicted = run.read_csv("test_predictions.csv")
agreement = 0.0
for (n, s), m in measures.items():
    of_model = predicted[(predicted["arm"] == n) & (predicted["seed"] == s)]
    if not (of_model["filename"].to_numpy() == test["filename"].to_numpy()).all():
        raise ValueError("test_predictions.csv does not list the test images of processed.csv in order; rerun 04")
    agreement = max(agreement, float(np.abs(m["probability"].to_numpy() - of_model["score"].to_numpy()).max()))
display(Markdown(f"Largest difference from the probabilities of 04: {agreement:.1e} (zero when the explained layer "
                 "follows a cached frozen part: Grad-CAM then runs on 04's features; otherwise up to their float16 "
                 "rounding)."))

long = pd.concat(
    [test[["filename", "patient_id", "label", "subtype"]].assign(
        arm=n, seed=s, threshold=thresholds[n, s],
        correct=(m["probability"] >= thresholds[n, s]).astype(int) == y,
    ).join(m) for (n, s), m in measures.items()],
    ignore_index=True,
)
_ = run.write_csv(long, "gradcam.csv")
per_seed = {n: [measures[n, s] for s in seeds] for n in names}

# %% [markdown]
# ## 3. The paper's Fig. 8 on our arms
#
# The same patients under every arm (first seed): both classes, right and wrong predictions of the first compared
# pair. Columns: the whole image with the ROI box, then each arm's heatmap placed where that arm looked.

# %%
pred = {n: (measures[n, first_seed]["probability"].to_numpy() >= thresholds[n, first_seed]).astype(int)
        for n in names}
a, b = pairs[0] if pairs else (names[0], names[0])
chosen = audit.select_examples(y, pred[a], pred[b], n=gradcam_examples, seed=seed)
examples = []
for i in chosen:
    row = test.iloc[i]
    examples.append({
        "image": read_radiograph(row["path"]),
        "box": tuple(row[c] for c in audit.ROI_COLUMNS),
        "heatmaps": {n: heatmaps[n, first_seed][i] for n in names},
        "cropped": {x.name: x.roi for x in study_arms},
        "title": row["label"] + "".join(f"\n{n} {'right' if pred[n][i] == y[i] else 'wrong'}" for n in (a, b)),
    })
run.show(audit.plot_examples(examples), "fig8_examples")

# %% [markdown]
# ## 4. Where the heatmap mass falls, per arm
#
# Mean over seeds and images (95% interval over patients and seeds); each mass next to its frame's chance level.

# %%
summary = {n: audit.summarize_measures(per_seed[n], groups=groups, n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
           for n in names}
display(audit.summary_table(summary))
run.show(audit.plot_measure_distributions({n: measures[n, first_seed] for n in names}), "mass_distributions")

# %% [markdown]
# ## 5. Paired tests
#
# For each compared pair, the per-image differences (a − b) of each mass **over its own frame's chance**, averaged
# over seeds: the Wilcoxon signed-rank test on them, and the mean difference with an interval over patients and
# seeds (the Wilcoxon test itself treats images as independent).

# %%
paired = {f"{a} - {b}": audit.compare_measures(per_seed[a], per_seed[b], groups=groups,
                                                 n_boot=BOOTSTRAP_RESAMPLES, seed=seed) for a, b in pairs}
for label, result in paired.items():
    display(Markdown(f"**{label}**"))
    if not result:
        display(Markdown("No image where both models' heatmaps have mass (a heatmap that is zero everywhere has no "
                         "measures): nothing to compare."))
        continue
    table = pd.DataFrame(result).T.rename(index=audit.MEASURE_LABELS)
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
        evidence[(n, "heatmap mass on the spot")] = audit.compare_groups(
            measures[n, first_seed]["mass_in_shortcut_spot"].to_numpy(), shortcut)
        evidence[(n, "P(PNEUMONIA)")] = audit.compare_groups(measures[n, first_seed]["probability"].to_numpy(),
                                                                shortcut)
        evidence[(n, "accuracy")] = audit.compare_groups((pred[n] == y).astype(float), shortcut)
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
# Two checks of the maps themselves, on a seeded sample of test images of both classes:
#
# * **Randomization** (Adebayo et al. 2018), first seed, PNEUMONIA explained: the classifier's head is
#   re-initialised, then successively deeper blocks (each weight redrawn with its trained mean and SD); the maps are
#   recomputed and compared with the trained model's by Spearman rank correlation. A map that stays the same when
#   the weights behind the decision are destroyed shows the image, not the model: correlations should fall towards 0.
# * **Deletion and insertion** (Petsiuk et al. 2018), every seed: the most salient pixels of the model's input are
#   replaced by one grey level (the mean of the arm's training inputs; deletion), or revealed on an image of that
#   grey level (insertion), in equal steps, and the **logit** of the explained class is followed (the probability
#   saturates near 1 and barely moves). The area under the curve is compared, image by image, with a random order
#   of the pixels: a faithful map deletes faster and inserts faster than random. The verdict is read from the
#   interval of that gain (over patients and seeds): **faithful** when it lies above 0, **worse than random** when
#   below, **not shown** otherwise; deletion and insertion each get their own.

# %%
check = audit.audit_sample(test, audit_gradcam_images, seed=seed)
check_rows = np.flatnonzero(test["filename"].isin(check["filename"]).to_numpy())  # positions, in test order
train_rows = run.processed("train")
randomization, faithfulness, curves = {}, {}, {}
for arm in study_arms:
    size = models[arm.name, first_seed].input_shape[1]
    images = read_images(test.iloc[check_rows][arm.column], size=size, progress=False)
    fill = audit.input_fill(train_rows[arm.column], size=size, seed=seed)
    first_pneumonia = [i for i, r in enumerate(check_rows) if y[r] == 1][:RANDOMIZATION_IMAGES]
    randomization[arm.name] = audit.randomization_check(models[arm.name, first_seed], images[first_pneumonia],
                                                          layer_name=layers[arm.name], seed=seed)
    curves[arm.name] = [audit.deletion_insertion(
        models[arm.name, s], images, heatmaps[arm.name, s][check_rows],
        explained=measures[arm.name, s]["explained_class"].to_numpy()[check_rows], fill=fill, steps=DELETION_STEPS,
        seed=seed) for s in seeds]
    faithfulness[arm.name] = audit.faithfulness_summary(curves[arm.name], groups=groups[check_rows],
                                                          n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
display(Markdown(f"Randomization: {len(first_pneumonia)} PNEUMONIA test images; Spearman correlation of the maps with "
                 "the trained model's after randomizing the head and then each deeper block in turn (mean over images):"))
display(pd.DataFrame({a: r.set_index("stage")["spearman_mean"] for a, r in randomization.items()}).round(3))
display(Markdown(f"Deletion and insertion: {len(check_rows)} test images ({int(y[check_rows].sum())} PNEUMONIA), "
                 f"{len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'}, {DELETION_STEPS} steps; areas under the "
                 "explained class's logit (mean over seeds and images), and how much the map beats the random order "
                 "(95% interval over patients and seeds):"))
display(audit.faithfulness_table(faithfulness))
run.show(audit.plot_faithfulness(randomization, faithfulness), "checks")

# %% [markdown]
# ## 8. metrics.json and conclusion

# %%
updates = {"gradcam": {n: {**summary[n], "layer": layers[n], "seeds": [int(x) for x in seeds],
                           "frame": "the ROI box" if next(a.roi for a in study_arms if a.name == n) else "the whole image",
                           "frame_size": FRAME_SIZE,
                           "randomization_spearman": dict(zip(randomization[n]["stage"],
                                                              randomization[n]["spearman_mean"])),
                           "faithfulness": faithfulness[n]}
                       for n in names},
           "gradcam_comparisons": paired}
if shortcut_table is not None:
    updates["gradcam_shortcut"] = {f"{arm} | {what}": row for (arm, what), row in evidence.items()}
_ = metrics.update_json(run.dir / "metrics.json", updates)

text = [("**SYNTHETIC data.** " if run.is_synthetic else "")
        + f"Over {len(test)} test images, each heatmap in its own network's frame:"]
for arm in study_arms:
    text.append(f"- **{arm.name}**: {audit.gradcam_sentence(summary[arm.name], faithfulness[arm.name], randomization[arm.name], cropped=arm.roi)}")
for label, result in paired.items():
    lung = result.get("lung_mass_over_chance")
    if lung:
        lo, hi = lung["mean_difference_ci"]
        text.append(f"- Lung mass over chance, {label}: {lung['mean_difference']:+.3f} (95% interval {lo:+.3f} to "
                    f"{hi:+.3f}): " + ("the first arm concentrates more on the lungs." if lo > 0 else
                                       "the second arm concentrates more on the lungs." if hi < 0 else
                                       "no difference detected."))
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
