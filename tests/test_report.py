"""The report: the reader's checks on a rendered run folder (cxrlib.report.check_run) on constructed pages, the
summary sentences, and two runs' records compared (cxrlib.report.compare_runs)."""

import json

import pytest

from cxrlib.report import check_run, page_problems

CLEAN = ('<html><head><title>The study · cxr-study · demo</title></head><body><a href="01_eda.html">EDA</a>'
         '<img src="figures/a.png"><a href="https://doi.org/x">doi</a></body></html>')
#: What a reader legitimately sees and the checks must let pass: names marked as code (the settings table), file
#: names, addresses, a Markdown table in a code block, pandas' column name in the corner, an ellipsis in prose.
READABLE = """<h2>1. Settings of <code>PreprocessConfig</code></h2>
<table><thead><tr><th>setting</th><th>value</th><th>what it does</th></tr></thead>
<tbody><tr><td><code>preprocess_size</code></td><td>400</td><td>side of the resized radiograph</td></tr>
<tr><td><code>roi_margin</code></td><td>4%</td><td>margin around the box, see <code>{'clahe': True}</code></td></tr>
</tbody></table>
<table><thead><tr><th>label</th><th>NORMAL</th><th>PNEUMONIA</th></tr></thead>
<tbody><tr><th>train</th><td>1150</td><td>3321</td></tr></tbody></table>
<table><tr><th>record</th><th>rows</th></tr><tr><td>test_predictions.csv</td><td>624</td></tr>
<tr><td>metrics.json and https://example.org/some_page/x_y</td><td>1</td></tr></table>
<h3>Written to test_predictions.csv (see https://example.org/a_b)</h3>
<pre><code>| step | choice |
| --- | --- |</code></pre>
<p>Scores a | b and more… ending with three dots... The seed(s) of <code>2 seed(s)</code>.</p>
<p>The nav: 01_eda, then <code>sensitivity_95</code> (a key of <code>metrics.json</code>).</p>
"""


def make_run(tmp_path, index):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"\x89PNG")
    (tmp_path / "01_eda.html").write_text('<title>01 · Exploratory data analysis · cxr-study · demo</title>'
                                          '<a href="index.html">back</a>')
    (tmp_path / "index.html").write_text(index)
    return tmp_path


def test_a_clean_run_has_no_problems(tmp_path):
    assert check_run(make_run(tmp_path, CLEAN.replace("</body>", READABLE + "</body>"))) == []


def test_each_kind_of_problem_is_named(tmp_path):
    page = CLEAN.replace("</body>", (
        '<a href="02_missing.html">x</a><img src="data:image/png;base64,AAAA">'
        "<p>Root: /work/shared/data/kermany224</p>"
        '<div data-mime-type="application/vnd.jupyter.stderr">warning</div>'
        '<script src="https://cdn.example/require.js"></script></body>'))
    problems = "\n".join(check_run(make_run(tmp_path, page)))
    assert "'02_missing.html' does not resolve" in problems
    assert "embeds an image inline" in problems
    assert "/work/shared/data/kermany224" in problems
    assert "stderr" in problems and "script from the web" in problems


PANDAS_INDEX_NAME = ('<table><thead><tr><th></th><th>images</th><th>rate</th></tr><tr><th>label</th><th></th><th></th>'
                     '</tr></thead><tbody><tr><th>NORMAL</th><td>1854</td><td>0.2%</td></tr></tbody></table>')


