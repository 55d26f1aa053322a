"""Course assignments on the paper's method: exercises, per-student variants, build and grading.

Four exercises (``notebooks/exercises/<x>_<name>.py``, jupytext masters in otter-grader's assign format) train the
paper's steps on SYNTHETIC data that depends on the student's identifier:

a. thorax ROI (§3.2-3.3), b. evaluation (Eq. 11-15, ROC AUC, patient bootstrap), c. finding a planted shortcut
with Grad-CAM (§4.4), d. the operating point and the optimism of choosing it on test.

``python -m cxrlib course build OUT_DIR [--with-solutions]`` runs otter assign on every master
(:mod:`cxrlib.course.build`); ``python -m cxrlib course grade OUT_DIR/autograder SUBMISSIONS_DIR --out gradebook.csv``
grades a folder of notebooks without Docker (:mod:`cxrlib.course.grade`). The checks of each exercise are in
:mod:`cxrlib.course.checks`, per-student data in :mod:`cxrlib.course.variants`. The student identifier is the string
assigned to ``STUDENT_ID`` in the notebook's first code cell after the title.
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "variants": ["EXERCISES", "check_student_id", "variant_seed"],
    "real_data": ["real_images"],
})
