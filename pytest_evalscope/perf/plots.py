"""PNG plots (matplotlib, imported lazily and optional) and ``perf_report.html`` that embeds them.

Plots: latency against throughput over the sweep (TTFT p50/p99, E2E p50 against output tok/s), and
per point the TTFT and per-token ITL distributions.  Without matplotlib the HTML report is still
written (tables only) and one notice line says the plots were skipped.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from .metrics import DISTRIBUTIONS, PERCENTILE_METHOD
from .outputs import POINT_ROWS, write_text

MISSING = "plots skipped: matplotlib is not installed (pip install 'pytest-evalscope[perf]')"


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _hist(plt: Any, values: list[float], title: str, xlabel: str, path: Path) -> Path | None:
    if not values:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values, bins=min(60, max(10, len(values) // 20)), color="#4C72B0")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _sweep_plot(plt: Any, points: list[dict[str, Any]], path: Path) -> Path | None:
    rows = [p for p in points if p["scalars"]["succeeded"]]
    if not rows:
        return None
    x = [p["scalars"]["output_throughput"] or p["scalars"]["request_throughput"] for p in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, key, style in (("ttft", "p50", "o-"), ("ttft", "p99", "s--"), ("e2e", "p50", "^-")):
        y = [(p["metrics"].get(name) or {}).get(key) for p in rows]
        if all(v is not None for v in y):
            ax.plot(x, y, style, label=f"{name} {key}")
    for xi, p in zip(x, rows, strict=True):
        ax.annotate(p["point"]["label"].replace("_number", "\nn"), (xi, 0), fontsize=6, xytext=(0, 4),
                    textcoords="offset points", ha="center")
    ax.set_xlabel("output throughput (tok/s)" if rows[0]["scalars"]["output_throughput"] else "requests/s")
    ax.set_ylabel("latency (ms)")
    ax.set_title("latency against throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _img(path: Path | None) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return f"{v:,.2f}" if isinstance(v, float) else html.escape("-" if v is None else str(v))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(root: Path, result: dict[str, Any], outcomes: list[Any]) -> str | None:
    """Write the PNGs and ``perf_report.html``; return a one-line notice when plots were skipped."""
    plt = _pyplot()
    images: dict[str, list[Path | None]] = {}
    sweep_png = None
    if plt is not None:
        for outcome in outcomes:
            folder = Path(outcome.summary["output_dir"])
            ok = [r for r in outcome.records if r.error is None]
            images[outcome.point.label] = [
                _hist(plt, [r.ttft * 1000 for r in ok if r.ttft is not None], f"TTFT, {outcome.point.label}",
                      "ms", folder / "ttft_distribution.png"),
                _hist(plt, [x * 1000 for r in ok for x in r.itl_token], f"ITL per token, {outcome.point.label}",
                      "ms", folder / "itl_distribution.png"),
            ]
        sweep_png = _sweep_plot(plt, result["points"], root / "latency_throughput.png")
    parts = [f"<h1>Perf report: {html.escape(str(result['args']['model']))}</h1>",
             f"<p>URL {html.escape(_urls(result['args']['url']))}; percentiles: {html.escape(PERCENTILE_METHOD)}.</p>"]
    if result["error"]:
        parts.append(f"<p class=bad>ERROR: {html.escape(result['error'])}</p>")
    if plt is None:
        parts.append(f"<p>{html.escape(MISSING)}</p>")
    parts.append(_img(sweep_png))
    if result["gates"]:
        parts.append("<h2>SLO gates</h2>" + _table(
            ["SLO", "point", "observed", "verdict"],
            [[v["slo"], v["point"], v["observed"], "met" if v["passed"] else "MISSED"] for v in result["gates"]]))
    for summary in result["points"]:
        label, s = summary["point"]["label"], summary["scalars"]
        parts.append(f"<h2>{html.escape(label)}</h2>")
        parts.append(_table(list(s), [list(s.values())]))
        if summary["failures"]:
            parts.append(_table(["failure kind", "count", "example"],
                                [[k, v, summary["failure_examples"].get(k)] for k, v in summary["failures"].items()]))
        rows = [[f"{n} ({DISTRIBUTIONS[n][0]})", *(summary["metrics"][n][k] for k in ("mean", "p50", "p90", "p95", "p99", "max")),
                 DISTRIBUTIONS[n][1]] for n in POINT_ROWS if summary["metrics"].get(n)]
        parts.append(_table(["metric", "mean", "p50", "p90", "p95", "p99", "max", "formula"], rows))
        tele = summary["telemetry"]
        if tele["client_bound"]:
            parts.append(f"<p class=bad>CLIENT-BOUND: {html.escape('; '.join(tele['client_bound_reasons']))}</p>")
        parts.extend(_img(p) for p in images.get(label, []))
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}.bad{color:#b00}")
    write_text(root / "perf_report.html",
               f"<!doctype html><html><head><meta charset=utf-8><title>perf report</title><style>{style}</style>"
               f"</head><body>{''.join(parts)}</body></html>\n")
    return MISSING if plt is None else None


def _urls(value: object) -> str:
    """One URL, or a fleet's (several --url) joined."""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
