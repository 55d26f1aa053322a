"""Study profiles: the typed schema of ``params/*.yaml`` and its loader.

A profile is a YAML mapping. Every key is declared in :class:`StudyParams` with
its type, range and default; an unknown key, a wrong type or an out-of-range
value is refused with a :class:`ProfileError` naming the key and the value.
The study's shape is declared, not wired: ``arms`` (each a name and which of
the paper's steps it applies, :class:`ArmSpec`), ``seeds`` (one trained model
per arm and seed), ``backbone`` and ``compare`` (the pairs of arms compared).
The runner injects into each notebook only the keys that the notebook's
``parameters`` cell declares (nested values as plain dicts and lists).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ..models.backbones import BACKBONES, PRECISIONS, TRAIN_RANGES
from ..models.backend import BACKENDS, resolve_backend
from ..preprocess.config import PREPROCESS_RANGES

__all__ = ["ArmSpec", "EvaluationSetSpec", "ProfileError", "StudyParams", "load_profile", "parse_overrides"]

_ARM_NAME = r"^[A-Za-z][A-Za-z0-9_-]*$"


def _range(name, table=PREPROCESS_RANGES):
    """The ``ge``/``le`` bounds of a key, from the one table that declares them."""
    low, high = table[name]
    return {"ge": low, "le": high}


class ProfileError(ValueError):
    """A study profile (or a ``--set`` override) that cannot be used as it is."""


class ArmSpec(BaseModel):
    """One arm of the study: which of the paper's preprocessing steps its images get.

    ``clahe``: the CLAHE-equalized image (else the resized radiograph as it is);
    ``roi``: cropped to the thorax box (else the whole image). The box is found on the
    CLAHE image in every arm (the paper's ROI step needs it), so arms differ only in
    what the network sees.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    clahe: bool = False
    roi: bool = False


class EvaluationSetSpec(BaseModel):
    """An evaluation set besides the release's test split: exactly one of ``kermany``, ``csv`` or ``images``.

    ``kermany``: a folder in the Kermany layout (its ``test`` split, or ``NORMAL``/``PNEUMONIA`` subfolders);
    ``csv``: a file with columns ``path,label``; ``images``: a folder whose files matching ``glob`` all have
    ``label``. Every arm is scored on it with the thresholds chosen on validation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kermany: str | None = None
    csv: str | None = None
    images: str | None = None
    glob: str = "*"
    label: Literal["NORMAL", "PNEUMONIA"] | None = None
    source: str | None = Field(None, description="where the images come from (who made them, licence)")
    population: str | None = Field(None, description="who is in the images (age, views, diagnoses)")
    shows: str | None = Field(None, description="what the set can and cannot show about the models")

    @field_validator("kermany", "csv", "images")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        # resolved where the profile is read: the notebooks run with the run folder as their working directory
        return None if value is None else str(Path(value).expanduser().resolve())

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("kermany", "csv", "images") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of kermany, csv or images, got {given or 'none'}")
        path = Path(getattr(self, given[0])).expanduser()
        if not (path.is_file() if given[0] == "csv" else path.is_dir()):
            raise ValueError(f"{given[0]} {str(path)!r} does not exist; correct the path, or leave the set out "
                             "(--set evaluation_sets={} drops them all)")
        if given[0] == "images" and self.label is None:
            raise ValueError("an images folder needs label: NORMAL or PNEUMONIA")
        return self


def _default_arms():
    return {"original": ArmSpec(), "paper": ArmSpec(clahe=True, roi=True)}


class StudyParams(BaseModel):
    """Every parameter a study run can take, with its type, range and default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # run
    run_name: str = Field("demo", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                          description="name of the run folder under reports_dir")
    reports_dir: str = Field("reports", description="folder that holds the run folders")
    work_dir: str = Field("data/work", description="caches (features, processed images); outside git")
    kernel_name: str = Field("python3", description="Jupyter kernel that executes the notebooks")
    keras_backend: str | None = Field(
        None, description="Keras backend of the notebooks' kernels: " + " or ".join(BACKENDS)
        + "; null: the KERAS_BACKEND environment variable, else tensorflow")
    seed: int = Field(0, ge=0, description="seed of the data: validation split, synthetic images, bootstrap")

    # the study's shape: arms x seeds, one backbone, the pairs compared
    arms: dict[str, ArmSpec] = Field(default_factory=_default_arms, min_length=1,
                                     description="arm name -> {clahe: bool, roi: bool}, the paper's steps it applies")
    seeds: list[int] = Field([0], min_length=1, description="training seeds: every arm is trained once per seed")
    backbone: Literal[tuple(BACKBONES)] = Field("xception", description="network: " + "; ".join(
        f"{name}: {spec.description}" for name, spec in BACKBONES.items()))
    compare: list[tuple[str, str]] | None = Field(
        None, description="pairs [a, b] of arms compared (a - b); null: every arm against 'original' "
                          "(or against the first arm when there is no 'original'), then every pair of arms that "
                          "differ in one step (e.g. paper - roi: CLAHE on cropped images)")

    # data
    data_dir: str | None = Field(None, description="Kermany root (train/test/{NORMAL,PNEUMONIA}); null: synthetic demo data")
    sources: dict[str, str] = Field(default_factory=dict, description="input -> who made it and under which terms "
                                    "(e.g. images, lung masks, weights), one line each; the report's provenance box")
    synthetic_train_per_class: int = Field(60, ge=4, le=5000)
    synthetic_test_per_class: int = Field(30, ge=2, le=5000)
    synthetic_size: int = Field(256, ge=96, le=1024)
    synthetic_shortcut: bool = Field(True, description="plant a label-correlated marker outside the thorax in train")
    val_fraction: float = Field(0.15, gt=0.0, le=0.5, description="share of train patients held out for validation")

    evaluation_sets: dict[str, EvaluationSetSpec] = Field(
        default_factory=dict, description="name -> {kermany: DIR} | {csv: FILE} | {images: DIR, glob, label}: "
                                          "sets scored besides the test split")
    audit_images: int = Field(300, ge=10, le=100_000, description="test images (seeded, stratified) in the "
                                                                 "thorax-blanking and swap tests")
    audit_gradcam_images: int = Field(100, ge=4, le=1000, description="test images (seeded, stratified by class) in "
                                      "the deletion/insertion check of every seed's maps; the first 24 also in the "
                                      "randomization check")

    # preprocessing and ROI (paper section 3.2-3.3)
    preprocess_size: int = Field(400, **_range("preprocess_size"), description="side of the resized radiograph (paper: 400)")
    clahe_clip_limit: float = Field(2.0, gt=0.0, **_range("clahe_clip_limit"))
    clahe_tile_grid: int = Field(8, **_range("clahe_tile_grid"))
    roi_margin: float = Field(0.04, **_range("roi_margin"), description="margin added around the ROI box, as a fraction of its size")
    roi_mean_filter: int = Field(21, **_range("roi_mean_filter"), description="side of the mean filter on the mask (paper: 21)")
    lungmask_dir: str | None = Field(None, description="folder with images/ and masks/ to measure ROI lung coverage")

    # model and training (paper section 3.4, 4.2)
    model_input_size: int = Field(224, ge=min(b.min_input_size for b in BACKBONES.values()), le=1024,
                                  description="network input side (Xception needs >= 71)")
    train_mode: Literal["frozen", "finetune"] = "frozen"
    weights: str = Field("imagenet", description="'imagenet' (Keras download), a local .weights.h5 path, or 'none'")
    epochs: int = Field(30, **_range("epochs", TRAIN_RANGES))
    batch_size: int = Field(32, **_range("batch_size", TRAIN_RANGES))
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0)
    lr_decay_rate: float = Field(0.9, gt=0.0, le=1.0, description="D in Lr = Lr_i * D^(s/ds)")
    lr_decay_steps: int = Field(100, **_range("lr_decay_steps", TRAIN_RANGES), description="ds in Lr = Lr_i * D^(s/ds)")
    dropout: float = Field(0.3, ge=0.0, lt=1.0)
    finetune_from_block: str | None = Field(None, description="first Xception block that trains in finetune mode; null: all")
    augment: bool = Field(False, description="random rotation/shift/zoom/contrast; needs images, not cached features")
    feature_cache: bool = Field(True, description="cache the frozen part's outputs on disk and train only what follows")
    precision: Literal[PRECISIONS] = Field(
        "auto", description="Keras dtype policy; auto: mixed_float16 on a GPU, float32 on a CPU; mixed_bfloat16 "
                            "is about 1.5 times as fast on a CPU with AVX512_BF16 or AMX")

    # Grad-CAM
    gradcam_layer: str | None = Field(None, description="layer for Grad-CAM; null: the backbone's last convolutional block")
    gradcam_examples: int = Field(8, ge=1, le=64)

    @field_validator("roi_mean_filter")
    @classmethod
    def _odd_filter(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd so the filter is centred, got {value}")
        return value

    @field_validator("keras_backend")
    @classmethod
    def _known_backend(cls, value: str | None) -> str:
        return resolve_backend(value)[0]  # null: KERAS_BACKEND, else tensorflow; unknown names refused

    @field_validator("weights")
    @classmethod
    def _weights_source(cls, value: str) -> str:
        if value in ("imagenet", "none"):
            return value
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(
                f"weights file {str(path)!r} does not exist; give 'imagenet' (needs internet), "
                "'none' (train from scratch) or the path of a Keras Xception no-top .weights.h5 file"
            )
        return str(path.resolve())

    @field_validator("reports_dir", "work_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return str(Path(value).expanduser().resolve())

    @field_validator("data_dir", "lungmask_dir")
    @classmethod
    def _existing_folder(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_dir():
            raise ValueError(f"folder {str(path)!r} does not exist; give yours with --set {info.field_name}=PATH"
                             + (", or --set lungmask_dir=null to skip the lung-mask measurement"
                                if info.field_name == "lungmask_dir" else ""))
        return str(path.resolve())

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, value: dict) -> dict:
        bad = [name for name in value if not re.match(_ARM_NAME, name)]
        if bad:
            raise ValueError(f"arm names {bad} are refused: a letter, then letters, digits, '_' or '-'")
        return value

    @field_validator("evaluation_sets")
    @classmethod
    def _set_names(cls, value: dict) -> dict:
        bad = [name for name in value if not re.match(_ARM_NAME, name) or name in ("train", "val", "test")]
        if bad:
            raise ValueError(f"evaluation set names {bad} are refused: a letter, then letters, digits, '_' or '-', "
                             "and not train, val or test")
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value) or any(seed < 0 for seed in value):
            raise ValueError(f"seeds must be distinct integers >= 0, got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        for pair in self.compare or []:
            unknown = [arm for arm in pair if arm not in self.arms]
            if unknown or pair[0] == pair[1]:
                raise ValueError(f"key 'compare': pair {list(pair)} must name two different declared arms "
                                 f"({', '.join(self.arms)})")
        spec = BACKBONES[self.backbone]
        if not spec.pretrained and self.weights != "none":
            raise ValueError(f"key 'weights': value {self.weights!r} is refused: backbone {self.backbone!r} trains "
                             "from scratch; set weights: none")
        if self.model_input_size < spec.min_input_size:
            raise ValueError(f"key 'model_input_size': value {self.model_input_size} is refused: below "
                             f"{self.backbone}'s minimum {spec.min_input_size}")
        if not spec.pretrained and (self.train_mode != "finetune" or self.finetune_from_block is not None):
            raise ValueError(f"key 'train_mode': value {self.train_mode!r} is refused: backbone {self.backbone!r} "
                             "trains from scratch, end to end; set train_mode: finetune and finetune_from_block: null")
        return self

    def comparisons(self) -> list[tuple[str, str]]:
        """The pairs of arms compared: ``compare``, or every arm against the baseline arm and then each step's
        own effect: every pair of arms that differ in one step only (CLAHE on cropped images, ``paper - roi``;
        the crop on equalized images, ``paper - clahe``), the arm with the step first."""
        if self.compare is not None:
            return [tuple(pair) for pair in self.compare]
        names = list(self.arms)
        baseline = "original" if "original" in self.arms else names[0]
        pairs = [(name, baseline) for name in names if name != baseline]
        steps = {name: (arm.clahe, arm.roi) for name, arm in self.arms.items()}
        for a in names:
            for b in names:
                differ = [x != y for x, y in zip(steps[a], steps[b])]
                one_step = sum(differ) == 1 and steps[a][differ.index(True)]  # a has the step b lacks
                if one_step and (a, b) not in pairs and (b, a) not in pairs:
                    pairs.append((a, b))
        return pairs

    @classmethod
    def known_keys(cls) -> list[str]:
        """The keys a profile may set, in schema order."""
        return list(cls.model_fields)


def _explain(error: ValidationError, values: dict[str, Any], source: str) -> ProfileError:
    known = StudyParams.known_keys()
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        key = ".".join(loc) or "(profile)"
        if item["type"] == "extra_forbidden" and loc[:1] == ["arms"] and len(loc) == 3:
            known_arm = ", ".join(ArmSpec.model_fields)
            lines.append(f"arm {loc[1]!r}: unknown key {loc[2]!r}; an arm takes {known_arm} (true or false)")
        elif item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"unknown key {key!r}{hint}; known keys: {', '.join(known)}")
        elif not loc:  # a check across keys: its message names the key
            lines.append(item["msg"].removeprefix("Value error, "))
        else:
            message = item["msg"].removeprefix("Value error, ")
            value = values.get(loc[0])
            lines.append(f"key {key!r}: value {value!r} is refused: {message}")
    return ProfileError(f"{source}: " + "; ".join(lines))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Turn ``["epochs=3", "data_dir=null"]`` into a mapping, values read as YAML scalars."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ProfileError(f"--set {item!r}: expected key=value, e.g. --set epochs=3")
        overrides[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return overrides


def load_profile(path: str | Path, overrides: dict[str, Any] | None = None) -> StudyParams:
    """Read a YAML profile, apply overrides and validate the result.

    Parameters
    ----------
    path : str or Path
        A ``params/*.yaml`` file holding a flat mapping of keys to values.
    overrides : dict, optional
        Values that replace the file's (the command line's ``--set``).

    Returns
    -------
    StudyParams
        The validated parameters.

    Raises
    ------
    ProfileError
        When the file is missing or not a mapping, or a key is unknown, or a
        value has the wrong type or range. The message names the key and value.
    """
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile {str(path)!r} does not exist; the profiles are in params/ (e.g. params/demo.yaml)")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise ProfileError(f"{path}: expected a mapping of key: value lines, got {type(values).__name__}")
    values = {**values, **(overrides or {})}
    try:
        return StudyParams(**values)
    except ValidationError as exc:
        raise _explain(exc, values, str(path)) from None
