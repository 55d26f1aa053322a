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
# # 05 · Grad-CAM: where each model looks
#
# The paper shows (its Fig. 8) that the model trained on the thorax ROI crops "looks inside the rib cage",
# while the model trained on the original images draws on labels, arms and the image borders. Here the same
# comparison is made on every test image and **measured**: Grad-CAM (Selvaraju et al. 2017) of each model,
# mapped into one whole-image frame (the processed model's heatmap, computed on its crop, is placed back into
# the ROI box), then the share of heatmap mass inside the ROI box, inside the lung-field mask, and where the
# heatmap peaks (pointing game), compared between the two models image by image.
#
# **Inputs:** `processed.csv`, `training.json`, `models/*.keras`, `test_predictions.csv` (04), `data.json`.
# **Outputs:** `gradcam.csv` (one row per test image and model), `gradcam` entries in `metrics.json`,
# figures `05_*.png`.

# %% tags=["parameters"]
run_dir = "reports/dev"
seed = 0
batch_size = 32
gradcam_layer = None
gradcam_examples = 8

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from cxrlib import gradcam, metrics
from cxrlib.data import read_radiograph
from cxrlib.model import load_classifier
from cxrlib.training import IMAGE_COLUMNS

BOOTSTRAP_RESAMPLES = 2000
FRAME_SIZE = 256  # side of the whole-image frame the measures are taken in
run_dir = Path(run_dir)
figures = run_dir / "figures"
figures.mkdir(parents=True, exist_ok=True)


def show(fig, name):
    """Show a figure inline and save it under the run's figures/."""
    fig.savefig(figures / f"05_{name}.png", dpi=100, bbox_inches="tight")
    display(fig)
    plt.close(fig)


# %% [markdown]
# ## 1. What is measured, and why so
#
# Both heatmaps are compared in the frame of the whole radiograph. The original-image model's heatmap covers
# the whole frame; the processed model sees only the ROI crop, so its heatmap is resized to the ROI box and
# placed there, zero elsewhere. Consequences for the measures:
#
# * **mass in ROI** (share of heatmap mass inside the thorax box): for the processed model it is 1 *by
#   construction* (it cannot look elsewhere). It is the informative number for the original model: how much
#   of its evidence comes from outside the thorax (labels, arms, borders). The pointing game in the box is
#   likewise always a hit for the processed model.
# * **mass in mask** (inside the lung-field mask of preprocessing, when there is one) is not trivial for
#   either model.
# * **mask share in ROI** (of the mass *inside the box*, the share on the lung fields) compares *where inside
#   the thorax* each model looks, with the same chance level for both (mask area / box area): the fair
#   comparison of the two models.
#
# Heatmaps come from the layer `gradcam_layer` (default: Xception's last block, 1/32 of the input side), are
# coarse, and are upsampled bilinearly, so some mass bleeds across region edges. Each model explains its own
# predicted class (at its validation threshold).

# %%
data_info = json.loads((run_dir / "data.json").read_text())
is_synthetic = data_info["source"] == "synthetic"
training = json.loads((run_dir / "training.json").read_text())
table = pd.read_csv(run_dir / "processed.csv", keep_default_na=False)
test = table[table["subset"] == "test"].reset_index(drop=True)
y = (test["label"] == "PNEUMONIA").to_numpy(int)
groups = test["patient_id"].to_numpy()
names = list(IMAGE_COLUMNS)
thresholds = {name: float(training[name]["threshold"]) for name in names}
has_masks = "mask_path" in test.columns and (test["mask_path"] != "").any()

shortcut, tag_box = None, None
if is_synthetic:
    # the generator's ground truth: which test images carry the planted tag, and where (always the same spot)
    facts = json.loads((Path(data_info["root"]) / "synthetic.json").read_text())
    by_name = {Path(r["path"]).name: r for r in facts["images"]}
    records = [by_name[f] for f in test["filename"]]
    side = facts["parameters"]["size"]
    tag_boxes = [r["marker_boxes"][-1] for r in records if r["has_shortcut"]]
    if tag_boxes:
        tag_box = tuple(v / side for v in tag_boxes[0])
        shortcut = np.array([r["has_shortcut"] for r in records])

display(Markdown(
    ("**SYNTHETIC data.** " if is_synthetic else "") + f"{data_info['description']}  \n"
    f"{len(test)} test images; lung-field masks: **{'yes' if has_masks else 'none'}**; Grad-CAM layer: "
    f"**{gradcam_layer or gradcam.DEFAULT_LAYER + ' (default)'}**."
))

# %% [markdown]
# ## 2. Grad-CAM of both models on every test image

