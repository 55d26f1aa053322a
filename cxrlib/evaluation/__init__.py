"""Evaluation of the NORMAL (0) vs PNEUMONIA (1) classifiers on scores (paper §4.3-4.4): metrics and their intervals.

* :mod:`~cxrlib.evaluation.classification`: the paper's Eq. 11-15, ROC AUC, average precision, Brier score;
* :mod:`~cxrlib.evaluation.intervals`: patient (and seed) bootstrap intervals of every metric and of a mean;
* :mod:`~cxrlib.evaluation.comparisons`: two models or two arms on the same images (McNemar, paired intervals);
* :mod:`~cxrlib.evaluation.operating_points`: thresholds chosen on validation, and how far they move between seeds;
* :mod:`~cxrlib.evaluation.arms`: the study's records, every arm at three operating points, compared in pairs;
* :mod:`~cxrlib.evaluation.errors`: calibration (one model or over seeds), error rates and AUC per subtype;
* :mod:`~cxrlib.evaluation.curves`: every arm's seeds on the test split, ROC and precision-recall curves over seeds;
* :mod:`~cxrlib.evaluation.predictive`: PPV and NPV at a stated prevalence (Bayes' rule);
* :mod:`~cxrlib.evaluation.sets`: further evaluation sets (the false-positive rate of a NORMAL-only set);
* :mod:`~cxrlib.evaluation.literature`: the paper's Table 2 with this study's models in front;
* :mod:`~cxrlib.evaluation.tables`: the records as display tables and sentences;
* :mod:`~cxrlib.evaluation.records`: ``metrics.json`` merged key by key;
* :mod:`~cxrlib.evaluation.summaries`: what notebook 04 says about the test split, and its ``metrics.json`` entries;
* :mod:`~cxrlib.evaluation.over_seeds`: what notebook 04 shows over every seed (curves, subtypes, calibration, PPV);
* :mod:`~cxrlib.evaluation.figures`: ROC and precision-recall over seeds, confusion matrices, calibration, errors.

Nothing here imports a deep-learning framework: it works on scores.
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "classification": ["METRIC_NAMES", "METRIC_LABELS", "confusion_matrix", "classification_metrics",
                       "implied_metrics"],
    "intervals": ["bootstrap_intervals", "evaluate", "evaluate_seeds", "bootstrap_mean"],
    "comparisons": ["compare_models", "compare_seeds", "EQUIVALENCE_MARGIN_AUC", "minimal_detectable_difference",
                    "difference_verdict"],
    "operating_points": ["choose_threshold", "threshold_for_sensitivity", "operating_thresholds", "OPERATING_POINTS",
                         "POINT_LABELS", "HEADLINE_METRICS", "THRESHOLD_METRICS", "STABLE_SPECIFICITY_SD",
                         "operating_point_stability", "headline_operating_point"],
    "arms": ["evaluate_arms"],
    "errors": ["calibration", "calibration_over_seeds", "ERROR_MEASURES", "errors_by_group", "auc_by_subtype"],
    "curves": ["SeedScores", "seed_scores", "roc_over_seeds", "pr_over_seeds", "operating_point_rates", "GRID_POINTS"],
    "predictive": ["ILLUSTRATIVE_PREVALENCES", "PREDICTIVE_FORMULA", "predictive_values", "predictive_values_record",
                   "predictive_values_table", "predictive_values_sentence"],
    "sets": ["false_positive_rate", "evaluate_set", "set_predictions", "sets_notes"],
    "literature": ["LITERATURE_TABLE2", "KERMANY_TEST_COUNTS", "paper_table2", "trained_as", "implied_sentence"],
    "tables": ["percent", "interval", "plural", "mean_sd", "headed", "metrics_table", "arms_table", "stability_table",
               "comparisons_table", "comparison_sentence"],
    "records": ["update_json"],
    "summaries": ["test_split_sentence", "headline_sentence", "headline_tables", "comparisons_notes",
                  "operating_point_tables", "failures_tables", "table2_columns", "table2_notes", "planted_tag_sentence",
                  "evaluation_record", "saved_sentence", "evaluation_conclusion"],
    "over_seeds": ["SUBTYPE_LABELS", "lead_point", "SeedSummary", "seed_summary"],
    "figures": ["STYLE", "FIGURE_WIDTH", "POINT_MARKERS", "plot_confusion_matrices", "plot_roc_curves",
                "plot_pr_curves", "plot_calibration", "plot_errors_by_group"],
})
