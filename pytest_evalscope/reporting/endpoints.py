"""`perf_metrics.endpoints`: a fleet's figures per endpoint (several api_url), in every suite's report.

    {"http://10.0.0.1:8000/v1": {"answered": 412,          # samples of this suite whose reply came from it
                                 "latency": {"mean", "p50", "p99"},   # those replies' latency, seconds
                                 "requests": 1290,         # HTTP requests sent to it in the whole run
                                 "errors": {"connect": 1, "http_503": 3},   # failed requests by kind
                                 "taken_out": 1,           # times taken out of service
                                 "first_out_at": 1765012345.678}}   # when first taken out (epoch s), or null

`answered` and `latency` come from the suite's records (each reply names its endpoint); `requests`,
`errors` and `taken_out` are process counters summed over the run's processes (xdist workers), so they
cover every suite of the run and retried attempts. Which endpoint answers a request depends on timing:
like the rest of `perf_metrics`, these figures differ between runs, the scores do not.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any


def endpoint_summary(records: list[dict[str, Any]], process_stats: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    latencies: dict[str, list[float]] = {}
    for record in records:
        output = record.get("output")
        if output and not record.get("cached") and output.get("endpoint"):
            latencies.setdefault(output["endpoint"], []).append(float(output.get("latency") or 0.0))
    counters: dict[str, dict[str, Any]] = {}
    for stats in process_stats.values():
        for label, figures in (stats.get("endpoints") or {}).items():
            total = counters.setdefault(label, {"requests": 0, "errors": Counter(), "taken_out": 0})
            total["requests"] += int(figures.get("requests") or 0)
            total["errors"].update(figures.get("errors") or {})
            total["taken_out"] += int(figures.get("taken_out") or 0)
            total["out_at"] = sorted([*total.get("out_at", []), *(figures.get("out_at") or [])])
    if not latencies and not counters:
        return None
    summary = {}
    for label in [*counters, *(k for k in sorted(latencies) if k not in counters)]:  # the configured order
        answered = sorted(latencies.get(label, []))
        total = counters.get(label, {"requests": 0, "errors": Counter(), "taken_out": 0})
        summary[label] = {"answered": len(answered), "latency": _latency(answered), "requests": total["requests"],
                          "errors": dict(sorted(total["errors"].items())), "taken_out": total["taken_out"],
                          "first_out_at": (total.get("out_at") or [None])[0]}
    return summary


def _latency(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 4), "p50": round(values[len(values) // 2], 4),
            "p99": round(values[min(len(values) - 1, int(len(values) * 0.99))], 4)}
