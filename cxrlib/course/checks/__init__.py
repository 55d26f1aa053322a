"""The tests of the course exercises: public checks students run, hidden checks the autograder runs.

Every check raises ``AssertionError`` with a message a student can act on (what was expected, what came back,
what to look at) and returns None when it passes. Public checks (``check_*``) look only at types, shapes and
internal consistency, so they never reveal an answer. Hidden checks (``grade_*``) live in the autograder's tests:
they recompute the expected answer from the student identifier at grading time, with the study's own functions
(:mod:`cxrlib.evaluation`, :func:`cxrlib.evaluation.choose_threshold`, the ground truth of
:mod:`cxrlib.data.synthetic`), and
call the student's functions also on fresh data of the same variant that the notebook never shows.
"""

from ...lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "common": ["TOLERANCES"],
    "roi": ["box_coverage_area", "check_lung_fields", "check_thorax_box", "grade_lung_fields", "grade_thorax_box"],
    "evaluation": ["PAPER_KEYS", "check_paper_metrics", "check_roc_auc", "check_bootstrap_ci", "grade_paper_metrics",
                   "grade_roc_auc", "grade_bootstrap_ci"],
    "shortcut": ["check_marker_box", "check_marker_kind", "check_shortcut_auc", "grade_marker_box",
                 "grade_marker_kind", "grade_shortcut_gap"],
    "operating_point": ["balanced_accuracy", "reference_optimism", "check_threshold", "check_optimism",
                        "grade_threshold", "grade_optimism"],
})