@pytest.mark.parametrize("body, kind, quote", [
    ("<p>| step | choice | why |\n| --- | --- | --- |\n| resize | 400 | paper |</p>",
     "shows a Markdown table that did not render", "| resize | 400 | paper |"),
    ("<p>| working resolution | <code>contour_size</code> | speed |\n| thin parts | trimmed | strips |</p>",
     "shows a Markdown table that did not render", "| working resolution | contour_size | speed |"),
    ("<p>step | choice\n--- | :---:\nresize | 400</p>", "shows a Markdown table that did not render", "--- | :---:"),
    ("<p>3 rows × 24 columns</p>", "shows pandas' truncated output", "3 rows × 24 columns"),
    ("<table><tr><th>arm</th><th>...</th></tr><tr><td>1</td><td>…</td></tr></table>",
     "shows a table cell pandas cut short", "..."),
    ("<table><tr><td>3</td><td>person1481_bacteria_3862.jpeg, person1481_bact...</td></tr></table>",
     "shows a table cell pandas cut short", "person1481_bacteria_3862.jpeg, person1481_bact..."),
    ("<p>Parameters: <code>PreprocessConfig(preprocess_size=400, roi_margin=0.04)</code></p>",
     "shows a Python repr", "PreprocessConfig(preprocess_size="),
    ("<p>&lt;cxrlib.run.study.StudyRun object at 0x7f3a2b1c&gt;</p>",
     "shows a Python repr", "<cxrlib.run.study.StudyRun object at 0x7f3a2b1c>"),
    ("<p>The AUC is np.float64(0.93).</p>", "shows a Python repr", "np.float64("),
    ("<p>Counts: {'NORMAL': 234, 'PNEUMONIA': 390}</p>", "shows a Python repr", "{'NORMAL':"),
    ("<p>Subsets ['train', 'val', 'test'] were read.</p>", "shows a Python repr", "['train', 'val', 'test']"),
    ("<table><tr><th></th><th>fallback_rate</th></tr><tr><th>NORMAL</th><td>0.0</td></tr></table>",
     "shows a code name as a label (th)", "fallback_rate"),
    ("<table><tr><th>metric</th><th>value</th></tr><tr><td>coverage_median</td><td>0.99</td></tr></table>",
     "shows a code name as a label (td)", "coverage_median"),
    ("<h2>Errors at fixed_0.5</h2>", "shows a code name as a label (h2)", "fixed_0.5"),
    ("<p>4 arms × 3 seed(s) = 12 models</p>", "leaves a plural to the reader", "3 seed(s)"),
    (PANDAS_INDEX_NAME, "has an empty header row (the index's name on a row of its own)", "label"),
])
def test_each_reading_problem_on_a_constructed_page_is_named(tmp_path, body, kind, quote):
    page = CLEAN.replace("</body>", READABLE + body + "</body>")
    problems = check_run(make_run(tmp_path, page))
    assert f"index.html: {kind}: {quote!r}" in problems
    assert all(problem.startswith(f"index.html: {kind}: ") for problem in problems), problems


@pytest.mark.parametrize("head", ["", "<title></title>", "<title>Notebook</title>", "<title> index </title>"])
def test_a_page_whose_title_names_no_page_is_named(head):
    problems = page_problems(f"<html><head>{head}</head><body>{READABLE}</body></html>", "index.html")
    assert problems == ["index.html: has no <title>" if not head else
                        f"index.html: has a title that names no page: {head[7:-8].strip()!r}"]


def test_records_with_machine_paths_are_named(tmp_path):
    run = make_run(tmp_path, CLEAN)
    (run / "manifest.csv").write_text("path,label\n/work/shared/data/x.jpeg,NORMAL\n")
    (run / "data.json").write_text('{"root": "../../data/x"}')
    assert check_run(run) == ["manifest.csv: holds the local path '/work/shared/data/x.jpeg'"]


