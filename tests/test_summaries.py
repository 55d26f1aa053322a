"""What the notebooks show, computed in cxrlib: each step's tables, sentences and records on tiny constructed inputs.

The end-to-end runs (tests/test_pipeline.py) execute them inside the notebooks; these tests pin what they say.
"""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cxrlib import audit, data, evaluation, preprocess
from cxrlib.preprocess import Arm

ARMS = [Arm("original"), Arm("paper", clahe=True, roi=True)]


def tiny_manifest():
    rows = []
    for subset, patients in (("train", ["IM-0001", "person1", "person2", "IM-0002"]), ("val", ["IM-0003", "person3"]),
                             ("test", ["IM-0004", "person4"])):
        for patient in patients:
            label = "PNEUMONIA" if patient.startswith("person") else "NORMAL"
            rows.append({"path": f"/d/{subset}/{patient}.jpeg", "filename": f"{patient}.jpeg",
                         "split": "test" if subset == "test" else "train", "subset": subset, "label": label,
                         "subtype": "bacteria" if label == "PNEUMONIA" else "", "patient_id": patient, "bytes": 10,
                         "sha256": f"{len(rows):064d}"})
    return pd.DataFrame(rows)


def test_data_summaries_count_subsets_patients_and_balance():
    manifest = tiny_manifest()
    counts = data.split_counts(manifest)
    assert list(counts.index) == ["train", "validation", "test", "all"] and counts.columns.name == "subset"
    assert counts.index.name is None  # the subsets' name is in the header's corner, not on an empty header row
    assert counts.loc["all", "patients"] == 8 and counts.loc["train", "PNEUMONIA share"] == "50.0%"
    assert data.shared_patients(manifest) == set()
    assert data.imbalance_sentence(manifest) == "Train + validation: **1 : 1.00** NORMAL : PNEUMONIA."
    assert data.subtype_counts(manifest).loc["validation", "bacterial"] == 1
    sizes = pd.DataFrame({"width": [224, 224], "height": [224, 224]})
    assert data.uniform_size_sentence(sizes) == "All 2 sampled images are 224 x 224 pixels."
    assert data.uniform_size_sentence(pd.DataFrame({"width": [224, 300], "height": [224, 224]})) is None
    sizes = pd.DataFrame({"label": ["NORMAL", "NORMAL"], "width": [224, 300], "height": [224, 224],
                          "aspect": [1.0, 1.34], "mean_intensity": [100.0, 110.0]})
    assert data.size_summary(sizes).loc["NORMAL"].to_dict() == {
        "images sampled": 2, "width (px)": "224 to 300", "height (px)": "224", "aspect ratio, median": "1.17",
        "grey level, mean (SD across images)": "105.0 (7.1)"}


def test_patients_are_keyed_by_number_and_subtype_and_the_text_says_what_crosses_subsets():
    manifest = tiny_manifest()
    # the release numbers bacterial and viral patients separately: person1's viral files in test are another child
    manifest.loc[len(manifest)] = {**manifest.loc[1].to_dict(), "subset": "test", "split": "test",
                                   "subtype": "virus", "filename": "person1_virus_9.jpeg", "sha256": "f" * 64}
    assert list(data.patient_key(manifest)[[0, 1, len(manifest) - 1]]) == ["IM-0001", "person1/bacteria",
                                                                             "person1/virus"]
    leakage = data.leakage_report(manifest, progress=False)
    assert leakage["summary"]["n_cross_split_patients"] == 1
    assert leakage["summary"]["n_cross_split_patients_by_subtype"] == 0
    files, table, patients = data.leakage_tables(manifest, leakage)
    assert files == "**Byte-identical files:** none." and table is None
    assert patients == (
        "**Patients:** 1 patient number occurs in more than one subset, in test and in train or "
        "validation. The file names number bacterial and viral pneumonia patients in separate sequences (1 of the 4 "
        "pneumonia patient numbers have both bacterial and viral files), so a number alone can name two children. "
        "Keyed by number and subtype, no patient is in more than one subset. The validation split groups images by "
        "number alone, which can keep two children together but never splits one: train and validation share no "
        "patient number.")
    assert data.split_counts(manifest).loc["test", "patients"] == 3  # IM-0004, person4 and person1's viral files


