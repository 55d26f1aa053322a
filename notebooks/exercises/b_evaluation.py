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
# name: cxr-b-evaluation
# init_cell: true
# check_all_cell: true
# export_cell: false
# run_tests: false
# tests:
#   files: false
#   ok_format: false

# %% [markdown]
# # Exercise b · Evaluation with honest intervals (Galindo-Ramirez et al. 2022, §4.3, Eq. 11–15)
#
# The paper reports accuracy, sensitivity, specificity, precision and F1 (Eq. 11–15) without intervals. The study
# adds the threshold-free ROC AUC and 95% bootstrap intervals that resample **patients**: a patient's images are
# alike, so resampling images pretends there is more independent evidence than there is. You compute all three
# from a predictions table of your own (simulated) classifier; the grader compares them with `cxrlib.evaluation`.
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

table = variants.predictions_table(STUDENT_ID)
print(f"{len(table)} images of {table['patient_id'].nunique()} patients, {table['label'].mean():.0%} PNEUMONIA")
table.head()

# %% [markdown]
# ## 1. The paper's metrics
#
# `label` is 1 for PNEUMONIA, `score` the model's P(PNEUMONIA); a score **at or above** the threshold is
# predicted PNEUMONIA. FP: a NORMAL image called PNEUMONIA; FN: a PNEUMONIA image called NORMAL.

# %% [raw]
# # BEGIN QUESTION
# name: b1
# points: 3

# %% [markdown]
# **b1.** Write `paper_metrics(table, threshold)` returning a dict with the counts `tn, fp, fn, tp` and Eq. 11–15:
# `accuracy, sensitivity, specificity, precision, f1`. Graded exactly (1e-9) against
# `cxrlib.evaluation.classification_metrics` on your table and on a fresh table of your variant at another threshold.

# %% [raw]
# # BEGIN SOLUTION

# %%
def paper_metrics(table, threshold):
    """Confusion counts and the paper's Eq. 11-15 at a threshold (score >= threshold is PNEUMONIA)."""
    # BEGIN SOLUTION
    y = table["label"].to_numpy() == 1
    pred = table["score"].to_numpy() >= threshold
    tp, tn = int(np.sum(pred & y)), int(np.sum(~pred & ~y))
    fp, fn = int(np.sum(pred & ~y)), int(np.sum(~pred & y))
    return {"tn": tn, "fp": fp, "fn": fn, "tp": tp,
            "accuracy": (tp + tn) / (tp + tn + fp + fn),
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "precision": tp / (tp + fp),
            "f1": 2 * tp / (2 * tp + fp + fn)}
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_paper_metrics_form(paper_metrics, table):
    from cxrlib.course import checks
    checks.check_paper_metrics(paper_metrics, table)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 3
""" # END TEST CONFIG
def test_paper_metrics_values(paper_metrics, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_paper_metrics(paper_metrics, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
pd.Series(paper_metrics(table, 0.5))

# %% [markdown]
# ## 2. ROC AUC

# %% [raw]
# # BEGIN QUESTION
# name: b2
# points: 1

# %% [markdown]
# **b2.** Write `roc_auc(table)`: the area under the ROC curve of the scores (the probability that a random
# PNEUMONIA image scores above a random NORMAL one, ties counting one half). You may use scikit-learn. Graded
# exactly (1e-9) on your table and on a fresh one.

# %% [raw]
# # BEGIN SOLUTION

# %%
def roc_auc(table):
    """Area under the ROC curve of the scores."""
    # BEGIN SOLUTION
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(table["label"], table["score"]))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_roc_auc_form(roc_auc, table):
    from cxrlib.course import checks
    checks.check_roc_auc(roc_auc, table)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
def test_roc_auc_value(roc_auc, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_roc_auc(roc_auc, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3. A patient-level bootstrap interval

# %% [raw]
# # BEGIN QUESTION
# name: b3
# points: 2

# %% [markdown]
# **b3.** Write `patient_bootstrap_ci(table, n_boot, seed)`: the 95% percentile bootstrap interval `(low, high)` of
# the accuracy at threshold 0.5, drawing **patients** with replacement (each brings all its images) `n_boot` times
# from `np.random.default_rng(seed)`. Graded: each end within 0.02 of `cxrlib.evaluation.bootstrap_intervals` with
# `groups=patient_id`, called with `n_boot=1000`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def patient_bootstrap_ci(table, n_boot, seed):
    """95% percentile bootstrap interval of the accuracy at 0.5, resampling patients."""
    # BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    codes, patients = pd.factorize(table["patient_id"])
    correct = ((table["score"].to_numpy() >= 0.5) == (table["label"].to_numpy() == 1)).astype(float)
    accuracies = []
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, len(patients), len(patients)), minlength=len(patients))
        weights = drawn[codes]
        accuracies.append(np.sum(weights * correct) / np.sum(weights))
    low, high = np.percentile(accuracies, [2.5, 97.5])
    return float(low), float(high)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_bootstrap_form(patient_bootstrap_ci, table):
    from cxrlib.course import checks
    checks.check_bootstrap_ci(patient_bootstrap_ci, table)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 2
""" # END TEST CONFIG
def test_bootstrap_values(patient_bootstrap_ci, STUDENT_ID):
    from cxrlib.course import checks
    checks.grade_bootstrap_ci(patient_bootstrap_ci, STUDENT_ID)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Conclusion
#
# Compare your interval with one that resamples images instead of patients: which is narrower, and why is the
# narrower one wrong here? The paper's 91% accuracy on 624 images carries an interval of several points either way.
