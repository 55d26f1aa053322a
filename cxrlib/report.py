"""The run's front page, ``index.html``: the study as a reader sees it, linking each notebook's report."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

__all__ = ["write_index"]

_SECTIONS = {
    "01_eda": "Exploratory data analysis",
    "02_preprocessing": "Preprocessing and thorax ROI",
    "03_training": "Training",
    "04_evaluation": "Evaluation",
    "05_gradcam": "Grad-CAM comparison",
}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f;line-height:1.5}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}th,td{border:1px solid #ccc;padding:.25rem .6rem;
text-align:right}th:first-child,td:first-child{text-align:left}thead{background:#f3f3f3}
.banner{background:#fff4e5;border:1px solid #f0b66a;padding:.6rem .9rem;border-radius:4px}
.muted{color:#666;font-size:.9rem}figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.88rem;color:#444}code{background:#f5f5f5;padding:0 .2rem}
"""


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _sections(run_dir: Path, run: dict) -> str:
    rows = []
    for stem, title in _SECTIONS.items():
        page = run_dir / f"{stem}.html"
        status = run.get("steps", {}).get(stem, {})
        if page.is_file():
            link = f'<a href="{stem}.html">{html.escape(title)}</a> (<a href="{stem}.ipynb">notebook</a>)'
            rows.append(f"<li>{link} <span class='muted'>{status.get('seconds', '?')} s</span></li>")
        elif status:
            rows.append(f"<li>{html.escape(title)}: {html.escape(status.get('status', ''))}</li>")
    return "<ol>" + "".join(rows) + "</ol>"


def write_index(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/index.html`` from the run's JSON records and figures; returns its path."""
    run_dir = Path(run_dir)
    run = _read_json(run_dir / "run.json")
    data = _read_json(run_dir / "data.json") or run.get("data", {})
    description = data.get("description", "data not yet described (notebook 01 has not run)")
    banner = ""
    if data.get("source") == "synthetic":
        banner = ("<p class='banner'><strong>Synthetic demo data.</strong> Every number and figure in this run comes "
                  "from generated radiographs, not patients; it shows the method at work and nothing clinical.</p>")
    git = run.get("git", {})
    summary = _table(
        [["data", description],
         ["run", run.get("run_name", run_dir.name)],
         ["started / finished", f"{run.get('started', '?')} / {run.get('finished', 'not finished')}"],
         ["device", run.get("device", "?")],
         ["code", f"{git.get('commit') or 'unknown'}{' (uncommitted changes)' if git.get('dirty') else ''}"],
         ["command", run.get("command", "?")]],
        ["", ""],
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cxr-study · {html.escape(run_dir.name)}</title>
<style>{_STYLE}</style></head><body>
<h1>Pneumonia detection on chest X-rays: a reproduction of Galindo-Ramirez et al. (2022)</h1>
<p class="muted">Run <code>{html.escape(run_dir.name)}</code></p>
{banner}
<h2>Run summary</h2>
{summary}
<h2>Sections</h2>
{_sections(run_dir, run)}
<p class="muted">Provenance: <a href="run.json">run.json</a> (code version, packages, parameters, data hash, device).</p>
</body></html>
"""
    index = run_dir / "index.html"
    tmp = index.with_name(".index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, index)
    return index
