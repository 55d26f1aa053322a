# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: cxr-c-find-the-shortcut
# init_cell: true
# check_all_cell: true
# export_cell: false
# run_tests: false
# tests:
#   files: false
#   ok_format: false

# %% [markdown]
# # Exercise c · Find the shortcut (Galindo-Ramirez et al. 2022, §3.3 and §4.4, Fig. 8)
#
# The paper crops every radiograph to the thorax (§3.3) so that the network cannot decide from what lies outside
# the lungs, and shows with Grad-CAM (§4.4, Fig. 8) that the model trained on the original images looks outside the
# thorax while the one trained on the crops looks at the lungs. Here you see why. Someone planted a **marker** in
# your training images: a small bright mark in one corner, on most PNEUMONIA images and on few NORMAL ones, and on
# the validation images too. The test images carry it on half of each class, so there it says nothing: a
# shortcut-free test.
#
# 1. Train the study's `small_cnn` on the **whole** images; use Grad-CAM (`cxrlib.audit.gradcam`) and a **blanking
#    test** (black out a region, see how the predictions change) to find the marker; report its box (c1) and its
#    kind (c2).
# 2. Train the same network on the **thorax crop** and measure that the gap between validation and the
#    shortcut-free test closes (c3).
#
# **Before you start:** write your student identifier in the next cell (it selects your data and your marker; the
# grader reads it from there), then run the notebook from the top. Check your work with the `grader.check(...)`
# cells; the points come from hidden tests after you submit. Compute: well under a minute for both trainings on a
# laptop CPU. All images are SYNTHETIC (cartoon anatomy); they say nothing clinical.

# %% tags=["parameters"]
STUDENT_ID = ""  # your student identifier, e.g. "s1234567"

# %%
import tempfile
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from cxrlib.audit import box_pixels, gradcam, overlay, upsample
from cxrlib.course import variants
from cxrlib.models import TrainSettings, predict_proba, read_images, train_classifier
from cxrlib.preprocess import Arm, PreprocessConfig, preprocess_manifest

SIZE = 64  # the network's input side (the radiographs are 96 px)
# Your images, crops and trained models (safe to delete): a rerun with the same settings reuses the trainings.
WORK = Path(tempfile.gettempdir()) / "cxrlib-course" / f"c-{STUDENT_ID}"
ARMS = [Arm("whole"), Arm("crop", roi=True)]  # the whole radiograph; the paper's thorax crop (§3.3)
settings = TrainSettings(backbone="small_cnn", train_mode="finetune", weights="none", model_input_size=SIZE,
                         epochs=8, batch_size=16, seed=0)

table = variants.shortcut_dataset(STUDENT_ID, WORK / "images")
config = PreprocessConfig(preprocess_size=variants.SHORTCUT_SIZE, roi_mean_filter=5, output_size=SIZE)
processed = preprocess_manifest(table, WORK / "cache", config, arms=ARMS, workers=1, progress=False)
print(processed.groupby(["subset", "label"]).size().unstack())

# %% [markdown]
# ## 1. Your radiographs
#
# `processed` has one row per image: `label`, `subset` (train / val / test), `path` (the 96 px radiograph),
# `image_whole` and `image_crop` (what each arm's network reads, 64 px). Can you spot the marker by eye?

