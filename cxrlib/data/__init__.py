"""The data: the Kermany release or synthetic radiographs, their manifest, splits, images and first figures.

* :mod:`~cxrlib.data.manifest`: the release's layout, one row per image, the data's hash and description;
* :mod:`~cxrlib.data.images`: reading radiographs (the library's one image convention), image sizes;
* :mod:`~cxrlib.data.splits`: the patient-level validation split, leakage between subsets, class counts;
* :mod:`~cxrlib.data.evaluation_sets`: further evaluation sets as manifest rows;
* :mod:`~cxrlib.data.fetch`: downloading and unpacking the archive;
* :mod:`~cxrlib.data.synthetic` (drawing in :mod:`~cxrlib.data.synthetic_drawing`): seeded synthetic radiographs;
* :mod:`~cxrlib.data.summaries`: what notebook 01 says about the data, and its record ``data.json``;
* :mod:`~cxrlib.data.figures`: the figures of notebook 01.
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "manifest": ["CLASSES", "SPLITS", "IMAGE_SUFFIXES", "DatasetLayoutError", "find_dataset_root", "parse_patient_id",
                 "parse_subtype", "sha256_file", "build_manifest", "manifest_hash", "describe_source"],
    "images": ["ImageReadError", "pair_images_and_masks", "read_radiograph", "check_images", "image_size_table"],
    "splits": ["split_train_validation", "patient_key", "leakage_report", "class_counts"],
    "evaluation_sets": ["evaluation_set_manifest"],
    "fetch": ["FetchError", "fetch_dataset"],
    "synthetic": ["GENERATOR_VERSION", "LABELS", "SUBTYPES", "SHORTCUT_RATES", "shortcut_truth",
                  "SHORTCUT_DESCRIPTION", "SYNTHETIC_NOTE", "Anatomy", "SyntheticRadiograph", "sample_anatomy",
                  "synthetic_radiograph", "make_synthetic_dataset"],
    "summaries": ["SIZE_SAMPLE", "SUBSET_NAMES", "reader_table", "dataset_root", "source_notes", "split_counts",
                  "shared_patients", "imbalance_sentence", "subtype_counts", "size_summary", "uniform_size_sentence",
                  "leakage_tables", "with_evaluation_sets", "data_record", "data_conclusion"],
    "figures": ["plot_class_counts", "plot_image_sizes", "plot_intensity_histograms", "plot_sample_grid"],
})
