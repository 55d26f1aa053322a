"""What decides a training run (:class:`TrainSettings`, with where each value comes from) and what it returns."""

from __future__ import annotations

import dataclasses
import numpy as np
import pandas as pd

from .backbones import BACKBONES, PRECISION_LABELS, PRECISIONS, TRAIN_RANGES, shown_weights
from .model import BLOCKS, backbone_spec, resolve_weights

__all__ = ["TrainSettings", "TrainingResult", "settings_table"]


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a training run (the profile's model and training keys).

    The defaults are our choice (the paper's Table 1 is missing from our copy):
    a frozen ImageNet Xception with a trained head, Adam 1e-3 decayed by Eq. 10
    (D = 0.9 every 100 steps), dropout 0.3, 30 epochs of 32 images, no augmentation
    (the same defaults as :class:`cxrlib.run.StudyParams`).
    ``feature_cache`` (not in the paper) lets a frozen prefix be computed once; ``precision`` is the
    Keras dtype policy (:data:`cxrlib.models.PRECISIONS`).
    """

    backbone: str = "xception"
    model_input_size: int = 224
    train_mode: str = "frozen"
    weights: str = "imagenet"
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_decay_rate: float = 0.9
    lr_decay_steps: int = 100
    dropout: float = 0.3
    finetune_from_block: str | None = None
    augment: bool = False
    feature_cache: bool = True
    precision: str = "auto"
    seed: int = 0

    def __post_init__(self):
        def check(name, ok, accepted):
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is refused; expected {accepted}")

        def is_int(value):
            return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

        spec = backbone_spec(self.backbone)
        check("model_input_size", is_int(self.model_input_size) and self.model_input_size >= spec.min_input_size,
              f"an int >= {spec.min_input_size} ({self.backbone} refuses smaller inputs)")
        check("train_mode", self.train_mode in ("frozen", "finetune"), "'frozen' or 'finetune'")
        for name, (low, high) in TRAIN_RANGES.items():
            check(name, is_int(getattr(self, name)) and low <= getattr(self, name) <= high,
                  f"an int in [{low}, {high}]")
        check("learning_rate", float(self.learning_rate) > 0, "a float > 0")
        check("lr_decay_rate", 0 < float(self.lr_decay_rate) <= 1, "a float in (0, 1]")
        check("dropout", 0 <= float(self.dropout) < 1, "a float in [0, 1)")
        check("finetune_from_block", self.finetune_from_block is None or self.finetune_from_block in BLOCKS,
              f"null or one of {', '.join(BLOCKS)}")
        check("augment", isinstance(self.augment, bool), "true or false")
        check("feature_cache", isinstance(self.feature_cache, bool), "true or false")
        check("precision", self.precision in PRECISIONS, " or ".join(map(repr, PRECISIONS)))
        check("seed", is_int(self.seed) and self.seed >= 0, "an int >= 0")
        resolve_weights(self.weights)

    @property
    def cached(self):
        """Whether training runs on cached features of a frozen prefix."""
        return _cached(dataclasses.asdict(self))


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train_classifier` returns.

    Attributes
    ----------
    model : keras.Model
        The full classifier with the best epoch's weights (:mod:`cxrlib.models.model`).
    history : pandas.DataFrame
        One row per epoch: epoch, loss, accuracy, val_loss, val_accuracy, val_auc,
        learning_rate, seconds.
    threshold : float
        Decision threshold chosen on validation by Youden's J (P(pneumonia) >= threshold: pneumonia).
    thresholds : dict of str to float
        The study's three operating points, all chosen on validation (:func:`cxrlib.evaluation.operating_thresholds`).
    val_auc : float
        Validation ROC AUC of the best epoch.
    best_epoch : int
        1-based.
    train_seconds : float
        Feature extraction (if any) plus fitting, summed over resumed runs.
    feature_seconds : float
    validation : pandas.DataFrame
        The validation rows with ``label_int``, ``score`` and ``predicted``.
    settings : TrainSettings
    trainable_layers : list of str
    device : str
    dtype_policy : str
        The Keras dtype policy it trained in (``precision`` resolved on this machine).
    """

    model: object
    history: pd.DataFrame
    threshold: float
    thresholds: dict
    val_auc: float
    best_epoch: int
    train_seconds: float
    feature_seconds: float
    validation: pd.DataFrame
    settings: TrainSettings
    trainable_layers: list
    device: str
    dtype_policy: str

    def summary(self):
        """A JSON-ready dict for training.json."""
        best = self.history.loc[self.history.epoch == self.best_epoch].iloc[0]
        return {
            "threshold": float(self.threshold),
            "thresholds": {k: float(v) for k, v in self.thresholds.items()},
            "val_auc": float(self.val_auc),
            "val_accuracy_at_threshold": float((self.validation.predicted == self.validation.label_int).mean()),
            "best_epoch": int(self.best_epoch),
            "best_epoch_val_loss": float(best.val_loss),
            "epochs_run": int(len(self.history)),
            "train_seconds": round(float(self.train_seconds), 1),
            "feature_seconds": round(float(self.feature_seconds), 1),
            "trainable_layers": len(self.trainable_layers),
            "trainable_params": int(sum(np.prod(w.shape) for w in self.model.trainable_weights)),
            "cached_features": self.settings.cached,
            "device": self.device,
            "dtype_policy": self.dtype_policy,
            "architecture": BACKBONES[self.settings.backbone].label,
            "settings": dataclasses.asdict(self.settings),
        }


#: Each setting's name for a reader, and where its value comes from (the paper, or our choice).
_SETTINGS = {
    "backbone": ("backbone", "paper: Xception (§3.4); small_cnn: ours, for the demo and teaching"),
    "model_input_size": ("input size (pixels)",
                         "paper: 400 (§3.2); a profile may use less (kermany224: the copies' 224)"),
    "train_mode": ("training mode", "paper: transfer learning (§3.4); 'frozen' is our CPU path"),
    "weights": ("starting weights", "paper: ImageNet transfer learning (§3.4)"),
    "epochs": ("epochs", "paper: 100 (Table 2); fewer on CPU: our choice"),
    "batch_size": ("batch size", "our choice (paper's Table 1 missing)"),
    "learning_rate": ("initial learning rate", "our choice: Lr_i of Eq. 10 (Table 1 missing)"),
    "lr_decay_rate": ("learning-rate decay (D)", "our choice: D of Eq. 10 (Table 1 missing)"),
    "lr_decay_steps": ("decay every (ds, optimizer steps)", "our choice: ds of Eq. 10 (Table 1 missing)"),
    "dropout": ("dropout before the output", "our choice: head dropout (Table 1 missing)"),
    "finetune_from_block": ("trained from block", "our choice (paper does not say which layers train)"),
    "augment": ("augmentation", "our choice"),
    "feature_cache": ("frozen part computed once", "our choice: frozen prefix cached (not in the paper)"),
    "precision": ("arithmetic", "our choice: Keras dtype policy (auto: mixed_float16 on a GPU, float32 on a CPU)"),
}


def _cached(settings):
    """Whether settings (a mapping) train on cached features of a frozen prefix."""
    has_prefix = settings["train_mode"] == "frozen" or settings["finetune_from_block"] not in (None, "block1")
    return bool(settings["feature_cache"] and has_prefix)


def _shown(settings):
    """Each setting's value as a reader should see it: what the run actually did (``settings``: a mapping)."""
    values = {k: v for k, v in settings.items() if k != "seed"}
    mode, block, cached = settings["train_mode"], settings["finetune_from_block"], _cached(settings)
    values["weights"] = shown_weights(values["weights"])
    values["backbone"] = BACKBONES[settings["backbone"]].label
    values["train_mode"] = {"frozen": "frozen backbone, head trained", "finetune": "fine-tuning"}[mode]
    values["finetune_from_block"] = ("none: only the head trains" if mode == "frozen" else
                                     "every layer trains" if block in (None, "block1") else
                                     f"{block} and the layers after it")
    values["augment"] = ("no" if not settings["augment"] else
                         "no: the images are cached features of a frozen part" if cached else
                         "yes: rotation ±5°, shift ±5%, zoom ±10%, contrast ±20%, no flips")
    values["feature_cache"] = "yes" if cached else "no: nothing is frozen" if settings["feature_cache"] else "no"
    values["precision"] = PRECISION_LABELS.get(settings["precision"], settings["precision"])
    return values


def settings_table(settings):
    """The settings of a training run, named for a reader, with where each value comes from (the seed aside: each
    seed is its own run). ``settings``: a :class:`TrainSettings`, or the mapping ``training.json`` records (read
    as it is: a weights file recorded relative to the run folder need not exist where the table is drawn).

    Returns
    -------
    pandas.DataFrame
        One row per setting; columns ``value`` (what the run did: augmentation ``no`` when off, or when the
        images are cached features), ``source``.
    """
    values = _shown(dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings))
    return pd.DataFrame({"value": [str(v) for v in values.values()],
                         "source": [_SETTINGS[k][1] for k in values]},
                        index=[_SETTINGS[k][0] for k in values]).rename_axis(columns="setting")
