"""Notebook 04 over every seed: curves with bands and operating points, calibration, subtypes, predictive values,
and what a reader sees of them (readable labels, one header row, legible figures, each table once)."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from cxrlib import evaluation
from cxrlib.preprocess import Arm

ARMS = [Arm("original"), Arm("paper", clahe=True, roi=True)]
POINTS = {"fixed_0.5": 0.5, "youden": 0.45, "sensitivity_0.95": 0.3}
CODE_NAMES = ("fixed_0.5", "youden", "sensitivity_0.95", "roc_auc", "average_precision", "false_positive_rate",
              "error_rate", "ci_low", "ci_high")


def predictions(seeds=(0, 1, 2), n=60, seed=0):
    """Two arms on the same 60 images of 30 patients (half PNEUMONIA: bacteria and virus), some seeds disagreeing."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    test = pd.DataFrame({"filename": [f"f{i}.png" for i in range(n)], "patient_id": [f"p{i // 2}" for i in range(n)],
                         "label": np.where(y == 1, "PNEUMONIA", "NORMAL"),
                         "subtype": np.where(y == 1, np.where(np.arange(n) % 4 == 1, "bacteria", "virus"), ""),
                         "fallback": np.arange(n) == 3, "implausible": False})
    rows = []
    for arm, strength in (("original", 0.8), ("paper", 1.2)):
        for s in seeds:
            score = 1 / (1 + np.exp(-(strength * (2 * y - 1) + rng.normal(0.3 * s, 1, n))))
            rows.append(test.assign(y_true=y, arm=arm, seed=s, score=score, predicted=(score >= 0.45).astype(int)))
    thresholds = {a.name: {s: POINTS for s in seeds} for a in ARMS}
    return pd.concat(rows, ignore_index=True), thresholds


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def summary():
    import matplotlib

    matplotlib.use("Agg")
    frame, thresholds = predictions()
    result = evaluation.evaluate_arms(frame, thresholds, pairs=[["paper", "original"]], n_boot=50)
    return frame, result, evaluation.seed_summary(frame, thresholds, result, n_boot=50)


# --------------------------------------------------------------------------- the numbers


def test_roc_over_seeds_averages_each_seed_s_steps_and_bands_their_range():
    y = np.array([0, 0, 1, 1])
    perfect, swapped = np.array([0.1, 0.2, 0.8, 0.9]), np.array([0.1, 0.85, 0.8, 0.9])
    roc = evaluation.roc_over_seeds(y, np.vstack([perfect, swapped]))
    grid = np.asarray(roc["grid"])
    at = {x: i for i, x in enumerate(grid)}
    # perfect: sensitivity 1 from FPR 0; swapped: 0.5 until FPR 0.5, then 1
    assert roc["low"][at[0.0]] == 0.5 and roc["high"][at[0.0]] == 1.0 and roc["mean"][at[0.0]] == 0.75
    assert roc["mean"][at[0.5]] == 1.0
    assert roc["auc"] == [skm.roc_auc_score(y, perfect), skm.roc_auc_score(y, swapped)]


def test_pr_over_seeds_reads_the_highest_precision_at_or_above_each_recall():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1])  # ranks: P N P N -> precision 1 at recall 0.5, 2/3 at recall 1
    pr = evaluation.pr_over_seeds(y, s)
    grid = np.asarray(pr["grid"])
    assert pr["mean"][int(np.argmin(abs(grid - 0.5)))] == 1.0 and pr["mean"][-1] == pytest.approx(2 / 3)
    assert pr["average_precision"] == [skm.average_precision_score(y, s)] and pr["prevalence"] == 0.5


def test_operating_points_fall_where_each_seed_s_threshold_puts_them_on_test():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.35, 0.4, 0.6, 0.2, 0.5, 0.7, 0.9])
    rates = evaluation.operating_point_rates(y, np.vstack([s, s]), [POINTS, {**POINTS, "youden": 0.15}])
    assert rates["fixed_0.5"] == {"fpr": [0.25, 0.25], "tpr": [0.75, 0.75], "precision": [0.75, 0.75]}
    assert rates["youden"]["fpr"] == [0.25, 0.75] and rates["youden"]["tpr"] == [0.75, 1.0]
    with pytest.raises(ValueError, match="one dict per seed"):
        evaluation.operating_point_rates(y, np.vstack([s, s]), [POINTS])


