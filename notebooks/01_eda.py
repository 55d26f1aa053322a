# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Exploratory data analysis
#
# What the study runs on: which data, how many images per split and class, how the classes are balanced,
# which pneumonia subtypes there are, image sizes and grey levels, and whether the same image or the same
# patient appears on both sides of a split.
#
# **Inputs:** the data set the profile names (`data_dir`); section 1 says which data this run reads. **Outputs:**
# `manifest.csv` (one row per image, with the patient-level validation split) and `data.json` (what the data is)
# in the run folder; figures `01_*.png`.

# %% tags=["parameters"]
run_dir = "reports/dev"
work_dir = "data/work"
data_dir = None
seed = 0
val_fraction = 0.15
synthetic_train_per_class = 40
synthetic_test_per_class = 20
synthetic_size = 256
synthetic_shortcut = True
evaluation_sets = {}

# %%
from cxrlib import data
from cxrlib.run import StudyRun

run = StudyRun(run_dir, step="01")

# %% [markdown]
# ## 1. The data
#
# Which data this run reads, where it comes from, and its split counts as released, before the validation
# carve-out of section 2.

# %%
synthetic = data_dir is None
root = data.dataset_root(data_dir, work_dir, seed=seed, train_per_class=synthetic_train_per_class,
                         test_per_class=synthetic_test_per_class, size=synthetic_size, shortcut=synthetic_shortcut)
manifest = data.build_manifest(root, with_hashes=True)
data.check_images(manifest)
description = data.describe_source(manifest, synthetic=synthetic, sample=data.SIZE_SAMPLE, seed=seed)
release_counts = data.class_counts(manifest, by="split")
run.display(*data.source_notes(description, root, release_counts, synthetic=synthetic))

# %% [markdown]
# ## 2. Validation split by patient
#
# The release's test split is kept untouched for the final evaluation (notebook 04). Validation, used for
# choosing the epoch and the decision threshold, is carved out of the training split **by patient**, stratified
# by class and seeded, so that no patient has images on both sides. Patients are counted as the release numbers
# them: by the patient number of the file name and the pneumonia subtype (section 7 says why).

# %%
manifest = data.split_train_validation(manifest, val_fraction=val_fraction, seed=seed)
shared = data.shared_patients(manifest)
run.display(data.split_counts(manifest), f"Patients in both train and validation: **{len(shared)}**.")
run.show(data.plot_class_counts(manifest, by="subset"), "class_counts",
         "Images per subset and class as used here (validation carved from train by patient): the bars' heights "
         "show the class balance that step 03's class weights even out.")

# %% [markdown]
# ## 3. Class imbalance and pneumonia subtypes
#
# The classes are imbalanced (the training notebook weights them). The file names of PNEUMONIA images say
# whether the pneumonia is bacterial or viral; the study reports errors per subtype.

# %%
run.display(data.imbalance_sentence(manifest), data.subtype_counts(manifest))

# %% [markdown]
# ## 4. Image sizes and aspect ratios
#
# The full-resolution release has images of many sizes and aspect ratios; the paper resizes all of them to
# 400 x 400, which stretches some. Third-party 224 x 224 copies have already been resized (aspect not kept).

# %%
sizes = data.image_size_table(manifest, sample=data.SIZE_SAMPLE, seed=seed)
run.display(data.size_summary(sizes), data.uniform_size_sentence(sizes))
if not data.uniform_size_sentence(sizes):
    run.show(data.plot_image_sizes(sizes), "image_sizes",
             "Width and height of a sample of the images: sizes vary, so every image is resized before use.")

# %% [markdown]
# ## 5. Sample images per class

# %%
run.show(data.plot_sample_grid(manifest, per_class=6, seed=seed), "samples",
         "Images drawn at random from each class, as stored: look for burned-in labels, arms and framing that "
         "differ between the classes, cues a network could learn instead of the disease.")

# %% [markdown]
# ## 6. Grey-level histograms per class

# %%
run.show(data.plot_intensity_histograms(manifest, per_class=200, seed=seed), "intensity_histograms",
         "Grey-level histograms of 200 images per class: where the classes differ here, they differ in exposure "
         "or brightness, which a model can use without any anatomy.")

# %% [markdown]
# ## 7. Duplicates and leakage
#
# Byte-identical files and patients that appear in more than one subset. Duplicates inside one subset only
# weigh those images twice; duplicates or patients crossing subsets leak information between them. `data.json`
# keeps the counts, and `manifest.csv` every file's SHA-256.

# %%
leakage = data.leakage_report(manifest)
run.display(*data.leakage_tables(manifest, leakage))

# %% [markdown]
# ## 8. Outputs
#
# The manifest, with any further evaluation sets of the profile (`evaluation_sets`) appended as rows whose
# `subset` is the set's name: they are preprocessed like every image (02) and scored by every arm (04), never
# trained or tuned on.

# %%
manifest = data.with_evaluation_sets(manifest, evaluation_sets)
run.write_csv(manifest, "manifest.csv")
run.write_json(data.data_record(manifest, root=root, description=description, synthetic=synthetic,
                                release_counts=release_counts, leakage=leakage, evaluation_sets=evaluation_sets),
               "data.json")
run.display(data.data_conclusion(manifest, description, shared))