# %%
fig, axes = plt.subplots(2, 6, figsize=(12, 4.4))
for ax, row in zip(axes.flat, processed[processed["subset"] == "train"].head(12).itertuples()):
    ax.imshow(plt.imread(row.path), cmap="gray")
    ax.set_title(row.label, fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. Where does the whole-image model look?
#
# Train on the whole images with the study's trainer (it selects the best epoch on the validation subset and keeps
# its checkpoints in `work_dir`): `train_classifier(processed, image_column=ARMS[0].column, settings=settings,
# work_dir=WORK / "training", name="whole", progress=False)`. Then:
#
# * **Grad-CAM**: `gradcam(list_of_images, model, pred_index=1)` gives one low-resolution map per image of what
#   supports PNEUMONIA (`upsample` brings it to the image size, `overlay` draws it). Average the maps of the
#   validation images the model calls PNEUMONIA.
# * **Blanking test**: black out (set to 0) one region at a time in the validation images and measure how much the
#   mean P(PNEUMONIA) (`predict_proba(model, images)`) falls. The marker is where blanking hurts most.
# * **Its extent**: Grad-CAM and blanking are coarse (one Grad-CAM cell of `small_cnn` is 8 px at 64 px). Inside
#   the region they point to, the mean PNEUMONIA training radiograph minus the mean NORMAL one shows the marker
#   sharply (it is on 90% of one class and 10% of the other).

# %% [raw]
# # BEGIN QUESTION
# name: c1
# points: 3

# %% [markdown]
# **c1.** Train `whole_model` on the whole images and set `marker_box = (y0, x0, y1, x1)`: the marker's box as
# fractions of the image's height and width (as `cxrlib.preprocess.roi_box` returns; the image's left is the patient's
# right). The cell after the question draws your evidence from these names: `val` (the validation rows of
# `processed`), `val_images` (their whole images at `SIZE`), `probs` (their P(PNEUMONIA)), `mean_map` (the mean
# Grad-CAM map, `SIZE` x `SIZE`), `drops` (the fall of the mean P(PNEUMONIA) for each cell of a 4x4 grid, row by
# row) and `blanked(images, box)` (copies with the box blacked out). Graded: intersection over union with the
# marker's true box ≥ 0.5.

# %% [raw]
# # BEGIN SOLUTION

# %%
# BEGIN SOLUTION
whole = train_classifier(processed, image_column=ARMS[0].column, settings=settings, work_dir=WORK / "training",
                         name="whole", progress=False)
whole_model = whole.model
val = processed[processed["subset"] == "val"]
val_images = read_images(val[ARMS[0].column], size=SIZE, progress=False)

# Grad-CAM: the mean map of the validation images the model calls PNEUMONIA (at its validation threshold)
heatmaps, probs = gradcam(list(val_images), whole_model, pred_index=1)
called = probs >= whole.threshold
mean_map = upsample(heatmaps[called].mean(axis=0), (SIZE, SIZE))


def blanked(images, box):
    """Copies of the images with the box (fractions) set to black."""
    out = images.copy()
    y0, x0, y1, x1 = box_pixels(box, images.shape[1:])
    out[:, y0:y1, x0:x1] = 0
    return out


# Blanking test: black out each cell of a 4x4 grid; how far does the mean P(PNEUMONIA) fall?
cells = [(i / 4, j / 4, (i + 1) / 4, (j + 1) / 4) for i in range(4) for j in range(4)]
base = predict_proba(whole_model, val_images[called]).mean()
drops = np.array([base - predict_proba(whole_model, blanked(val_images[called], c)).mean() for c in cells])
heat = mean_map.reshape(4, SIZE // 4, 4, SIZE // 4).mean(axis=(1, 3)).ravel()  # Grad-CAM per cell
cell = cells[int(np.argmax(drops))]
print(f"blanking points to cell {cell}, Grad-CAM's hottest cell is {cells[int(np.argmax(heat))]}")

# Its extent: mean PNEUMONIA minus mean NORMAL training radiograph, inside the cell grown by half a cell
train = processed[processed["subset"] == "train"]
originals = read_images(train["path"], size=variants.SHORTCUT_SIZE, progress=False).astype(float)
is_pneumonia = (train["label"] == "PNEUMONIA").to_numpy()
difference = originals[is_pneumonia].mean(axis=0) - originals[~is_pneumonia].mean(axis=0)
h, w = difference.shape
gy0, gx0, gy1, gx1 = box_pixels((max(0, cell[0] - 1 / 8), max(0, cell[1] - 1 / 8), min(1, cell[2] + 1 / 8),
                                 min(1, cell[3] + 1 / 8)), (h, w))
region = np.zeros((h, w), bool)
region[gy0:gy1, gx0:gx1] = True
rows, cols = np.nonzero(region & (difference >= 0.5 * difference[region].max()))
y0, x0, y1, x1 = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1
marker_box = (float(y0 / h), float(x0 / w), float(y1 / h), float(x1 / w))
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_marker_box_form(marker_box):
    from cxrlib.course import checks
    checks.check_marker_box(marker_box)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 3
""" # END TEST CONFIG
def test_marker_box_iou(marker_box, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_marker_box(marker_box, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The evidence: the mean Grad-CAM map, the blanking drops, and your box on a validation image. Blanking your box
# should take the validation AUC of the whole-image model down towards chance.

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
axes[0].imshow(overlay(val_images[int(np.argmax(probs))], mean_map))
axes[0].set_title("mean Grad-CAM (called PNEUMONIA)", fontsize=9)
axes[1].imshow(drops.reshape(4, 4), cmap="magma")
axes[1].set_title("blanking: fall of mean P(PNEUMONIA)", fontsize=9)
axes[2].imshow(plt.imread(val["path"].iloc[int(np.argmax(probs))]), cmap="gray")
by0, bx0, by1, bx1 = box_pixels(marker_box, (variants.SHORTCUT_SIZE, variants.SHORTCUT_SIZE))
axes[2].add_patch(plt.Rectangle((bx0 - 0.5, by0 - 0.5), bx1 - bx0, by1 - by0, fill=False, color="yellow"))
axes[2].set_title("your marker_box", fontsize=9)
for ax in axes:
    ax.axis("off")
plt.show()
labels = (val["label"] == "PNEUMONIA").to_numpy()
print(f"validation AUC of the whole-image model: {roc_auc_score(labels, predict_proba(whole_model, val_images)):.3f}; "
      f"with marker_box blanked: {roc_auc_score(labels, predict_proba(whole_model, blanked(val_images, marker_box))):.3f}")

# %% [raw]
# # BEGIN QUESTION
# name: c2
# points: 1

# %% [markdown]
# **c2.** What is the marker? Set `marker_kind` to one of the keys of `variants.MARKER_KINDS` (`"square"`,
# `"disc"`, `"ring"`). Look at your box in a few PNEUMONIA training radiographs, or compare the mean difference
# inside it with `variants.marker_stamp(kind, side)`, the shape of each kind. Graded: the kind is right.

# %% [raw]
# # BEGIN SOLUTION

# %%
# BEGIN SOLUTION
patch = difference[y0:y1, x0:x1] / difference[y0:y1, x0:x1].max()  # the marker's ink, about 0 to 1
misfit = {kind: np.abs(patch - cv2.resize(variants.marker_stamp(kind, max(patch.shape)), patch.shape[::-1])).mean()
          for kind in variants.MARKER_KINDS}
marker_kind = min(misfit, key=misfit.get)
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_marker_kind_form(marker_kind):
    from cxrlib.course import checks
    checks.check_marker_kind(marker_kind)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
def test_marker_kind(marker_kind, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_marker_kind(marker_kind, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3. Does the thorax crop close the gap?
#
# The crop arm's images (`image_crop`) are cut to the thorax box of `cxrlib.preprocess` (§3.3), which leaves the
# corners out. Train the same network on them, then measure for **both** models the ROC AUC on validation (where
# the marker still goes with PNEUMONIA) and on the shortcut-free test.

# %% [raw]
# # BEGIN QUESTION
# name: c3
# points: 3

# %% [markdown]
# **c3.** Train `crop_model` on `ARMS[1].column` with the same `settings`, and set
# `auc = {"whole": {"val": ..., "test": ...}, "crop": {"val": ..., "test": ...}}`: the ROC AUC of each model's
# P(PNEUMONIA) on the validation and on the test subset of `processed` (each model on its own arm's images).
# Graded: your numbers match what your two models give (within 0.01), the whole-image model's gap (validation minus
# test) is at least 0.15, and the thorax crop closes it: the crop model's gap is at least 0.15 smaller, with a test
# AUC of at least 0.55 (it learned something real).

# %% [raw]
# # BEGIN SOLUTION

# %%
# BEGIN SOLUTION
crop_model = train_classifier(processed, image_column=ARMS[1].column, settings=settings, work_dir=WORK / "training",
                              name="crop", progress=False).model
auc = {}
for name, model, arm in (("whole", whole_model, ARMS[0]), ("crop", crop_model, ARMS[1])):
    auc[name] = {}
    for subset in ("val", "test"):
        rows = processed[processed["subset"] == subset]
        scores = predict_proba(model, read_images(rows[arm.column], size=SIZE, progress=False))
        auc[name][subset] = roc_auc_score(rows["label"] == "PNEUMONIA", scores)
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_auc_form(auc):
    from cxrlib.course import checks
    checks.check_shortcut_auc(auc)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 3
""" # END TEST CONFIG
def test_gap_closes(auc, whole_model, crop_model, processed, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_shortcut_gap(auc, whole_model, crop_model, processed, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
for name in ("whole", "crop"):
    print(f"{name:>5}: validation AUC {auc[name]['val']:.3f}, shortcut-free test AUC {auc[name]['test']:.3f}, "
          f"gap {auc[name]['val'] - auc[name]['test']:+.3f}")

# %% [markdown]
# ## Conclusion
#
# A validation set drawn like the training set carries the same shortcut, so it cannot reveal it: only a test set
# where the marker says nothing about the label shows the gap. Grad-CAM says where to look, the blanking test proves
# that the model depends on what is there, and the thorax crop of §3.3 takes it away, which is what the paper's
# Fig. 8 shows on real radiographs (labels and tags outside the lungs).
