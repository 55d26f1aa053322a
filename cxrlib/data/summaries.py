"""What notebook 01 says about a study's data: where it comes from, its splits, balance, sizes, leakage and record.

Each function returns a table (pandas) or a Markdown sentence, every number read from the manifest; the notebook
shows them and :func:`data_record` is what it writes as ``data.json``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .evaluation_sets import evaluation_set_manifest
from .manifest import CLASSES, find_dataset_root, manifest_hash
from .splits import patient_key
from .synthetic import GENERATOR_VERSION, make_synthetic_dataset

__all__ = ["SIZE_SAMPLE", "SUBSET_NAMES", "reader_table", "dataset_root", "source_notes", "split_counts",
           "shared_patients", "imbalance_sentence", "subtype_counts", "size_summary", "uniform_size_sentence",
           "leakage_tables", "with_evaluation_sets", "data_record", "data_conclusion"]

#: Images whose sizes are read (from their headers for the description, decoded for the size table).
SIZE_SAMPLE = 1500
#: The subsets as a reader names them.
SUBSET_NAMES = {"train": "train", "val": "validation", "test": "test"}


def reader_table(frame, *, corner=None, columns=None, rows=None):
    """A table as a reader sees it: columns and row labels renamed, and the rows' name in the header's corner.

    pandas shows an index's name on a header row of its own, empty but for that name; here it goes in the corner
    (``corner``, or the index's name when None), on the columns' header row.
    """
    table = frame.rename(columns=columns or {}, index=rows or {})
    return table.rename_axis(index=None, columns=frame.index.name if corner is None else corner)


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


def source_notes(description, root, release_counts, *, synthetic):
    """What section 1 of notebook 01 shows: which data and folder, what the data is, and the counts as released.

    Only a synthetic run says it reads synthetic radiographs (and that nothing clinical follows from them).
    """
    where = (f"**Data:** {description}  \n**Folder:** `{Path(root).name}` "
             + ("(generated under `work_dir`)" if synthetic else "(the profile's `data_dir`)"))
    what = (
        "The profile names no `data_dir`, so this run reads synthetic radiographs generated here: drawn lungs, ribs, "
        "heart shadow and burned-in markers, with opacities added inside the lungs of the PNEUMONIA images. They let "
        "the whole study run anywhere in minutes and show the planted shortcut (a marker outside the thorax that goes "
        "with the label in train only) at work. **No clinical conclusion can be drawn from them.**" if synthetic else
        "Kermany et al. (2018), Mendeley Data v2 (CC BY 4.0): anterior-posterior chest radiographs of children aged "
        "one to five from Guangzhou Women and Children's Medical Center, labelled NORMAL or PNEUMONIA (bacterial or "
        "viral) by two physicians.")
    return where, what, reader_table(release_counts, corner="split as released")


def shared_patients(manifest):
    """The patients with images in both train and validation (a set; empty after a patient-level split)."""
    patients = manifest.groupby("subset")["patient_id"].apply(set)
    return patients.get("train", set()) & patients.get("val", set())


def split_counts(manifest):
    """Images per subset and class, the PNEUMONIA share and the patients (:func:`cxrlib.data.patient_key`), with an
    ``all`` row; the subsets named as a reader names them (:data:`SUBSET_NAMES`), shares as percentages."""
    counts = pd.crosstab(manifest["subset"], manifest["label"], margins=True, margins_name="all")
    counts = counts.reindex([s for s in (*SUBSET_NAMES, "all") if s in counts.index])
    keys = patient_key(manifest)
    counts["PNEUMONIA share"] = (counts["PNEUMONIA"] / counts["all"]).map("{:.1%}".format)
    counts["patients"] = [keys[manifest["subset"] == s].nunique() if s != "all" else keys.nunique()
                          for s in counts.index]
    return reader_table(counts, corner="subset", columns={"all": "images"}, rows=SUBSET_NAMES)


def imbalance_sentence(manifest):
    """``Train + validation: **1 : r** NORMAL : PNEUMONIA.``"""
    train_counts = manifest[manifest["subset"] != "test"]["label"].value_counts()
    ratio = train_counts.get("PNEUMONIA", 0) / max(train_counts.get("NORMAL", 0), 1)
    return f"Train + validation: **1 : {ratio:.2f}** NORMAL : PNEUMONIA."


def subtype_counts(manifest):
    """PNEUMONIA images per subset (train, validation, test) and subtype (bacterial, viral, or not stated)."""
    pneumonia = manifest[manifest["label"] == "PNEUMONIA"]
    counts = pd.crosstab(pneumonia["subset"], pneumonia["subtype"])
    counts = counts.reindex([s for s in SUBSET_NAMES if s in counts.index])
    return reader_table(counts, corner="subset", rows=SUBSET_NAMES,
                        columns={"bacteria": "bacterial", "virus": "viral", "": "not stated"})


def size_summary(sizes):
    """Per class: images sampled, width and height ranges in pixels, median aspect ratio, and the mean grey level
    with its SD across images."""
    def span(low, high):
        return f"{low}" if low == high else f"{low} to {high}"

    rows = {label: {"images sampled": len(group),
                    "width (px)": span(group["width"].min(), group["width"].max()),
                    "height (px)": span(group["height"].min(), group["height"].max()),
                    "aspect ratio, median": f"{group['aspect'].median():.2f}",
                    "grey level, mean (SD across images)": f"{group['mean_intensity'].mean():.1f} "
                                                           f"({group['mean_intensity'].std():.1f})"}
            for label, group in sizes.groupby("label")}
    return reader_table(pd.DataFrame(rows).T, corner="class")


def uniform_size_sentence(sizes):
    """The sentence for a sample whose images all have one size; None when sizes vary (then plot them)."""
    if sizes["width"].nunique() == 1 and sizes["height"].nunique() == 1:
        return f"All {len(sizes)} sampled images are {sizes['width'].iloc[0]} x {sizes['height'].iloc[0]} pixels."
    return None


def leakage_tables(manifest, leakage, *, shown=5):
    """What notebook 01 shows of a :func:`cxrlib.data.leakage_report`: the identical files in a sentence and the first
    ``shown`` groups, then the patients in more than one subset in a sentence."""
    summary, duplicates = leakage["summary"], leakage["duplicate_groups"]
    if not len(duplicates):
        files, table = "**Byte-identical files:** none.", None
    else:
        crossing, conflict = summary["n_groups_crossing_subsets"], summary["n_groups_label_conflict"]
        files = (f"**Byte-identical files:** {len(duplicates)} groups of identical files "
                 f"({summary['n_duplicate_files']} files in all); "
                 + ("none crosses subsets or carries both labels: the copies only weigh those images twice. "
                    if not crossing and not conflict else
                    f"{crossing} of the groups cross subsets and {conflict} carry both labels. ")
                 + f"The first {min(shown, len(duplicates))}:")
        names = duplicates["paths"].map(lambda paths: Path(paths[0]).name + f" and {len(paths) - 1} more")
        table = pd.DataFrame({"files": names, "subset": duplicates["subsets"].map(
            lambda subsets: ", ".join(SUBSET_NAMES.get(s, s) for s in subsets.split(","))),
            "class": duplicates["labels"].str.replace(",", ", ")}).head(shown).set_index("files")
        table = reader_table(table, corner="files")
    return [files, table, _patients_sentence(manifest, leakage)]


def _patients_sentence(manifest, leakage):
    cross, summary = leakage["cross_split_patients"], leakage["summary"]
    if not len(cross):
        return "**Patients:** no patient number occurs in more than one subset."
    in_test = int((cross["test"] > 0).sum()) if "test" in cross else 0
    train_val = int(((cross["train"] > 0) & (cross["val"] > 0)).sum()) if {"train", "val"} <= set(cross) else 0
    pneumonia = manifest[manifest["label"] == "PNEUMONIA"]
    numbers = pneumonia.groupby("patient_id")["subtype"].nunique()
    keyed = summary["n_cross_split_patients_by_subtype"]
    sequences = (f"The file names number bacterial and viral pneumonia patients in separate sequences "
                 f"({int((numbers > 1).sum())} of the {len(numbers)} pneumonia patient numbers have both bacterial "
                 "and viral files), so a number alone can name two children. " if (numbers > 1).any() else "")
    where = ("all of them " if in_test == len(cross) > 1 else "" if in_test == len(cross) else
             f"{in_test} of them " if in_test else "none of them ")
    numbers_occur = "1 patient number occurs" if len(cross) == 1 else f"{len(cross)} patient numbers occur"
    return (f"**Patients:** {numbers_occur} in more than one subset, {where}in test and in train or validation. "
            f"{sequences}Keyed by number and subtype, "
            + (f"{keyed} patients are" if keyed else "no patient is") + " in more than one subset. The validation "
            "split groups images by number alone, which can keep two children together but never splits one: "
            + ("train and validation share no patient number." if not train_val else
               f"{train_val} patient numbers are in both train and validation."))


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
