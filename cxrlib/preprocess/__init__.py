"""Preprocessing (paper §3.2-3.3): resize, CLAHE and the thorax ROI, for one radiograph or a whole manifest.

* :mod:`~cxrlib.preprocess.config`: every parameter (:class:`PreprocessConfig`, the cache key) and the results' types;
* :mod:`~cxrlib.preprocess.clahe`: resize and CLAHE, the start of every chain that reads a radiograph;
* :mod:`~cxrlib.preprocess.contours` and :mod:`~cxrlib.preprocess.lung_fields`: the ROI's steps, one function each;
* :mod:`~cxrlib.preprocess.roi`: the steps chained into the ROI of one radiograph, and the network's image of an arm;
* :mod:`~cxrlib.preprocess.boxes`: boxes as fractions of an image (pixels, crop, IoU);
* :mod:`~cxrlib.preprocess.plausibility`: boxes flagged implausible and failure rates by class;
* :mod:`~cxrlib.preprocess.arms`: the study's arms (which of the paper's steps each network's images get);
* :mod:`~cxrlib.preprocess.cache`: a manifest preprocessed into a content-addressed cache on all cores
  (:mod:`~cxrlib.preprocess.parallel`);
* :mod:`~cxrlib.preprocess.reference`, :mod:`~cxrlib.preprocess.roi_evaluation`, :mod:`~cxrlib.preprocess.stress`:
  the ROI held to the full-size reference, to manual lung masks and drawn boxes, and to stress sets;
* :mod:`~cxrlib.preprocess.summaries`: what notebook 02 says about the ROI over the data, and ``roi.json``;
* :mod:`~cxrlib.preprocess.figures`: the figures of notebook 02.
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "config": ["ALGORITHM_VERSION", "PREPROCESS_RANGES", "PreprocessConfig", "RoiResult", "PreprocessResult"],
    "clahe": ["resize_image", "apply_clahe", "resized_and_equalized"],
    "contours": ["uniform_border", "flat_edge_regions", "field_of_view", "mean_threshold", "chan_vese_contour",
                 "geodesic_contour", "mean_filter_mask"],
    "lung_fields": ["outside_air", "select_lung_fields", "trim_thin_parts", "mediastinum_gap", "lungs_apart",
                    "body_midline", "roi_box"],
    "roi": ["extract_roi", "preprocess_image", "network_image"],
    "boxes": ["box_pixels", "crop_box", "box_intersection", "box_iou"],
    "plausibility": ["PLAUSIBLE", "FLAGS", "lung_side_ratio", "flag_boxes", "failure_rates", "rates_sentence"],
    "arms": ["Arm", "arms_from", "arms_table"],
    "cache": ["ROI_COLUMNS", "TABLE_COLUMNS", "cache_folder", "preprocess_manifest"],
    "parallel": ["map_parallel"],
    "reference": ["agreement_sample", "compare_to_reference"],
    "roi_evaluation": ["ROI_GOALS", "BOTH_LUNGS_LEVEL", "evaluate_roi", "PAEDIATRIC_BOXES", "evaluate_roi_on_boxes"],
    "stress": ["STRESS_CROP", "STRESS_TRANSFORMS", "FRAMING_KEPT", "stress_crop", "stress_transform",
               "build_stress_set"],
    "summaries": ["parameters_note", "figure_samples", "sample_titles", "preprocess_study", "with_box_area",
                  "roi_by_label", "roi_table", "cache_sentence", "preprocess_notes", "study_failures",
                  "failures_sentence", "worst_cases", "unshown_sentence", "agreement_table", "evaluate_lungmasks",
                  "lungmask_notes", "mask_groups", "paediatric_table", "roi_record", "roi_conclusion"],
    "figures": ["plot_clahe_examples", "plot_processed_examples", "plot_roi_stages", "plot_roi_statistics",
                "plot_roi_gallery", "plot_worst_cases", "plot_lowest_coverage", "plot_roi_evaluation",
                "plot_lungmask_worst_cases", "plot_roi_extremes"],
})