def test_calibration_over_seeds_says_over_or_under_prediction_from_the_numbers():
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.4).astype(int)
    honest = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.05, y.size), 0.01, 0.99)
    over = evaluation.calibration_over_seeds(y, np.vstack([np.clip(honest + 0.2, 0, 1)] * 2), n_boot=200)
    under = evaluation.calibration_over_seeds(y, np.vstack([np.clip(honest - 0.2, 0, 1)] * 2), n_boot=200)
    assert over["verdict"] == "over-predicts" and over["excess_ci"][0] > 0 and over["seeds_over"] == 2
    assert under["verdict"] == "under-predicts" and under["excess"] < 0
    assert over["mean_predicted"] == pytest.approx(np.clip(honest + 0.2, 0, 1).mean())
    assert over["brier_per_seed"][0] == pytest.approx(skm.brier_score_loss(y, np.clip(honest + 0.2, 0, 1)))
    assert sum(over["count"]) == 2 * y.size  # every seed's scores in the pooled bins
    assert all(lo <= hi for lo, hi in zip(over["seed_low"], over["seed_high"]))
    assert "seed" not in evaluation.calibration_over_seeds(y, honest, n_boot=20)["rule"]  # one seed: no "all 1 seeds"


def test_each_subtype_is_ranked_against_every_normal_image():
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    groups = np.array(["NORMAL"] * 3 + ["bacteria", "bacteria", "virus", "virus"])
    s = np.array([0.1, 0.5, 0.3, 0.9, 0.8, 0.4, 0.2])
    aucs = evaluation.auc_by_subtype(y, np.vstack([s, s]), groups, n_boot=20)
    assert list(aucs) == ["bacteria", "virus"]
    assert aucs["virus"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y[[0, 1, 2, 5, 6]], s[[0, 1, 2, 5, 6]]))
    assert aucs["bacteria"]["roc_auc"] == 1.0 and aucs["virus"]["n_normal"] == 3 and aucs["virus"]["n_pneumonia"] == 2
    with pytest.raises(ValueError, match="NORMAL"):
        evaluation.auc_by_subtype(y, s, np.array(["x"] * 7))


def test_predictive_values_follow_bayes_and_equal_the_split_s_own_at_its_prevalence(summary):
    ppv, npv = evaluation.predictive_values(0.9, 0.8, 0.1)
    assert ppv == pytest.approx(0.09 / (0.09 + 0.18)) and npv == pytest.approx(0.72 / (0.72 + 0.01))
    frame, result, tested = summary
    record = tested.predictive_values
    assert record["operating_point"] == "youden" and record["test_prevalence"] == 0.5
    at_test = record["arms"]["paper"][0]
    assert at_test["setting"] == "test split" and at_test["prevalence"] == 0.5
    precision = [s["precision"] for s in result["arms"]["paper"]["operating_points"]["youden"]["per_seed"]]
    assert at_test["ppv_per_seed"] == pytest.approx(precision)
    assert [e["prevalence"] for e in record["arms"]["paper"][1:]] == list(evaluation.ILLUSTRATIVE_PREVALENCES)
    sentence, table = tested.predictive_values_notes()
    assert "Bayes' rule: PPV = sens·p / (sens·p + (1 − spec)·(1 − p))" in sentence and "**Youden**" in sentence
    assert list(table.columns)[:2] == ["PPV at 50.0% (test split)", "NPV at 50.0% (test split)"]
    assert "PPV at 10%" in table.columns
    with pytest.raises(ValueError, match="prevalence"):
        evaluation.predictive_values(0.9, 0.8, 1.0)


# --------------------------------------------------------------------------- what a reader sees


