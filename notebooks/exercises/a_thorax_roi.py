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
# name: cxr-a-thorax-roi
# init_cell: true
# check_all_cell: true
# export_cell: false
# run_tests: false
# tests:
#   files: false
#   ok_format: false

# %% [markdown]
# # Exercise a · The thorax ROI (Galindo-Ramirez et al. 2022, §3.2–3.3)
#
# The paper crops every radiograph to the rib cage before the classifier sees it, so that labels, arms and
# shoulders cannot drive the decision. You implement its steps on **your own synthetic radiographs** and the
# grader measures your lung fields and your box against the lung masks the generator drew.
#
# 1. CLAHE (§3.2) — `cxrlib.preprocess.apply_clahe`
# 2. Mean threshold (Eq. 1–2) — `cxrlib.preprocess.mean_threshold`; the lungs are the **dark** pixels (`~binary`)
# 3. Morphological active contour (Eq. 3–9) — `cxrlib.preprocess.chan_vese_contour`
# 4. Mean filter, 21×21 at 400 px (§3.3) — `cxrlib.preprocess.mean_filter_mask`
# 5. Keep the lung fields (drop the air outside the body) — `cxrlib.preprocess.select_lung_fields`
# 6. Bounding box with a margin — `cxrlib.preprocess.roi_box`
#
# **Before you start:** write your student identifier in the next cell (it selects your data; the grader reads it
# from there), then run the notebook from the top. Check your work with the `grader.check(...)` cells: they test
# the form of your answers; the points are given by hidden tests after you submit. Budget: about 1 minute of CPU.
# All images are SYNTHETIC (cartoon anatomy); they say nothing clinical.

# %% tags=["parameters"]
STUDENT_ID = ""  # your student identifier, e.g. "s1234567"
data_dir = None  # optional: a Kermany-layout folder (<root>/test/{NORMAL,PNEUMONIA}/*.jpeg) to try your box on real radiographs (not graded)

# %%
import cv2
import matplotlib.pyplot as plt
import numpy as np

from cxrlib import preprocess
from cxrlib.course import checks, variants
from cxrlib.preprocess import apply_clahe

cases = variants.roi_cases(STUDENT_ID)
print(f"{len(cases)} synthetic radiographs of {cases[0].image.shape[0]} px for student {STUDENT_ID!r}")

# %% [markdown]
# ## 1. Your radiographs
#
# Each image comes with the lung fields the generator drew (`case.lung_mask`, outlined in red). You may look at
# them to debug; your functions get only the image.

# %%
fig, axes = plt.subplots(1, len(cases), figsize=(2.2 * len(cases), 2.4))
for ax, case in zip(axes, cases):
    ax.imshow(case.image, cmap="gray")
    ax.contour(case.lung_mask, levels=[0.5], colors="red", linewidths=0.7)
    ax.set_title(case.label, fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. The lung fields
#
# Work on a small copy of the equalized image (`WORK` pixels a side, after a light Gaussian smoothing) so the
# contour runs in milliseconds; scale the paper's 21×21 window from 400 px to `WORK` px (odd size), and bring the
# mask back to the image's size at the end.

# %%
WORK = 100  # side of the working image for the contour steps
MEAN_FILTER = 5  # 21 px at 400 px, scaled to WORK px and made odd

# %% [raw]
# # BEGIN QUESTION
# name: a1
# points: 2

# %% [markdown]
# **a1.** Write `lung_fields(image)`: `(S, S)` uint8 radiograph in, `(S, S)` bool mask of the lung fields out,
# using steps 1–5. Graded: mean Dice overlap with the drawn lung masks ≥ 0.8 on your images and on fresh images of
# your variant.

# %% [raw]
# # BEGIN SOLUTION

# %%
def lung_fields(image):
    """Lung fields of a radiograph by the paper's steps 1-5; (S, S) uint8 -> (S, S) bool."""
    # BEGIN SOLUTION
    equalized = apply_clahe(image)
    smoothed = cv2.GaussianBlur(equalized, (0, 0), 0.005 * image.shape[0])
    small = cv2.resize(smoothed, (WORK, WORK), interpolation=cv2.INTER_AREA)
    binary, _ = preprocess.mean_threshold(small)
    contour = preprocess.chan_vese_contour(small, ~binary, iterations=10)
    filtered = preprocess.mean_filter_mask(contour, MEAN_FILTER)
    fields = preprocess.select_lung_fields(filtered, split_radius=0.03 * WORK)
    return cv2.resize(fields.astype(np.uint8), image.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_lung_fields_form(lung_fields, cases):
    from cxrlib.course import checks
    checks.check_lung_fields(lung_fields, cases[0].image)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 2
""" # END TEST CONFIG
def test_lung_fields_dice(lung_fields, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_lung_fields(lung_fields, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: a2
# points: 3

# %% [markdown]
# **a2.** Write `thorax_box(image)`: the rib-cage box `(y0, x0, y1, x1)` as fractions of the height and width
# (step 6, margin 0.04). Graded on your images and on fresh images of your variant: the median share of lung
# pixels inside the box ≥ 97% (each ≥ 90%), and the median box area ≤ 65% of the image.

# %% [raw]
# # BEGIN SOLUTION

# %%
def thorax_box(image):
    """Thorax ROI box of a radiograph as (y0, x0, y1, x1) fractions."""
    # BEGIN SOLUTION
    return preprocess.roi_box(lung_fields(image), margin=0.04)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_thorax_box_form(thorax_box, cases):
    from cxrlib.course import checks
    checks.check_thorax_box(thorax_box, cases[0].image)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 3
""" # END TEST CONFIG
def test_thorax_box_coverage_area(thorax_box, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_thorax_box(thorax_box, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3. Your boxes on your radiographs
#
# Coverage is the share of the drawn lung pixels inside your box, area the box's share of the image.

# %%
fig, axes = plt.subplots(1, len(cases), figsize=(2.2 * len(cases), 2.6))
for ax, case in zip(axes, cases):
    box = thorax_box(case.image)
    ax.imshow(case.image, cmap="gray")
    ax.contour(case.lung_mask, levels=[0.5], colors="red", linewidths=0.7)
    if box is not None:
        y0, x0, y1, x1 = (v * case.image.shape[0] for v in box)
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="yellow"))
        coverage, area = checks.box_coverage_area(box, case.lung_mask)
        ax.set_title(f"cov {coverage:.0%} · area {area:.0%}", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 4. Optional: real radiographs
#
# With `data_dir` set to the Kermany release, your box is drawn on a few real test images (not graded: there are
# no lung masks for them). Real images vary far more than the synthetic ones; compare with
# `cxrlib.preprocess.extract_roi`, the study's full version (field of view, geodesic growth, mirrored boxes).

# %%
if data_dir:
    from cxrlib.course import real_images

    real = real_images(data_dir, n=4, size=variants.ROI_SIZE)
    fig, axes = plt.subplots(1, len(real), figsize=(2.6 * len(real), 2.8))
    for ax, image in zip(np.atleast_1d(axes), real):
        y0, x0, y1, x1 = (v * image.shape[0] for v in thorax_box(image))
        ax.imshow(image, cmap="gray")
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="yellow"))
        ax.axis("off")
    plt.show()

# %% [markdown]
# ## Conclusion
#
# The paper's box is the bounding box of a mask, so everything depends on which mask: around the bright body it
# keeps labels and arms (the shortcut the paper wants to remove); around the dark lung fields it is the rib cage.
# Exercise c shows what a classifier learns when the labels stay in the picture.