def test_theplain_summary_and_the_figure_are_built_from_the_records():
    from cxrlib.report import plot_at_a_glance
    from cxrlib.report.summary import plain_summary

    def arm(auc, ci):
        return {"roc_auc": auc, "sensitivity": 0.9, "specificity": 0.8, "accuracy": 0.85, "n": 624,
                "ci": {"roc_auc": ci}}

    metrics = {
        "seeds": [0, 1, 2],
        "arms": {"original": arm(0.958, [0.94, 0.97]), "paper": arm(0.962, [0.95, 0.975])},
        "comparisons": [{"a": "paper", "b": "original", "auc_difference": 0.004,
                         "auc_difference_ci": [-0.008, 0.016], "mcnemar_p_values": [0.01],
                         "minimal_detectable_difference": 0.017, "verdict": "not shown"}],
        "baselines": {"trivial": {"roc_auc": 0.937, "ci": {"roc_auc": [0.92, 0.95]}}},
        "gain_over_trivial": {"original": {"auc_difference": 0.021, "auc_difference_ci": [0.01, 0.03]},
                              "paper": {"auc_difference": 0.025, "auc_difference_ci": [0.01, 0.04]}},
        "perturbations": {"original": {"thorax_blanked": {"roc_auc": 0.62, "ci": [0.55, 0.69]}},
                          "paper": {"mask_blanked": {"roc_auc": 0.51, "ci": [0.45, 0.57]}}},
        "evaluation_sets": {"adults": {"original": {"false_positive_rate": 0.30, "n": 279},
                                       "paper": {"false_positive_rate": 0.12, "n": 279}}},
    }
    run = {"parameters": {"arms": {"original": {"clahe": False, "roi": False}, "paper": {"clahe": True, "roi": True}}}}
    data = {"source": "kermany", "description": "Kermany 2018 chest X-rays, 224x224 third-party copies (5840 images)"}
    summary = plain_summary(run, data, metrics)
    assert "each 3 times with different random starts" in summary and "624" in summary
    assert "0.96" in summary and "include zero" in summary and "0.94" in summary  # the floor, rounded
    assert "not equality" in summary and "±0.017" in summary  # absence of evidence is not stated as equality
    metrics["comparisons"][0].update(verdict="equivalent", equivalence_margin=0.02)
    assert "equivalent within ±0.02" in plain_summary(run, data, metrics)
    assert "original still ranks the images better than chance" in summary
    assert "12.0% (paper) to 30.0% (original)" in summary
    figure = plot_at_a_glance(run, metrics)
    assert [ax.get_yticklabels()[0].get_text() for ax in figure.axes[:1]] == ["original (no preprocessing)"]
    assert len(figure.axes) == 3


def test_the_readme_headline_is_the_committed_report_s():
    from pathlib import Path

    from cxrlib.report import readme_headline

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text()
    block = readme.split("tests/test_report.py checks it -->\n", 1)[1].split("<!-- /headline -->", 1)[0]
    assert block == readme_headline(repo / "reports" / "kermany224")


def test_the_readme_headline_follows_the_run_s_headline_rule(tmp_path):
    import shutil
    from pathlib import Path

    from cxrlib.evaluation.operating_points import OPERATING_POINTS
    from cxrlib.evaluation.tables import arms_table
    from cxrlib.report import readme_headline

    committed = Path(__file__).resolve().parents[1] / "reports" / "kermany224"
    for name in ("run.json", "metrics.json", "training.json"):
        shutil.copy(committed / name, tmp_path / name)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    tables = []
    for point in (None, "fixed_0.5"):
        metrics["headline"] = {"point": point}
        (tmp_path / "metrics.json").write_text(json.dumps(metrics))
        lead, table = readme_headline(tmp_path).split("\n\n", 1)
        accuracy = arms_table(metrics["arms"], point=point).iloc[0]["accuracy"]
        assert f"| {accuracy} |" in table.splitlines()[2]
        assert (OPERATING_POINTS[point] if point else "the ROC AUC is the figure to read first") in lead
        tables.append(table)
        assert "mean over 3 seeds" in lead and "<code>" not in lead
    assert tables[0] != tables[1]


def test_the_committed_report_passes_the_reader_s_checks():
    from pathlib import Path

    assert check_run(Path(__file__).resolve().parents[1] / "reports" / "kermany224") == []


