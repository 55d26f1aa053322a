"""What a reader of a rendered run would trip over: broken links, local paths, machine output, code names, bad titles.

:func:`check_run` reads every page of a run folder as text; :func:`page_problems` is what it (and the Chromium check,
:func:`cxrlib.report.check_pages`, on the page as loaded) finds in the reading of one page.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["LOCAL_PATH", "REMOTE_SCRIPT", "check_run", "page_problems"]


_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
LOCAL_PATH = re.compile(r"(?<![\w./:-])/(?:home|root|tmp|work|Users|mnt|var|opt|srv)(?:/[\w.-]+)+")
_STDERR = 'data-mime-type="application/vnd.jupyter.stderr"'
_WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">'
_INLINE_IMAGE = re.compile(r"""src\s*=\s*["']data:image/""", re.IGNORECASE)
#: A ``<script src="http(s)://...">`` element: the section pages must open offline (pipeline removes these).
REMOTE_SCRIPT = re.compile(r"""<script[^>]*\ssrc\s*=\s*["']https?://[^"']*["'][^>]*>(?:\s*</script>)?""",
                           re.IGNORECASE)

# what a page says, read as text ------------------------------------------------------------------------------------
#: A line of a Markdown table that was not rendered (``| a | b |``), or its rule (``| --- | --- |``, ``--- | ---``).
_MARKDOWN_ROW = re.compile(r"^\s*\|(?:[^|\n]*\|){2,}\s*$", re.MULTILINE)
_MARKDOWN_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)
#: pandas' note under a table it cut short, and the ``...`` of a cut row, column or cell.
_TRUNCATED = re.compile(r"\b\d+ rows [×x] \d+ columns\b")
_CUT_CELL = re.compile(r"(?:\.\.\.|…)\s*$")
#: A Python object's repr: ``Name(field=...)``, ``<... object at 0x...>``, a NumPy scalar or array.
_OBJECT_REPR = re.compile(r"\b[A-Z]\w*\(\s*[a-z_]\w*=|<[\w.]+ object at 0x[0-9a-fA-F]+>|\bnp\.\w+\(|\barray\(\[")
#: A dict or list repr (``{'a': 1}``, ``['a', 'b']``): machine output when it is not marked as code.
_CONTAINER_REPR = re.compile(r"""\{\s*(['"])[^'"]*\1\s*:|\[\s*(['"])[^'"]*\2\s*(?:,\s*(['"])[^'"]*\3\s*)*\]""")
#: A snake_case identifier that is not part of a file name (``test_predictions.csv``), a path or an address.
_CODE_NAME = re.compile(r"(?<![\w./:@-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?:\.\d+)?(?![\w/@-]|\.[A-Za-z])")
#: A count with a plural left to the reader: ``3 seed(s)``.
_PLURAL = re.compile(r"\b\d+\s+[A-Za-z-]+\(s\)")
_ADDRESS = re.compile(r"\b(?:https?|file)://\S+")
#: Titles that name no page.
_GENERIC_TITLES = {"", "notebook", "untitled", "document", "jupyter notebook", "index", "page"}
_CODE_TAGS = {"code", "kbd", "samp"}
_BLOCKS = {"p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "title", "caption", "figcaption", "pre", "dt",
           "dd", "blockquote", "div", "summary"}