def test_identical_files_are_summed_up_with_a_few_groups_shown():
    manifest = tiny_manifest()
    manifest.loc[[1, 2], "sha256"] = "a" * 64  # two training PNEUMONIA files
    manifest.loc[[4, 6], "sha256"] = "b" * 64  # a NORMAL file in validation and in test
    files, table, patients = data.leakage_tables(manifest, data.leakage_report(manifest, progress=False), shown=1)
    assert files == ("**Byte-identical files:** 2 groups of identical files (4 files in all); 1 of the groups cross "
                     "subsets and 0 carry both labels. The first 1:")
    assert table.to_dict("index") == {"person1.jpeg and 1 more": {"subset": "train", "class": "PNEUMONIA"}}
    assert table.columns.name == "files" and table.index.name is None
    assert patients == "**Patients:** no patient number occurs in more than one subset."


def test_data_record_and_conclusion_read_the_manifest():
    manifest = tiny_manifest()
    leakage = data.leakage_report(manifest, progress=False)
    release = data.class_counts(manifest, by="split")
    record = data.data_record(manifest, root="/d", description="tiny", synthetic=True, release_counts=release,
                              leakage=leakage, evaluation_sets={})
    assert record["source"] == "synthetic" and record["counts"]["val"] == {"NORMAL": 1, "PNEUMONIA": 1}
    assert record["release_counts"]["test"] == {"NORMAL": 1, "PNEUMONIA": 1}
    assert record["manifest_sha256"] == data.manifest_hash(manifest)
    assert data.data_conclusion(manifest, "tiny", set()).endswith(
        "**Conclusion:** tiny; train 4, validation 2, test 2 images; 0 patients shared between train and validation.")


def test_only_a_synthetic_run_says_it_reads_synthetic_radiographs():
    release = data.class_counts(tiny_manifest(), by="split")
    synthetic = " ".join(data.source_notes("demo", "/w/synthetic-v3", release, synthetic=True)[:2])
    kermany = " ".join(data.source_notes("Kermany 2018", "/d/kermany224", release, synthetic=False)[:2])
    assert "synthetic radiographs" in synthetic and "No clinical conclusion" in synthetic
    assert "synthetic" not in kermany.lower() and "Kermany et al. (2018)" in kermany
    table = data.source_notes("demo", "/d", release, synthetic=True)[2]
    assert table.columns.name == "split as released" and table.index.name is None


def tiny_processed():
    processed = tiny_manifest().assign(roi_y0=0.1, roi_x0=0.1, roi_y1=0.9, roi_x1=0.8, mask_area=0.2, fallback=False,
                                       implausible=False, roi_flags="")
    processed.loc[1, ["fallback", "roi_y0", "roi_x0", "roi_y1", "roi_x1"]] = [True, 0.0, 0.0, 1.0, 1.0]
    processed.loc[2, ["implausible", "roi_flags"]] = [True, "low"]
    return preprocess.with_box_area(processed)


def test_preprocess_summaries_rates_worst_cases_and_record():
    processed = tiny_processed()
    assert processed["box_area"].iloc[0] == pytest.approx(0.56)
    by_label = preprocess.roi_by_label(processed)
    assert by_label.loc["PNEUMONIA", "fallback_rate"] == pytest.approx(0.25)
    failures = preprocess.study_failures(processed)
    assert failures["fallback"]["count"] == 1 and failures["implausible"]["count"] == 1
    assert "fell back to the whole image" in preprocess.failures_sentence(**failures)
    worst = preprocess.worst_cases(processed)
    assert set(worst.index) >= {1, 2} and preprocess.unshown_sentence(processed, worst) is None
    agreement = pd.DataFrame({"path": ["/x/a.jpeg"], "fallback_fast": [False], "fallback_reference": [False],
                              "box_iou": [0.98765], "mask_iou": [0.9], "max_edge_difference": [0.01]})
    assert preprocess.agreement_table(agreement).to_dict("index") == {"a.jpeg": {
        "fast path fell back": "no", "reference fell back": "no", "box IoU": 0.988, "lung mask IoU": 0.9,
        "largest box edge difference (of the side)": 0.01}}
    config = preprocess.PreprocessConfig(preprocess_size=128, output_size=64)
    record = preprocess.roi_record(processed, config, agreement=agreement, lung_eval=None, lungmask_dir=None,
                                   paediatric=None, **failures)
    assert record["dataset"]["n"] == 8 and record["fast_vs_reference"]["box_iou_median"] == pytest.approx(0.98765)
    assert record["cache_key"] == config.key() and record["lungmasks"] is None
    assert record["cache_folder"] == f"preprocess-{config.key()}"
    assert preprocess.roi_conclusion(processed, None, synthetic=True).startswith(
        "Wrote `processed.csv` and `roi.json`.  \n**Conclusion:** 8 radiographs (SYNTHETIC data) cropped to the thorax")
    assert preprocess.paediatric_table(None).startswith("The 40 annotated")
    assert preprocess.arms_table(ARMS).to_dict() == {"steps": {"original": "none", "paper": "CLAHE + thorax crop"}}
    table = preprocess.roi_table(processed)
    assert table.columns.name == "class" and table.index.name is None
    assert table.loc["PNEUMONIA"].to_dict() == {
        "images": 4, "fell back to the whole image": "25.0%", "box flagged implausible": "25.0%",
        "box area, median (of the image)": "56.0%", "lung mask area, median": "20.0%"}
    assert "Cache key" not in preprocess.cache_sentence(processed) and config.key() not in preprocess.cache_sentence(
        processed)


