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
# # 04 · Evaluation on the test split
#
# Both models of the study (Xception on the **processed** thorax ROI crops, and on the **original** whole
# images) scored on the release's test split, which no earlier step has read, at the decision thresholds
# chosen on validation in 03. The paper's metrics (Eq. 11–15: accuracy, sensitivity, specificity, precision,
# F1) plus ROC AUC, average precision and the Brier score, each with a 95% bootstrap interval that resamples
# **patients**; a paired comparison of the two models; confusion matrices, ROC and precision-recall curves,
# errors by pneumonia subtype, calibration; and the paper's Table 2 rebuilt with our models in front.
#
# **Inputs:** `processed.csv`, `training.json`, `models/{processed,original}.keras`, `data.json`.
# **Outputs:** `metrics.json` (per model: metrics, intervals, threshold, n; `comparison`),
# `test_predictions.csv`, figures `04_*.png`.

# %% tags=["parameters"]
run_dir = "reports/dev"
seed = 0
batch_size = 32

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from cxrlib import metrics
from cxrlib.inputs import read_images
from cxrlib.model import load_classifier, predict_proba
from cxrlib.training import IMAGE_COLUMNS

BOOTSTRAP_RESAMPLES = 2000  # patient-level resamples behind every interval
KERMANY_TEST_COUNTS = {"n_positive": 390, "n_negative": 234}  # the release's test folder: the paper's 624 images
run_dir = Path(run_dir)
figures = run_dir / "figures"
figures.mkdir(parents=True, exist_ok=True)


def show(fig, name):
    """Show a figure inline and save it under the run's figures/."""
    fig.savefig(figures / f"04_{name}.png", dpi=100, bbox_inches="tight")
    display(fig)
    plt.close(fig)


# %% [markdown]
# ## 1. Test images and predictions
#
# The test rows of `processed.csv` (the release's own test folder, untouched by training and threshold choice).
# Each model reads the column it was trained on: `processed_path` (ROI crop) or `path` (whole image).

# %%
data_info = json.loads((run_dir / "data.json").read_text())
is_synthetic = data_info["source"] == "synthetic"
training = json.loads((run_dir / "training.json").read_text())
table = pd.read_csv(run_dir / "processed.csv", keep_default_na=False)
test = table[table["subset"] == "test"].reset_index(drop=True)
y = (test["label"] == "PNEUMONIA").to_numpy(int)
groups = test["patient_id"].to_numpy()
names = list(IMAGE_COLUMNS)

scores, thresholds = {}, {}
for name, column in IMAGE_COLUMNS.items():
    model = load_classifier(run_dir / "models" / f"{name}.keras")
    images = read_images(test[column], size=model.input_shape[1])
    scores[name] = predict_proba(model, images, batch_size=batch_size)
    thresholds[name] = float(training[name]["threshold"])
predictions = {name: (scores[name] >= thresholds[name]).astype(int) for name in names}

display(Markdown(
    f"**Data:** {data_info['description']}  \n"
    + ("**These are SYNTHETIC images: nothing here is a clinical result.**  \n" if is_synthetic else "")
    + f"Test split: **{len(test)} images** of **{len(set(groups))} patients** "
    f"({int(y.sum())} PNEUMONIA, {int((1 - y).sum())} NORMAL). Thresholds chosen on validation: "
    + ", ".join(f"{n} **{thresholds[n]:.3f}**" for n in names) + "."
))

out = test[["filename", "patient_id", "label", "subtype"]].assign(y_true=y)
for name in names:
    out[f"prob_{name}"] = scores[name]
    out[f"pred_{name}"] = predictions[name]
_ = metrics.write_table(out, run_dir / "test_predictions.csv")

# %% [markdown]
# ## 2. Metrics with 95% intervals
#
# Percentile bootstrap: patients are drawn with replacement and bring all their images, so several films of
# one child do not count as independent evidence. The threshold stays the one chosen on validation.