# %%
measures, heatmaps, regions = {}, {}, {}
for name, column in IMAGE_COLUMNS.items():
    model = load_classifier(run_dir / "models" / f"{name}.keras")
    if tag_box is not None:
        # the tag is small next to a heatmap cell: measure on its box grown by half a cell of the layer
        side_cells = gradcam.find_layer(model, gradcam_layer).output.shape[1]
        regions = {"shortcut_spot": [gradcam.expand_box(tag_box, 0.5 / side_cells)] * len(test)}
    measures[name], heatmaps[name] = gradcam.measure_gradcam(
        test, model, image_column=column, crop=(name == "processed"), frame_size=FRAME_SIZE, regions=regions,
        layer_name=gradcam_layer, threshold=thresholds[name], batch_size=batch_size,
    )

cells = {n: heatmaps[n].shape[1] for n in names}
display(Markdown(
    "Heatmap resolution: " + ", ".join(f"{n} model {c}x{c} cells" for n, c in cells.items())
    + (" — coarse: each cell spans more than 1/7 of the model's input side, so small structures (markers, labels) "
       "cannot be told apart from their surroundings; an earlier layer (`gradcam_layer`) gives finer maps."
       if min(cells.values()) < 7 else ".")
))

# the forward pass of Grad-CAM scores the images again: it must agree with 04
predicted = pd.read_csv(run_dir / "test_predictions.csv", keep_default_na=False)
if not (predicted["filename"].to_numpy() == test["filename"].to_numpy()).all():
    raise ValueError("test_predictions.csv does not list the test images of processed.csv in order; rerun 04")
agreement = max(float(np.abs(measures[n]["probability"] - predicted[f"prob_{n}"]).max()) for n in names)
display(Markdown(f"Largest difference from the probabilities of 04: {agreement:.1e}."))

long = pd.concat(
    [test[["filename", "patient_id", "label", "subtype"]].assign(
        model=name, threshold=thresholds[name],
        correct=(measures[name]["probability"] >= thresholds[name]).astype(int) == y,
    ).join(measures[name]) for name in names],
    ignore_index=True,
)
_ = metrics.write_table(long, run_dir / "gradcam.csv")

# %% [markdown]
# ## 3. The paper's Fig. 8 on our models
#
# The same patients under both models: both classes, right and wrong predictions. Columns: the whole image
# with the ROI box; the processed model's heatmap on its own input (the crop, as the paper shows it); that
# heatmap placed back into the whole image; the original-image model's heatmap.

# %%
pred = {n: (measures[n]["probability"].to_numpy() >= thresholds[n]).astype(int) for n in names}
chosen = gradcam.select_examples(y, pred["processed"], pred["original"], n=gradcam_examples, seed=seed)
examples = []
for i in chosen:
    row = test.iloc[i]
    verdict = {n: "right" if pred[n][i] == y[i] else "wrong" for n in names}
    examples.append({
        "image": read_radiograph(row["path"]),
        "crop": read_radiograph(row["processed_path"]),
        "box": tuple(row[c] for c in gradcam.ROI_COLUMNS),
        "heatmap_processed": heatmaps["processed"][i],
        "heatmap_original": heatmaps["original"][i],
        "title": f"{row['label']}\nprocessed {verdict['processed']}\noriginal {verdict['original']}",
    })
show(gradcam.plot_examples(examples), "fig8_examples")

# %% [markdown]
# ## 4. Where the heatmap mass falls, per model

