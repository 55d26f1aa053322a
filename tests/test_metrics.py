"""cxrlib.evaluation: hand-computed confusion matrices, bootstrap behaviour, paired tests, files."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from cxrlib import evaluation as metrics
from cxrlib.evaluation.classification import metric_values, score_ranks
from cxrlib.evaluation.records import _jsonable
from cxrlib.atomic import write_csv

# 10 images: 6 PNEUMONIA, 4 NORMAL. At threshold 0.5: tp=4 (0.9 0.8 0.7 0.6), fn=2 (0.4 0.2),
# tn=3 (0.1 0.3 0.45), fp=1 (0.55).
Y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.2, 0.1, 0.3, 0.45, 0.55])


def test_confusion_matrix_by_hand():
    pred = (S >= 0.5).astype(int)
    assert metrics.confusion_matrix(Y, pred).tolist() == [[3, 1], [2, 4]]


def test_classification_metrics_by_hand():
    m = metrics.classification_metrics(Y, S, threshold=0.5)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (3, 1, 2, 4)
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["sensitivity"] == pytest.approx(4 / 6)
    assert m["specificity"] == pytest.approx(3 / 4)
    assert m["precision"] == pytest.approx(4 / 5)
    assert m["f1"] == pytest.approx(8 / 11)
    # AUC by hand: of the 24 (positive, negative) pairs, the positive scores higher in all but
    # (0.4 vs 0.45), (0.4 vs 0.55), (0.2 vs 0.3), (0.2 vs 0.45), (0.2 vs 0.55): 19/24
    assert m["roc_auc"] == pytest.approx(19 / 24)
    assert m["n"] == 10 and m["n_positive"] == 6 and m["threshold"] == 0.5


def test_threshold_changes_the_counts():
    m = metrics.classification_metrics(Y, S, threshold=0.35)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (2, 2, 1, 5)


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    s = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    pred = (s >= 0.4).astype(int)
    m = metrics.classification_metrics(y, s, threshold=0.4)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert m["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, s))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, s))


def test_fast_bootstrap_path_matches_scikit_learn_with_weights_and_ties():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 300)
    s = np.round(np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1), 1)  # many ties
    w = rng.integers(0, 4, 300).astype(float)  # a resample: some images drawn 0, 1, 2, 3 times
    pred = (s >= 0.5).astype(int)
    fast, _ = metric_values(y, pred, s, w, score_ranks(s))
    reference, _ = metric_values(y, pred, s, w)
    assert reference["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w))
    for name in metrics.METRIC_NAMES:
        assert fast[name] == pytest.approx(reference[name], abs=1e-12), name


def test_undefined_metric_is_nan_with_warning():
    with pytest.warns(UserWarning, match="precision"):
        m = metrics.classification_metrics(Y, S * 0 + 0.1, threshold=0.5)
    assert np.isnan(m["precision"]) and m["sensitivity"] == 0


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"y_true": [0, 2, 1], "y_score": [0.1, 0.2, 0.3]}, "0 \\(NORMAL\\) and 1"),
        ({"y_true": [0, 1], "y_score": [0.1, 0.2, 0.3]}, "shape \\(2,\\)"),
        ({"y_true": [0, 1], "y_score": [0.1, 1.2]}, "probabilities in \\[0, 1\\]"),
        ({"y_true": [0, 1], "y_score": [0.1, np.nan]}, "probabilities"),
        ({"y_true": [], "y_score": []}, "non-empty"),
        ({"y_true": [0, 1], "y_score": [0.1, 0.9], "threshold": 1.0}, "threshold must be in"),
    ],
)
def test_classification_metrics_refuses(kwargs, error):
    with pytest.raises(ValueError, match=error):
        metrics.classification_metrics(**kwargs)


def _study(n_patients=80, seed=0):
    """Scores of a decent model on patients with 1-3 images each."""
    rng = np.random.default_rng(seed)
    shots = rng.integers(1, 4, n_patients)
    groups = np.repeat([f"p{i}" for i in range(n_patients)], shots)
    y = np.repeat(rng.integers(0, 2, n_patients), shots)
    score = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.2, y.size), 0, 1)
    return y, score, groups


def test_bootstrap_is_reproducible_with_a_seed_and_changes_with_another():
    y, s, g = _study()
    a = metrics.bootstrap_intervals(y, s, groups=g, n_boot=200, seed=7)
    b = metrics.bootstrap_intervals(y, s, groups=g, n_boot=200, seed=7)
    c = metrics.bootstrap_intervals(y, s, groups=g, n_boot=200, seed=8)
    assert a == b
    assert a != c
    # a Generator works as well as an int
    d = metrics.bootstrap_intervals(y, s, groups=g, n_boot=200, seed=np.random.default_rng(7))
    assert d == a


def test_intervals_contain_the_point_estimate():
    y, s, g = _study()
    out = metrics.evaluate(y, s, groups=g, n_boot=300, seed=1)
    for name in metrics.METRIC_NAMES:
        low, high = out["ci"][name]
        assert low <= out[name] <= high, name
        assert 0 <= low < high <= 1, name
    assert "patients" in out["ci_method"]


def test_patient_bootstrap_is_wider_than_image_bootstrap_for_duplicated_patients():
    # every patient has 5 identical images: image resampling pretends to have 5x the evidence
    rng = np.random.default_rng(0)
    y1 = rng.integers(0, 2, 60)
    s1 = np.clip(0.3 + 0.4 * y1 + rng.normal(0, 0.25, 60), 0, 1)
    y, s, g = np.repeat(y1, 5), np.repeat(s1, 5), np.repeat(np.arange(60), 5)
    by_patient = metrics.bootstrap_intervals(y, s, groups=g, n_boot=400, seed=0)["accuracy"]
    by_image = metrics.bootstrap_intervals(y, s, n_boot=400, seed=0)["accuracy"]
    assert by_patient[1] - by_patient[0] > 1.5 * (by_image[1] - by_image[0])


def test_bootstrap_survives_resamples_with_one_class():
    # 2 positive patients among 3: some resamples hold one class only, AUC undefined there
    y = np.array([1, 1, 0])
    s = np.array([0.9, 0.6, 0.2])
    with pytest.warns(UserWarning, match="roc_auc: undefined in"):
        ci = metrics.bootstrap_intervals(y, s, groups=["a", "b", "c"], n_boot=200, seed=0)
    assert ci["roc_auc"] == [1.0, 1.0]
    assert all(np.isfinite(ci["accuracy"]))


def test_bootstrap_refuses_bad_options():
    with pytest.raises(ValueError, match="n_boot"):
        metrics.bootstrap_intervals(Y, S, n_boot=0)
    with pytest.raises(ValueError, match="groups"):
        metrics.bootstrap_intervals(Y, S, groups=["a"] * 3)
    with pytest.raises(TypeError, match="seed"):
        metrics.bootstrap_intervals(Y, S, seed=1.5)


def test_compare_identical_models():
    y, s, g = _study()
    out = metrics.compare_models(y, s, s, groups=g, n_boot=100, seed=0)
    assert out["mcnemar_p_value"] == 1.0
    assert out["only_a_correct"] == out["only_b_correct"] == 0
    assert out["auc_difference"] == 0.0 and out["auc_difference_ci"] == [0.0, 0.0]
    assert out["mcnemar_method"] == "exact binomial"


def test_compare_clearly_better_model():
    y, good, g = _study(n_patients=150)
    rng = np.random.default_rng(5)
    bad = np.clip(0.5 + rng.normal(0, 0.2, y.size), 0, 1)  # ignores the label
    out = metrics.compare_models(y, good, bad, groups=g, n_boot=300, seed=0)
    assert out["only_a_correct"] > 3 * out["only_b_correct"]
    assert out["mcnemar_p_value"] < 1e-6
    assert out["mcnemar_method"].startswith("chi-square")  # many discordant images
    assert out["auc_difference"] > 0.3
    assert out["auc_difference_ci"][0] > 0
    # the reverse comparison flips the sign and keeps the p-value
    rev = metrics.compare_models(y, bad, good, groups=g, n_boot=300, seed=0)
    assert rev["auc_difference"] == pytest.approx(-out["auc_difference"])
    assert rev["mcnemar_p_value"] == pytest.approx(out["mcnemar_p_value"])


def test_mcnemar_exact_on_small_counts_by_hand():
    # model a right on 5 images where b is wrong, b never right where a is wrong: p = 2 * 0.5**5
    y = np.array([1] * 5 + [0] * 5)
    a = np.where(y == 1, 0.9, 0.1)
    b = np.array([0.1] * 5 + [0.1] * 5)
    with pytest.warns(UserWarning, match="difference in precision: undefined in every"):  # b never predicts 1
        out = metrics.compare_models(y, a, b, n_boot=20, seed=0)
    assert (out["only_a_correct"], out["only_b_correct"]) == (5, 0)
    assert out["mcnemar_p_value"] == pytest.approx(2 * 0.5**5)


def test_bootstrap_mean():
    values = np.array([0.2, 0.4, 0.6, np.nan, 0.8])
    mean, ci = metrics.bootstrap_mean(values, groups=["a", "a", "b", "c", "d"], n_boot=200, seed=0)
    assert mean == pytest.approx(0.5)
    assert ci[0] <= mean <= ci[1]
    assert metrics.bootstrap_mean(values, n_boot=200, seed=0) == metrics.bootstrap_mean(values, n_boot=200, seed=0)


def test_calibration_counts_and_brier():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([0.05, 0.15, 0.95, 0.85, 0.15, 0.95])
    c = metrics.calibration(y, s, n_bins=10, min_count=1)
    assert c["count"] == [1, 2, 1, 2]
    assert c["edges"] == pytest.approx([0, 0.1, 0.2, 0.9, 1])  # empty bins join the next
    assert c["prob_true"] == pytest.approx([0, 0.5, 1, 0.5])
    assert c["prob_pred"] == pytest.approx([0.05, 0.15, 0.85, 0.95])
    assert c["brier"] == pytest.approx(np.mean((s - y) ** 2))


def _binned_scores(counts, rng):
    """Scores with ``counts[i]`` images in each 0.1-wide bin, every other one PNEUMONIA."""
    s = np.concatenate([rng.uniform(i / 10 + 0.01, (i + 1) / 10 - 0.01, n) for i, n in enumerate(counts)])
    return np.arange(s.size) % 2, s


def test_calibration_merges_small_bins_and_gives_wilson_intervals():
    # the original arm's 0.1-wide bins on the kermany224 test split: some hold 4 images
    y, s = _binned_scores([133, 27, 10, 11, 4, 10, 7, 6, 18, 398], np.random.default_rng(0))
    c = metrics.calibration(y, s, n_bins=10, min_count=20)
    assert c["count"] == [133, 27, 21, 21, 24, 398]
    assert c["edges"] == pytest.approx([0, 0.1, 0.2, 0.4, 0.7, 0.9, 1])
    assert "20" in c["rule"]
    low, high, observed = map(np.asarray, (c["ci_low"], c["ci_high"], c["prob_true"]))
    assert (low <= observed).all() and (observed <= high).all() and (high - low)[2] > (high - low)[0]
    # a short last bin joins the one before; fewer images than min_count in all: one bin
    assert metrics.calibration(*_binned_scores([30, 0, 0, 0, 0, 0, 0, 0, 0, 5], np.random.default_rng(1)),
                               min_count=20)["count"] == [35]
    assert metrics.calibration(Y, S, min_count=20)["count"] == [10]
    with pytest.raises(ValueError, match="min_count"):
        metrics.calibration(Y, S, min_count=0)


def test_errors_by_group():
    y = np.array([1, 1, 1, 1, 0, 0, 1, 0])
    pred = np.array([1, 0, 1, 1, 1, 0, 1, 1])
    table = metrics.errors_by_group(y, pred, ["bacteria", "bacteria", "virus", "virus", "NORMAL", "NORMAL", "?", "?"])
    assert table.loc["bacteria", "errors"] == 1 and table.loc["virus", "errors"] == 0
    assert table.loc["NORMAL", "error_rate"] == 0.5
    assert (table["ci_low"] <= table["error_rate"]).all() and (table["error_rate"] <= table["ci_high"]).all()
    assert table["measure"].to_dict() == {"?": "error rate", "NORMAL": "false-positive rate", "bacteria": "miss rate",
                                          "virus": "miss rate"}


def test_errors_by_group_plot_separates_normal_false_positives_from_missed_pneumonia():
    import matplotlib

    matplotlib.use("Agg")
    y = np.r_[np.zeros(20, int), np.ones(30, int)]
    groups = np.r_[["NORMAL"] * 20, ["bacteria"] * 18, ["virus"] * 12]
    preds = {"a": np.r_[np.ones(5, int), np.zeros(15, int), np.zeros(3, int), np.ones(27, int)], "b": y}
    fig = metrics.plot_errors_by_group({k: metrics.errors_by_group(y, p, groups) for k, p in preds.items()})
    (normal,), (pneumonia,) = ([ax for ax in fig.axes if any(name in t.get_text() for t in ax.get_xticklabels())]
                               for name in ("NORMAL", "bacteria"))
    assert normal is not pneumonia
    assert "false-positive rate" in normal.get_title() and "false-positive rate" in normal.get_ylabel()
    assert "miss rate" in pneumonia.get_title() and "miss rate" in pneumonia.get_ylabel()
    assert [t.get_text() for t in pneumonia.get_xticklabels()] == ["bacteria\n(n=18)", "virus\n(n=12)"]
    assert {t.get_text() for t in normal.texts} == {"5", "0"}  # errors on the bar; the images under the group
    assert [t.get_text() for t in pneumonia.texts] == ["3", "0", "0", "0"]  # a: 3 of 18 bacterial, 0 of 12 viral


def test_implied_metrics_on_kermany_counts():
    out = metrics.implied_metrics(0.91, 0.86, n_positive=390, n_negative=234)
    assert out["tp"] == pytest.approx(354.9) and out["fp"] == pytest.approx(32.76)
    assert out["accuracy"] == pytest.approx((354.9 + 201.24) / 624)
    with pytest.raises(ValueError, match="sensitivity"):
        metrics.implied_metrics(91, 0.86, n_positive=390, n_negative=234)


def test_paper_table2():
    y, s, g = _study()
    ours = {"processed": {**metrics.evaluate(y, s, groups=g, n_boot=50), "epochs": 12}}
    table = metrics.paper_table2(ours)
    assert list(table.columns)[0] == "This study: processed"
    assert list(table.columns)[1:] == list(metrics.LITERATURE_TABLE2)
    paper = table["Galindo-Ramirez 2022"]
    assert paper[["Accuracy", "Sensitivity", "Specificity", "Precision", "F-score"]].tolist() == [
        "91%", "91%", "86%", "87%", "91%"]
    assert paper["#Images (test)"] == "624" and paper["Epochs"] == "100" and paper["ROC AUC"] == "-"
    assert table.loc["Sensitivity", "Jiang [14]"] == "-"
    assert table.loc["Accuracy", "Kermany 2018"] == "92.8%"
    assert table.loc["ROC AUC", "Kermany 2018"] == "0.968"
    assert table.loc["Epochs", "This study: processed"] == "12"
    assert table.loc["#Images (test)", "This study: processed"] == str(y.size)
    assert "(" in table.loc["Accuracy", "This study: processed"]  # with its interval
    for entry in metrics.LITERATURE_TABLE2.values():
        assert entry["reference"]
    with pytest.raises(TypeError, match="ours"):
        metrics.paper_table2({})


def test_update_json_merges_and_is_atomic(tmp_path):
    path = tmp_path / "metrics.json"
    metrics.update_json(path, {"processed": {"accuracy": 0.9, "ci": {"accuracy": [0.8, 0.95]}}, "n": np.int64(3)})
    metrics.update_json(path, {"processed": {"gradcam": {"mass_in_roi_mean": 0.7}}, "x": float("nan")})
    content = json.loads(path.read_text())
    assert content["processed"]["accuracy"] == 0.9
    assert content["processed"]["gradcam"]["mass_in_roi_mean"] == 0.7
    assert content["n"] == 3 and content["x"] is None
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    with pytest.raises(TypeError, match="updates"):
        metrics.update_json(path, [1])


def test_metrics_table_and_write_table(tmp_path):
    y, s, g = _study()
    results = {"a": metrics.evaluate(y, s, groups=g, n_boot=50), "b": metrics.classification_metrics(y, s)}
    table = metrics.metrics_table(results)
    assert list(table.columns) == ["a", "b"] and list(table.index) == list(metrics.METRIC_NAMES)
    assert table.loc["accuracy", "a"].startswith(f"{100 * results['a']['accuracy']:.1f}% (")
    assert "(" not in table.loc["accuracy", "b"]
    path = write_csv(table.reset_index(), tmp_path / "t.csv")
    assert path.read_text().splitlines()[0] == "index,a,b"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_plots_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    y, s, g = _study()
    scores = {"a": np.vstack([s, np.clip(s + 0.05, 0, 1)]), "b": np.vstack([s[::-1], s[::-1]])}
    cuts = [{"fixed_0.5": 0.5, "youden": 0.45, "sensitivity_0.95": 0.3}] * 2
    preds = {k: (v[0] >= 0.5).astype(int) for k, v in scores.items()}
    groups = np.where(y == 1, np.where(np.arange(y.size) % 3, "bacteria", "virus"), "normal")
    tables = {k: metrics.errors_by_group(y, p, groups) for k, p in preds.items()}
    points = {k: metrics.operating_point_rates(y, v, cuts) for k, v in scores.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figs = [
            metrics.plot_confusion_matrices({k: metrics.confusion_matrix(y, p) for k, p in preds.items()}, title="t"),
            metrics.plot_roc_curves({k: metrics.roc_over_seeds(y, v) for k, v in scores.items()}, points),
            metrics.plot_pr_curves({k: metrics.pr_over_seeds(y, v) for k, v in scores.items()}, points),
            metrics.plot_calibration({k: metrics.calibration_over_seeds(y, v, n_boot=20) for k, v in scores.items()}),
            metrics.plot_errors_by_group(tables),
        ]
    assert all(isinstance(f, Figure) for f in figs)
    assert figs[0].axes[0].texts[0].get_text().startswith(str(metrics.confusion_matrix(y, preds["a"])[0, 0]))
    with pytest.raises(TypeError, match="curves"):
        metrics.plot_roc_curves([s], points)


# --------------------------------------------------------------------------- arms x seeds


def _arm_predictions(rng, n=120, seeds=(0, 1), fallback_every=10):
    """Two arms on the same images: 'good' separates the classes, 'weak' barely; some ROIs fell back."""
    y = np.tile([0, 1], n // 2)
    rows = []
    for arm, strength in (("good", 3.0), ("weak", 0.2)):
        for seed in seeds:
            score = 1 / (1 + np.exp(-(strength * (2 * y - 1) + rng.normal(0, 1, n))))
            rows.append(pd.DataFrame({"arm": arm, "seed": seed, "filename": [f"f{i}" for i in range(n)],
                                      "patient_id": [f"p{i // 2}" for i in range(n)], "y_true": y, "score": score,
                                      "fallback": np.arange(n) % fallback_every == 0}))
    return pd.concat(rows, ignore_index=True)


def _thresholds(arms=("good", "weak"), seeds=(0, 1)):
    return {a: {s: {"fixed_0.5": 0.5, "youden": 0.5, "sensitivity_0.95": 0.2} for s in seeds} for a in arms}


def test_evaluate_seeds_gives_mean_sd_and_an_interval_of_the_mean():
    y = np.array([0, 0, 1, 1] * 10)
    a = np.where(y == 1, 0.8, 0.2)
    b = np.where(y == 1, 0.6, 0.45)
    b[:4] = [0.7, 0.2, 0.3, 0.9]  # seed 1 makes two errors
    out = metrics.evaluate_seeds(y, [a, b], [0.5, 0.5], n_boot=200, seed=0)
    first, second = (metrics.classification_metrics(y, s, threshold=0.5) for s in (a, b))
    assert out["accuracy"] == pytest.approx((first["accuracy"] + second["accuracy"]) / 2)
    assert out["sd"]["accuracy"] == pytest.approx(np.std([first["accuracy"], second["accuracy"]], ddof=1))
    low, high = out["ci"]["accuracy"]
    assert low <= out["accuracy"] <= high
    assert [m["accuracy"] for m in out["per_seed"]] == [first["accuracy"], second["accuracy"]]
    single = metrics.evaluate_seeds(y, [a], [0.5], n_boot=50)
    assert np.isnan(single["sd"]["accuracy"])
    with pytest.raises(ValueError, match="one per seed"):
        metrics.evaluate_seeds(y, [a, b], [0.5], n_boot=10)


def test_evaluate_arms_records_operating_points_fallbacks_and_comparisons():
    predictions = _arm_predictions(np.random.default_rng(0))
    out = metrics.evaluate_arms(predictions, _thresholds(), pairs=[("good", "weak")], n_boot=200, seed=0)
    good, weak = out["arms"]["good"], out["arms"]["weak"]
    assert good["roc_auc"] > 0.9 > 0.7 > weak["roc_auc"]
    assert set(good["operating_points"]) == set(metrics.OPERATING_POINTS)
    # the headline is the Youden point; the low sensitivity-0.95 threshold calls more images positive
    assert good["accuracy"] == good["operating_points"]["youden"]["accuracy"]
    assert good["operating_points"]["sensitivity_0.95"]["sensitivity"] >= good["sensitivity"]
    # without fallbacks: the same images are left out for both arms (paired), n drops by the fallback count
    assert good["fallback_images"] == weak["fallback_images"] == 12
    assert good["without_fallback"]["n"] == weak["without_fallback"]["n"] == 108
    # boxes flagged implausible are left out with the fallbacks (the first 6 images, none of them a fallback)
    first = predictions.drop_duplicates("filename")["filename"]
    flagged_names = set(first[~predictions.drop_duplicates("filename")["fallback"]].head(6))
    flagged = metrics.evaluate_arms(predictions.assign(implausible=predictions["filename"].isin(flagged_names)),
                                    _thresholds(), n_boot=50, seed=0)["arms"]["good"]
    assert flagged["fallback_images"] == 18 and flagged["without_fallback"]["n"] == 102
    [comparison] = out["comparisons"]
    assert comparison["a"] == "good" and comparison["auc_difference"] > 0 and comparison["auc_difference_ci"][0] > 0
    assert len(comparison["mcnemar_p_values"]) == 2 and all(p < 0.05 for p in comparison["mcnemar_p_values"])
    json.dumps(_jsonable(out))


def test_evaluate_arms_refuses_a_missing_seed():
    predictions = _arm_predictions(np.random.default_rng(1))
    partial = predictions[~((predictions["arm"] == "weak") & (predictions["seed"] == 1))]
    with pytest.raises(ValueError, match="every arm needs every seed"):
        metrics.evaluate_arms(partial, _thresholds(), n_boot=10)
    with pytest.raises(ValueError, match="lacks the column"):
        metrics.evaluate_arms(predictions.drop(columns="fallback"), _thresholds(), n_boot=10)


def test_arms_table_shows_mean_sd_and_interval():
    out = metrics.evaluate_arms(_arm_predictions(np.random.default_rng(2)), _thresholds(), n_boot=100)
    table = metrics.arms_table(out["arms"])
    assert list(table.index) == ["good", "weak"]
    assert " ± " in table.loc["good", "accuracy"] and "(" in table.loc["good", "ROC AUC"]
    assert list(metrics.arms_table(out["arms"], point="without_fallback").index) == ["good", "weak"]


def test_error_bars_survive_groups_with_no_or_every_image_wrong():
    """Wilson's bounds at 0 of 3 errors (5.6e-17) and 10 of 10 (1 - 1e-16) fall a rounding step inside the estimate."""
    y = np.ones(13, int)
    groups = np.array(["all_wrong"] * 10 + ["all_right"] * 3)
    table = metrics.errors_by_group(y, np.r_[np.zeros(10, int), np.ones(3, int)], groups)
    assert table.loc["all_wrong", "ci_high"] < table.loc["all_wrong", "error_rate"] == 1.0
    assert table.loc["all_right", "ci_low"] > table.loc["all_right", "error_rate"] == 0.0
    fig = metrics.plot_errors_by_group({"model": table})
    assert len(fig.axes[0].patches) == 2