# %%
results = {
    name: metrics.evaluate(y, scores[name], threshold=thresholds[name], groups=groups,
                           n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
    for name in names
}
display(metrics.metrics_table(results))

# %% [markdown]
# ## 3. The two models on the same images
#
# McNemar's test asks whether the images one model gets right and the other wrong are split evenly between
# them; the paired bootstrap gives the difference of every metric (processed − original) on the same resamples.

# %%
comparison = metrics.compare_models(
    y, scores["processed"], scores["original"],
    threshold_a=thresholds["processed"], threshold_b=thresholds["original"],
    groups=groups, n_boot=BOOTSTRAP_RESAMPLES, seed=seed,
)
comparison = {"a": "processed", "b": "original", **comparison}
diff = pd.DataFrame({
    "processed - original": comparison["difference"],
    "95% interval": {k: f"[{lo:+.3f}, {hi:+.3f}]" for k, (lo, hi) in comparison["difference_ci"].items()},
})
display(diff.round(3))
auc_lo, auc_hi = comparison["auc_difference_ci"]
display(Markdown(
    f"Images only the processed model gets right: **{comparison['only_a_correct']}**; only the original model: "
    f"**{comparison['only_b_correct']}**; McNemar ({comparison['mcnemar_method']}) p = "
    f"**{comparison['mcnemar_p_value']:.3g}**. AUC difference **{comparison['auc_difference']:+.3f}** "
    f"(95% interval {auc_lo:+.3f} to {auc_hi:+.3f}): "
    + ("the interval excludes 0." if auc_lo > 0 or auc_hi < 0 else "the interval includes 0, no AUC difference shown.")
))

# %% [markdown]
# ## 4. Confusion matrices

# %%
show(metrics.plot_confusion_matrices(y, predictions), "confusion_matrices")

# %% [markdown]
# ## 5. ROC and precision-recall curves

# %%
show(metrics.plot_roc_curves(y, scores), "roc")
show(metrics.plot_pr_curves(y, scores), "precision_recall")

# %% [markdown]
# ## 6. Errors by pneumonia subtype
#
# For bacterial and viral pneumonia an error is a missed pneumonia; for NORMAL it is a false alarm.
# Intervals are Wilson intervals on images.

# %%
subtype = test["subtype"].replace("", "normal").to_numpy()
by_subtype = {name: metrics.errors_by_group(y, predictions[name], subtype) for name in names}
display(pd.concat(by_subtype, axis=1).round(3))
show(metrics.plot_errors_by_group(by_subtype, title="Error rate by pneumonia subtype"), "errors_by_subtype")

# %% [markdown]
# ## 7. Calibration
#
# Whether a predicted probability of 0.8 means PNEUMONIA 8 times in 10 (points on the diagonal), and the
# Brier score (mean squared error of the probabilities; lower is better).

# %%
calibration = {name: metrics.calibration(y, scores[name]) for name in names}
show(metrics.plot_calibration(y, scores), "calibration")

# %% [markdown]
# ## 8. The paper's Table 2, rebuilt
#
# Our two models (with 95% intervals) in front of the values the paper prints in its Table 2 for itself and
# for the works it compares with, and of Kermany et al. 2018 on the same 624 test images. The cited values
# are quotations (`cxrlib.metrics.LITERATURE_TABLE2` holds them with their references); '-' where a work
# reports nothing. Epochs for our models: epochs run in 03.

# %%
ours = {name: {**results[name], "epochs": training[name].get("epochs_run")} for name in names}
table2 = metrics.paper_table2(ours)
display(table2)

paper = metrics.LITERATURE_TABLE2["Galindo-Ramirez 2022"]
implied = metrics.implied_metrics(paper["sensitivity"], paper["specificity"], **KERMANY_TEST_COUNTS)
display(Markdown(
    f"Consistency of the paper's own row on its test split (the release's {sum(KERMANY_TEST_COUNTS.values())} "
    f"test images: {KERMANY_TEST_COUNTS['n_positive']} PNEUMONIA, {KERMANY_TEST_COUNTS['n_negative']} NORMAL): "
    f"its sensitivity {paper['sensitivity']:.0%} and specificity "
    f"{paper['specificity']:.0%} imply accuracy **{implied['accuracy']:.1%}**, precision "
    f"**{implied['precision']:.1%}** and F1 **{implied['f1']:.1%}**, where it prints "
    f"{paper['accuracy']:.0%}, {paper['precision']:.0%} and {paper['f1']:.0%}."
))

# %% [markdown]
# ## 9. metrics.json
#
# Merged into `metrics.json` (05 adds its Grad-CAM figures to the same file).

# %%
updates = {
    name: {**results[name], "errors_by_subtype": by_subtype[name].reset_index().to_dict("records"),
           "calibration": calibration[name], "bootstrap_resamples": BOOTSTRAP_RESAMPLES}
    for name in names
}
updates["comparison"] = comparison
updates["data"] = {"source": data_info["source"], "description": data_info["description"]}
saved = metrics.update_json(run_dir / "metrics.json", updates)
display(Markdown(f"`metrics.json` holds: {', '.join(f'`{k}`' for k in saved)}."))

# %% [markdown]
# ## Conclusion

# %%
p, o = results["processed"], results["original"]


def headline(m):
    lo, hi = m["ci"]["accuracy"]
    return (f"accuracy {m['accuracy']:.1%} ({lo:.1%}–{hi:.1%}), sensitivity {m['sensitivity']:.1%}, "
            f"specificity {m['specificity']:.1%}, AUC {m['roc_auc']:.3f}")


better = "processed" if p["roc_auc"] > o["roc_auc"] else "original"
display(Markdown(
    ("**SYNTHETIC data.** " if is_synthetic else "")
    + f"On {p['n']} test images, the processed-image model reaches {headline(p)}; the original-image model "
    f"{headline(o)}. The {better} model has the higher AUC by {abs(comparison['auc_difference']):.3f} "
    f"(95% interval of processed − original: {auc_lo:+.3f} to {auc_hi:+.3f}); McNemar p = "
    f"{comparison['mcnemar_p_value']:.3g}. The paper reports 91% accuracy, 91% sensitivity and 86% specificity "
    f"for its processed-image model; ours differs by {100 * (p['accuracy'] - paper['accuracy']):+.1f}, "
    f"{100 * (p['sensitivity'] - paper['sensitivity']):+.1f} and {100 * (p['specificity'] - paper['specificity']):+.1f} "
    "percentage points."
))
