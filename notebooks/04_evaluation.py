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
# at **three operating points**, with how far each moves between seeds; with and without the images whose ROI fell
# back to the whole image or gave an implausible box; paired comparisons of arms per seed; over every seed, ROC and
# precision-recall curves with the operating points marked, confusion matrices, each pneumonia subtype's AUC,
# calibration, and the predictive values at a stated prevalence; and the paper's Table 2 rebuilt with our arms in
# front.
#
# **Inputs:** `processed.csv`, `training.json`, the models in `work_dir`, `data.json`.
# **Outputs:** `metrics.json` (`arms`, `comparisons`, `calibration`, `subtype_auc`, `predictive_values`, ...),
# `test_predictions.csv` (one row per image, arm and seed), figures `04_*.png`.

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
from cxrlib import audit, evaluation
from cxrlib.run import StudyRun

N_BOOT = 2000  # patient-level resamples behind every interval
run = StudyRun(run_dir, step="04", work_dir=work_dir)

# %% [markdown]
# ## 1. Test images and predictions
#
# The test rows of `processed.csv` (the release's own test folder, untouched by training and threshold choice).
# Each arm's models read that arm's images.

# %%
trained = run.arm_models(arms, seeds, batch_size=batch_size)
test = run.processed("test")
predictions = trained.test_predictions(test)
run.write_csv(predictions, "test_predictions.csv")
run.display(evaluation.test_split_sentence(run.data, test, trained.arms, seeds))

# %% [markdown]
# ## 2. Which figures can lead: how far each threshold rule moves between seeds
#
# Every threshold is chosen on validation, never on test. Validation scores can be so well separated that very
# different thresholds classify them equally well; then a rule's threshold, and the specificity it gives on
# test, move from seed to seed, and a difference between arms at that rule is a difference of where the
# thresholds fell. A rule leads the report only when its between-seed SD of specificity is at most
# 3 points in every arm (a rule fixed before the results were read); otherwise the headline is threshold-free:
# ROC AUC and average precision, which the last table below gives for every arm. Cells of the tables read *mean
# over seeds ± SD between seeds (95% interval)*; the interval resamples patients (all their images come along) and
# seeds together.

# %%
result = evaluation.evaluate_arms(predictions, trained.thresholds, pairs=compare, n_boot=N_BOOT, seed=seed)
run.display(*evaluation.headline_tables(result))

# %% [markdown]
# ## 3. Three operating points
#
# The same models at a fixed 0.5, at the Youden threshold (the validation threshold that maximises Youden's J =
# sensitivity + specificity − 1) and at the validation threshold that keeps sensitivity ≥ 0.95, each table once.
# ROC AUC and average precision do not depend on the threshold (section 2); what changes between the tables is how
# the errors are traded. A difference between arms that holds at one point and not at another is a difference of
# operating point, not of ranking.

# %%
run.display(*evaluation.operating_point_tables(result["arms"]))

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
run.display(evaluation.comparisons_notes(result))

# %% [markdown]
# ## 5. Without the ROI's failures
#
# Where the ROI found no lung field, the crop is the whole image; where it found an implausible box (notebook 02),
# the crop frames the chest unlike the others. Either way a model could learn the framing. The same metrics on the
# test images whose ROI neither fell back nor was flagged; the same images are left out for every arm, with or
# without a crop, so the comparison stays paired.

# %%
run.display(*evaluation.failures_tables(predictions, result["arms"]))

# %% [markdown]
# ## 6. ROC and precision-recall curves over seeds, confusion matrices
#
# Each arm's curve is the mean of its seeds' curves on a common grid (at each false-positive rate, the highest
# sensitivity a seed's model reaches there; at each recall, the highest precision), with the range over seeds as a
# band; the legend gives the area under each curve as mean ± SD over seeds. The markers are the three operating
# points, one per seed, each threshold chosen on validation and placed where it falls on test: markers of one arm
# that lie apart along its curve are thresholds that moved between seeds, not a different ranking. The right panels
# zoom on the corner where the operating points lie. The confusion matrices are drawn at the threshold the tables
# lead with (section 2), their counts summed over seeds.

# %%
tested = evaluation.seed_summary(predictions, trained.thresholds, result, n_boot=N_BOOT, seed=seed)
for name, figure in tested.curve_figures().items():
    run.show(figure, name, tested.caption(name))
run.display(*tested.curve_notes())

# %% [markdown]
# ## 7. Pneumonia subtypes
#
# How well each arm ranks each subtype (bacterial, viral) above the NORMAL images: the ROC AUC of that subtype's
# test images against every NORMAL test image, over seeds. Then two different error rates of the first seed's
# model: for NORMAL images the false-positive rate (called PNEUMONIA), for PNEUMONIA images the miss rate (called
# NORMAL), per subtype, with Wilson intervals on images.

