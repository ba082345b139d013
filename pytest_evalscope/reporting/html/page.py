"""One self-contained HTML file for one or more runs: the data as gzip+base64 JSON inside the page, the
page's script and style inline, charts drawn by the script as SVG. No CDN, no font, no server; the
Content-Security-Policy forbids every request, so the page cannot load anything even by mistake.

Model-written text is put into the page only as data and shown with `textContent`, never as HTML.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

from ..outputs import atomic_write
from .load import load_run
from .samples import add_flips, apply_budget, columns

SCHEMA = "pytest_evalscope.html/1"
PAGE_FILE = "report.html"
_ASSETS = Path(__file__).parent
_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'")


def page_data(runs: list[Path], baseline: Path | None = None, **budget: Any) -> dict[str, Any]:
    """The page's JSON: every run (its header, gates, scoreboard, samples) and the baseline's flips."""
    names: dict[str, int] = {}
    prefixes: list[str] = []
    loaded = [load_run(path) for path in runs]
    base = None
    if baseline is not None:
        base_run, base_rows = load_run(baseline)
        counts = add_flips(loaded[0][1], base_rows) if loaded else {}
        base = {"id": base_run["id"], "path": base_run["path"], "model": base_run["model"], "counts": counts}
    out = []
    for run, rows in loaded:
        run["cut"] = apply_budget(rows, **budget)
        run["samples"] = columns(rows, names, prefixes)
        out.append(run)
    from ... import __version__ as version

    return {"schema": SCHEMA, "generated": datetime.now().isoformat(sep=" ", timespec="seconds"),
            "generator": f"pytest-evalscope {version}", "names": list(names), "prefixes": prefixes, "runs": out, "baseline": base}


def encode(data: dict[str, Any], level: int = 6) -> str:
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str).encode("utf-8",
                                                                                                           "surrogatepass")
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: a gzip stream, what DecompressionStream reads
    return base64.b64encode(packer.compress(raw) + packer.flush()).decode("ascii")


def render(data: dict[str, Any]) -> str:
    title = " vs ".join(f"{r.get('model') or '?'} {r['id']}" for r in data["runs"]) or "evalscope report"
    script = (_ASSETS / "page.js").read_text(encoding="utf-8")
    style = (_ASSETS / "page.css").read_text(encoding="utf-8")
    return ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name=viewport content="width=device-width,initial-scale=1">'
            f"<title>{_escape(title)}</title><style>{style}</style></head>"
            '<body><div id=app><p id=loading>Loading the report…</p>'
            "<noscript>This report needs JavaScript (it reads its data from this file; nothing is fetched).</noscript></div>"
            f'<script id=evalscope-data type="application/octet-stream">{encode(data)}</script>'
            f"<script>{script}</script></body></html>\n")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_page(runs: list[Path], target: Path, baseline: Path | None = None, **budget: Any) -> Path:
    atomic_write(target, render(page_data(runs, baseline, **budget)))
    return target
