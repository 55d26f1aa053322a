"""The shortcut audit: what the trained models use, beyond how well they score.

* :mod:`~cxrlib.audit.floor`: how much a model of global image statistics (no anatomy) already solves;
* :mod:`~cxrlib.audit.perturbations`: the decisions with the thorax blanked, kept alone or swapped between classes;
* :mod:`~cxrlib.audit.gradcam_maps`: Grad-CAM heatmaps of the classifiers, in batches, on either Keras backend;
* :mod:`~cxrlib.audit.gradcam_measures`: where each heatmap falls, in the frame its network saw;
* :mod:`~cxrlib.audit.gradcam_summaries`: the measures per arm with intervals, compared, in words;
* :mod:`~cxrlib.audit.gradcam_checks`: randomization, deletion and insertion checks of the maps;
* :mod:`~cxrlib.audit.summaries`: what notebook 04 says about the floor and the perturbations, and their records;
* :mod:`~cxrlib.audit.gradcam_study` and :mod:`~cxrlib.audit.gradcam_notes`: notebook 05, every arm's maps measured,
  compared and checked, and what it says about them;
* :mod:`~cxrlib.audit.figures`: the figures of notebook 05 (heatmaps over radiographs, distributions, checks).
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "floor": ["STATISTICS", "image_statistics", "fit_trivial_floor", "trivial_floor"],
    "perturbations": ["CONDITIONS", "CONDITION_LABELS", "decisions_kept", "swap_donors", "neutral_fill", "input_fill",
                      "perturb", "perturbed_images", "audit_sample", "score_perturbations", "summarize_perturbations"],
    "gradcam_maps": ["find_layer", "make_gradcam_heatmap", "gradcam"],
    "gradcam_measures": ["MEASURES", "CHANCE", "MEASURE_LABELS", "measure_label", "ROI_COLUMNS", "upsample",
                         "box_pixels", "expand_box", "to_frame", "frame_of", "heatmap_measures", "measure_gradcam"],
    "gradcam_summaries": ["summarize_measures", "summary_table", "paired_test", "compare_measures", "compare_groups",
                          "select_examples", "seed_calls", "select_failures", "gradcam_sentence"],
    "gradcam_checks": ["weight_groups", "stage_labels", "randomization_check", "class_logits", "deletion_insertion",
                       "faithfulness_summary", "faithfulness_table"],
    "summaries": ["floor_and_gains", "gains_over_floor", "floor_table", "floor_sentence", "floor_record",
                  "gains_record", "perturbation_audit", "perturbation_notes", "shortcut_decisions", "decisions_table",
                  "audit_record"],
    "gradcam_study": ["ArmMaps", "check_maps"],
    "gradcam_notes": ["tag_spot", "maps_sentence", "failures_notes", "failures_caption", "paired_notes",
                      "shortcut_notes", "checks_notes", "checks_caption",
                      "gradcam_record", "gradcam_conclusion"],
    "figures": ["overlay", "plot_examples", "plot_measure_distributions", "plot_faithfulness"],
})