# %%
run.display(*tested.subtype_notes())
run.show(tested.subtype_figure(), "errors_by_subtype", tested.caption("errors_by_subtype"))

# %% [markdown]
# ## 8. Calibration
#
# Whether a predicted probability of 0.8 means PNEUMONIA 8 times in 10 (points on the diagonal; below it, the
# model predicts PNEUMONIA more often than it is there). Every seed's scores are binned together (equal-width score
# bins, a bin with too few images merged into the next, so that no point rests on a handful of images); each point
# is the observed PNEUMONIA fraction of its bin, its bar the range of that fraction over seeds. In the large, an
# arm over-predicts when its mean predicted probability exceeds the observed share of PNEUMONIA. The Brier score
# is the mean squared difference between probability and label (0 is perfect; lower is better).

# %%
run.show(tested.calibration_figure(), "calibration", tested.caption("calibration"))
run.display(*tested.calibration_notes())

# %% [markdown]
# ## 9. What a call means at another prevalence: PPV and NPV
#
# The test split's share of PNEUMONIA is set by how the release was assembled, not by a clinic. The positive
# predictive value (PPV: how often a PNEUMONIA call is right) and the negative predictive value (NPV: how often a
# NORMAL call is right) depend on that share; from a model's sensitivity and specificity, Bayes' rule gives them at
# any prevalence.

# %%
run.display(*tested.predictive_values_notes())

# %% [markdown]
# ## 10. The paper's Table 2, rebuilt
#
# Our arms (means over seeds with 95% intervals) in front of the values the paper prints in its Table 2 for
# itself and the works it compares with; the Kermany et al. 2018 column is **our addition** (quoted from its own
# text, same 624 test images). Cited values are quotations (`cxrlib.evaluation.LITERATURE_TABLE2`); '-' where a work
# reports nothing. Epochs for our models: epochs run in 03.

# %%
run.display(*evaluation.table2_notes(result["arms"], trained.trained))

# %% [markdown]
# ## 11. How much a trivial model already gets
#
# A logistic regression on nine global statistics of each image file (the JPEG's size in bytes; grey-level mean, SD,
# 5th and 95th percentiles; mean and SD of a border band and of the central half) plus the source size and aspect
# ratio, standardised and class-balanced, fitted on train, its threshold chosen on validation, scored on test. It
# sees no anatomy: what it reaches comes from exposure, compression and framing, which differ between the classes
# for reasons that are not the disease. Each arm's AUC gain over this floor is paired on the same test images.

# %%
floor, gains = audit.floor_and_gains(run.processed(), predictions, trained.thresholds, n_boot=N_BOOT, seed=seed)
run.display(audit.floor_table(floor, result["arms"], gains), audit.floor_sentence(floor, synthetic=run.is_synthetic))

# %% [markdown]
# ## 12. Does the decision need the thorax?
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
perturbed = audit.perturbation_audit(test, run.processed("train")["path"], trained, run.read_json("roi.json")["config"],
                                     images=audit_images, unperturbed=predictions, n_boot=N_BOOT, seed=seed)
run.display(*audit.perturbation_notes(perturbed, trained.arms))
tag_decisions = audit.shortcut_decisions(run.data, perturbed, trained.thresholds)
run.display(evaluation.planted_tag_sentence(synthetic=run.is_synthetic), audit.decisions_table(tag_decisions))

# %% [markdown]
# ## 13. Further evaluation sets
#
# Sets declared in the profile (`evaluation_sets`), preprocessed like the test split and scored by every arm and
# seed at the thresholds chosen on validation. Each set's entry says where it comes from, who is in it and what it
# can show. On a set of NORMAL images only, the one thing to measure is the false-positive rate: mean over seeds,
# each seed's rate, and an interval that resamples images and seeds.

# %%
sets = {name: run.processed(name) for name in evaluation_sets}
set_scores, set_records = trained.evaluate_sets(sets, n_boot=N_BOOT, seed=seed)
run.display(*evaluation.sets_notes(sets, set_records, evaluation_sets))
if sets:
    run.write_csv(evaluation.set_predictions(sets, set_scores, seeds), "evaluation_set_predictions.csv")

# %% [markdown]
# ## 14. metrics.json

# %%
record = evaluation.evaluation_record(result, tested, audit.audit_record(floor, gains, perturbed, tag_decisions),
                                      data=run.data, evaluation_sets=evaluation_sets, set_records=set_records)
run.display(evaluation.saved_sentence(evaluation.update_json(run.dir / "metrics.json", record)))

# %% [markdown]
# ## Conclusion

# %%
run.display(evaluation.evaluation_conclusion(result, trained.arms, synthetic=run.is_synthetic))
