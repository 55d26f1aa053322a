"""The classifiers (paper §3.4, §4.2): backbones, the Keras model, its inputs, training, scoring and the records.

* :mod:`~cxrlib.models.backbones`: the networks a study can use and the bounds of their settings (no framework);
* :mod:`~cxrlib.models.backend`: which Keras backend runs the study, and on what device;
* :mod:`~cxrlib.models.model`: the classifier on a backbone, its layers, saving and loading;
* :mod:`~cxrlib.models.inputs`: images and cached features as the network's input;
* :mod:`~cxrlib.models.settings`: what decides a training run and what it returns;
* :mod:`~cxrlib.models.training`: training one classifier on one arm's images;
* :mod:`~cxrlib.models.scoring`: P(pneumonia) of a trained classifier (through cached frozen features);
* :mod:`~cxrlib.models.records`: ``training.json``, histories, validation predictions and the saved models;
* :mod:`~cxrlib.models.arms`: every arm's models of every seed, loaded once, scoring the test split and further sets;
* :mod:`~cxrlib.models.summaries`: what notebook 03 says about training;
* :mod:`~cxrlib.models.figures`: the figures of notebook 03.

Importing this package imports no deep-learning framework; a name from a module that needs Keras imports it on
first use.
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "backbones": ["Backbone", "BACKBONES", "PRECISIONS", "PRECISION_LABELS", "TRAIN_RANGES", "shown_weights"],
    "backend": ["BACKENDS", "BackendError", "resolve_backend", "require_backend", "require_tensorflow",
                "package_versions", "backend_versions", "accelerators", "device_name"],
    "model": ["BLOCKS", "INPUT_RANGE", "resolve_weights", "build_classifier", "configure_trainable", "split_at",
              "cut_layer", "lr_schedule", "compile_classifier", "to_model_input", "predict_proba", "load_classifier"],
    "inputs": ["read_images", "class_weights", "make_augmenter", "image_dataset", "ImageBatches", "fingerprint",
               "cached_features"],
    "settings": ["TrainSettings", "TrainingResult", "settings_table"],
    "training": ["train_classifier", "distribution"],
    "scoring": ["predict_scores", "gradcam_inputs"],
    "records": ["model_name", "save_training_outputs"],
    "arms": ["ArmModels"],
    "summaries": ["training_counts", "class_weight_sentence", "arms_inputs", "seeds_sentence", "train_arms",
                  "training_table", "wall_sentence", "first_seed_results", "outputs_sentence", "training_conclusion"],
    "figures": ["plot_histories", "plot_training_curves", "plot_validation_scores"],
})