def test_the_preprocessing_settings_read_as_a_table_of_values_and_jobs_not_as_a_repr():
    config = preprocess.PreprocessConfig(preprocess_size=128, output_size=64, roi_margin=0.05)
    note = preprocess.parameters_note("tiny", config)
    assert "PreprocessConfig(" not in note and config.key() not in note
    rows = [line for line in note.splitlines() if line.startswith("| ")]
    assert rows[0] == "| setting | value | what it does |" and len(rows) == 1 + len(config.to_dict())
    assert "| resized side (`preprocess_size`) | 128 px | every radiograph is resized to this square |" in rows
    assert "| network input (`model_input_size`) | 64 px | side of the crop the network sees |" in rows
    assert any(row.startswith("| box margin (`roi_margin`) | 5% |") for row in rows)
    assert all(row.count("|") == 4 for row in rows)  # no pipe inside a cell: the table renders


def test_the_lung_mask_goals_read_as_labels_and_percentages():
    goals = {name: {"goal": f"{op} {value}", "met": True} for name, (op, value) in preprocess.ROI_GOALS.items()}
    lung_eval = {**{name: 0.5 for name in preprocess.ROI_GOALS}, "coverage_median": 0.9998, "goals": goals, "n": 3,
                 "coverage_min": 0.9, "coverage_mean": 0.95}
    table, sentence = preprocess.lungmask_notes(lung_eval, "/d/lungmasks")
    assert table.loc["lung pixels inside the box, median"].to_dict() == {"value": "99.98%", "goal": "≥ 99.50%",
                                                                          "met": "yes"}
    assert table.loc["box area over the lungs' tightest box, median", "goal"] == "≤ 1.300"
    assert table.columns.name == "on the lung masks" and sentence.startswith("3 image/mask pairs from `lungmasks`")


def tiny_predictions(seeds=(0, 1)):
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 10)
    test = pd.DataFrame({"filename": [f"f{i}.png" for i in range(20)], "patient_id": [f"p{i // 2}" for i in range(20)],
                         "label": np.where(y == 1, "PNEUMONIA", "NORMAL"), "subtype": np.where(y == 1, "virus", ""),
                         "fallback": [i == 3 for i in range(20)], "implausible": False})
    rows = []
    for arm in ARMS:
        for s in seeds:
            score = np.clip(0.5 * y + rng.uniform(0, 0.5, 20), 0.01, 0.99)
            rows.append(test.assign(y_true=y, arm=arm.name, seed=s, score=score, predicted=(score >= 0.5).astype(int)))
    thresholds = {a.name: {s: {"fixed_0.5": 0.5, "youden": 0.5, "sensitivity_0.95": 0.4} for s in seeds} for a in ARMS}
    return test, pd.concat(rows, ignore_index=True), thresholds


