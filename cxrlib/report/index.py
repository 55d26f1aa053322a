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
from .answers import four_answers
from .figures import plot_at_a_glance, save_figure
from .glossary import glossary_html, link_terms
from .html import esc, figure_html, missing_step, read_record
from .provenance import provenance_section
from .sections import audit_section, data_section, gradcam_section, limitations, method_section, results_section
from .summary import abstract, plain_summary, regime_sentence

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
.answers li{margin:.45rem 0}.regime{background:#f6f8fa;padding:.5rem .9rem;border-left:4px solid #8172B2}
.limits{background:#fff8f0;border:1px solid #e8c9a0;border-radius:4px;padding:.1rem 1rem;margin:1rem 0}
.limits h2{font-size:1.1rem;border:0;margin-top:.7rem}.limits li{margin:.25rem 0;font-size:.93rem}
.toc{background:#fafafa;border:1px solid #e3e3e3;border-radius:4px;padding:.5rem 1rem;margin:1rem 0}
.toc ol{columns:2;margin:.3rem 0}.box{background:#fafafa;border:1px solid #ddd;border-radius:4px;padding:.3rem 1rem}
.glossary dt{font-weight:600;margin-top:.4rem}.glossary dd{margin-left:1.2rem}a.term{color:inherit;
text-decoration:underline dotted}.pipeline td,.pipeline th{font-size:.8rem;text-align:center;vertical-align:middle}
.pipeline td.on{background:#e8f0fa;border-color:#9db7d8}.pipeline td.off{color:#999;background:#fafafa}
.pipeline caption{caption-side:bottom;font-size:.85rem;color:#555;text-align:left;padding-top:.3rem}
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
    glance = ""
    if metrics.get("arms"):
        save_figure(plot_at_a_glance(run, metrics), run_dir / "figures" / "00_at_a_glance",
                    "At a glance, per arm: test ROC AUC against the trivial floor (grey band: its 95% CI); AUC with "
                    "the thorax blanked (the lung fields for cropped arms); Grad-CAM heatmap mass on the lung fields "
                    "minus their share of the frame each network saw. Dots: means over seeds; bars: 95% CIs over "
                    "patients and seeds.")
        glance = figure_html(run_dir, "00_at_a_glance")
    contents = [("answers", "Four answers"), ("brief", "In brief"), ("abstract", "Abstract"), ("data", "Data"),
                ("method", "Method"), ("results", "Results"), ("gradcam", "Where the models look (Grad-CAM)"),
                ("audit", "Shortcut audit"), ("sections", "The sections, as executed"), ("glossary", "Glossary"),
                ("provenance", "Provenance and how to reproduce")]
    toc = "<nav class='toc'><strong>Contents</strong><ol>" + "".join(
        f"<li><a href='#{key}'>{esc(title)}</a></li>" for key, title in contents) + "</ol></nav>"
    body = f"""<h1>Pneumonia detection on chest X-rays: a measured reproduction of Galindo-Ramirez et al. (2022)</h1>
<p class="muted">Run <code>{esc(run_dir.name)}</code> on {esc(data.get("description", "data not described yet"))} ·
reproduces V. H. Galindo-Ramirez et al., "Detection and Classification of Pneumonia in X-Ray Images Using
Preprocessing Techniques and Deep Learning", Research in Computing Science 151(6), 2022.</p>
{banner}
<h2 id="answers">Four answers</h2>
{four_answers(run, metrics) or missing_step("04")}
<p class="regime"><strong>Training regime.</strong> {regime_sentence(run, training) or "No model trained yet."}</p>
<aside class="limits"><h2>Limitations</h2>{limitations(run, data, roi, training, metrics)}</aside>
{toc}
<h2 id="brief">In brief</h2>
{plain_summary(run, data, metrics) or missing_step("04")}
{glance}
<h2 id="abstract">Abstract</h2>
{abstract(run, data, roi, training, metrics)}
<h2 id="data">Data</h2>
{data_section(data)}
{figure_html(run_dir, "01_samples")}
<h2 id="method">Method</h2>
{method_section(run, roi, training)}
{figure_html(run_dir, "02_clahe")}
{figure_html(run_dir, "02_processed")}
{figure_html(run_dir, "02_stages")}
{figure_html(run_dir, "02_lungmask_distributions")}
{figure_html(run_dir, "03_curves")}
<h2 id="results">Results</h2>
{results_section(run_dir, run, training, metrics)}
<h2 id="gradcam">Where the models look (Grad-CAM)</h2>
{gradcam_section(run_dir, run, metrics)}
<h2 id="audit">Shortcut audit</h2>
{audit_section(run, metrics)}
{figure_html(run_dir, "05_checks")}
<h2 id="sections">The sections, as executed</h2>
<p>Each step as its executed notebook shows it, code hidden (the executed <code>NN_name.ipynb</code> files, with
their code and every log line, stay in the run folder where the study ran; they are not part of a committed
report):</p>
{_sections(run_dir, run)}
<h2 id="glossary">Glossary</h2>
{glossary_html()}
<h2 id="provenance">Provenance and how to reproduce</h2>
{provenance_section(run_dir, run, data, training, metrics)}
"""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cxr-study · {esc(run_dir.name)}</title><style>{_STYLE}</style></head><body>
{link_terms(body)}
</body></html>
"""
    index = run_dir / "index.html"
    write_text(page, index)
    return index