# %%
summary = {name: gradcam.summarize_measures(measures[name], groups=groups, n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
           for name in names}
display(gradcam.summary_table(summary))
show(gradcam.plot_measure_distributions(measures), "mass_distributions")

# %% [markdown]
# ## 5. Paired tests
#
# Wilcoxon signed-rank test on the per-image differences (processed − original) of each measure; the mean
# difference has a patient-bootstrap interval (the Wilcoxon test itself treats images as independent).

# %%
paired = gradcam.compare_measures(measures["processed"], measures["original"], groups=groups,
                                  n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
display(pd.DataFrame(paired).T[["n", "n_nonzero", "median_difference", "mean_difference", "mean_difference_ci",
                                "statistic", "p_value"]])

# %% [markdown]
# ## 6. The planted shortcut (synthetic data only)
#
# In the synthetic training split a bright tag at a fixed spot outside the thorax goes with PNEUMONIA; in the
# test split it is on half the images of each class, independent of the label. A model that learned the tag
# (a) puts heatmap mass on that spot when the tag is there, and (b) gives higher P(PNEUMONIA) to tagged images.
# Both are compared between tagged and untagged test images (Mann-Whitney U). The spot is the tag's box grown
# by half a heatmap cell, the same spot on every image.

# %%
shortcut_table = None
if shortcut is not None:
    evidence = {}
    for name in names:
        evidence[(name, "heatmap mass on the spot")] = gradcam.compare_groups(
            measures[name]["mass_in_shortcut_spot"].to_numpy(), shortcut)
        evidence[(name, "P(PNEUMONIA)")] = gradcam.compare_groups(measures[name]["probability"].to_numpy(), shortcut)
        evidence[(name, "accuracy")] = gradcam.compare_groups((pred[name] == y).astype(float), shortcut)
    shortcut_table = pd.DataFrame(evidence).T.rename(columns={"mean_in": "tag present", "mean_out": "tag absent"})
    display(shortcut_table[["n_in", "n_out", "tag present", "tag absent", "difference", "p_value"]])
    spot = regions["shortcut_spot"][0]
    spot_area = (spot[2] - spot[0]) * (spot[3] - spot[1])
    display(Markdown(f"The spot is {spot_area:.1%} of the image: a heatmap spread evenly would put that share of "
                     "its mass there."))
else:
    display(Markdown("Not synthetic data with a planted shortcut: nothing to measure here."))

# %% [markdown]
# ## 7. metrics.json and conclusion

# %%
updates = {name: {"gradcam": {**summary[name], "layer": gradcam_layer or gradcam.DEFAULT_LAYER,
                              "frame_size": FRAME_SIZE}} for name in names}
updates["comparison"] = {"gradcam": paired}
if shortcut_table is not None:
    updates["gradcam_shortcut"] = {f"{model} | {what}": row for (model, what), row in evidence.items()}
_ = metrics.update_json(run_dir / "metrics.json", updates)

p_sum, o_sum = summary["processed"], summary["original"]
roi_test = paired.get("mass_in_roi")
text = [("**SYNTHETIC data.** " if is_synthetic else "")
        + f"Over {len(test)} test images, the original-image model puts on average "
        f"**{o_sum['mass_in_roi_mean']:.1%}** of its heatmap mass inside the thorax box "
        f"(95% interval {o_sum['mass_in_roi_ci'][0]:.1%}–{o_sum['mass_in_roi_ci'][1]:.1%}; a heatmap spread evenly "
        f"would put {measures['original']['roi_area'].mean():.1%} there), so "
        f"**{1 - o_sum['mass_in_roi_mean']:.1%}** falls outside it, and its maximum lies in the box for "
        f"**{o_sum['pointing_hit_rate']:.1%}** of the images. The processed model sees only the box "
        f"(100% by construction)"
        + (f"; Wilcoxon p = {roi_test['p_value']:.3g}." if roi_test else ".")]
share = paired.get("mask_share_in_roi")
if share:
    chance = measures["processed"]["mask_share_in_roi_chance"].mean()
    lo, hi = share["mean_difference_ci"]
    text.append(
        f"Inside the box, the share of mass on the lung fields is **{p_sum['mask_share_in_roi_mean']:.1%}** for the "
        f"processed model and **{o_sum['mask_share_in_roi_mean']:.1%}** for the original one (chance "
        f"{chance:.1%}); difference {share['mean_difference']:+.1%} (95% interval {lo:+.1%} to {hi:+.1%}), "
        f"Wilcoxon p = {share['p_value']:.3g}: "
        + ("the processed model concentrates more on the lungs." if lo > 0 else
           "the original model concentrates more on the lungs." if hi < 0 else
           "no difference shown between the models inside the thorax.")
    )
if shortcut_table is not None:
    for name in names:
        mass, prob = evidence[(name, "heatmap mass on the spot")], evidence[(name, "P(PNEUMONIA)")]
        looks = mass["difference"] > 0 and mass["p_value"] < 0.05
        follows = prob["difference"] > 0 and prob["p_value"] < 0.05
        text.append(
            f"Planted shortcut, {name} model: with the tag present it puts **{mass['mean_in']:.1%}** "
            f"of its heatmap mass on the tag spot, {mass['mean_out']:.1%} without (spot area {spot_area:.1%}; "
            f"p = {mass['p_value']:.2g}); mean P(PNEUMONIA) {prob['mean_in']:.2f} with the tag and "
            f"{prob['mean_out']:.2f} without (p = {prob['p_value']:.2g}). "
            + ("It looks at the marker and its predictions follow it." if looks and follows else
               "Its predictions follow the marker, but the heatmap does not show it at this layer." if follows else
               "Its heatmap goes to the marker, but its predictions do not follow it." if looks else
               "By these measures it does not use the marker.")
        )
display(Markdown("\n\n".join(text)))