def test_evaluation_summaries_say_what_the_records_hold():
    test, predictions, thresholds = tiny_predictions()
    result = evaluation.evaluate_arms(predictions, thresholds, pairs=[["paper", "original"]], n_boot=20)
    stability, sentence, table = evaluation.headline_tables(result)
    assert list(table.index) == ["original", "paper"] and sentence.startswith("**Headline")
    assert list(table.columns) == ["ROC AUC", "average precision"]  # threshold-free: the points' tables follow
    assert len(evaluation.operating_point_tables(result["arms"])) == 2 * len(evaluation.OPERATING_POINTS)
    note, without = evaluation.failures_tables(predictions, result["arms"])
    assert note == ("NORMAL: 0 fallbacks and 0 implausible boxes of 10, PNEUMONIA: 1 fallback and 0 implausible boxes "
                    "of 10 test images.")
    tested = evaluation.seed_summary(predictions, thresholds, result, n_boot=20)
    assert tested.scores.arms == ["original", "paper"] and tested.scores.y.sum() == 10
    assert set(tested.subtype_errors["paper"].index) == {"NORMAL", "virus"}
    figures = tested.curve_figures()
    assert set(figures) == {"confusion_matrices", "roc", "precision_recall"}
    import matplotlib.pyplot as plt

    for figure in figures.values():
        plt.close(figure)
    conclusion = evaluation.evaluation_conclusion(result, ARMS, synthetic=True)
    assert conclusion.startswith("**SYNTHETIC data.** On 20 test images, mean over 2 seeds")
    assert "- **paper** (CLAHE" in conclusion
    assert evaluation.comparisons_notes({**result, "comparisons": []}) == "One arm: nothing to compare."
    paper_table, consistency = evaluation.table2_notes(result["arms"], {})
    assert "624 test images: 390 PNEUMONIA, 234 NORMAL" in consistency and "This study: paper" in paper_table


def test_evaluation_record_keeps_the_keys_of_metrics_json_in_order():
    test, predictions, thresholds = tiny_predictions(seeds=(0,))
    result = evaluation.evaluate_arms(predictions, thresholds, n_boot=10)
    tested = evaluation.seed_summary(predictions, thresholds, result, n_boot=10)
    audit_part = {"baselines": {}, "gain_over_trivial": {}, "perturbations": {}, "shortcut_decisions": None,
                  "audit_fill": {"raw": 1.0}}
    record = evaluation.evaluation_record(result, tested, audit_part, evaluation_sets={}, set_records={},
                                          data={"source": "synthetic", "description": "tiny", "root": "/x"})
    assert list(record)[len(result):] == ["operating_point_rates", "calibration", "subtype_auc", "predictive_values",
                                          "errors_by_subtype", "bootstrap_resamples", "baselines", "gain_over_trivial",
                                          "perturbations", "shortcut_decisions", "evaluation_sets",
                                          "evaluation_set_descriptions", "audit_fill", "data"]
    assert record["data"] == {"source": "synthetic", "description": "tiny"} and record["bootstrap_resamples"] == 10
    assert record["errors_by_subtype"]["operating_point"] == "youden"
    assert {r["group"] for r in record["errors_by_subtype"]["arms"]["paper"]} == {"NORMAL", "virus"}
    assert set(record["predictive_values"]["arms"]) == {"original", "paper"}
    assert evaluation.saved_sentence({"arms": 1, "data": 2}) == "`metrics.json` holds: `arms`, `data`."


def test_evaluation_sets_measure_a_normal_only_set_by_its_false_positive_rate():
    rows = pd.DataFrame({"filename": ["a", "b", "c"], "patient_id": ["a", "b", "c"], "label": "NORMAL"})
    scores = {"original": [np.array([0.9, 0.1, 0.2]), np.array([0.9, 0.9, 0.2])]}
    thresholds = {"original": {0: {"youden": 0.5}, 1: {"youden": 0.5}}}
    record = evaluation.evaluate_set(rows, scores, thresholds, n_boot=20)["original"]
    assert record["per_seed"] == pytest.approx([1 / 3, 2 / 3]) and record["n"] == 3
    table = evaluation.set_predictions({"x": rows}, {"x": scores}, [0, 1])
    assert len(table) == 6 and set(table["set"]) == {"x"}
    notes = evaluation.sets_notes({"x": rows}, {"x": {"original": record}}, {"x": {"source": "here"}})
    assert notes[0] == "**x**: 3 images (NORMAL 3)  \n*source:* here" and "false-positive rate" in notes[1].columns
    assert evaluation.sets_notes({}, {}, {}) == ["No further evaluation sets in this profile."]


