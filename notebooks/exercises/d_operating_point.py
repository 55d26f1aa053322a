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
# name: cxr-d-operating-point
# init_cell: true
# check_all_cell: true
# export_cell: false
# run_tests: false
# tests:
#   files: false
#   ok_format: false

# %% [markdown]
# # Exercise d · Operating point and test-set optimism (Galindo-Ramirez et al. 2022, §4.3–4.4)
#
# Accuracy, sensitivity and specificity hold at one **threshold**. The study chooses it on validation
# (`cxrlib.evaluation.choose_threshold`: Youden's J, i.e. the best balanced accuracy) and only then opens the test
# set. Choosing it on test flatters the result: you measure by how much, over patient-level resamples of the test
# set.
#
# **Before you start:** write your student identifier in the next cell (it selects your data; the grader reads it
# from there), then run the notebook from the top. Check your work with the `grader.check(...)` cells; the points
# come from hidden tests after you submit. Compute: seconds. All data is SYNTHETIC.

# %% tags=["parameters"]
STUDENT_ID = ""  # your student identifier, e.g. "s1234567"

# %%
import numpy as np
import pandas as pd

from cxrlib.course import checks, variants
from cxrlib.evaluation.operating_points import choose_threshold

validation, test = variants.operating_point_tables(STUDENT_ID)
print(f"validation: {len(validation)} images, test: {len(test)} images (columns {list(test.columns)})")


def balanced_accuracy(labels, scores, threshold, weights=None):
    """(sensitivity + specificity) / 2 at a threshold, optionally with per-image weights (resample counts)."""
    return checks.balanced_accuracy(labels, scores, threshold, weights=weights)


# %% [raw]
# # BEGIN QUESTION
# name: d1
# points: 2

# %% [markdown]
# **d1.** Set `threshold` to the study's operating point: the threshold that maximises Youden's J on the
# **validation** set. Graded: your threshold must reach the best validation balanced accuracy of your variant.

# %% [raw]
# # BEGIN SOLUTION

# %%
threshold = choose_threshold(validation["label"], validation["score"])  # SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_threshold_form(threshold):
    from cxrlib.course import checks
    checks.check_threshold(threshold)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 2
""" # END TEST CONFIG
def test_threshold_on_validation(threshold, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_threshold(threshold, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
print(f"threshold {threshold}: balanced accuracy on test {balanced_accuracy(test['label'], test['score'], threshold):.3f}")

# %% [raw]
# # BEGIN QUESTION
# name: d2
# points: 2

# %% [markdown]
# **d2.** Measure the optimism of choosing the threshold on test. Draw `n_resamples` (at least 200) resamples of the
# test set's **patients** with replacement (each brings all its images; `weights` = how often each image is drawn).
# In each resample compute [the best balanced accuracy any threshold reaches on the resample] − [the balanced
# accuracy at the validation threshold on the resample], and set `optimism` to the mean (choose the validation
# threshold again here with `choose_threshold`, so this answer stands on its own). Tip:
# `sklearn.metrics.roc_curve(labels, scores, sample_weight=weights)` gives every threshold's sensitivity and
# 1 − specificity at once. Graded: within 0.01 of the reference mean (2000 resamples).

# %% [raw]
# # BEGIN SOLUTION

# %%
n_resamples = 500
# BEGIN SOLUTION
from sklearn.metrics import roc_curve

validation_threshold = choose_threshold(validation["label"], validation["score"])
rng = np.random.default_rng(0)
codes, patients = pd.factorize(test["patient_id"])
labels, scores = test["label"].to_numpy(), test["score"].to_numpy()
gains = []
for _ in range(n_resamples):
    weights = np.bincount(rng.integers(0, len(patients), len(patients)), minlength=len(patients))[codes]
    fpr, tpr, _ = roc_curve(labels, scores, sample_weight=weights)
    gains.append((1 + np.max(tpr - fpr)) / 2 - balanced_accuracy(labels, scores, validation_threshold, weights))
optimism = float(np.mean(gains))
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_optimism_form(optimism, n_resamples):
    from cxrlib.course import checks
    checks.check_optimism(optimism, n_resamples)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 2
""" # END TEST CONFIG
def test_optimism_value(optimism, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_optimism(optimism, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Conclusion
#
# The optimism is the price of peeking: a few points of balanced accuracy that a new test set would not give back.
# With the paper's 624 test images and no separate validation threshold reported, its 91% may carry some of it.
