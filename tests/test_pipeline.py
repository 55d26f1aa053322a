"""The runner: parameter injection, refusals, failure reporting and an end-to-end run on synthetic data."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from conftest import TINY_ARMS
from cxrlib.run.params import StudyParams
from cxrlib.run.pipeline import StudyRunError, discover_steps, run_study

REPO = Path(__file__).resolve().parents[1]


def notebook(path: Path, parameters: str, body: str) -> Path:
    path.write_text(
        "# %% [markdown]\n# # test notebook\n\n"
        f'# %% tags=["parameters"]\n{parameters}\n\n'
        f"# %%\n{body}\n"
    )
    return path


def test_the_study_sequence_is_numbered_and_starts_with_eda():
    steps = discover_steps()
    assert steps[0].stem == "01_eda"
    assert [s.number for s in steps] == sorted(s.number for s in steps)


def test_only_declared_parameters_are_injected(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    notebook(nbdir / "01_echo.py", 'run_dir = "x"\nepochs = 1',
             "import json, pathlib\npathlib.Path(run_dir, 'seen.json').write_text(json.dumps(sorted(globals())))")
    params = StudyParams(run_name="inject", reports_dir=str(tmp_path / "reports"), epochs=7)
    run_dir = run_study(params, notebooks_dir=nbdir, progress=False)
    seen = json.loads((run_dir / "seen.json").read_text())
    assert "epochs" in seen and "batch_size" not in seen and "seed" not in seen
    executed = nbformat.read(run_dir / "01_echo.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "epochs = 7" in injected[0].source
    assert (run_dir / "01_echo.html").is_file() and (run_dir / "index.html").is_file()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["steps"]["01_echo"]["status"] == "done" and record["parameters"]["epochs"] == 7
    assert record["device"] and record["packages"]["papermill"]


def test_a_full_run_starts_from_an_empty_folder_and_keeps_the_earlier_run_until_it_succeeds(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    notebook(nbdir / "01_ok.py", 'run_dir = "x"', "open(run_dir + '/ran', 'w')")
    params = StudyParams(run_name="again", reports_dir=str(tmp_path / "reports"))
    run_dir = run_study(params, notebooks_dir=nbdir, progress=False)
    (run_dir / "figures" / "01_stale.png").write_bytes(b"from an earlier version")
    run_study(params, notebooks_dir=nbdir, progress=False)
    assert (run_dir / "ran").is_file() and not (run_dir / "figures" / "01_stale.png").exists()
    assert not run_dir.with_name("again.previous").exists()
    notebook(nbdir / "01_ok.py", 'run_dir = "x"', "raise ValueError('planted failure')")
    with pytest.raises(StudyRunError):
        run_study(params, notebooks_dir=nbdir, progress=False)
    assert (run_dir.with_name("again.previous") / "ran").is_file(), "the earlier run is kept when this one fails"


def test_the_run_s_own_folder_does_not_make_the_code_count_as_changed(tmp_path, monkeypatch):
    from cxrlib.run import pipeline

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "reports" / "r").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "reports" / "r" / "index.html").write_text("old report")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "start")
    monkeypatch.setattr(pipeline, "REPO_ROOT", tmp_path)
    (tmp_path / "reports" / "r" / "index.html").write_text("the run rewrites its report")
    assert pipeline._git_commit(tmp_path / "reports" / "r")["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert pipeline._git_commit(tmp_path / "reports" / "r")["dirty"] is True


def test_a_failing_notebook_stops_the_run_naming_notebook_cell_and_error(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    notebook(nbdir / "01_ok.py", 'run_dir = "x"', "x = 1")
    notebook(nbdir / "02_broken.py", 'run_dir = "x"', "raise ValueError('planted failure')")
    notebook(nbdir / "03_never.py", 'run_dir = "x"', "open(run_dir + '/ran', 'w')")
    params = StudyParams(run_name="broken", reports_dir=str(tmp_path / "reports"))
    with pytest.raises(StudyRunError) as info:
        run_study(params, notebooks_dir=nbdir, progress=False)
    message = str(info.value)
    assert "02_broken.py" in message and "cell" in message and "ValueError: planted failure" in message
    run_dir = tmp_path / "reports" / "broken"
    assert (run_dir / "02_broken.ipynb").is_file(), "the partial executed notebook is kept"
    assert not (run_dir / "ran").exists()
    assert json.loads((run_dir / "run.json").read_text())["steps"]["02_broken"]["status"] == "failed"


def test_kernel_log_lines_go_to_a_log_file_unless_verbose(tmp_path, capfd):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    notebook(nbdir / "01_noisy.py", 'run_dir = "x"', "import os\nos.write(2, b'native log line\\n')")
    params = StudyParams(run_name="noisy", reports_dir=str(tmp_path / "reports"), work_dir=str(tmp_path / "work"))
    run_study(params, notebooks_dir=nbdir, progress=False)
    console = capfd.readouterr()
    assert "native log line" not in console.err + console.out
    assert "native log line" in (tmp_path / "work" / "logs" / "noisy" / "01_noisy.log").read_text()
    run_study(params, notebooks_dir=nbdir, progress=False, verbose=True)
    assert "native log line" in capfd.readouterr().err


def test_a_notebook_declaring_an_unknown_parameter_is_refused(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    notebook(nbdir / "01_typo.py", 'run_dir = "x"\nepoch = 3', "pass")
    with pytest.raises(StudyRunError, match="epoch"):
        run_study(StudyParams(reports_dir=str(tmp_path)), notebooks_dir=nbdir, progress=False)


def test_every_study_notebook_declares_only_known_parameters():
    import jupytext

    from cxrlib.run.pipeline import _declared_parameters

    known = set(StudyParams.known_keys()) | {"run_dir"}
    for step in discover_steps():
        declared = _declared_parameters(jupytext.read(step.source))
        assert "run_dir" in declared, step.stem
        assert set(declared) <= known, (step.stem, set(declared) - known)


def test_missing_kernel_says_how_to_register_it(tmp_path):
    params = StudyParams(kernel_name="no-such-kernel", reports_dir=str(tmp_path))
    with pytest.raises(StudyRunError, match="ipykernel install"):
        run_study(params, progress=False)


def test_cli_refuses_a_mistyped_key_with_exit_status_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cxrlib", "run", str(REPO / "params" / "demo.yaml"),
                             "--set", "epcohs=2"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown key 'epcohs'" in result.stderr and "did you mean 'epochs'" in result.stderr


@pytest.mark.slow
def test_demo_study_runs_end_to_end_on_tiny_synthetic_data(tiny_study):
    run_dir = tiny_study
    arms = TINY_ARMS
    for step in discover_steps():
        assert (run_dir / f"{step.stem}.html").stat().st_size > 10_000, step.stem
    data = json.loads((run_dir / "data.json").read_text())
    assert data["source"] == "synthetic" and "synthetic" in data["description"]
    index = (run_dir / "index.html").read_text()
    assert "synthetic" in index.lower() and "01_eda.html" in index
    record = json.loads((run_dir / "run.json").read_text())
    assert all(s["status"] == "done" for s in record["steps"].values())
    assert record["data"]["manifest_sha256"] == data["manifest_sha256"]
    # every arm and seed is trained, scored and recorded; nothing names an arm the profile does not declare
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert list(metrics["arms"]) == list(arms)
    keys = {"accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "average_precision"}
    for arm, m in metrics["arms"].items():
        assert keys <= set(m) and keys <= set(m["sd"]) and keys <= set(m["ci"])
        assert [p["seed"] for p in m["per_seed"]] == [0, 1]
        assert set(m["operating_points"]) == {"fixed_0.5", "youden", "sensitivity_0.95"}
        assert all(0 <= m[k] <= 1 for k in keys)
        assert m["without_fallback"] is None or keys <= set(m["without_fallback"])
    # by default every arm against original, then CLAHE on cropped images (paper and roi differ in that step only)
    assert [(c["a"], c["b"]) for c in metrics["comparisons"]] == [("roi", "original"), ("paper", "original"),
                                                                  ("paper", "roi")]
    assert all(c["verdict"] in ("a higher", "b higher", "equivalent", "not shown") for c in metrics["comparisons"])
    assert all(len(c["mcnemar_p_values"]) == 2 for c in metrics["comparisons"])
    assert set(metrics["gradcam"]) == set(arms)
    predictions = pd.read_csv(run_dir / "test_predictions.csv")
    assert len(predictions) == 3 * 2 * 12 and set(predictions["arm"]) == set(arms)
    assert (run_dir.parents[1] / "work" / "tensorflow" / "models" / "tensorflow" / "roi-seed1.keras").is_file()
    assert not (run_dir / "models").exists()  # models stay out of the report
    assert "roi" in index and "paper" in index
    # the audit: trivial floor, perturbations per arm and condition, the extra set, checked Grad-CAM
    assert 0 <= metrics["baselines"]["trivial"]["roc_auc"] <= 1 and set(metrics["gain_over_trivial"]) == set(arms)
    for arm in arms:
        assert set(metrics["perturbations"][arm]) == {"none", "thorax_blanked", "mask_blanked", "thorax_only", "swap"}
        assert "follows_thorax_rate" in metrics["perturbations"][arm]["swap"]
        assert metrics["evaluation_sets"]["more_normals"][arm]["n"] == 5
        g = metrics["gradcam"][arm]
        assert {"lung_mass_over_chance_mean", "lung_chance_mean", "randomization_spearman", "faithfulness"} <= set(g)
        assert ("thorax_mass_mean" in g) != arms[arm].get("roi", False)  # in-frame: a cropped arm has no thorax measure
        assert g["faithfulness"]["seeds"] == 2 and {"deletion", "insertion"} <= set(g["faithfulness"])
        assert g["faithfulness"]["deletion"]["verdict"] in ("faithful", "not shown", "worse than random")
        if arms[arm].get("roi"):  # its whole input blanked with a fill that knows no image: chance exactly
            assert metrics["perturbations"][arm]["thorax_blanked"]["roc_auc"] == 0.5
    assert metrics["shortcut_decisions"] is not None  # synthetic data: the tag's effect under blanking
    failures = metrics["gradcam_failures"]  # the failure gallery: every arm's errors counted, each image shown named
    assert set(failures["counts"]) == set(arms) and failures["operating_point"] == "youden"
    assert (run_dir / "figures" / "05_failures.jpg").is_file() == bool(failures["shown"])
    assert "Shortcut audit" in index and "In brief" in index
    assert (run_dir / "figures" / "00_at_a_glance.png").is_file()
    from cxrlib.report import check_run

    assert check_run(run_dir) == []  # links resolve; no local path, stderr, widget or remote script on any page


def test_render_rebuilds_html_without_executing_and_keeps_stderr_out_of_the_reader_s_view(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    notebook(nbdir / "01_log.py", 'run_dir = "x"',
             "import sys\nsys.stderr.write('I0000 00:00:1 port.cc:153] oneDNN noise\\nreal warning\\n')\n"
             "print('WARNING:tensorflow:5 out of the last 5 calls triggered tf.function retracing')\n"
             "import matplotlib.pyplot as plt, numpy as np\nfrom cxrlib.run.study import StudyRun\n"
             "run = StudyRun(run_dir, step='01')\nfig, ax = plt.subplots()\nax.plot([0, 1])\nax.set_title('a line')\n"
             "run.show(fig, 'line', 'It rises from 0 to 1.')\n"
             "fig, ax = plt.subplots()\nax.imshow(np.random.default_rng(0).random((64, 64)), cmap='gray')\n"
             "run.show(fig, 'radiograph', 'Noise, not a chest.')")
    run_dir = run_study(StudyParams(run_name="r", reports_dir=str(tmp_path / "reports")), notebooks_dir=nbdir,
                        progress=False)
    (run_dir / "01_log.html").unlink()
    result = subprocess.run([sys.executable, "-m", "cxrlib", "render", str(run_dir)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    page = (run_dir / "01_log.html").read_text()
    assert "real warning" not in page and "oneDNN noise" not in page and "retracing" not in page
    assert 'href="index.html"' in page  # every section page leads back to the study
    assert "<title>test notebook · cxr-study · r</title>" in page  # its heading and the run, not "Notebook"
    # figures are saved once (radiograph panels as JPEG) and linked, not embedded a second time
    assert 'src="figures/01_line.png"' in page and 'src="figures/01_radiograph.jpg"' in page
    assert "src=\"data:image" not in page  # (the lab template's CSS icons are data: URLs, not figures)
    # with the caption given to run.show and the alt text read from the figure
    assert 'alt="1 panel: a line"' in page and "<figcaption" in page and "It rises from 0 to 1.</figcaption>" in page
    assert json.loads((run_dir / "figures" / "captions.json").read_text())["01_radiograph.jpg"]["caption"] == \
        "Noise, not a chest."
    # the lab theme is one stylesheet beside the pages, not 260 KB inlined in each
    assert '<link rel="stylesheet" href="notebook.css">' in page and len(page) < 60_000
    assert "--jp-" in (run_dir / "notebook.css").read_text()
    executed = nbformat.read(run_dir / "01_log.ipynb", as_version=4)
    assert "oneDNN noise" in executed.cells[-1].outputs[0]["text"], "the executed notebook keeps everything"
    assert any("image/jpeg" in output.get("data", {}) for output in executed.cells[-1].outputs)
    result = subprocess.run([sys.executable, "-m", "cxrlib", "render", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "no executed notebooks" in result.stderr


def test_a_section_page_is_titled_by_its_heading_or_else_by_its_file_name():
    from cxrlib.run import pages

    cells = [nbformat.v4.new_markdown_cell("Intro\n\n## 1. Part"), nbformat.v4.new_markdown_cell("# 02 · Preprocessing")]
    assert pages.page_title(nbformat.v4.new_notebook(cells=cells), "02_preprocessing", "demo") == (
        "02 · Preprocessing · cxr-study · demo")
    assert pages.page_title(nbformat.v4.new_notebook(cells=cells[:1]), "02_preprocessing", "demo") == (
        "02 preprocessing · cxr-study · demo")


def test_the_section_pages_lead_to_their_neighbours_by_heading(tmp_path):
    from cxrlib.run import pages

    run_dir, sources = tmp_path / "run", tmp_path / "nb"
    run_dir.mkdir()
    sources.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · The data")]),
                   run_dir / "01_eda.ipynb")
    notebook(sources / "02_prep.py", 'run_dir = "x"', "")  # not run yet: its heading comes from its source
    names = pages.step_names(run_dir, ["01_eda", "02_prep", "03_none"], sources)
    assert names == {"01_eda": "01 · The data", "02_prep": "test notebook", "03_none": "03 none"}
    nav = pages.navigation("02_prep", ["01_eda", "02_prep", "03_none"], names)
    assert '<a href="01_eda.html">previous: 01 · The data</a>' in nav and "next: 03 none</a>" in nav


def test_only_a_later_step_in_an_empty_run_folder_is_refused_before_anything_starts(tmp_path):
    params = StudyParams(run_name="fresh", reports_dir=str(tmp_path / "reports"), weights="none")
    with pytest.raises(StudyRunError, match=r"lacks .*training.json \(written by step 03\)"):
        run_study(params, only="04", progress=False)
    assert not (tmp_path / "reports").exists()  # nothing was written


def test_a_data_dir_in_the_wrong_layout_is_refused_before_a_kernel_starts(tmp_path):
    wrong = tmp_path / "images"
    (wrong / "NORMAL").mkdir(parents=True)
    params = StudyParams(run_name="wrong", reports_dir=str(tmp_path / "reports"), data_dir=str(wrong), weights="none")
    with pytest.raises(StudyRunError, match="data_dir"):
        run_study(params, progress=False)
    assert not (tmp_path / "reports").exists()
