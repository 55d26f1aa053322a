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
# **Inputs:** the Kermany 2018 chest X-ray folder named by `data_dir`, or, when it is `None`, synthetic demo
# radiographs generated here (`cxrlib.synthetic`). **Outputs:** `manifest.csv` (one row per image, with the
# patient-level validation split) and `data.json` (what the data is) in the run folder; figures `01_*.png`.

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
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from cxrlib import data
from cxrlib.data import figures as eda
from cxrlib.data import synthetic
from cxrlib.run.study import StudyRun

run_dir = Path(run_dir)
run = StudyRun(run_dir, step="01")



# %% [markdown]
# ## 1. The data
#
# What `data_dir` holds: the Kermany 2018 release (the full-resolution originals, or third-party 224 x 224
# copies), or, when it is `None`, synthetic radiographs generated here. The table gives the split counts as
# released, before the validation carve-out of section 2.

# %%
SIZE_SAMPLE = 1500  # images whose sizes are read, here and in section 4
is_synthetic = data_dir is None
if is_synthetic:
    root = synthetic.make_synthetic_dataset(
        Path(work_dir) / (f"synthetic-v{synthetic.GENERATOR_VERSION}-seed{seed}-{synthetic_size}px-"
                          f"{synthetic_train_per_class}x{synthetic_test_per_class}"
                          + ("-shortcut" if synthetic_shortcut else "")),
        train_per_class=synthetic_train_per_class, test_per_class=synthetic_test_per_class,
        size=synthetic_size, seed=seed, shortcut=synthetic_shortcut,
    )
else:
    root = data.find_dataset_root(data_dir)
manifest = data.build_manifest(root, with_hashes=True)
data.check_images(manifest)
description = data.describe_source(manifest, synthetic=is_synthetic, sample=SIZE_SAMPLE, seed=seed)
display(Markdown(f"**Data:** {description}  \n**Folder:** `{Path(root).name}` "
                 + ("(generated under `work_dir`)" if is_synthetic else "(the profile's `data_dir`)")))
display(Markdown(
    "Synthetic radiographs: drawn lungs, ribs, heart shadow and burned-in markers, with opacities added inside the "
    "lungs of the PNEUMONIA images. They let the whole study run anywhere in minutes and show the planted shortcut "
    "(a marker outside the thorax that goes with the label in train only) at work. **No clinical conclusion can be "
    "drawn from them.**" if is_synthetic else
    "Kermany et al. (2018), Mendeley Data v2 (CC BY 4.0): anterior-posterior chest radiographs of children aged "
    "one to five from Guangzhou Women and Children's Medical Center, labelled NORMAL or PNEUMONIA (bacterial or "
    "viral) by two physicians."))
release_counts = data.class_counts(manifest, by="split")
display(release_counts)

# %% [markdown]
# ## 2. Validation split by patient
#
# The release's test split is kept untouched for the final evaluation (notebook 04). Validation, used for
# choosing the epoch and the decision threshold, is carved out of the training split **by patient**, stratified
# by class and seeded, so that no patient has images on both sides.

# %%
manifest = data.split_train_validation(manifest, val_fraction=val_fraction, seed=seed)
patients = manifest.groupby("subset")["patient_id"].apply(set)
shared_train_val = patients.get("train", set()) & patients.get("val", set())
counts = pd.crosstab(manifest["subset"], manifest["label"], margins=True, margins_name="all")
counts = counts.reindex([s for s in ("train", "val", "test", "all") if s in counts.index])
counts["PNEUMONIA share"] = (counts["PNEUMONIA"] / counts["all"]).round(3)
counts["patients"] = [manifest.loc[manifest["subset"] == s, "patient_id"].nunique() if s != "all"
                      else manifest["patient_id"].nunique() for s in counts.index]
display(counts)
display(Markdown(f"Patients in both train and validation: **{len(shared_train_val)}**."))
run.show(eda.plot_class_counts(manifest, by="subset"), "class_counts")

# %% [markdown]
# ## 3. Class imbalance and pneumonia subtypes
#
# The classes are imbalanced (the training notebook weights them). The file names of PNEUMONIA images say
# whether the pneumonia is bacterial or viral; the study reports errors per subtype.

# %%
train_counts = manifest[manifest["subset"] != "test"]["label"].value_counts()
ratio = train_counts.get("PNEUMONIA", 0) / max(train_counts.get("NORMAL", 0), 1)
display(Markdown(f"Train + validation: **1 : {ratio:.2f}** NORMAL : PNEUMONIA."))
subtypes = pd.crosstab(manifest.loc[manifest["label"] == "PNEUMONIA", "subset"],
                       manifest.loc[manifest["label"] == "PNEUMONIA", "subtype"])
display(subtypes)

# %% [markdown]
# ## 4. Image sizes and aspect ratios
#
# The full-resolution release has images of many sizes and aspect ratios; the paper resizes all of them to
# 400 x 400, which stretches some. Third-party 224 x 224 copies have already been resized (aspect not kept).

