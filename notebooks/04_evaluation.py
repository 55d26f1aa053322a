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
# Every arm of the study, each trained once per seed, scored on the release's test split, which no earlier step
# has read, at operating points chosen on validation in 03. The paper's metrics (Eq. 11–15: accuracy,
# sensitivity, specificity, precision, F1) plus ROC AUC and average precision, as the **mean over seeds** with
# the **SD between seeds** and a 95% bootstrap interval that resamples **patients and seeds together**; every arm
# at **three operating points**, with how far each moves between seeds; with and without the images whose ROI fell back to the whole image; paired comparisons of
# arms per seed; confusion matrices, ROC and precision-recall curves, errors by pneumonia subtype, calibration;
# and the paper's Table 2 rebuilt with our arms in front.
#
# **Inputs:** `processed.csv`, `training.json`, the models in `work_dir`, `data.json`.
# **Outputs:** `metrics.json` (`arms`, `comparisons`), `test_predictions.csv` (one row per image, arm and seed),
# figures `04_*.png`.

# %% tags=["parameters"]
run_dir = "reports/dev"
work_dir = "data/work"
arms = {"original": {"clahe": False, "roi": False}, "paper": {"clahe": True, "roi": True}}
seeds = [0]
compare = [["paper", "original"]]
evaluation_sets = {}
audit_images = 300
seed = 0
batch_size = 32

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from cxrlib import audit
from cxrlib import evaluation as metrics
from cxrlib.data import synthetic
from cxrlib.models import load_classifier, predict_scores, read_images
from cxrlib.preprocess import PreprocessConfig
from cxrlib.run.study import SYNTHETIC_NOTE, StudyRun, interval, percent

BOOTSTRAP_RESAMPLES = 2000  # patient-level resamples behind every interval
KERMANY_TEST_COUNTS = {"n_positive": 390, "n_negative": 234}  # the release's test folder: the paper's 624 images
run = StudyRun(run_dir, step="04", work_dir=work_dir)
study_arms = run.arms(arms)
names = [a.name for a in study_arms]
pairs = [tuple(pair) for pair in compare]

# %% [markdown]
# ## 1. Test images and predictions
#
# The test rows of `processed.csv` (the release's own test folder, untouched by training and threshold choice).
# Each arm's models read that arm's images.

# %%
trained = run.read_json("training.json")["arms"]
test = run.processed("test")
y = (test["label"] == "PNEUMONIA").to_numpy(int)
models = {(a.name, s): load_classifier(run.model_path(a.name, s)) for a in study_arms for s in seeds}
thresholds = {a.name: {s: trained[a.name]["seeds"][str(s)]["thresholds"] for s in seeds} for a in study_arms}
input_size = next(iter(models.values())).input_shape[1]


def score(arm, s, images):
    """P(pneumonia) of one arm's model of one seed (the frozen part's features are cached per arm)."""
    return predict_scores(models[arm, s], images, settings=trained[arm]["seeds"][str(s)]["settings"],
                          work_dir=work_dir, batch_size=batch_size, progress=False)


rows = []
for arm in study_arms:
    images = read_images(test[arm.column], size=input_size)
    for s in seeds:
        record = trained[arm.name]["seeds"][str(s)]
        score_ = score(arm.name, s, images)
        rows.append(test[["filename", "patient_id", "label", "subtype", "fallback", "implausible"]].assign(
            y_true=y, arm=arm.name, seed=s, score=score_,
            predicted=(score_ >= record["thresholds"]["youden"]).astype(int)))
predictions = pd.concat(rows, ignore_index=True)
for column in ("fallback", "implausible"):
    predictions[column] = predictions[column].astype(str).str.lower().eq("true")
_ = run.write_csv(predictions, "test_predictions.csv")

display(Markdown(
    f"**Data:** {run.data['description']}  \n" + (SYNTHETIC_NOTE + "  \n" if run.is_synthetic else "")
    + f"Test split: **{len(test)} images** of **{test['patient_id'].nunique()} patients** "
    f"({int(y.sum())} PNEUMONIA, {int((1 - y).sum())} NORMAL); {len(study_arms)} arms × {len(seeds)} seed(s) = "
    f"{len(study_arms) * len(seeds)} models."
))

