"""EvalScope's console score table (Model | Dataset | Metric | Subset | Num | Score), plus the 95%
interval and error count, one block of rows per metric (the primary first), and an OVERALL row per
metric of a suite with more than one subset. A benchmark with many metrics (retrieval: 42) names the few
the terminal shows (``console_metrics``); a line under the table says how many are left to the report."""

from __future__ import annotations

from typing import Any

HEADER = ("Model", "Dataset", "Metric", "Subset", "Num", "Score", "95% CI", "Errors")


def _fmt(score: float | None) -> str:
    return "-" if score is None else f"{score:.4f}"


def _ci(ci: list[float] | None) -> str:
    return "-" if not ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def shown_metrics(suite: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's metric entries the console shows: all, or the primary and the benchmark's headline ones."""
    from ..params import ConfigError
    from ..registry import get_benchmark_class

    try:
        wanted = get_benchmark_class(suite).console_metrics
    except ConfigError:  # a user's own suite name
        wanted = None
    if not wanted:
        return list(report["metrics"])
    # report metric names carry their aggregation: mean_ndcg_at_10
    return [m for i, m in enumerate(report["metrics"])
            if i == 0 or m["name"] in wanted or m["name"].partition("_")[2] in wanted]


def table_rows(model_id: str, reports: dict[str, dict[str, Any]], full: bool = False) -> list[tuple[str, ...]]:
    rows = []
    for suite, report in reports.items():
        for metric in report["metrics"] if full else shown_metrics(suite, report):  # the primary metric first
            subsets = [s for c in metric["categories"] for s in c["subsets"]]
            for s in subsets:
                rows.append((model_id, suite, metric["name"], s["name"], str(s["num"]), _fmt(s["score"]),
                             _ci(s.get("ci95")), str(s["errors"])))
            if len(subsets) > 1:
                errors = sum(s["errors"] for s in subsets)
                ci = report.get("ci95") if metric is report["metrics"][0] else None
                rows.append((model_id, suite, metric["name"], "OVERALL", str(metric["num"]), _fmt(metric["score"]),
                             _ci(ci), str(errors)))
    return rows


def render_table(model_id: str, reports: dict[str, dict[str, Any]], full: bool = False) -> list[str]:
    """The table's lines; without `full`, each suite's headline metrics and a line naming what is left out."""
    rows = [HEADER, *table_rows(model_id, reports, full)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [rule]
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append(rule.replace("-", "="))
    lines.append(rule)
    if not full:
        for suite, report in reports.items():
            shown, total = len(shown_metrics(suite, report)), len(report["metrics"])
            if shown < total:
                lines.append(f"{suite}: {shown} of {total} metrics shown; all are in its report JSON")
    return lines
