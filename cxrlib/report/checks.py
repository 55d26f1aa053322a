"""What a reader of a rendered run would trip over: unresolved links, local paths, stderr, widgets, web scripts."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["LOCAL_PATH", "REMOTE_SCRIPT", "check_run"]


_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
LOCAL_PATH = re.compile(r"(?<![\w./:-])/(?:home|root|tmp|work|Users|mnt|var|opt|srv)(?:/[\w.-]+)+")
_STDERR = 'data-mime-type="application/vnd.jupyter.stderr"'
_WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">'
_INLINE_IMAGE = re.compile(r"""src\s*=\s*["']data:image/""", re.IGNORECASE)
#: A ``<script src="http(s)://...">`` element: the section pages must open offline (pipeline removes these).
REMOTE_SCRIPT = re.compile(r"""<script[^>]*\ssrc\s*=\s*["']https?://[^"']*["'][^>]*>(?:\s*</script>)?""",
                           re.IGNORECASE)


def check_run(run_dir: str | os.PathLike) -> list[str]:
    """What a reader of a rendered run would trip over, one line per problem (empty: none).

    Every ``href``/``src`` of every HTML page must resolve inside the run folder (web addresses, anchors and
    ``data:`` URLs aside); no page may embed an image inline (a second copy of a file in ``figures/``), show an absolute
    local path, stderr output or a widget, or load a script from the web (the report must open offline); no
    record (``.json``, ``.csv``) may hold an absolute local path.
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
    for record in sorted([*run_dir.rglob("*.json"), *run_dir.rglob("*.csv")]):
        name = record.relative_to(run_dir)
        if name.parts[0].startswith("."):  # the runner's own copies (.sources/), not records
            continue
        found = LOCAL_PATH.search(record.read_text(encoding="utf-8", errors="replace"))
        if found:
            problems.append(f"{name}: holds the local path {found.group(0)!r}")
    return problems
