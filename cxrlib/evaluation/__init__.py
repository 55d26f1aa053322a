"""Evaluation of the NORMAL (0) vs PNEUMONIA (1) classifiers on scores (paper §4.3-4.4): metrics and their intervals.

* :mod:`~cxrlib.evaluation.classification`: the paper's Eq. 11-15, ROC AUC, average precision, Brier score;
* :mod:`~cxrlib.evaluation.intervals`: patient (and seed) bootstrap intervals of every metric and of a mean;
* :mod:`~cxrlib.evaluation.comparisons`: two models or two arms on the same images (McNemar, paired intervals);
* :mod:`~cxrlib.evaluation.operating_points`: thresholds chosen on validation, and how far they move between seeds;
* :mod:`~cxrlib.evaluation.arms`: the study's records, every arm at three operating points, compared in pairs;
* :mod:`~cxrlib.evaluation.errors`: calibration and error rates per group;
* :mod:`~cxrlib.evaluation.sets`: further evaluation sets (the false-positive rate of a NORMAL-only set);
* :mod:`~cxrlib.evaluation.literature`: the paper's Table 2 with this study's models in front;
* :mod:`~cxrlib.evaluation.tables`: the records as display tables and sentences;
* :mod:`~cxrlib.evaluation.records`: ``metrics.json`` merged key by key;
* :mod:`~cxrlib.evaluation.summaries`: what notebook 04 says about the test split, and its ``metrics.json`` entries;
* :mod:`~cxrlib.evaluation.figures`: confusion matrices, ROC, precision-recall, calibration, errors by group.

Nothing here imports a deep-learning framework: it works on scores.
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "classification": ["METRIC_NAMES", "confusion_matrix", "classification_metrics", "implied_metrics"],
    "intervals": ["bootstrap_intervals", "evaluate", "evaluate_seeds", "bootstrap_mean"],
    "comparisons": ["compare_models", "compare_seeds", "EQUIVALENCE_MARGIN_AUC", "minimal_detectable_difference",
                    "difference_verdict"],
    "operating_points": ["choose_threshold", "threshold_for_sensitivity", "operating_thresholds", "OPERATING_POINTS",
                         "HEADLINE_METRICS", "STABLE_SPECIFICITY_SD", "operating_point_stability",
                         "headline_operating_point"],
    "arms": ["evaluate_arms"],
    "errors": ["calibration", "ERROR_MEASURES", "errors_by_group"],
    "sets": ["false_positive_rate", "evaluate_set", "set_predictions", "sets_notes"],
    "literature": ["LITERATURE_TABLE2", "KERMANY_TEST_COUNTS", "paper_table2", "trained_as", "implied_sentence"],
    "tables": ["percent", "interval", "metrics_table", "arms_table", "stability_table", "comparisons_table",
               "comparison_sentence"],
    "records": ["update_json"],
    "summaries": ["test_split_sentence", "headline_sentence", "headline_tables", "comparisons_notes",
                  "operating_point_tables", "failures_tables", "FirstSeed", "first_seed", "first_seed_figures",
                  "subtype_errors", "subtype_table", "calibrations", "table2_columns", "table2_notes",
                  "evaluation_record", "saved_sentence", "evaluation_conclusion"],
    "figures": ["plot_confusion_matrices", "plot_roc_curves", "plot_pr_curves", "plot_calibration",
                "plot_errors_by_group", "plot_subtype_errors"],
})
