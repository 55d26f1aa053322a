"""The run's front page, ``index.html``: the study as a reader sees it.

Everything on the page is read from the run folder: ``run.json`` (provenance), ``data.json`` (01),
``roi.json`` (02), ``training.json`` (03), ``metrics.json`` (04, 05) and ``figures/``. A section whose
inputs are missing (a step not run yet) says so instead of showing anything invented. The page is
static HTML with relative links, so it opens from disk without a server.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import write_text
from .checks import LOCAL_PATH
from .figures import plot_at_a_glance, save_figure
from .html import esc, figure_html, html_table, missing_step, read_record
from .sections import audit_section, data_section, gradcam_section, limitations, method_section, results_section
from .summary import abstract, plain_summary

__all__ = ["write_index"]

_SECTIONS = {
    "01_eda": "Exploratory data analysis",
    "02_preprocessing": "Preprocessing and thorax ROI",
    "03_training": "Training",
    "04_evaluation": "Evaluation",
    "05_gradcam": "Grad-CAM comparison",
}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f;line-height:1.55}
h1{font-size:1.65rem;margin-bottom:.3rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{margin-top:1.4rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}th,td{border:1px solid #ccc;padding:.25rem .55rem;
text-align:right;vertical-align:top}th:first-child,td:first-child{text-align:left}thead{background:#f3f3f3}
.banner{background:#fff4e5;border:1px solid #f0b66a;padding:.6rem .9rem;border-radius:4px}
.abstract{background:#f6f8fa;border-left:4px solid #4C72B0;padding:.6rem 1rem}
.summary{font-size:1.05rem;background:#f3f8f1;border-left:4px solid #55A868;padding:.4rem 1rem}
.wide{overflow-x:auto;max-width:100%}
.muted{color:#666;font-size:.9rem}figure{margin:1.2rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.88rem;color:#444}code{background:#f5f5f5;padding:0 .2rem}pre{background:#f5f5f5;padding:.6rem}
"""


def _sections(run_dir: Path, run: dict) -> str:
    rows = []
    for stem, title in _SECTIONS.items():
        status = run.get("steps", {}).get(stem, {})
        if (run_dir / f"{stem}.html").is_file():
            rows.append(f'<li><a href="{stem}.html">{esc(title)}</a> '
                        f"<span class='muted'>{status.get('seconds', '?')} s</span></li>")
        elif status:
            rows.append(f"<li>{esc(title)}: {esc(status.get('status', ''))}</li>")
    return "<ol>" + "".join(rows) + "</ol>"


_POLICIES = {"float32": "float32", "mixed_bfloat16": "mixed bfloat16 (bfloat16 arithmetic, float32 weights)",
             "mixed_float16": "mixed float16 (float16 arithmetic, float32 weights)"}


def _numerics(training):
    """The Keras dtype policies the run's models trained in (``training.json``), in words."""
    policies = sorted({t.get("dtype_policy", "not recorded") for by_seed in training.get("arms", {}).values()
                       for t in by_seed["seeds"].values()})
    return ", ".join(_POLICIES.get(p, p) for p in policies) or "no model trained yet"


def write_index(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/index.html`` from the run's JSON records and figures; returns its path."""
    run_dir = Path(run_dir)
    run = read_record(run_dir / "run.json")
    data = read_record(run_dir / "data.json") or run.get("data", {})
    roi = read_record(run_dir / "roi.json")
    training = read_record(run_dir / "training.json")
    metrics = read_record(run_dir / "metrics.json")
    banner = ""
    if data.get("source") == "synthetic":
        banner = ("<p class='banner'><strong>Synthetic demo data.</strong> Every number and figure in this run comes "
                  "from generated radiographs, not patients; it shows the method at work and nothing clinical.</p>")
    git = run.get("git", {})
    provenance = html_table(
        [["data", data.get("description", "not described yet")],
         ["started / finished", f"{run.get('started', '?')} / {run.get('finished', 'not finished')}"],
         ["device", run.get("device", "?")],
         ["numerics", _numerics(training)],
         ["code", f"{git.get('commit') or 'unknown'}{' (with uncommitted changes)' if git.get('dirty') else ''}"],
         ["command", LOCAL_PATH.sub(lambda m: "…/" + Path(m.group(0)).name, run.get("command", "?"))]],
        ["", ""],
    )
    profile = run.get("parameters", {}).get("run_name", run_dir.name)
    glance = ""
    if metrics.get("arms"):
        save_figure(plot_at_a_glance(run, metrics), run_dir / "figures" / "00_at_a_glance")
        glance = figure_html(run_dir, "00_at_a_glance", "At a glance, per arm: test ROC AUC against the trivial floor "
                                                    "(grey band: its 95% CI); AUC with the thorax blanked (the lung "
                                                    "fields for cropped arms); Grad-CAM heatmap mass on the lung "
                                                    "fields minus their share of the frame each network saw. Dots: "
                                                    "means over seeds; bars: 95% CIs over patients and seeds.")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cxr-study · {esc(run_dir.name)}</title><style>{_STYLE}</style></head><body>
<h1>Pneumonia detection on chest X-rays: a measured reproduction of Galindo-Ramirez et al. (2022)</h1>
<p class="muted">Run <code>{esc(run_dir.name)}</code> · reproduces V. H. Galindo-Ramirez et al., "Detection and
Classification of Pneumonia in X-Ray Images Using Preprocessing Techniques and Deep Learning", Research in Computing
Science 151(6), 2022.</p>
{banner}
<h2>In brief</h2>
{plain_summary(run, data, metrics) or missing_step("04")}
{glance}
<h2>Abstract</h2>
{abstract(run, data, roi, training, metrics)}
<h2>Data</h2>
{data_section(data)}
{figure_html(run_dir, "01_samples", "Random images per class.")}
<h2>Method</h2>
{method_section(run, roi, training)}
{figure_html(run_dir, "02_clahe", "The paper's Fig. 4: original and CLAHE-enhanced images.")}
{figure_html(run_dir, "02_processed", "The paper's Fig. 5: original images with the ROI box, and the processed crops.")}
{figure_html(run_dir, "02_stages", "Every stage of the ROI extraction on a few images.")}
{figure_html(run_dir, "02_lungmask_distributions", "The ROI box against manual lung masks: coverage and area.")}
{figure_html(run_dir, "03_curves", "Training and validation accuracy and loss per epoch, every arm and seed.")}
<h2>Results</h2>
{results_section(run_dir, run, training, metrics)}
<h2>Where the models look (Grad-CAM)</h2>
{gradcam_section(run_dir, run, metrics)}
<h2>Shortcut audit</h2>
{audit_section(run, metrics)}
{figure_html(run_dir, "05_checks", "Grad-CAM checks: cascading randomization and deletion/insertion per arm.")}
<h2>Discussion and limitations</h2>
{limitations(run, data, roi, training, metrics)}
<h2>Sections</h2>
<p>Each section as its executed notebook shows it, code hidden (the executed <code>NN_name.ipynb</code> files, with
their code and every log line, stay in the run folder where the study ran; they are not part of a committed
report):</p>
{_sections(run_dir, run)}
<h2>Provenance and how to rerun</h2>
{provenance}
<p>Full record: <a href="run.json">run.json</a> (code version, package versions, every parameter, data manifest hash,
device). To rerun this profile: <code>python -m cxrlib run params/{esc(profile)}.yaml</code>; change a value with
<code>--set key=value</code>.</p>
</body></html>
"""
    index = run_dir / "index.html"
    write_text(page, index)
    return index