def test_the_regime_sentence_names_the_run_s_regime_and_the_paper_s_only_when_it_differs():
    from cxrlib.report.summary import regime_sentence

    def training(**settings):
        seed = {"settings": {"train_mode": "finetune", "epochs": 3, "model_input_size": 112, "backbone": "xception",
                             "weights": "imagenet", **settings},
                "val_auc": 0.99, "best_epoch": 3, "epochs_run": 3, "device": "CPU (2 cores)"}
        return {"arms": {"paper": {"seeds": {"0": seed, "1": seed}}}}

    whole = regime_sentence({}, training(finetune_from_block=None))
    assert "All of Xception's layers are trained from the ImageNet weights, for 3 epochs at 112 px on a CPU " \
           "(2 cores), 2 seeds per arm" in whole
    assert "needs a GPU and was not run here" in whole
    part = regime_sentence({}, training(finetune_from_block="block14", epochs=1))
    assert "Xception is fine-tuned from <code>block14</code> on, for 1 epoch at" in part
    paper = regime_sentence({}, training(finetune_from_block=None, model_input_size=400, epochs=100))
    assert "for 100 epochs at 400 px" in paper and "not run here" not in paper  # the paper's regime, run
    assert regime_sentence({}, {}) == ""
    demo = regime_sentence({}, training(backbone="small_cnn", weights="none"))
    assert demo.startswith("The small CNN is trained from scratch (no pretrained weights), for 3 epochs")


def _answers_records(clahe_ci=(-0.006, 0.007), crop_ci=(0.004, 0.021)):
    def comparison(a, b, ci, verdict):
        return {"a": a, "b": b, "auc_difference": sum(ci) / 2, "auc_difference_ci": list(ci), "verdict": verdict,
                "equivalence_margin": 0.02, "minimal_detectable_difference": 0.017}

    def arm(auc):
        return {"roc_auc": auc, "accuracy": 0.92, "sensitivity": 0.97, "specificity": 0.84, "n": 624,
                "ci": {"roc_auc": [auc - 0.01, auc + 0.01], "accuracy": [0.90, 0.94]}}

    run = {"parameters": {"arms": {"original": {}, "clahe": {"clahe": True}, "roi": {"roi": True},
                                   "paper": {"clahe": True, "roi": True}}}}
    metrics = {"seeds": [0, 1, 2], "arms": {a: arm(0.97) for a in ("original", "clahe", "roi", "paper")},
               "comparisons": [comparison("clahe", "original", clahe_ci, "equivalent"),
                               comparison("original", "roi", tuple(-x for x in reversed(crop_ci)), "not shown")],
               "evaluation_sets": {"adult_normals": {"original": {"false_positive_rate": 0.085, "n": 279},
                                                     "roi": {"false_positive_rate": 0.148, "n": 279}}},
               "gradcam": {"original": {"lung_mass_mean": 0.23, "lung_chance_mean": 0.21,
                                        "lung_mass_over_chance_mean": 0.02, "lung_mass_over_chance_ci": [0.001, 0.04]},
                           "roi": {"lung_mass_mean": 0.22, "lung_chance_mean": 0.30,
                                   "lung_mass_over_chance_mean": -0.08, "lung_mass_over_chance_ci": [-0.1, -0.05]}},
               "perturbations": {"original": {"mask_blanked": {"roc_auc": 0.93, "ci": [0.90, 0.96]}},
                                 "roi": {"mask_blanked": {"roc_auc": 0.52, "ci": [0.45, 0.58]}}}}
    return run, metrics


