"""The section pages: an executed notebook rendered as a reader sees it (its code, stderr, log lines and widgets
left out, each figure linked from ``figures/`` with its caption), titled, linked to its neighbours and to the
index's glossary."""

from __future__ import annotations

import html
import re
from pathlib import Path

from ..atomic import write_text
from ..report.figures import FIGURE_METADATA
from ..report.glossary import link_terms
from ..report.html import figure_tag, read_captions

__all__ = ["STYLESHEET", "navigation", "page_title", "reader_view", "render_page", "step_names"]

_WIDGET = "application/vnd.jupyter.widget-view+json"
STYLESHEET = "notebook.css"
_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", flags=re.S)
#: A line of Python logging's default format (``WARNING:tensorflow:...``): a log record, not the notebook's narrative.
_LOG_RECORD = re.compile(r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):[\w.]+:")


def _figure_file(output) -> str | None:
    """The run-folder file an inline figure was saved as (:meth:`cxrlib.run.StudyRun.show`), if any."""
    metadata = output.get("metadata", {})
    for entry in [metadata, *metadata.values()]:
        if isinstance(entry, dict) and isinstance(entry.get(FIGURE_METADATA), str):
            return entry[FIGURE_METADATA]
    return None


def reader_view(notebook, captions: dict) -> None:
    """Leave out of the reader's view what only the executed notebook should keep: stderr (warnings, native
    log lines, progress bars), log records printed to stdout, and widget outputs (tqdm's, which show nothing
    offline); a saved figure is linked from ``figures/`` instead of being embedded a second time, with its caption
    and alt text from ``captions`` (the figures' :data:`cxrlib.report.html.CAPTIONS` record)."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                continue
            if output.get("output_type") == "stream":
                output["text"] = "".join(line for line in output["text"].splitlines(keepends=True)
                                         if not _LOG_RECORD.match(line))
                if not output["text"].strip():
                    continue
            figure = _figure_file(output)
            if figure:
                output["data"] = {"text/html": figure_tag(figure, captions.get(Path(figure).name, {}),
                                                          inline_style=True)}
                output["metadata"] = {}
            data = output.get("data", {})
            if _WIDGET in data:
                data.pop(_WIDGET)
                if set(data) <= {"text/plain"}:
                    continue
            kept.append(output)
        cell.outputs = kept
    notebook.metadata.pop("widgets", None)


def _heading(notebook) -> str | None:
    """A notebook's heading: its first Markdown ``# ...`` line."""
    return next((line[2:].strip() for cell in notebook.cells if cell.cell_type == "markdown"
                 for line in cell.source.splitlines() if line.startswith("# ")), None)


def page_title(notebook, stem: str, run_name: str) -> str:
    """A section page's title: the notebook's heading and the run, e.g. ``02 · Preprocessing and thorax ROI ·
    cxr-study · kermany224``; the notebook's file name when it has no heading."""
    return f"{_heading(notebook) or stem.replace('_', ' ')} · cxr-study · {run_name}"


def step_names(run_dir: Path, stems: list[str], notebooks_dir: Path) -> dict:
    """Each step's heading, read from its executed notebook in the run folder or else from its source; the file
    name when neither has one."""
    import jupytext
    import nbformat

    names = {}
    for stem in stems:
        executed, source = run_dir / f"{stem}.ipynb", Path(notebooks_dir) / f"{stem}.py"
        notebook = (nbformat.read(executed, as_version=4) if executed.is_file()
                    else jupytext.read(source) if source.is_file() else None)
        names[stem] = (notebook is not None and _heading(notebook)) or stem.replace("_", " ")
    return names


def navigation(stem: str, stems: list[str], names: dict) -> str:
    position = stems.index(stem) if stem in stems else -1
    links = ['<a href="index.html">← the study (index)</a>']
    if position > 0:
        links.append(f'<a href="{stems[position - 1]}.html">previous: {html.escape(names[stems[position - 1]])}</a>')
    if 0 <= position < len(stems) - 1:
        links.append(f'<a href="{stems[position + 1]}.html">next: {html.escape(names[stems[position + 1]])}</a>')
    return ('<nav style="font-family:system-ui,sans-serif;padding:.5rem 1rem;border-bottom:1px solid #ddd">'
            + " · ".join(links) + "</nav>")


def render_page(executed: Path, stems: list[str], notebooks_dir: Path) -> Path:
    """Render one executed notebook (``NN_name.ipynb``) as its section page ``NN_name.html`` beside it: the
    reader's view (:func:`reader_view`), its title, the shared stylesheet, links to its neighbours and to the
    index's glossary."""
    import nbformat
    from nbconvert import HTMLExporter

    from ..report.checks import REMOTE_SCRIPT

    notebook = nbformat.read(executed, as_version=4)
    reader_view(notebook, read_captions(executed.parent / "figures"))
    notebook.metadata["title"] = page_title(notebook, executed.stem, executed.parent.name)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(notebook)
    body = REMOTE_SCRIPT.sub("", body)  # require.js / MathJax from a CDN: the pages need neither, and must open offline
    body = _shared_stylesheet(body, executed.parent / STYLESHEET)
    nav = navigation(executed.stem, stems, step_names(executed.parent, stems, notebooks_dir))
    start = body.find("<body")
    end = body.find(">", start) + 1
    body = body[:end] + nav + body[end:] if start >= 0 else nav + body
    body = link_terms(body, target="index.html")  # each term's first use on the page, to the index's glossary
    html = executed.with_suffix(".html")
    write_text(body, html)
    return html


def _shared_stylesheet(page: str, path: Path) -> str:
    """Move the page head's style blocks (JupyterLab's theme, about 260 KB, the same on every page) into one
    stylesheet beside the pages, linked from each; the outputs' own styles (table styling) stay inline."""
    head_end = page.find("</head>")
    blocks = [m for m in _STYLE_BLOCK.finditer(page) if m.end() <= head_end]
    if not blocks:
        return page
    write_text("\n".join(m.group(1) for m in blocks), path)
    for m in reversed(blocks[1:]):
        page = page[:m.start()] + page[m.end():]
    first = blocks[0]
    return page[:first.start()] + f'<link rel="stylesheet" href="{path.name}">' + page[first.end():]