def _legible_px(fig, page_px=1000):
    """The smallest text of a figure in pixels when a page shows it ``page_px`` wide (a page's widest figure)."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
             if t.get_visible() and t.get_text().strip()]
    return min(sizes) / 72 * page_px / fig.get_size_inches()[0]


def test_every_figure_is_legible_at_page_width_and_arms_share_their_axes(summary):
    frame, result, tested = summary
    figures = {**tested.curve_figures(), "errors_by_subtype": tested.subtype_figure(),
               "calibration": tested.calibration_figure()}
    for name, fig in figures.items():
        assert fig.get_size_inches()[0] <= evaluation.FIGURE_WIDTH + 1e-9, name
        assert _legible_px(fig) >= 12, name
    calibration = [ax for ax in figures["calibration"].axes if ax.get_visible()]
    assert calibration[0].get_shared_y_axes().joined(calibration[0], calibration[1])
    matrices = figures["confusion_matrices"].axes
    assert {im.get_clim() for ax in matrices for im in ax.get_images()} == {(0, 1)}  # one colour scale


def test_roc_and_pr_show_seeds_bands_operating_points_and_plain_axis_labels(summary):
    frame, result, tested = summary
    figures = tested.curve_figures()
    for name, x, y in (("roc", "1 − specificity (false-positive rate)", "sensitivity (true-positive rate)"),
                       ("precision_recall", "recall = sensitivity (true-positive rate)",
                        "precision (positive predictive value)")):
        whole, zoom = figures[name].axes[:2]
        assert (whole.get_xlabel(), whole.get_ylabel()) == (x, y)
        texts = [t.get_text() for t in figures[name].findobj(lambda a: hasattr(a, "get_text"))]
        assert not any("Positive label" in t for t in texts)
        legend = [t.get_text() for t in whole.get_legend().get_texts()]
        assert re.fullmatch(r"original: (AUC|AP) 0\.\d{3} ± 0\.\d{3}", legend[0]), legend
        assert whole.get_legend().get_title().get_text() == "mean over 3 seeds ± SD"
        assert [t.get_text() for t in zoom.get_legend().get_texts()] == [evaluation.POINT_LABELS[p]
                                                                         for p in evaluation.OPERATING_POINTS]
        assert len(whole.collections) >= 2  # a band per arm
        markers = [line for line in whole.get_lines() if line.get_marker() in evaluation.POINT_MARKERS.values()]
        assert len(markers) == 2 * 3 and all(len(m.get_xdata()) == 3 for m in markers)  # arms x points, per seed
    assert any("prevalence 50.0%" in t.get_text() for t in figures["precision_recall"].axes[0].texts)


def test_confusion_matrices_say_their_operating_point_and_that_they_sum_the_seeds(summary):
    frame, result, tested = summary
    fig = tested.curve_figures()["confusion_matrices"]
    title = fig._suptitle.get_text()
    assert "Youden threshold chosen on validation" in title and "summed over 3 seeds" in title
    counts = [int(t.get_text().split("\n")[0]) for t in fig.axes[0].texts]
    assert sum(counts) == 3 * 60 and min(t.get_fontsize() for t in fig.axes[0].texts) >= 12


def _tables_and_sentences(frame, result, tested):
    return [*evaluation.headline_tables(result), *evaluation.operating_point_tables(result["arms"]),
            *evaluation.failures_tables(frame, result["arms"]), evaluation.comparisons_notes(result),
            *tested.curve_notes(), *tested.subtype_notes(), *tested.calibration_notes(),
            *tested.predictive_values_notes()]


def test_tables_use_readable_labels_one_header_row_and_no_truncation(summary):
    for item in _tables_and_sentences(*summary):
        shown = item if isinstance(item, str) else item.to_html()
        assert not [c for c in CODE_NAMES if c in shown], shown[:200]
        if not isinstance(item, str):
            assert re.search(r"<thead>(.*?)</thead>", shown, re.S).group(1).count("<tr") == 1  # no index-name row
            with pd.option_context("display.max_columns", 20, "display.max_rows", 60):  # a notebook's defaults
                assert "<th>...</th>" not in item._repr_html_()  # pandas shows it whole, not "3 rows × 24 columns"


def test_each_operating_point_s_table_is_shown_once(summary):
    frame, result, tested = summary
    tables = [t for t in _tables_and_sentences(frame, result, tested) if isinstance(t, pd.DataFrame)
              and "accuracy" in t.columns]
    assert len(tables) == len(evaluation.OPERATING_POINTS) + 1  # each point once, and without the ROI's failures
    assert "accuracy" not in evaluation.headline_tables(result)[2].columns


def test_the_subtype_tables_are_compact_and_name_the_subtypes(summary):
    frame, result, tested = summary
    _, auc, _, errors = tested.subtype_notes()
    assert list(auc.columns) == ["bacterial vs NORMAL (15 vs 30 images)", "viral vs NORMAL (15 vs 30 images)"]
    assert re.fullmatch(r"0\.\d{3} ± 0\.\d{3} \(0\.\d{3}–[01]\.\d{3}\)", auc.loc["paper"].iloc[0])
    assert errors.shape == (3, 2) and list(errors.index)[0] == "NORMAL: false-positive rate"
    assert re.fullmatch(r"\d+/30 = \d+\.\d% \(\d+\.\d–\d+\.\d%\)", errors.loc["NORMAL: false-positive rate", "paper"])


def test_the_calibration_text_states_each_arm_s_verdict_from_its_numbers(summary):
    frame, result, tested = summary
    table, text = tested.calibration_notes()
    for arm, c in tested.calibration.items():
        assert f"**{arm}**: " in text and f"{100 * c['mean_predicted']:.1f}% against 50.0% observed" in text
        assert table.loc[arm, "observed prevalence"] == "50.0%"
    verdicts = {c["verdict"] for c in tested.calibration.values()}
    assert text.startswith("**Every arm over-predicts") == (verdicts == {"over-predicts"})


def test_each_figure_s_caption_gives_its_takeaway_from_the_numbers(summary):
    frame, result, tested = summary
    auc = {a: np.mean(c["auc"]) for a, c in tested.roc.items()}
    low, high = min(auc, key=auc.get), max(auc, key=auc.get)
    assert f"Mean AUC from {auc[low]:.3f} ({low}) to {auc[high]:.3f} ({high})" in tested.caption("roc")
    assert "mean over 3 seeds with the range as a band" in tested.caption("precision_recall")
    matrices = tested.scores.confusion_matrices(tested.point)
    rates = sorted(m[0, 1] / m[0].sum() for m in matrices.values())
    assert f"call {100 * rates[0]:.1f}% (" in tested.caption("confusion_matrices")
    over = [a for a, c in tested.calibration.items() if c["verdict"] == "over-predicts"]
    assert (f"{', '.join(over)} over-predict" in tested.caption("calibration")) == bool(over)
    assert "largest is" in tested.caption("errors_by_subtype")
    with pytest.raises(KeyError):
        tested.caption("samples")


def test_counts_are_plural_only_when_more_than_one():
    assert evaluation.plural(1, "seed") == "1 seed" and evaluation.plural(3, "seed") == "3 seeds"
    assert evaluation.plural(2, "box", "boxes") == "2 boxes"
    frame, _ = predictions(seeds=(0,))
    test = frame[(frame.arm == "original")]
    sentence = evaluation.test_split_sentence({"description": "tiny", "source": "kermany"}, test, ARMS, [0])
    assert sentence.endswith("2 arms × 1 seed = 2 models.") and "seed(s)" not in sentence


def test_demo_only_text_stays_out_of_real_runs_and_out_of_the_notebook_s_prose():
    assert evaluation.planted_tag_sentence(synthetic=False) is None
    assert "planted tag" in evaluation.planted_tag_sentence(synthetic=True)
    source = (Path(__file__).resolve().parents[1] / "notebooks" / "04_evaluation.py").read_text()
    prose = "\n".join(line for line in source.splitlines() if line.startswith("# ") and "%%" not in line)
    assert "planted" not in prose and "synthetic demo" not in prose