def test_the_four_answers_are_read_from_the_records_with_their_intervals():
    from cxrlib.report.answers import four_answers

    run, metrics = _answers_records()
    text = four_answers(run, metrics)
    assert "No measurable effect (equivalent within ±0.02 in AUC)" in text and "(clahe − original" in text
    # the crop: the pair given as original - roi is turned round, so the answer reads the crop minus no crop
    assert "Yes: the crop raises the test ROC AUC by +0.013 (roi − original; 95% CI +0.004 to +0.021)" in text
    assert "roi 14.8% with the crop against original 8.5% without" in text and "(adult normals)" in text
    assert "accuracy 92.0% (95% CI 90.0%–94.0%)" in text and "printed 91%, 91% and 86%" in text
    assert "1 of 2 arms put more Grad-CAM heat on the lung fields" in text
    assert "1 of them use signal outside the lung fields" in text
    assert "resample patients and the 3 training seeds" in text
    assert "No, it hurts: CLAHE lowers" in four_answers(*_answers_records(clahe_ci=(-0.03, -0.01)))
    partly = dict(metrics, comparisons=[*metrics["comparisons"], {
        "a": "paper", "b": "clahe", "auc_difference": 0.001, "auc_difference_ci": [-0.004, 0.006], "verdict": "not shown",
        "equivalence_margin": 0.02, "minimal_detectable_difference": 0.017}])
    assert "In 1 of 2 pairs only: the crop raises the test ROC AUC where its interval excludes zero; it changes it " \
           "by +0.013 (roi − original" in four_answers(run, partly)
    del metrics["comparisons"][0]
    assert "Not measured alone here: no two arms of this run differ in CLAHE only" in four_answers(run, metrics)
    assert four_answers(run, {}) == ""
    both = {"a": "paper", "b": "original", "auc_difference": 0.01, "auc_difference_ci": [0.0, 0.02]}
    metrics["comparisons"] = [both]
    assert "CLAHE and the crop together change the test ROC AUC by +0.010 (paper − original" in \
        four_answers(run, metrics)


def test_each_glossary_term_is_linked_at_its_first_use_in_running_text_only():
    from cxrlib.report.glossary import GLOSSARY, glossary_html, link_terms, term_id

    page = ("<h2>ROC AUC</h2><p>The <code>AUC</code> and the AUC of each arm; the AUC again.</p>"
            "<a href='x'>CLAHE</a><p>Then CLAHE, then CLAHE.</p>" + glossary_html())
    linked = link_terms(page)
    assert linked.count("href='#g-roc-auc'") == 1 and "the <a class='term' href='#g-roc-auc'>AUC</a> of" in linked
    assert "<h2>ROC AUC</h2>" in linked and "<code>AUC</code>" in linked  # headings and code stay as they are
    assert "Then <a class='term' href='#g-clahe'>CLAHE</a>, then CLAHE." in linked
    assert all(f"id='{term_id(term)}'" in linked for term in GLOSSARY)
    assert "<dd>" in linked and "class='term'" not in linked.split("<dl", 1)[1]  # the glossary links nothing


def test_the_provenance_box_names_sources_environment_step_times_and_links_the_records(tmp_path):
    from cxrlib.report.provenance import provenance_section

    (tmp_path / "metrics.json").write_text("{}")
    run = {"parameters": {"run_name": "kermany224", "weights": "/x/xception.weights.h5", "lungmask_dir": None,
                          "sources": {"images": "Kermany et al. 2018, CC BY 4.0", "lung masks": "Shenzhen"}},
           "packages": {"python": "3.11.2", "keras": "3.15.1"}, "backend": {"name": "tensorflow", "keras": "3.15.1"}, "device": "CPU (2 cores)",
           "steps": {"01_eda": {"seconds": 10.3}, "03_training": {"seconds": 6603.5}}, "git": {"commit": "abc"}}
    box = provenance_section(tmp_path, run, {"source": "kermany"}, {}, {})
    assert "Kermany et al. 2018, CC BY 4.0" in box and "Shenzhen" not in box  # no lung masks in this run
    assert "local file xception.weights.h5" in box and "/x/" not in box
    assert "01 10 s · 03 6604 s · total 6614 s (1 h 50 min)" in box
    assert "python 3.11.2, keras 3.15.1; Keras backend tensorflow" in box
    assert "<a href='metrics.json'>metrics.json</a>" in box and "test_predictions.csv" not in box
    assert "make study PROFILE=params/kermany224.yaml" in box


