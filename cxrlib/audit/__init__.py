"""The shortcut audit: what the trained models use, beyond how well they score.

* :mod:`~cxrlib.audit.floor`: how much a model of global image statistics (no anatomy) already solves;
* :mod:`~cxrlib.audit.perturbations`: the decisions with the thorax blanked, kept alone or swapped between classes;
* :mod:`~cxrlib.audit.gradcam_maps`: Grad-CAM heatmaps of the classifiers, in batches, on either Keras backend;
* :mod:`~cxrlib.audit.gradcam_measures`: where each heatmap falls, in the frame its network saw;
* :mod:`~cxrlib.audit.gradcam_summaries`: the measures per arm with intervals, compared, in words;
* :mod:`~cxrlib.audit.gradcam_checks`: randomization, deletion and insertion checks of the maps;
* :mod:`~cxrlib.audit.figures`: the figures of notebook 05 (heatmaps over radiographs, distributions, checks).
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "floor": ["STATISTICS", "image_statistics", "fit_trivial_floor", "trivial_floor"],
    "perturbations": ["CONDITIONS", "decisions_kept", "swap_donors", "neutral_fill", "input_fill", "perturb",
                      "perturbed_images", "audit_sample", "score_perturbations", "summarize_perturbations"],
    "gradcam_maps": ["find_layer", "make_gradcam_heatmap", "gradcam"],
    "gradcam_measures": ["MEASURES", "CHANCE", "MEASURE_LABELS", "ROI_COLUMNS", "upsample", "box_pixels",
                         "expand_box", "to_frame", "frame_of", "heatmap_measures", "measure_gradcam"],
    "gradcam_summaries": ["summarize_measures", "summary_table", "paired_test", "compare_measures", "compare_groups",
                          "select_examples", "gradcam_sentence"],
    "gradcam_checks": ["weight_groups", "randomization_check", "class_logits", "deletion_insertion",
                       "faithfulness_summary", "faithfulness_table"],
    "figures": ["overlay", "plot_examples", "plot_measure_distributions", "plot_faithfulness"],
})
