"""The outputs tree (EvalScope's layout) and the console tables.

::

    <outputs_dir>/<YYYYMMDD_HHMMSS>/<name or model>/
        benchmark_args.json          settings (API key and auth headers redacted)
        sweep_summary.json           every point's summary + gate verdicts (what run_perf returns)
        performance_summary.txt      the console tables
        latency_throughput.png, perf_report.html     (with matplotlib)
        parallel_<p>_number_<n>/     (rate_<r>_number_<n> in open-loop mode)
            benchmark_summary.json      scalars, distributions, failures by kind, telemetry, formulas
            benchmark_percentile.json   every distribution's mean/min/p50/p90/p95/p99/max, method stated
            benchmark_requests.jsonl    one row per measured request (see RequestRecord.to_json)
            ttft_distribution.png, itl_distribution.png

Files are written atomically (a temp file, then ``os.replace``).  Schema: ``SCHEMA`` below.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from .metrics import DISTRIBUTIONS, PERCENTILE_METHOD

SCHEMA = "pytest_evalscope.perf/1"


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def run_root(args: Any) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", args.name or args.model).strip("_.") or "model"  # never . or ..
    root = Path(args.outputs_dir)
    return root / name if args.no_timestamp else root / time.strftime("%Y%m%d_%H%M%S") / name


def percentile_table(summary: dict[str, Any]) -> dict[str, Any]:
    return {"method": PERCENTILE_METHOD,
            "metrics": {k: {"unit": DISTRIBUTIONS[k][0], **v} for k, v in summary["metrics"].items() if v}}


def write_point(folder: Path, summary: dict[str, Any], records: list[Any], origin: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "benchmark_summary.json", summary)
    write_json(folder / "benchmark_percentile.json", percentile_table(summary))
    tmp = folder / "benchmark_requests.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec.to_json(origin)) + "\n")
    os.replace(tmp, folder / "benchmark_requests.jsonl")


# ---------------------------------------------------------------- console


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    def fmt(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"
    return "\n".join([line, fmt(header), line, *(fmt(r) for r in rows), line])


POINT_ROWS = ("ttft", "first_event", "ttfb", "e2e", "e2e_scheduled", "tpot", "itl", "itl_chunk", "queue_wait",
              "receive_lag", "input_tokens", "output_tokens")


def point_table(summary: dict[str, Any]) -> str:
    s, m = summary["scalars"], summary["metrics"]
    failures = ", ".join(f"{k}: {v}" for k, v in summary["failures"].items()) or "none"
    dropped = f", {s['dropped']} dropped" if s["dropped"] else ""
    head = (f"{summary['point']['label']}: {s['total']} requests, {s['succeeded']} succeeded, {s['failed']} failed "
            f"({failures}){dropped}\n"
            f"  wall {s['wall_s']:.2f} s | {s['request_throughput']:.2f} req/s | output {s['output_throughput']:.1f} tok/s | "
            f"total {s['total_throughput']:.1f} tok/s"
            + (f" | goodput {s['goodput']:.2f} req/s" if s.get("goodput") is not None else ""))
    rows = []
    for name in POINT_ROWS:
        d = m.get(name)
        if d:
            rows.append([f"{name} ({DISTRIBUTIONS[name][0]})", *(_fmt(d[k]) for k in ("mean", "p50", "p90", "p95", "p99", "max"))])
    table = _table(["metric", "mean", "p50", "p90", "p95", "p99", "max"], rows) if rows else "  (no successful request)"
    tele = summary["telemetry"]
    note = (f"  client: CPU {tele['cpu_util']:.0%} of a core, loop lag p99 "
            f"{_fmt((tele['loop_lag_ms'] or {}).get('p99'))} ms, arrival stamps from the "
            f"{'kernel' if tele.get('arrival_clock') == 'kernel' else 'event loop'}"
            + (f"\n  CLIENT-BOUND: {'; '.join(tele['client_bound_reasons'])}" if tele["client_bound"] else ""))
    tail = f"\n  ABORTED: {summary['aborted']}" if summary.get("aborted") else ""
    tail += "\n  DEADLINE: total_timeout cut the run" if summary.get("deadline_hit") else ""
    return f"{head}\n{table}\n{note}{tail}"


def sweep_table(points: list[dict[str, Any]]) -> str:
    rows = []
    for p in points:
        s, m = p["scalars"], p["metrics"]
        def stat(name: str, key: str, m: dict[str, Any] = m) -> str:
            return _fmt((m.get(name) or {}).get(key))
        rows.append([p["point"]["label"], f"{s['succeeded']}/{s['total']}", _fmt(s["request_throughput"]),
                     _fmt(s["output_throughput"], 1), stat("ttft", "p50"), stat("ttft", "p99"), stat("itl", "p50"),
                     stat("itl", "p99"), stat("tpot", "mean"), stat("e2e", "p99"),
                     "yes" if p["telemetry"]["client_bound"] else "no"])
    return _table(["point", "ok/total", "req/s", "out tok/s", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99",
                   "TPOT mean", "E2E p99", "client-bound"], rows)


def gates_table(verdicts: list[dict[str, Any]]) -> str:
    rows = [[v["slo"], v["point"], _fmt(v["observed"], 3), "met" if v["passed"] else "MISSED"] for v in verdicts]
    return _table(["SLO", "point", "observed", "verdict"], rows)


def console_report(result: dict[str, Any]) -> str:
    parts = [point_table(p) for p in result["points"]]
    if len(result["points"]) > 1:
        parts.append("Sweep (times in ms):\n" + sweep_table(result["points"]))
    if result["gates"]:
        parts.append("SLO gates:\n" + gates_table(result["gates"]))
    parts.append(f"Percentiles: {PERCENTILE_METHOD}. Outputs: {result['output_dir']}")
    return "\n\n".join(parts)