def _record_run(root, name, *, auc=0.91, seconds=3.0, figure=b"png"):
    """A run folder with the records two runs of one profile share, and what legitimately differs between them."""
    run = root / name
    (run / "figures").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"run_name": name, "started": f"{name} time", "git": {"commit": name},
                                              "parameters": {"run_name": name, "work_dir": f"../../work-{name}"}}))
    (run / "metrics.json").write_text(json.dumps({"arms": {"paper": {"roc_auc": auc, "train_seconds": seconds}}}))
    (run / "processed.csv").write_text(f"path,score\n../../work-{name}/a.png,0.25\n")
    (run / "figures" / "04_roc.png").write_bytes(figure)
    return run


def test_compare_runs_ignores_timings_and_the_runs_own_names_and_names_every_other_difference(tmp_path):
    from cxrlib.report import compare_runs

    before = _record_run(tmp_path, "demo-before")
    assert compare_runs(before, _record_run(tmp_path, "demo-after", seconds=9.0)) == []
    changed = _record_run(tmp_path, "demo-changed", auc=0.92, figure=b"other")
    assert compare_runs(before, changed) == ["figures/04_roc.png: the figure differs",
                                             "metrics.json/arms/paper/roc_auc: 0.91 against 0.92"]
    assert compare_runs(before, changed, figures=False) == ["metrics.json/arms/paper/roc_auc: 0.91 against 0.92"]
    (changed / "gradcam.csv").write_text("a\n1\n")
    assert "gradcam.csv: only in the second run" in compare_runs(before, changed)
    with pytest.raises(ValueError, match="run_b"):
        compare_runs(before, tmp_path / "absent")



def test_the_pipeline_diagram_shows_each_arm_s_steps_applied_or_skipped():
    import re

    from cxrlib.report.sections import pipeline_diagram

    run = {"parameters": {"arms": {"original": {}, "paper": {"clahe": True, "roi": True}}, "preprocess_size": 400,
                          "clahe_clip_limit": 2.0, "clahe_tile_grid": 8, "roi_mean_filter": 21, "backbone": "xception"}}
    rows = re.findall(r"<tr>(.*?)</tr>", pipeline_diagram(run, {}))
    assert [re.findall(r"<th>(\w+)</th>", row) for row in rows] == [["original"], ["paper"]]
    assert rows[0].count("class='off'>skipped") == 2 and "skipped" not in rows[1]
    assert "CLAHE (clip 2.0, 8×8 tiles)" in rows[1] and "21×21 mean filter" in rows[1]
    assert "Xception → P(pneumonia)" in rows[0]
    assert pipeline_diagram({}, {}) == ""


def test_save_figure_records_caption_and_alt_text_and_saves_charts_at_2x_and_radiographs_at_1_5x(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from cxrlib.report.figures import save_figure
    from cxrlib.report.html import figure_html, read_captions

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set(title="ROC", xlabel="false-positive rate", ylabel="sensitivity")
    chart = save_figure(fig, tmp_path / "figures" / "04_roc", "The arms rank alike.")
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    for ax in axes:
        ax.imshow(np.random.default_rng(0).random((64, 64)), cmap="gray")
    photo = save_figure(fig, tmp_path / "figures" / "02_clahe", "Contrast rises in the lungs.")
    assert chart.suffix == ".png" and photo.suffix == ".jpg"
    assert Image.open(chart).mode == "P" and Image.open(chart).size[0] > 700  # 4 in at 200 dpi, tight bbox
    assert Image.open(photo).size[0] < 650  # 4 in at 150 dpi
    captions = read_captions(tmp_path / "figures")
    assert captions["04_roc.png"] == {"caption": "The arms rank alike.",
                                      "alt": "1 panel: ROC (x: false-positive rate; y: sensitivity)"}
    assert captions["02_clahe.jpg"]["alt"] == "2 panels: image"
    html = figure_html(tmp_path, "04_roc")
    assert 'alt="1 panel: ROC (x: false-positive rate; y: sensitivity)"' in html
    assert "<figcaption>The arms rank alike.</figcaption>" in html
    with pytest.raises(ValueError, match="needs a caption"):
        save_figure(plt.figure(), tmp_path / "figures" / "x", " ")