# %%
sizes = data.image_size_table(manifest, sample=SIZE_SAMPLE, seed=seed)
summary = sizes.groupby("label").agg(
    images=("width", "size"), width_min=("width", "min"), width_max=("width", "max"),
    height_min=("height", "min"), height_max=("height", "max"), aspect_median=("aspect", "median"),
    mean_grey_level=("mean_intensity", "mean"), mean_grey_level_sd=("mean_intensity", "std"))
display(summary.round(2))
if sizes["width"].nunique() == 1 and sizes["height"].nunique() == 1:
    display(Markdown(f"All {len(sizes)} sampled images are {sizes['width'].iloc[0]} x {sizes['height'].iloc[0]} pixels."))
else:
    run.show(eda.plot_image_sizes(sizes), "image_sizes")

# %% [markdown]
# ## 5. Sample images per class

# %%
run.show(eda.plot_sample_grid(manifest, per_class=6, seed=seed), "samples")

# %% [markdown]
# ## 6. Grey-level histograms per class

# %%
run.show(eda.plot_intensity_histograms(manifest, per_class=200, seed=seed), "intensity_histograms")

# %% [markdown]
# ## 7. Duplicates and leakage
#
# Byte-identical files and patients that appear in more than one subset. Duplicates inside one subset only
# weigh those images twice; duplicates or patients crossing subsets leak information between them.

# %%
leakage = data.leakage_report(manifest)
display(pd.Series(leakage["summary"], name="count").to_frame())
duplicates = leakage["duplicate_groups"]
if len(duplicates):
    names = duplicates["paths"].map(lambda paths: ", ".join(Path(p).name for p in paths))
    display(duplicates.assign(files=names)[["group", "n_files", "files", "subsets", "labels", "crosses_subsets"]].head(15))
cross = leakage["cross_split_patients"]
if len(cross):
    display(cross.head(15))
    in_test = manifest[manifest["patient_id"].isin(cross.index) & (manifest["subset"] == "test")]
    elsewhere = manifest[manifest["patient_id"].isin(cross.index) & (manifest["subset"] != "test")]
    differ = sum(set(in_test.loc[in_test.patient_id == p, "subtype"]) != set(elsewhere.loc[elsewhere.patient_id == p, "subtype"])
                 for p in set(in_test["patient_id"]))
    pneumonia_train = manifest[(manifest["subset"] != "test") & (manifest["label"] == "PNEUMONIA")]
    both_subtypes = int((pneumonia_train.groupby("patient_id")["subtype"].nunique() > 1).sum())
    display(Markdown(
        f"**{len(cross)}** patient identifiers occur in more than one subset, **{in_test['patient_id'].nunique()}** "
        f"of them in test and in train/validation. For {differ} of those the pneumonia subtype differs between "
        f"test and train (bacterial in one, viral in the other). Inside train and validation, {both_subtypes} of "
        f"{pneumonia_train['patient_id'].nunique()} `personN` identifiers carry both bacterial and viral files. "
        "The file names alone cannot say whether `personN` names one child; grouping by it is conservative for "
        "the validation split (it may merge two children, never split one), so train and validation share none."))

# %% [markdown]
# ## 8. Outputs
#
# The manifest, with any further evaluation sets of the profile (`evaluation_sets`) appended as rows whose
# `subset` is the set's name: they are preprocessed like every image (02) and scored by every arm (04), never
# trained or tuned on.

# %%
extra_sets = {name: data.evaluation_set_manifest(name, spec) for name, spec in evaluation_sets.items()}
if extra_sets:
    manifest = pd.concat([manifest, *extra_sets.values()], ignore_index=True)
run.write_csv(manifest, "manifest.csv")
record = {
    "source": "synthetic" if is_synthetic else "kermany",
    "description": description,
    "root": str(root),
    "manifest_sha256": data.manifest_hash(manifest),
    "release_counts": {split: row[list(data.CLASSES)].astype(int).to_dict()
                       for split, row in release_counts.iterrows()},
    "counts": {s: manifest.loc[manifest["subset"] == s, "label"].value_counts().to_dict()
               for s in ("train", "val", "test")},
    "leakage": leakage["summary"],
    "evaluation_sets": {name: {"n": int(len(rows)), "labels": rows["label"].value_counts().to_dict(),
                               "spec": {k: v for k, v in evaluation_sets[name].items() if v is not None}}
                        for name, rows in extra_sets.items()},
}
run.write_json(record, "data.json")
display(Markdown(f"Wrote `manifest.csv` ({len(manifest)} images) and `data.json`.  \n"
                 f"**Conclusion:** {description}; train {len(manifest[manifest.subset == 'train'])}, "
                 f"validation {len(manifest[manifest.subset == 'val'])}, test {len(manifest[manifest.subset == 'test'])} "
                 f"images; {len(shared_train_val)} patients shared between train and validation."))