def test_audit_summaries_tables_and_records():
    floor = {"record": {**{k: 0.7 for k in evaluation.METRIC_NAMES}, "ci": {"roc_auc": [0.6, 0.8]}},
             "threshold": 0.4, "file_size_roc_auc": 0.65, "larger_files_pneumonia": True}
    records = {"paper": {"roc_auc": 0.9, "ci": {"roc_auc": [0.85, 0.95]}}}
    gains = {"paper": {"auc_difference": 0.2, "auc_difference_ci": [0.1, 0.3], "verdict": "a higher"}}
    table = audit.floor_table(floor, records, gains)
    assert table.loc["paper", "gain over the floor"] == "+0.200 (+0.100 to +0.300)" and no_header_row_of_names(table)
    assert audit.floor_sentence(floor, synthetic=True).startswith("The trivial floor reaches ROC AUC **0.700**")
    assert audit.floor_record(floor)["features"] == list(audit.STATISTICS)
    assert audit.gains_record(gains) == {"paper": {"auc_difference": 0.2, "auc_difference_ci": [0.1, 0.3]}}
    entry = {"roc_auc": 0.5, "ci": [0.4, 0.6]}
    summary = {"paper": {c: dict(entry) for c in audit.CONDITIONS} | {"none": dict(entry)}}
    summary["paper"]["swap"].update(follows_thorax_rate=0.5, follows_thorax_ci=[0.4, 0.6])
    sample = pd.DataFrame({"label": ["NORMAL", "PNEUMONIA"]})
    notes = audit.perturbation_notes({"sample": sample, "summary": summary, "fill": {"raw": 100.0, "equalized": 90.0}},
                                     [ARMS[1]])
    assert notes[0].startswith("2 test images (1 PNEUMONIA)") and "no signal outside the lung fields" in notes[2]
    assert list(notes[1].columns[:3]) == ["thorax box blanked", "lung fields blanked", "thorax box only"]
    assert no_header_row_of_names(notes[1])
    assert audit.decisions_table(None) is None
    decisions = audit.decisions_table({"paper": {"decisions_kept_tagged": 0.9, "decisions_kept_untagged": 0.2,
                                                 "pneumonia_calls_tagged_blanked": 0.8}})
    assert no_header_row_of_names(decisions) and decisions.loc["paper"].tolist() == [0.9, 0.2, 0.8]
    assert audit.shortcut_decisions({"source": "kermany"}, {}, {}) is None
    record = audit.audit_record(floor, gains, {"summary": summary, "fill": {"raw": 1}}, None)
    assert list(record) == ["baselines", "gain_over_trivial", "perturbations", "shortcut_decisions", "audit_fill"]


def no_header_row_of_names(frame):
    """A table a reader sees: no row of index names under its header (pandas draws one for a named index), no code
    names with underscores as row or column labels."""
    assert all(name is None for name in frame.index.names), frame.index.names
    labels = [str(x) for x in (*frame.index, *frame.columns)]
    assert not [x for x in labels if "_" in x and not x.startswith("image_")], labels
    return True


def test_gradcam_notes_say_what_the_maps_show():
    assert audit.tag_spot({"source": "kermany"}, None) == (None, None)
    real = audit.shortcut_notes(None, {})
    assert len(real) == 1 and real[0].startswith("No shortcut was planted in these radiographs")
    assert "synthetic" not in real[0].lower() and "tag" not in real[0]
    evidence = {("paper", "P(PNEUMONIA)"): {"n_in": 10, "n_out": 12, "mean_in": 0.8, "mean_out": 0.4,
                                           "difference": 0.4, "statistic": 3.0, "p_value": 0.001}}
    planted = audit.shortcut_notes(evidence, {"shortcut_spot": [(0.0, 0.8, 0.1, 1.0)]})
    assert planted[0].startswith("The synthetic demo plants a shortcut: a bright 'PORTABLE' tag")
    assert "on 90% of the PNEUMONIA and 10% of the NORMAL training images" in planted[0]
    assert no_header_row_of_names(planted[1]) and planted[1].loc[("paper", "P(PNEUMONIA)"), "mean with the tag"] == 0.8
    assert planted[2] == ("The spot is 2.0% of the image: a heatmap spread evenly would put that share of its mass "
                          "there.")
    randomization = pd.DataFrame({"stage": ["pneumonia", "block14"], "spearman_mean": [0.3, 0.01]})
    gain = {"map_auc": 1.0, "random_auc": 2.0, "gain": 1.0, "gain_ci": [0.5, 1.5], "verdict": "faithful"}
    checks = {"rows": np.array([0, 1]), "randomized": 1, "steps": 5, "randomization": {"paper": randomization},
              "faithfulness": {"paper": {"deletion": gain, "insertion": gain}}}
    notes = audit.checks_notes(checks, SimpleNamespace(y=np.array([0, 1]), seeds=[0, 1, 2]))
    assert list(notes[1].index) == ["output layer", "+ block 14"] and no_header_row_of_names(notes[1])
    assert "3 seeds" in notes[2] and no_header_row_of_names(notes[3])
    assert audit.paired_notes({"a - b": {}})[1].startswith("No image where both models")
    test = pd.DataFrame({"mask_path": ["m.png", ""]})
    sentence = audit.maps_sentence({"source": "synthetic", "description": "tiny"}, test, seeds=[0],
                                   layer_name=None)
    assert sentence.endswith("2 test images; lung-field masks: **yes**; models: each arm's 1 seed; Grad-CAM layer: "
                             "**the backbone default**.")


