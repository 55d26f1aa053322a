"""What notebook 01 says about a study's data: where it comes from, its splits, balance, sizes, leakage and record.

Each function returns a table (pandas) or a Markdown sentence, every number read from the manifest; the notebook
shows them and :func:`data_record` is what it writes as ``data.json``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .evaluation_sets import evaluation_set_manifest
from .manifest import CLASSES, find_dataset_root, manifest_hash
from .synthetic import GENERATOR_VERSION, make_synthetic_dataset

__all__ = ["SIZE_SAMPLE", "dataset_root", "source_notes", "split_counts", "shared_patients", "imbalance_sentence",
           "subtype_counts", "size_summary", "uniform_size_sentence", "leakage_tables", "with_evaluation_sets",
           "data_record", "data_conclusion"]

#: Images whose sizes are read (from their headers for the description, decoded for the size table).
SIZE_SAMPLE = 1500


def dataset_root(data_dir, work_dir, *, seed=0, train_per_class=40, test_per_class=20, size=256, shortcut=True):
    """The folder a study reads: the profile's ``data_dir``, or, when it is None, synthetic radiographs made here.

    Parameters
    ----------
    data_dir : str, Path or None
        Anything :func:`cxrlib.data.find_dataset_root` accepts; None generates the synthetic demo data.
    work_dir : str or Path
        Where the synthetic set is written (``synthetic-v<version>-seed<seed>-<size>px-<train>x<test>[-shortcut]``).
    seed, train_per_class, test_per_class, size, shortcut
        As in :func:`cxrlib.data.make_synthetic_dataset`.

    Returns
    -------
    Path
    """
    if data_dir is not None:
        return find_dataset_root(data_dir)
    return make_synthetic_dataset(
        Path(work_dir) / (f"synthetic-v{GENERATOR_VERSION}-seed{seed}-{size}px-"
                          f"{train_per_class}x{test_per_class}"
                          + ("-shortcut" if shortcut else "")),
        train_per_class=train_per_class, test_per_class=test_per_class,
        size=size, seed=seed, shortcut=shortcut,
    )


def source_notes(description, root, *, synthetic):
    """Two Markdown paragraphs: which data and folder, and what the data is (synthetic, or the Kermany release)."""
    where = (f"**Data:** {description}  \n**Folder:** `{Path(root).name}` "
             + ("(generated under `work_dir`)" if synthetic else "(the profile's `data_dir`)"))
    what = (
        "Synthetic radiographs: drawn lungs, ribs, heart shadow and burned-in markers, with opacities added inside the "
        "lungs of the PNEUMONIA images. They let the whole study run anywhere in minutes and show the planted shortcut "
        "(a marker outside the thorax that goes with the label in train only) at work. **No clinical conclusion can be "
        "drawn from them.**" if synthetic else
        "Kermany et al. (2018), Mendeley Data v2 (CC BY 4.0): anterior-posterior chest radiographs of children aged "
        "one to five from Guangzhou Women and Children's Medical Center, labelled NORMAL or PNEUMONIA (bacterial or "
        "viral) by two physicians.")
    return where, what


def shared_patients(manifest):
    """The patients with images in both train and validation (a set; empty after a patient-level split)."""
    patients = manifest.groupby("subset")["patient_id"].apply(set)
    return patients.get("train", set()) & patients.get("val", set())


def split_counts(manifest):
    """Images per subset and class, the PNEUMONIA share and the patients, with an ``all`` row."""
    counts = pd.crosstab(manifest["subset"], manifest["label"], margins=True, margins_name="all")
    counts = counts.reindex([s for s in ("train", "val", "test", "all") if s in counts.index])
    counts["PNEUMONIA share"] = (counts["PNEUMONIA"] / counts["all"]).round(3)
    counts["patients"] = [manifest.loc[manifest["subset"] == s, "patient_id"].nunique() if s != "all"
                          else manifest["patient_id"].nunique() for s in counts.index]
    return counts


def imbalance_sentence(manifest):
    """``Train + validation: **1 : r** NORMAL : PNEUMONIA.``"""
    train_counts = manifest[manifest["subset"] != "test"]["label"].value_counts()
    ratio = train_counts.get("PNEUMONIA", 0) / max(train_counts.get("NORMAL", 0), 1)
    return f"Train + validation: **1 : {ratio:.2f}** NORMAL : PNEUMONIA."


def subtype_counts(manifest):
    """PNEUMONIA images per subset and subtype (bacteria, virus, or not stated)."""
    pneumonia = manifest["label"] == "PNEUMONIA"
    return pd.crosstab(manifest.loc[pneumonia, "subset"], manifest.loc[pneumonia, "subtype"])


def size_summary(sizes):
    """Per class: images, width and height ranges, median aspect ratio, mean grey level and its SD (2 decimals)."""
    summary = sizes.groupby("label").agg(
        images=("width", "size"), width_min=("width", "min"), width_max=("width", "max"),
        height_min=("height", "min"), height_max=("height", "max"), aspect_median=("aspect", "median"),
        mean_grey_level=("mean_intensity", "mean"), mean_grey_level_sd=("mean_intensity", "std"))
    return summary.round(2)


def uniform_size_sentence(sizes):
    """The sentence for a sample whose images all have one size; None when sizes vary (then plot them)."""
    if sizes["width"].nunique() == 1 and sizes["height"].nunique() == 1:
        return f"All {len(sizes)} sampled images are {sizes['width'].iloc[0]} x {sizes['height'].iloc[0]} pixels."
    return None


def leakage_tables(manifest, leakage):
    """What notebook 01 shows of a :func:`cxrlib.data.leakage_report`: its counts, the first duplicate groups, the
    first patients in several subsets and, when there are such patients, a sentence on what they are."""
    shown = [pd.Series(leakage["summary"], name="count").to_frame()]
    duplicates = leakage["duplicate_groups"]
    if len(duplicates):
        names = duplicates["paths"].map(lambda paths: ", ".join(Path(p).name for p in paths))
        shown.append(duplicates.assign(files=names)[["group", "n_files", "files", "subsets", "labels",
                                                     "crosses_subsets"]].head(15))
    cross = leakage["cross_split_patients"]
    if len(cross):
        shown.append(cross.head(15))
        in_test = manifest[manifest["patient_id"].isin(cross.index) & (manifest["subset"] == "test")]
        elsewhere = manifest[manifest["patient_id"].isin(cross.index) & (manifest["subset"] != "test")]
        differ = sum(set(in_test.loc[in_test.patient_id == p, "subtype"])
                     != set(elsewhere.loc[elsewhere.patient_id == p, "subtype"]) for p in set(in_test["patient_id"]))
        pneumonia_train = manifest[(manifest["subset"] != "test") & (manifest["label"] == "PNEUMONIA")]
        both_subtypes = int((pneumonia_train.groupby("patient_id")["subtype"].nunique() > 1).sum())
        shown.append(
            f"**{len(cross)}** patient identifiers occur in more than one subset, **{in_test['patient_id'].nunique()}** "
            f"of them in test and in train/validation. For {differ} of those the pneumonia subtype differs between "
            f"test and train (bacterial in one, viral in the other). Inside train and validation, {both_subtypes} of "
            f"{pneumonia_train['patient_id'].nunique()} `personN` identifiers carry both bacterial and viral files. "
            "The file names alone cannot say whether `personN` names one child; grouping by it is conservative for "
            "the validation split (it may merge two children, never split one), so train and validation share none.")
    return shown


def with_evaluation_sets(manifest, evaluation_sets):
    """The manifest with each further evaluation set of the profile appended (``subset`` is the set's name)."""
    extra = [evaluation_set_manifest(name, spec) for name, spec in evaluation_sets.items()]
    return pd.concat([manifest, *extra], ignore_index=True) if extra else manifest


def data_record(manifest, *, root, description, synthetic, release_counts, leakage, evaluation_sets):
    """``data.json``: what the data is (source, description, folder, hash), its counts, leakage and further sets."""
    return {
        "source": "synthetic" if synthetic else "kermany",
        "description": description,
        "root": str(root),
        "manifest_sha256": manifest_hash(manifest),
        "release_counts": {split: row[list(CLASSES)].astype(int).to_dict()
                           for split, row in release_counts.iterrows()},
        "counts": {s: manifest.loc[manifest["subset"] == s, "label"].value_counts().to_dict()
                   for s in ("train", "val", "test")},
        "leakage": leakage["summary"],
        "evaluation_sets": {name: {"n": int(len(rows)), "labels": rows["label"].value_counts().to_dict(),
                                   "spec": {k: v for k, v in evaluation_sets[name].items() if v is not None}}
                            for name, rows in ((name, manifest[manifest["subset"] == name])
                                               for name in evaluation_sets)},
    }


def data_conclusion(manifest, description, shared):
    """The closing sentence of notebook 01: what was written, the data, the subsets and the shared patients."""
    return (f"Wrote `manifest.csv` ({len(manifest)} images) and `data.json`.  \n"
            f"**Conclusion:** {description}; train {len(manifest[manifest.subset == 'train'])}, "
            f"validation {len(manifest[manifest.subset == 'val'])}, test {len(manifest[manifest.subset == 'test'])} "
            f"images; {len(shared)} patients shared between train and validation.")