# %% [markdown]
# ## 2. Which figures can lead: how far each threshold rule moves between seeds
#
# Every threshold is chosen on validation, never on test. Validation scores can be so well separated that very
# different thresholds classify them equally well; then a rule's threshold, and the specificity it gives on
# test, move from seed to seed, and a difference between arms at that rule is a difference of where the
# thresholds fell. A rule leads the report only when its between-seed SD of specificity is at most
# 3 points in every arm (a rule fixed before the results were read); otherwise the headline is threshold-free:
# ROC AUC and average precision. Cells of the tables below read *mean over seeds ± SD between seeds (95%
# interval)*; the interval resamples patients (all their images come along) and seeds together.

# %%
evaluation = metrics.evaluate_arms(predictions, thresholds, pairs=pairs, n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
records = evaluation["arms"]
headline_point = evaluation["headline"]["point"]
display(metrics.stability_table(evaluation["operating_point_stability"]))
display(Markdown(
    f"**Headline:** the {metrics.OPERATING_POINTS[headline_point]} (its specificity moves at most "
    f"{100 * evaluation['headline']['max_specificity_sd'][headline_point]:.1f} points between seeds)." if headline_point
    else "**Headline: threshold-free.** " + (
        "With one seed no between-seed spread is measured, so no threshold rule can be shown stable"
        if len(seeds) == 1 else "No threshold rule keeps its specificity within 3 points between seeds ("
        + ", ".join(f"{p}: up to {100 * v:.1f}" for p, v in evaluation["headline"]["max_specificity_sd"].items()) + ")")
    + ": the ranking figures (ROC AUC, average precision) lead and every thresholded figure is read with its spread."))
display(metrics.arms_table(records, point=headline_point or "youden"))

# %% [markdown]
# ## 3. Three operating points
#
# The same models at a fixed 0.5, at the Youden threshold and at the validation threshold that keeps sensitivity
# ≥ 0.95. ROC AUC and average precision do not depend on the threshold; what changes between the tables is how
# the errors are traded. A difference between arms that holds at one point and not at another is a difference of
# operating point, not of ranking.

# %%
for point, meaning in metrics.OPERATING_POINTS.items():
    display(Markdown(f"**{point}**: {meaning}"))
    display(metrics.arms_table(records, point=point))

# %% [markdown]
# ## 4. Arms compared on the same images
#
# The AUC difference (threshold-free) is averaged over seeds with a paired interval that resamples patients and
# seeds. It says one of three things: one arm ranks better (the interval excludes 0); the two are **equivalent**
# (the interval lies inside ±0.02, a margin fixed beforehand); or **no difference was detected**, which is not
# equality: the last column gives the smallest difference the study would detect with 80% power at the 5% level
# (2.8 standard errors of the difference). Per seed, McNemar's test asks whether the images one arm gets right
# and the other wrong are split evenly between them (at each arm's Youden threshold).

# %%
display(metrics.comparisons_table(evaluation["comparisons"]) if evaluation["comparisons"]
        else Markdown("One arm: nothing to compare."))

# %% [markdown]
# ## 5. Without the ROI's failures
#
# Where the ROI found no lung field, the crop is the whole image; where it found an implausible box (notebook 02),
# the crop frames the chest unlike the others. Either way a model could learn the framing. The same metrics on the
# test images whose ROI neither fell back nor was flagged; the same images are left out for every arm, with or
# without a crop, so the comparison stays paired.

# %%
failed = predictions.drop_duplicates("filename")
display(Markdown(", ".join(f"{label}: {int(g.fallback.sum())} fallbacks and {int(g.implausible.sum())} implausible "
                           f"boxes of {len(g)}" for label, g in failed.groupby("label")) + " test images."))
if (failed["fallback"] | failed["implausible"]).any():
    display(metrics.arms_table(records, point="without_fallback"))

# %% [markdown]
# ## 6. Confusion matrices, ROC and precision-recall curves
#
# The first seed's model of each arm, at its Youden threshold.

# %%
first = predictions[predictions["seed"] == seeds[0]]
scores = {a: first.loc[first["arm"] == a, "score"].to_numpy() for a in names}
hard = {a: first.loc[first["arm"] == a, "predicted"].to_numpy() for a in names}
run.show(metrics.plot_confusion_matrices(y, hard), "confusion_matrices")
run.show(metrics.plot_roc_curves(y, scores), "roc")
run.show(metrics.plot_pr_curves(y, scores), "precision_recall")

# %% [markdown]
# ## 7. Errors by pneumonia subtype
#
# Two different error rates: for NORMAL images the false-positive rate (called PNEUMONIA), for PNEUMONIA images
# the miss rate (called NORMAL), per subtype. First seed, Youden threshold; Wilson intervals on images.

# %%
subtype = np.where(test["label"] == "NORMAL", "NORMAL", test["subtype"].replace("", "subtype not stated"))
by_subtype = {a: metrics.errors_by_group(y, hard[a], subtype) for a in names}
display(pd.concat(by_subtype, axis=1).round(3))
run.show(metrics.plot_errors_by_group(by_subtype, title="Errors by class and pneumonia subtype (first seed)"),
         "errors_by_subtype")

# %% [markdown]
# ## 8. Calibration
#
# Whether a predicted probability of 0.8 means PNEUMONIA 8 times in 10 (points on the diagonal), and the Brier
# score (mean squared error of the probabilities; lower is better). First seed of each arm. Equal-width score
# bins, a bin with too few images merged into the next (the figure's title gives the rule), so that no point
# rests on a handful of images; each point shows its number of images and the 95% Wilson interval of its
# observed fraction.

# %%
calibration = {a: metrics.calibration(y, scores[a]) for a in names}
run.show(metrics.plot_calibration(y, scores), "calibration")

# %% [markdown]
# ## 9. The paper's Table 2, rebuilt
#
# Our arms (means over seeds with 95% intervals) in front of the values the paper prints in its Table 2 for
# itself and the works it compares with; the Kermany et al. 2018 column is **our addition** (quoted from its own
# text, same 624 test images). Cited values are quotations (`cxrlib.metrics.LITERATURE_TABLE2`); '-' where a work
# reports nothing. Epochs for our models: epochs run in 03.

# %%
ours = {a: {**records[a], **metrics.trained_as(trained, a)} for a in names}
display(metrics.paper_table2(ours))
paper = metrics.LITERATURE_TABLE2["Galindo-Ramirez 2022"]
implied = metrics.implied_metrics(paper["sensitivity"], paper["specificity"], **KERMANY_TEST_COUNTS)
display(Markdown(
    f"Consistency of the paper's own row on its test split (the release's {sum(KERMANY_TEST_COUNTS.values())} "
    f"test images: {KERMANY_TEST_COUNTS['n_positive']} PNEUMONIA, {KERMANY_TEST_COUNTS['n_negative']} NORMAL): "
    f"its sensitivity {paper['sensitivity']:.0%} and specificity {paper['specificity']:.0%} imply accuracy "
    f"**{implied['accuracy']:.1%}**, precision **{implied['precision']:.1%}** and F1 **{implied['f1']:.1%}**, "
    f"where it prints {paper['accuracy']:.0%}, {paper['precision']:.0%} and {paper['f1']:.0%}."
))

# %% [markdown]
# ## 10. How much a trivial model already gets
#
# A logistic regression on nine global statistics of each image file (the JPEG's size in bytes; grey-level mean, SD,
# 5th and 95th percentiles; mean and SD of a border band and of the central half) plus the source size and aspect
# ratio, standardised and class-balanced, fitted on train, its threshold chosen on validation, scored on test. It
# sees no anatomy: what it reaches comes from exposure, compression and framing, which differ between the classes
# for reasons that are not the disease. Each arm's AUC gain over this floor is paired on the same test images.

# %%
floor = audit.trivial_floor(run.processed(), seed=seed, n_boot=BOOTSTRAP_RESAMPLES)
trivial = floor["record"]
gains = {}
for a in names:
    arm_scores = [predictions.loc[(predictions.arm == a) & (predictions.seed == s), "score"].to_numpy() for s in seeds]
    gains[a] = metrics.compare_seeds(y, arm_scores, [floor["scores"]["test"]] * len(seeds),
                                     [thresholds[a][s]["youden"] for s in seeds], [floor["threshold"]] * len(seeds),
                                     groups=test["patient_id"].to_numpy(), n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
display(pd.DataFrame(
    [{"model": "trivial floor (image statistics)", "ROC AUC": f"{trivial['roc_auc']:.3f} "
      f"({interval(trivial['ci']['roc_auc'], as_percent=False)})", "gain over the floor": "-"}]
    + [{"model": a, "ROC AUC": f"{records[a]['roc_auc']:.3f} ({interval(records[a]['ci']['roc_auc'], as_percent=False)})",
        "gain over the floor": f"{gains[a]['auc_difference']:+.3f} ({gains[a]['auc_difference_ci'][0]:+.3f} to "
                               f"{gains[a]['auc_difference_ci'][1]:+.3f})"} for a in names]).set_index("model"))
display(Markdown(
    f"The trivial floor reaches ROC AUC **{trivial['roc_auc']:.3f}** on the test split (accuracy "
    f"{percent(trivial['accuracy'])} at its validation threshold); the file size alone ranks the test images with "
    f"AUC **{floor['file_size_roc_auc']:.3f}** ({'larger' if floor['larger_files_pneumonia'] else 'smaller'} files "
    "are more often PNEUMONIA in train). " + ("On synthetic data the floor measures how separable the generator makes the "
                                         "classes without anatomy." if run.is_synthetic else
                                         "What the networks add is the gain over this floor, not their whole AUC.")))

# %% [markdown]
# ## 11. Does the decision need the thorax?
#
# A seeded, class-stratified sample of the test images, perturbed on the radiograph before each arm's own
# preprocessing (the ROI box is the one found on the unperturbed image): **thorax blanked** (the box filled),
# **mask blanked** (the lung-field mask, dilated by 3% of the side, filled), **thorax only** (everything outside
# the box filled), and **swap** (the box replaced by the box of a test image of the other class). The fill is one
# grey level for the whole run, the mean of 200 training radiographs (and, after CLAHE, of the same radiographs
# equalized): it depends on no test image and no class, so whatever AUC remains comes from what is kept. AUC is
# taken against the label of the thorax shown (the donor's under swap). A model whose AUC stays above 0.5 with the
# thorax blanked uses signal outside it. A cropped arm with its box blanked sees the same flat input for every
# image: its AUC must be 0.5, which checks the fill; the mask test is the one that says whether it needs the lungs.

# %%
config = PreprocessConfig(**run.read_json("roi.json")["config"])
fill = audit.neutral_fill(run.processed("train")["path"], config, seed=seed)
sample = audit.audit_sample(test, audit_images, seed=seed)
perturbation_scores = audit.score_perturbations(sample, study_arms, score, config, seeds=seeds, fill=fill, seed=seed,
                                                  unperturbed=predictions)
perturbations = audit.summarize_perturbations(perturbation_scores, thresholds, n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
table = pd.DataFrame({a: {c: f"{r['roc_auc']:.3f} ({interval(r['ci'], as_percent=False)})"
                          for c, r in perturbations[a].items()} for a in names}).T
table["swap: prediction follows the thorax"] = [
    f"{percent(perturbations[a]['swap']['follows_thorax_rate'])} "
    f"({interval(perturbations[a]['swap']['follows_thorax_ci'])})" for a in names]
display(Markdown(f"{len(sample)} test images ({int((sample.label == 'PNEUMONIA').sum())} PNEUMONIA), ROC AUC per "
                 f"condition, mean over seeds (95% interval over patients and seeds); fill: grey level "
                 f"{fill['raw']:.1f} on the radiograph, {fill['equalized']:.1f} after CLAHE."))
display(table.rename(columns={"none": "unperturbed"}))
verdicts = []
for arm in study_arms:
    blanked = perturbations[arm.name]["mask_blanked" if arm.roi else "thorax_blanked"]
    what = "lung fields" if arm.roi else "thorax box"
    if blanked["ci"][0] > 0.5:
        verdicts.append(f"- **{arm.name}**: with the {what} blanked its AUC is still **{blanked['roc_auc']:.3f}** "
                        f"({interval(blanked['ci'], as_percent=False)}): **it uses signal outside the {what}.**")
    else:
        verdicts.append(f"- **{arm.name}**: with the {what} blanked its AUC falls to {blanked['roc_auc']:.3f} "
                        f"({interval(blanked['ci'], as_percent=False)}): no signal outside the {what} is shown.")
display(Markdown("\n".join(verdicts)))

# %% [markdown]
# The planted tag of the synthetic demo lies outside the thorax. On tagged test images, a model that learned it keeps
# its decisions when the thorax is blanked; one that reads the lungs does not.

# %%
tag_decisions = None
if run.is_synthetic:
    has_tag, _ = synthetic.shortcut_truth(run.data["root"], sample["filename"])
    tag_decisions = audit.decisions_kept(perturbation_scores, has_tag, thresholds)
    display(pd.DataFrame(tag_decisions).T.round(3))

# %% [markdown]
# ## 12. Further evaluation sets
#
# Sets declared in the profile (`evaluation_sets`), preprocessed like the test split and scored by every arm and
# seed at the thresholds chosen on validation. Each set's entry says where it comes from, who is in it and what it
# can show. On a set of NORMAL images only, the one thing to measure is the false-positive rate: mean over seeds,
# each seed's rate, and an interval that resamples images and seeds.

# %%
set_records, set_rows = {}, []
for name in evaluation_sets:
    rows_ = run.processed(name)
    y_set = (rows_["label"] == "PNEUMONIA").to_numpy(int)
    set_records[name] = {}
    for arm in study_arms:
        images = read_images(rows_[arm.column], size=input_size, progress=False)
        set_scores = [score(arm.name, s, images) for s in seeds]
        cuts = [thresholds[arm.name][s]["youden"] for s in seeds]
        for s, sc in zip(seeds, set_scores):
            set_rows.append(rows_[["filename", "patient_id", "label"]].assign(set=name, arm=arm.name, seed=s, score=sc))
        if y_set.any() and not y_set.all():
            m = metrics.evaluate_seeds(y_set, set_scores, cuts, groups=rows_["patient_id"].to_numpy(),
                                       n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
            set_records[name][arm.name] = {k: m[k] for k in ("accuracy", "sensitivity", "specificity", "roc_auc",
                                                             "ci", "n")}
        else:
            set_records[name][arm.name] = metrics.false_positive_rate(
                set_scores, cuts, groups=rows_["patient_id"].to_numpy(), n_boot=BOOTSTRAP_RESAMPLES, seed=seed)
    about = {k: evaluation_sets[name].get(k) for k in ("source", "population", "shows")}
    display(Markdown(f"**{name}**: {len(rows_)} images ({', '.join(f'{k} {v}' for k, v in rows_.label.value_counts().items())})"
                     + "".join(f"  \n*{k}:* {v}" for k, v in about.items() if v)))
    display(pd.DataFrame({a: {k: (f"{percent(v)}" if k == "false_positive_rate" else v)
                              for k, v in r.items() if k in ("false_positive_rate", "n", "accuracy", "roc_auc")}
                          | ({"95% interval": interval(r["ci"]), "per seed": ", ".join(percent(v) for v in r["per_seed"])}
                             if "false_positive_rate" in r else {})
                          for a, r in set_records[name].items()}).T)
if set_rows:
    run.write_csv(pd.concat(set_rows, ignore_index=True), "evaluation_set_predictions.csv")
else:
    display(Markdown("No further evaluation sets in this profile."))

# %% [markdown]
# ## 13. metrics.json

# %%
updates = {**evaluation,
           "first_seed": {a: {"errors_by_subtype": by_subtype[a].reset_index().to_dict("records"),
                              "calibration": calibration[a]} for a in names},
           "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
           "baselines": {"trivial": {**{k: trivial[k] for k in metrics.METRIC_NAMES}, "ci": trivial["ci"],
                                     "threshold": floor["threshold"], "file_size_roc_auc": floor["file_size_roc_auc"],
                                     "features": list(audit.STATISTICS)}},
           "gain_over_trivial": {a: {"auc_difference": g["auc_difference"], "auc_difference_ci": g["auc_difference_ci"]}
                                 for a, g in gains.items()},
           "perturbations": perturbations,
           "shortcut_decisions": tag_decisions,
           "evaluation_sets": set_records,
           "evaluation_set_descriptions": {name: {k: spec.get(k) for k in ("source", "population", "shows")}
                                           for name, spec in evaluation_sets.items()},
           "audit_fill": fill,
           "data": {"source": run.data["source"], "description": run.data["description"]}}
saved = metrics.update_json(run.dir / "metrics.json", updates)
display(Markdown(f"`metrics.json` holds: {', '.join(f'`{k}`' for k in saved)}."))

# %% [markdown]
# ## Conclusion

# %%
def headline(m):
    return (f"accuracy {percent(m['accuracy'])} ({interval(m['ci']['accuracy'])}), sensitivity "
            f"{percent(m['sensitivity'])}, specificity {percent(m['specificity'])}, ROC AUC {m['roc_auc']:.3f} "
            f"({interval(m['ci']['roc_auc'], as_percent=False)})")


lead = records if headline_point is None else {a: records[a]["operating_points"][headline_point] for a in names}
lines = [f"- **{a}** ({next(x.steps for x in study_arms if x.name == a)}): {headline(lead[a])}" for a in names]
verdicts = [f"- {metrics.comparison_sentence(c)}" for c in evaluation["comparisons"]]
display(Markdown(
    ("**SYNTHETIC data.** " if run.is_synthetic else "")
    + f"On {len(test)} test images, mean over {len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'}, at the "
    + (metrics.OPERATING_POINTS[headline_point] if headline_point else
       "validation-chosen (Youden) threshold, which moves between seeds (section 2): read the ROC AUC first")
    + ":\n\n" + "\n".join(lines) + "\n\n" + "\n".join(verdicts)
    + "\n\nThe paper reports 91% accuracy, 91% sensitivity and 86% specificity for its processed-image model."
))