_LABELS = {"th", "h1", "h2", "h3", "h4", "h5", "h6", "title", "caption", "figcaption"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
#: Tags whose start closes an open one (HTML's implied end tags), up to the element that holds them.
_IMPLIED = {"td": ({"td", "th"}, {"tr", "table"}), "th": ({"td", "th"}, {"tr", "table"}),
            "tr": ({"tr"}, {"table"}), "li": ({"li"}, {"ul", "ol"}), "p": ({"p"}, {"div", "td", "th", "li"})}


class _Block:
    """The text of one block element: all of it, the part outside ``<pre>``, and the part not marked as code."""

    def __init__(self, tag, *, row_label):
        self.tag, self.row_label = tag, row_label
        self.text, self.flow, self.prose = [], [], []


class _PageReader(HTMLParser):
    """Splits a page into blocks (paragraphs, cells, headings, the title) and table rows, skipping scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open, self.blocks, self.rows, self.stack, self.tables = [], [], [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            return
        if tag in _IMPLIED:
            closes, holders = _IMPLIED[tag]
            for opened in reversed(self.open):
                if opened in holders:
                    break
                if opened in closes:
                    self.handle_endtag(opened)
                    break
        if tag == "table":
            self.tables += 1
        if tag == "tr":
            self.rows.append((self.tables, []))
        if tag in _BLOCKS:
            row = self.rows[-1][1] if self.rows and "tr" in self.open else None
            block = _Block(tag, row_label=tag == "td" and row is not None and not any(b.tag == "td" for b in row))
            if tag in ("td", "th") and row is not None:
                row.append(block)
            self.blocks.append(block)
            self.stack.append(block)
        self.open.append(tag)

    def handle_endtag(self, tag):
        if tag not in self.open:
            return
        while self.open:
            closed = self.open.pop()
            if closed in _BLOCKS and self.stack:
                self.stack.pop()
            if closed == tag:
                break

    def handle_data(self, data):
        opened = set(self.open)
        if not self.stack or {"script", "style"} & opened:
            return
        for block in self.stack:
            block.text.append(data)
            block.flow.append("\n" if "pre" in opened else data)
            block.prose.append(" " if _CODE_TAGS & opened else data)


def _clean(text):
    return " ".join(text.split())


def page_problems(html: str, name: str) -> list[str]:
    """What a reader of one page would trip over in its text, one line per problem (empty: none).

    The rule for what counts as code: text inside ``<code>``, ``<kbd>`` or ``<samp>`` is marked as code, and a reader
    reads it as such; everything else (``<pre>`` output included) is prose. Found anywhere outside scripts and styles:

    * a Markdown table that did not render: a line ``| a | b |`` or a rule (``| --- | --- |``, ``--- | ---``)
      outside ``<pre>``;
    * pandas' truncated output: its note ``N rows × M columns``, or a table cell that is or ends in ``...``/``…``;
    * a Python object's repr, even marked as code (a reader wants the values, not a constructor):
      ``Name(field=...)``, ``<... object at 0x...>``, ``np.float64(...)``, ``array([...``; in prose, a dict or list
      repr (``{'a': 1}``, ``['a', 'b']``);
    * a code name as a label: a snake_case identifier (``fallback_rate``, ``fixed_0.5``) in prose of a table's header
      cell or row label (a ``<th>``, or a row's first ``<td>``), a heading, a caption or the title. File names
      (``test_predictions.csv``), paths and web addresses are not code names; a parameter's name shown as code passes;
    * a count whose plural is left to the reader (``3 seed(s)``), in prose;
    * an empty pandas header row: below a header row, a row of header cells with only its first one filled (the
      index's name);
    * a title that names no page: missing, empty, generic ("Notebook") or the file's own name.
    """
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    problems = []

    def say(what, text=""):
        quoted = f": {text[:80]!r}" if text else ""
        line = f"{name}: {what}{quoted}"
        if line not in problems:
            problems.append(line)

    titles = [_clean("".join(b.text)) for b in reader.blocks if b.tag == "title"]
    if not titles:
        say("has no <title>")
    elif titles[0].lower() in _GENERIC_TITLES | {Path(name).stem.lower()}:
        say(f"has a title that names no page: {titles[0]!r}")
    for block in reader.blocks:
        text, prose = "".join(block.text), _ADDRESS.sub(" ", "".join(block.prose))
        flow = "".join(block.flow)
        for match in [*_MARKDOWN_ROW.finditer(flow), *_MARKDOWN_RULE.finditer(flow)]:
            say("shows a Markdown table that did not render", match.group(0).strip())
        for match in _TRUNCATED.finditer(text):
            say("shows pandas' truncated output", match.group(0))
        if block.tag in ("td", "th") and _CUT_CELL.search(text):
            say("shows a table cell pandas cut short", _clean(text))
        for match in [*_OBJECT_REPR.finditer(text), *_CONTAINER_REPR.finditer(prose)]:
            say("shows a Python repr", match.group(0))
        for match in _PLURAL.finditer(prose):
            say("leaves a plural to the reader", match.group(0))
        if block.tag in _LABELS or block.row_label:
            for match in _CODE_NAME.finditer(prose):
                say(f"shows a code name as a label ({block.tag})", match.group(0))
    for (table, above), (same, row) in zip(reader.rows, reader.rows[1:]):
        cells = [_clean("".join(cell.text)) for cell in row]
        if (table == same and above and all(cell.tag == "th" for cell in above + row) and len(cells) > 1
                and cells[0] and not any(cells[1:])):
            say("has an empty header row (the index's name on a row of its own)", cells[0])
    return problems


def check_run(run_dir: str | os.PathLike) -> list[str]:
    """What a reader of a rendered run would trip over, one line per problem (empty: none).

    Every ``href``/``src`` of every HTML page must resolve inside the run folder (web addresses, anchors and
    ``data:`` URLs aside); no page may embed an image inline (a second copy of a file in ``figures/``), show an absolute
    local path, stderr output or a widget, or load a script from the web (the report must open offline); no
    record (``.json``, ``.csv``) may hold an absolute local path. Every page's text passes :func:`page_problems`
    (unrendered Markdown, truncated tables, reprs, code names as labels, "(s)" plurals, empty header rows, a title
    that names no page).
    """
    run_dir = Path(run_dir)
    pages = sorted(run_dir.glob("*.html"))
    if not pages:
        return [f"{run_dir} holds no HTML pages"]
    problems = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in _LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:", "#", "data:")):
                continue
            local = target.split("#", 1)[0].split("?", 1)[0]
            if local and not (page.parent / local).exists():
                problems.append(f"{page.name}: link to {target!r} does not resolve")
        for match in sorted(set(LOCAL_PATH.findall(text))):
            problems.append(f"{page.name}: shows the local path {match!r}")
        if _STDERR in text:
            problems.append(f"{page.name}: shows stderr output")
        if _WIDGET_VIEW in text:
            problems.append(f"{page.name}: embeds a widget, which shows nothing offline")
        if _INLINE_IMAGE.search(text):
            problems.append(f"{page.name}: embeds an image inline (figures are linked from figures/, not copied)")
        if REMOTE_SCRIPT.search(text):
            problems.append(f"{page.name}: loads a script from the web (fails offline)")
        problems += page_problems(text, page.name)
    for record in sorted([*run_dir.rglob("*.json"), *run_dir.rglob("*.csv")]):
        name = record.relative_to(run_dir)
        if name.parts[0].startswith("."):  # the runner's own copies (.sources/), not records
            continue
        found = LOCAL_PATH.search(record.read_text(encoding="utf-8", errors="replace"))
        if found:
            problems.append(f"{name}: holds the local path {found.group(0)!r}")
    return problems
