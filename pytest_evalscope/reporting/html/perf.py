"""Timing data for the page's perf section, one shape for both kinds of run:

    {"points": [{"label", "scalars": {name: value}, "percentiles": {metric: {unit, mean, p50, ...}},
                 "hists": {metric: {"unit", "edges": [...], "counts": [...]}}}],
     "gates": [{slo, point, observed, passed}], "error": str | None}

An eval run has one point, its requests (latency, tokens); a perf run one point per sweep step, read
from sweep_summary.json and each point's benchmark_requests.jsonl. The page draws both with the same
code (tables and SVG histograms), so a perf run's page is this page with only that section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PERCENTILES = (50, 90, 95, 99)
HIST_BINS = 30
# benchmark_requests.jsonl fields drawn as histograms, with their units
REQUEST_FIELDS = (("ttft_ms", "ttft", "ms"), ("e2e_ms", "e2e", "ms"), ("tpot_ms", "tpot", "ms"),
                  ("output_tokens", "output_tokens", "tokens"))


def percentiles(values: list[float], unit: str) -> dict[str, Any] | None:
    """Nearest rank, like the perf module: sorted[int(n * p / 100)]."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    out: dict[str, Any] = {"unit": unit, "n": n, "mean": round(sum(ordered) / n, 4), "min": round(ordered[0], 4)}
    for p in PERCENTILES:
        out[f"p{p}"] = round(ordered[min(n - 1, int(n * p / 100))], 4)
    out["max"] = round(ordered[-1], 4)
    return out


def histogram(values: list[float], unit: str, bins: int = HIST_BINS) -> dict[str, Any] | None:
    if not values:
        return None
    low, high = min(values), max(values)
    if high <= low:
        return {"unit": unit, "edges": [low, low + 1], "counts": [len(values)]}
    width = (high - low) / bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    return {"unit": unit, "edges": [round(low + i * width, 4) for i in range(bins + 1)], "counts": counts}


def eval_perf(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    series = {"latency": ([r["latency"] * 1000 for r in rows if r["latency"] is not None], "ms"),
              "input_tokens": ([r["tokens_in"] for r in rows if r["tokens_in"] is not None], "tokens"),
              "output_tokens": ([r["tokens_out"] for r in rows if r["tokens_out"] is not None], "tokens")}
    if not any(values for values, _ in series.values()):
        return None
    point = {"label": "requests", "scalars": {"requests": len(rows)},
             "percentiles": {k: p for k, (v, u) in series.items() if (p := percentiles(v, u))},
             "hists": {k: h for k, (v, u) in series.items() if (h := histogram(v, u))}}
    return {"points": [point], "gates": [], "error": None}


def _point(root: Path, summary: dict[str, Any]) -> dict[str, Any]:
    label = summary["point"]["label"]
    folder = Path(summary.get("output_dir") or root / label)
    if not folder.is_dir():
        folder = root / label
    values: dict[str, list[float]] = {name: [] for _, name, _ in REQUEST_FIELDS}
    requests = folder / "benchmark_requests.jsonl"
    if requests.is_file():
        for text in requests.read_text(encoding="utf-8").split("\n"):
            if not text.strip():
                continue
            row = json.loads(text)
            if not row.get("success"):
                continue
            for key, name, _ in REQUEST_FIELDS:
                if row.get(key) is not None:
                    values[name].append(float(row[key]))
    units = {name: unit for _, name, unit in REQUEST_FIELDS}
    metrics = {k: {"unit": _unit(k), **v} for k, v in (summary.get("metrics") or {}).items() if v}
    return {"label": label, "scalars": summary.get("scalars") or {}, "percentiles": metrics,
            "hists": {k: h for k, v in values.items() if (h := histogram(v, units[k]))},
            "failures": summary.get("failures") or {}}


def _unit(metric: str) -> str:
    try:
        from ...perf.metrics import DISTRIBUTIONS
    except ImportError:  # pragma: no cover - the perf package ships with this one
        return ""
    return DISTRIBUTIONS.get(metric, ("",))[0]


def perf_run(root: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """A perf outputs folder as a run of the page (no samples, no scoreboard)."""
    sweep = json.loads((root / "sweep_summary.json").read_text(encoding="utf-8"))
    args = sweep.get("args") or {}
    gates = [{"name": f"{v.get('slo')} @ {v.get('point')}", "kind": "slo", "verdict": "met" if v.get("passed") else "missed",
              "estimate": v.get("observed"), "interval": None, "n": None, "threshold": None,
              "text": f"{v.get('slo')} at {v.get('point')}: observed {v.get('observed')}"} for v in sweep.get("gates") or []]
    passed = sweep.get("passed")
    return {"id": root.name, "path": str(root), "kind": "perf", "source": "pytest-evalscope perf",
            "model": args.get("model"), "endpoint": args.get("url"), "date": root.parent.name, "duration_s": None,
            "versions": summary.get("versions") or {}, "config": json.dumps(args, indent=2, ensure_ascii=False),
            "exitstatus": None if passed is None else (0 if passed else 1),
            "reason": sweep.get("error") or ("All SLO gates met." if passed else "An SLO gate was missed."),
            "state": None, "gates": gates, "scoreboard": [],
            "perf": {"points": [_point(root, p) for p in sweep.get("points") or []], "gates": sweep.get("gates") or [],
                     "error": sweep.get("error")}}