def test_training_summaries_count_images_and_runs():
    from cxrlib import models

    table = tiny_manifest()
    counts = models.training_counts(table)
    assert counts.loc["training", "PNEUMONIA per NORMAL"] == 1.0 and list(counts.index) == ["training", "validation"]
    assert no_header_row_of_names(counts)
    assert models.class_weight_sentence(table) == ("Class weights: NORMAL **1.00**, PNEUMONIA **1.00**. Test rows (2) "
                                                   "are left for step 04.")
    inputs = models.arms_inputs(ARMS)
    assert list(inputs["images (column of processed.csv)"]) == ["image_original", "image_paper"]
    assert list(inputs["preprocessing steps"]) == ["none", "CLAHE + thorax crop"] and no_header_row_of_names(inputs)
    assert models.wall_sentence({"original": 3.2}) == (
        "Wall time of this run per arm (all seeds, features included; a model resumed from its checkpoints counts "
        "only what was left to do): original **3 s**.")
    history = pd.DataFrame({"epoch": [1, 2]})
    validation = pd.DataFrame({"predicted": [1, 0], "label_int": [1, 1]})
    result = SimpleNamespace(best_epoch=2, history=history, val_auc=0.91234, thresholds={"fixed_0.5": 0.5, "youden": 0.4},
                             validation=validation, feature_seconds=0.0, train_seconds=1.26)
    results = {("original", 0): result, ("original", 1): result}
    summary = models.training_table(results)
    assert summary["validation accuracy (Youden)"].tolist() == [0.5, 0.5] and summary["seed"].tolist() == [0, 1]
    assert list(summary.index) == ["original", "original"] and "threshold: Youden's J" in summary.columns
    assert no_header_row_of_names(summary)
    assert models.first_seed_results(results) == {"original": result}
    conclusion = models.training_conclusion(summary, results, arms=ARMS[:1], seeds=[0, 1], device="CPU",
                                            synthetic=False)
    assert "2 models (1 arm × 2 seeds)" in conclusion and "last one for 2 of 2 models" in conclusion
    assert "validation AUC 0.9123 (SD 0.0000 over 2 seeds)" in conclusion


@pytest.mark.parametrize("augment, feature_cache, train_mode, shown", [
    (False, True, "finetune", "no"),
    (True, False, "finetune", "yes: rotation ±5°, shift ±5%, zoom ±10%, contrast ±20%, no flips"),
    (True, True, "frozen", "no: the images are cached features of a frozen part")])
def test_settings_table_says_what_the_run_did_in_words(augment, feature_cache, train_mode, shown):
    from cxrlib import models

    settings = models.TrainSettings(backbone="small_cnn", weights="none", model_input_size=96, augment=augment,
                                    feature_cache=feature_cache, train_mode=train_mode)
    table = models.settings_table(settings)
    assert table.loc["augmentation", "value"] == shown  # never "False" next to a list of augmentations
    assert table.loc["augmentation", "source"] == "our choice"
    assert "seed" not in table.index and no_header_row_of_names(table)
    assert table.loc["trained from block", "value"] == ("none: only the head trains" if train_mode == "frozen"
                                                        else "every layer trains")
    assert table.loc["backbone", "value"] == "small CNN"
    # the record training.json keeps gives the same table, its weights file not looked for
    recorded = {**dataclasses.asdict(settings), "weights": "../../absent/xception.weights.h5"}
    assert models.settings_table(recorded).drop(index="starting weights").equals(table.drop(index="starting weights"))


@pytest.mark.parametrize("name", ["03_training.py", "05_gradcam.py"])
def test_notebook_prose_holds_no_text_meant_for_the_synthetic_demo_only(name):
    """A markdown cell shows on every run; what only the demo has (its generator, its tag) comes from cxrlib, given
    whether the run is synthetic."""
    from pathlib import Path

    prose, in_markdown = [], False
    for line in (Path(__file__).resolve().parents[1] / "notebooks" / name).read_text().splitlines():
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
        elif in_markdown:
            prose.append(line.lower())
    prose = "\n".join(prose)
    assert not [w for w in ("synthetic", "portable", "the planted", "the tag", "demo") if w in prose]
