"""The building blocks of the report's pages: escaped text, numbers with intervals, tables, figures, arm labels."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

__all__ = ["CAPTIONS", "read_captions", "read_record", "esc", "pct", "ci_text", "html_table", "frame_html", "figure_html",
           "figure_tag", "missing_step", "arm_label", "set_label"]


#: The record beside a run's figures: file name -> {"caption": what to take from it, "alt": what it shows}; written
#: by :func:`cxrlib.report.figures.save_figure`.
CAPTIONS = "captions.json"


def read_captions(folder: Path) -> dict:
    """A figures folder's :data:`CAPTIONS` record (empty when there is none yet)."""
    return read_record(Path(folder) / CAPTIONS)


def read_record(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def esc(value) -> str:
    return html.escape(str(value))


def pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def ci_text(m: dict, key: str, *, percent: bool = True) -> str:
    value, ci = m.get(key), m.get("ci", {}).get(key)
    if value is None:
        return "n/a"
    if percent:
        return f"{100 * value:.1f}%" + (f" (95% CI {100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else "")
    return f"{value:.3f}" + (f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def html_table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def frame_html(frame: pd.DataFrame) -> str:
    return f"<div class='wide'>{frame.to_html(border=0, escape=True)}</div>"


def figure_html(run_dir: Path, stem: str) -> str:
    """A saved figure (``figures/<stem>.png`` or ``.jpg``) with its recorded caption and alt text; nothing when the
    step did not make it."""
    found = sorted((run_dir / "figures").glob(f"{stem}.*"))
    if not found:
        return ""
    return figure_tag(f"figures/{found[0].name}", read_captions(run_dir / "figures").get(found[0].name, {}))


def figure_tag(src: str, record: dict, *, inline_style: bool = False) -> str:
    """``<figure>`` of the image ``src`` with its :data:`CAPTIONS` record's alt text and caption (the file's stem
    when it has neither); ``inline_style`` for pages without the index's stylesheet."""
    caption = record.get("caption", "")
    alt = record.get("alt") or caption or Path(src).stem
    box, image, text = ((' style="margin:.8rem 0"', ' style="max-width:100%"', ' style="font-size:.9rem;color:#444"')
                        if inline_style else ("", "", ""))
    return (f'<figure{box}><img src="{esc(src)}" alt="{esc(alt)}"{image} loading="lazy">'
            + (f"<figcaption{text}>{esc(caption)}</figcaption>" if caption else "") + "</figure>")


def missing_step(step: str) -> str:
    return f"<p class='muted'>Not available: step {esc(step)} has not run in this folder.</p>"


def arm_label(run: dict, arm: str) -> str:
    spec = run.get("parameters", {}).get("arms", {}).get(arm, {})
    steps = [name for name, key in (("CLAHE", "clahe"), ("thorax crop", "roi")) if spec.get(key)]
    return f"{arm} ({' + '.join(steps) or 'no preprocessing'})"


def set_label(name: str) -> str:
    """An evaluation set's profile key as a reader reads it (``adult_normals`` -> ``adult normals``)."""
    return name.replace("_", " ")