def test_calibration_plot_shows_each_arm_over_seeds_with_the_range_and_the_bin_rule():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.container import ErrorbarContainer

    y, s = _binned_scores([133, 27, 10, 11, 4, 10, 7, 6, 18, 398], np.random.default_rng(0))
    over = metrics.calibration_over_seeds(y, np.vstack([s, s[::-1]]), n_boot=20)
    fig = metrics.plot_calibration({"a": over, "b": over})
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
    assert any(isinstance(c, ErrorbarContainer) for c in fig.axes[0].containers)
    assert "Brier" in fig.axes[0].get_title() and "2 seeds" in fig._suptitle.get_text()
    assert any("20 images per seed" in t.get_text() for t in fig.texts)


# --------------------------------------------------------------------------- seeds in the intervals, headline, verdicts


def _seeds_that_disagree(n=2000, specificities=(0.6, 0.9), seed=0):
    """Perfectly ranked scores whose threshold rule lands differently per seed: large n, so patients barely matter."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    scores = []
    for specificity in specificities:
        s = np.where(y == 1, 0.9, 0.1)
        false_alarms = (y == 0) & (rng.random(n) > specificity)
        s[false_alarms] = 0.6
        scores.append(s)
    return y, scores


def test_seed_averaged_interval_resamples_the_seeds_too():
    """Specificity 60% under one seed and 90% under the other, on 1000 NORMAL images each: a patient-only interval of
    the mean would be about 75% +- 2; resampling the seeds, it must reach towards both."""
    y, scores = _seeds_that_disagree()
    out = metrics.evaluate_seeds(y, scores, [0.5, 0.5], n_boot=400, seed=0)
    assert out["specificity"] == pytest.approx(0.75, abs=0.02)
    low, high = out["ci"]["specificity"]
    assert low < 0.65 and high > 0.85
    assert "seeds together" in out["ci_method"]
    single = metrics.evaluate_seeds(y, scores[:1], [0.5], n_boot=200, seed=0)
    assert single["ci"]["specificity"][1] - single["ci"]["specificity"][0] < 0.08  # one seed: patients only


def test_bootstrap_mean_of_seed_rows_holds_their_spread():
    values = np.stack([np.full(500, 0.2), np.full(500, 0.8)])
    mean, (low, high) = metrics.bootstrap_mean(values, n_boot=400, seed=0)
    assert mean == pytest.approx(0.5) and low < 0.3 and high > 0.7
    with pytest.raises(ValueError, match="seeds, N"):
        metrics.bootstrap_mean(np.zeros((2, 2, 2)))


def test_compare_seeds_gives_a_verdict_and_the_smallest_detectable_difference():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 300)
    strong = [1 / (1 + np.exp(-(3 * (2 * y - 1) + rng.normal(0, 1, y.size)))) for _ in range(3)]
    weak = [1 / (1 + np.exp(-(0.5 * (2 * y - 1) + rng.normal(0, 1, y.size)))) for _ in range(3)]
    better = metrics.compare_seeds(y, strong, weak, [0.5] * 3, [0.5] * 3, n_boot=300)
    assert better["verdict"] == "a higher" and better["auc_difference_ci"][0] > 0
    assert better["minimal_detectable_difference"] == pytest.approx(2.8016 * better["auc_difference_se"], rel=1e-3)
    same = metrics.compare_seeds(y, strong, strong, [0.5] * 3, [0.5] * 3, n_boot=100)
    assert same["verdict"] == "equivalent" and same["auc_difference"] == 0
    twins = [s + rng.normal(0, 0.02, y.size).clip(-s, 1 - s) for s in strong]  # the same model, slightly noisier
    close = metrics.compare_seeds(y, strong, twins, [0.5] * 3, [0.5] * 3, n_boot=300)
    assert close["verdict"] in ("equivalent", "not shown")
    assert "no difference detected" in metrics.comparison_sentence({**close, "a": "x", "b": "y", "verdict": "not shown"})


def test_difference_verdict_and_detectable_difference_by_hand():
    assert metrics.difference_verdict([0.01, 0.03], 0.02) == "a higher"
    assert metrics.difference_verdict([-0.03, -0.01], 0.02) == "b higher"
    assert metrics.difference_verdict([-0.01, 0.015], 0.02) == "equivalent"
    assert metrics.difference_verdict([-0.03, 0.01], 0.02) == "not shown"
    assert metrics.minimal_detectable_difference(0.01) == pytest.approx(0.0280, abs=1e-4)
    assert metrics.minimal_detectable_difference(0.01, power=0.9) == pytest.approx(0.0324, abs=1e-4)


def test_headline_is_threshold_free_when_every_rule_moves_between_seeds():
    y, scores = _seeds_that_disagree(n=400)
    rows = [pd.DataFrame({"arm": "a", "seed": seed, "filename": [f"f{i}" for i in range(y.size)],
                          "patient_id": [f"p{i}" for i in range(y.size)], "y_true": y, "score": s, "fallback": False})
            for seed, s in enumerate(scores)]
    unstable = metrics.evaluate_arms(pd.concat(rows), {"a": {0: _POINTS, 1: _POINTS}}, n_boot=50)
    assert unstable["headline"]["point"] is None
    assert unstable["operating_point_stability"]["fixed_0.5"]["a"]["specificity_sd"] > 0.2
    steady = [r.assign(score=scores[0]) for r in rows]  # both seeds as the first: no spread at all
    stable = metrics.evaluate_arms(pd.concat(steady), {"a": {0: _POINTS, 1: _POINTS}}, n_boot=50)
    assert stable["headline"]["point"] == "fixed_0.5"


_POINTS = {"fixed_0.5": 0.5, "youden": 0.5, "sensitivity_0.95": 0.5}


def test_stability_table_shows_each_rule_and_arm_without_nan():
    y, scores = _seeds_that_disagree(n=200)
    rows = [pd.DataFrame({"arm": "a", "seed": 0, "filename": [f"f{i}" for i in range(y.size)],
                          "patient_id": [f"p{i}" for i in range(y.size)], "y_true": y, "score": scores[0],
                          "fallback": False})]
    out = metrics.evaluate_arms(pd.concat(rows), {"a": {0: _POINTS}}, n_boot=20)
    table = metrics.stability_table(out["operating_point_stability"])
    assert list(table.index) == [(metrics.POINT_LABELS[p], "a") for p in metrics.OPERATING_POINTS]
    assert (table["specificity SD between seeds (points)"] == "-").all()  # one seed: no spread, not 'nan'


def test_false_positive_rate_on_an_all_normal_set():
    out = metrics.false_positive_rate([np.array([0.1, 0.9, 0.2, 0.8]), np.array([0.1, 0.1, 0.2, 0.9])], [0.5, 0.5],
                                      n_boot=200)
    assert out["per_seed"] == [0.5, 0.25] and out["false_positive_rate"] == pytest.approx(0.375)
    assert out["ci"][0] <= 0.375 <= out["ci"][1]


def test_false_positive_rate_interval_holds_the_spread_between_seeds():
    """Two training runs that disagree (10% and 60% false alarms on 2000 images): the interval of their mean must
    reach both, not only the patients' sampling error around 35%."""
    rng = np.random.default_rng(0)
    scores = [np.where(rng.random(2000) < rate, 0.9, 0.1) for rate in (0.1, 0.6)]
    out = metrics.false_positive_rate(scores, [0.5, 0.5], n_boot=400)
    assert out["ci"][0] < 0.15 and out["ci"][1] > 0.55
    assert out["sd"] == pytest.approx(np.std(out["per_seed"], ddof=1))
