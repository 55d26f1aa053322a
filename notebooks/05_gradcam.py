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
from cxrlib import audit, evaluation
from cxrlib.run import StudyRun

N_BOOT = 2000  # patient-level resamples behind every interval
FRAME_SIZE = 256  # side of the frame the measures are taken in
RANDOMIZATION_IMAGES = 24  # of the checked images, those in the randomization check (first seed)
DELETION_STEPS = 5  # shares of the pixels deleted or inserted per curve
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
# pair. Columns: the whole image with the ROI box, then each arm's heatmap placed where that arm looked.

# %%
run.show(audit.plot_examples(maps.examples(compare, n=gradcam_examples, seed=seed)), "fig8_examples")

# %% [markdown]
# ## 4. Where the heatmap mass falls, per arm
#
# Mean over seeds and images (95% interval over patients and seeds); each mass next to its frame's chance level.

# %%
summary = maps.summaries(n_boot=N_BOOT, seed=seed)
run.display(audit.summary_table(summary))
run.show(audit.plot_measure_distributions(maps.first_measures()), "mass_distributions")

# %% [markdown]
# ## 5. Paired tests
#
# For each compared pair, the per-image differences (a − b) of each mass **over its own frame's chance**, averaged
# over seeds: the Wilcoxon signed-rank test on them, and the mean difference with an interval over patients and
# seeds (the Wilcoxon test itself treats images as independent).

# %%
paired = maps.paired(compare, n_boot=N_BOOT, seed=seed)
run.display(*audit.paired_notes(paired))

# %% [markdown]
# ## 6. The planted shortcut
#
# In the synthetic training split a bright tag at a fixed spot outside the thorax goes with PNEUMONIA; in the test
# split it is on half the images of each class, independent of the label. A model that learned the tag (a) puts
# heatmap mass on that spot when the tag is there, and (b) gives higher P(PNEUMONIA) to tagged images. Both are
# compared between tagged and untagged test images (Mann-Whitney U). The spot is the tag's box grown by half a
# heatmap cell. Real radiographs carry no planted tag, so this section is measured on the synthetic demo only.

# %%
evidence = maps.shortcut_evidence(has_tag)
run.display(*audit.shortcut_notes(evidence, maps.regions))

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
checks = audit.check_maps(maps, trained, run.processed("train"), images=audit_gradcam_images,
                          randomization_images=RANDOMIZATION_IMAGES, steps=DELETION_STEPS, n_boot=N_BOOT, seed=seed)
run.display(*audit.checks_notes(checks, maps))
run.show(audit.plot_faithfulness(checks["randomization"], checks["faithfulness"]), "checks")

# %% [markdown]
# ## 8. metrics.json and conclusion

# %%
evaluation.update_json(run.dir / "metrics.json", audit.gradcam_record(maps, summary, paired, checks, evidence))
run.display(audit.gradcam_conclusion(maps, summary, paired, checks, evidence, synthetic=run.is_synthetic))
