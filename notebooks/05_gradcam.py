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
# each against the chance level of that frame, compared between arms image by image; a gallery of each arm's errors
# with its heatmaps; then two checks of the maps themselves.
#
# **Inputs:** `processed.csv`, `training.json`, the models in `work_dir`, `test_predictions.csv` (04), `data.json`.
# **Outputs:** `gradcam.csv` (one row per test image, arm and seed), `gradcam` entries in `metrics.json`,
# figures `05_*` (among them `05_failures`, the failure gallery).

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
from cxrlib import audit, evaluation
from cxrlib.run import StudyRun

N_BOOT = 2000  # patient-level resamples behind every interval
FRAME_SIZE = 256  # side of the frame the measures are taken in
RANDOMIZATION_IMAGES = 24  # of the checked images, those in the randomization check (first seed)
DELETION_STEPS = 5  # shares of the pixels deleted or inserted per curve
FAILURES_SHARED = 1  # per class, errors of every arm in the failure gallery; then each arm's own:
FALSE_POSITIVES_PER_ARM, FALSE_NEGATIVES_PER_ARM = 2, 1
run = StudyRun(run_dir, step="05", work_dir=work_dir)

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
trained = run.arm_models(arms, seeds, batch_size=batch_size)
test = run.processed("test")
has_tag, tag_box = audit.tag_spot(run.data, test)
run.display(audit.maps_sentence(run.data, test, seeds=seeds, layer_name=gradcam_layer))

# %% [markdown]
# ## 2. Grad-CAM of every arm on every test image

# %%
maps = audit.ArmMaps(trained, test, layer_name=gradcam_layer, frame_size=FRAME_SIZE, tag_box=tag_box)
run.write_csv(maps.table(), "gradcam.csv")
run.display(maps.resolution_sentence(), maps.agreement_sentence(run.read_csv("test_predictions.csv")))

# %% [markdown]
# ## 3. The paper's Fig. 8 on our arms
#
# The same patients under every arm (first seed): both classes, right and wrong predictions of the first compared
# pair. Columns: the whole image with the ROI box, then each arm's heatmap placed where that arm looked (a cropped
# arm's inside its box; the rest, which it never saw, dimmed). Under each heatmap: that model's P(PNEUMONIA) and
# whether its call at its validation Youden threshold is right (red when wrong). The colour bar gives the heatmap's
# scale: each map is divided by its own peak, so colours compare places within a map, not maps with each other.

# %%
run.show(audit.plot_examples(maps.examples(compare, n=gradcam_examples, seed=seed), headers=maps.headers()),
         "fig8_examples", "The paper's Fig. 8 on every arm (first seed), both classes, right and wrong calls: "
                          "under each heatmap the model's P(PNEUMONIA), its validation Youden threshold and whether "
                          "the call is right; colour is Grad-CAM weight relative to each map's peak.")

# %% [markdown]
# ## 4. Where the models fail
#
# A reviewer's first question of a classifier is what its errors look like. The operating point is each model's
# validation Youden threshold, the one of `test_predictions.csv` (step 04), chosen without the test split. False
# positives (NORMAL radiographs called PNEUMONIA, the error that sends a healthy child for treatment) come first,
# then false negatives: for each, the surest error that every arm makes, then each arm's surest errors of its own
# (two false positives, one false negative), each image shown under every arm, so that the arms compare on the
# same radiograph: do the arms fail on the same images, and where do the failing models look?

# %%
failures = maps.failures(shared=FAILURES_SHARED, false_positives=FALSE_POSITIVES_PER_ARM,
                         false_negatives=FALSE_NEGATIVES_PER_ARM)
run.display(*audit.failures_notes(failures))
if failures["rows"]:
    run.show(audit.plot_examples(failures["rows"], headers=maps.headers()), "failures",
             audit.failures_caption(failures))

# %% [markdown]
# ## 5. Where the heatmap mass falls, per arm
#
# Mean over seeds and images (95% interval over patients and seeds); each mass next to its frame's chance level.

# %%
summary = maps.summaries(n_boot=N_BOOT, seed=seed)
run.display(audit.summary_table(summary))
run.show(audit.plot_measure_distributions(maps.first_measures()), "mass_distributions",
         "Per test image, the heatmap mass on the lung fields (and the thorax box) minus that region's share of the "
         "frame the network saw, first seed: a distribution centred right of 0 is heat drawn to the region.")

# %% [markdown]
# ## 6. Paired tests
#
# For each compared pair, the per-image differences (a − b) of each mass **over its own frame's chance**, averaged
# over seeds: the Wilcoxon signed-rank test on them, and the mean difference with an interval over patients and
# seeds (the Wilcoxon test itself treats images as independent).

# %%
paired = maps.paired(compare, n_boot=N_BOOT, seed=seed)
run.display(*audit.paired_notes(paired))

# %% [markdown]
# ## 7. A known shortcut, where one was planted
#
# Where the data carry a shortcut whose place and presence are known image by image (a marker planted outside the
# thorax), a model that learned it (a) puts heatmap mass on that spot when the marker is there, and (b) gives higher
# P(PNEUMONIA) to marked images. Both are compared between marked and unmarked test images (Mann-Whitney U).

# %%
evidence = maps.shortcut_evidence(has_tag)
run.display(*audit.shortcut_notes(evidence, maps.regions))

# %% [markdown]
# ## 8. Are the maps checked, not only measured?
#
# Two checks of the maps themselves, on a seeded sample of test images of both classes:
#
# * **Randomization** (Adebayo et al. 2018), first seed, PNEUMONIA explained: the classifier's output layer is
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
checks = audit.check_maps(maps, trained, run.processed("train"), images=audit_gradcam_images,
                          randomization_images=RANDOMIZATION_IMAGES, steps=DELETION_STEPS, n_boot=N_BOOT, seed=seed)
run.display(*audit.checks_notes(checks, maps))
run.show(audit.plot_faithfulness(checks["randomization"], checks["faithfulness"]), "checks",
         audit.checks_caption(checks))

# %% [markdown]
# ## 9. metrics.json and conclusion

# %%
record = audit.gradcam_record(maps, summary, paired, checks, evidence, failures)
evaluation.update_json(run.dir / "metrics.json", record)
run.display(audit.gradcam_conclusion(maps, summary, paired, checks, evidence, synthetic=run.is_synthetic))
