"""A run folder on disk -> the page's data for one run: header, gates, scoreboard, samples, perf.

Reads our outputs tree and EvalScope 1.14.1's (configs/, reviews/, predictions/, reports/), and a perf
run's folder (sweep_summary.json and the points' benchmark_requests.jsonl). Nothing here needs the
live session, so `pytest-evalscope view` and the end-of-run page are the same code.

`run_summary.json` (written by the html plugin when a run finishes) holds what the other files do not:
the exit status, the gate verdicts, the package versions and the run's start and end.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ...config import redact_url, shown_urls
from ..gates import evaluate_gates
from ..report import interval
from . import perf as perf_data
from .samples import read_samples

SUMMARY_FILE = "run_summary.json"
SUMMARY_SCHEMA = "pytest_evalscope.run_summary/1"
_SECRET_KEY = re.compile(r"(api_?key|secret|password|passwd|authorization|(^|_)token)$", re.IGNORECASE)  # not max_tokens
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ")


def is_perf_run(path: Path) -> bool:
    return (path / "sweep_summary.json").is_file()


def find_run(path: Path) -> Path:
    """The run folder itself, or the single run inside an outputs folder or a perf timestamp folder."""
    if (path / "reviews").is_dir() or (path / "reports").is_dir() or is_perf_run(path):
        return path
    inner = [p for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")] if path.is_dir() else []
    runs = [p for p in inner if (p / "reviews").is_dir() or (p / "reports").is_dir() or is_perf_run(p)]
    if len(runs) == 1:
        return runs[0]
    if runs:
        return runs[-1]  # the latest timestamp
    raise FileNotFoundError(f"{path}: no run folder here (expected reviews/, reports/ or sweep_summary.json)")


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if _SECRET_KEY.search(str(k)) and v not in (None, "", "EMPTY") else _redacted(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value


def read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "configs" / "task_config.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def read_reports(run_dir: Path) -> dict[str, dict[str, Any]]:
    reports = {}
    for path in sorted((run_dir / "reports").glob("*/*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(report, dict) and report.get("metrics"):
            reports[report.get("dataset_name") or path.stem] = report
    return reports


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _times(run_dir: Path, summary: dict[str, Any], progress: dict[str, Any]) -> tuple[str | None, float | None]:
    if summary.get("started"):
        return summary["started"], summary.get("duration_s")
    start = end = None
    log = run_dir / "logs" / "eval_log.log"
    if log.is_file():
        with log.open(encoding="utf-8", errors="replace") as handle:
            first = _LOG_TIME.match(handle.readline() or "")
        if first:
            start = datetime.strptime(first.group(1), "%Y-%m-%d %H:%M:%S")
    if start is None:
        try:
            start = datetime.strptime(run_dir.name, "%Y%m%d_%H%M%S")
        except ValueError:
            start = None
    if progress.get("updated"):
        end = datetime.fromtimestamp(progress["updated"])
    duration = round((end - start).total_seconds(), 1) if start and end and end >= start else None
    return (start.isoformat(sep=" ") if start else None), duration


def gate_dict(gate: Any) -> dict[str, Any]:
    """A gate object (reporting.gates.Gate, or any later kind with the same or richer fields) as JSON."""
    data = dict(vars(gate)) if not isinstance(gate, dict) else dict(gate)
    met = getattr(gate, "met", data.get("met"))
    verdict = data.get("verdict") or getattr(gate, "verdict", None) or ("met" if met else "missed")
    text = gate.describe() if hasattr(gate, "describe") else data.get("text")
    return {"name": data.get("name"), "kind": data.get("kind", "threshold"), "verdict": str(verdict),
            "estimate": data.get("estimate", data.get("score")), "interval": data.get("interval", data.get("ci95")),
            "n": data.get("n", data.get("num")), "threshold": data.get("threshold"), "text": text,
            **{k: v for k, v in data.items() if k not in ("name", "kind", "verdict", "met", "estimate", "score",
                                                          "interval", "ci95", "n", "num", "threshold", "text")}}


def _gates(config: dict[str, Any], reports: dict[str, dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    if "gates" in summary:
        gates = list(summary["gates"])
    else:  # a run without our summary: the config's thresholds over its reports
        thresholds = config.get("thresholds") or {}
        gates = [gate_dict(g) for g in evaluate_gates({k: float(v) for k, v in thresholds.items()}, reports)]
    for suite, report in reports.items():  # checks a report carries (e.g. regression checks) show as they are
        for key in ("gates", "checks", "regression", "regressions"):
            for check in report.get(key) or [] if isinstance(report.get(key), list) else []:
                if isinstance(check, dict):
                    gates.append({"kind": key, **gate_dict({"name": suite, **check})})
    return gates


def exit_reason(exitstatus: int | None, gates: list[dict[str, Any]], progress: dict[str, Any]) -> str:
    """The exit status's reason in one sentence."""
    missed = [g for g in gates if g["verdict"] != "met"]
    if exitstatus is None:
        return "No exit status was recorded for this run (an EvalScope run, or one older than this page)."
    if exitstatus == 0:
        return (f"Exit 0: all {len(gates)} gate(s) met." if gates else
                "Exit 0: no gate was set; wrong answers alone never fail a run.")
    if exitstatus == 1:
        parts = []
        if missed:
            parts.append(f"{len(missed)} gate(s) missed: " + "; ".join(g["text"] or g["name"] for g in missed))
        if progress.get("errors_over_budget"):
            parts.append(f"{progress.get('errors')} sample(s) ended in an error, over the error budget")
        return "Exit 1: " + (". ".join(parts) if parts else
                             "a test other than a sample failed, or -x/--maxfail stopped the run early") + "."
    if exitstatus == 2:
        return f"Exit 2: the run was interrupted after {progress.get('done', '?')} of {progress.get('total', '?')} samples."
    if exitstatus == 4:
        return "Exit 4: bad input (an option, config or dataset) stopped the run."
    return f"Exit {exitstatus}: pytest's exit code {exitstatus}."


def _subset_stats(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    stats: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        s = stats.setdefault((row["suite"], row["subset"]), {
            "samples": 0, "errors": 0, "unparsed": 0, "truncated": 0, "judge_errors": 0, "tokens_in": 0,
            "tokens_out": 0, "_lat": [], "_values": []})
        s["samples"] += 1
        s["errors"] += row["status"] == "error"
        s["unparsed"] += row["unparsed"]
        s["truncated"] += row["truncated"]
        s["judge_errors"] += row["judge_error"]
        s["tokens_in"] += row["tokens_in"] or 0
        s["tokens_out"] += row["tokens_out"] or 0
        if row["latency"] is not None:
            s["_lat"].append(row["latency"])
        if row["status"] != "error" and row["score"] is not None:
            s["_values"].append(float(row["score"]))
    for s in stats.values():
        lat = sorted(s.pop("_lat"))
        s["latency_mean"] = round(sum(lat) / len(lat), 3) if lat else None
        s["latency_p50"] = round(lat[len(lat) // 2], 3) if lat else None
    return stats


def scoreboard(reports: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Benchmark -> category -> subset with the report's primary metric and the samples' counts."""
    stats = _subset_stats(rows)
    board = []
    for suite, report in reports.items():
        head = report["metrics"][0]
        categories = []
        for category in head.get("categories") or []:
            subsets = []
            for entry in category.get("subsets") or []:
                s = dict(stats.get((suite, entry["name"]), {}))
                values = s.pop("_values", [])
                ci = entry.get("ci95") or interval(values)
                subsets.append({"name": entry["name"], "score": entry.get("score"), "num": entry.get("num"),
                                "ci95": ci, **s})
            name = category.get("name")
            categories.append({"name": "/".join(name) if isinstance(name, list) else str(name),
                               "score": category.get("score"), "num": category.get("num"), "subsets": subsets})
        suite_values = [v for (su, _), s in stats.items() if su == suite for v in s["_values"]]
        board.append({"suite": suite, "pretty": report.get("dataset_pretty_name") or suite,
                      "metric": head.get("name") or (head.get("identity") or {}).get("name"),
                      "score": report.get("score", head.get("score")), "num": report.get("num", head.get("num")),
                      "ci95": report.get("ci95") or interval(suite_values), "categories": categories,
                      "repeats": report.get("repeats", 1)})
    known = {(b["suite"], s["name"]) for b in board for c in b["categories"] for s in c["subsets"]}
    for (suite, subset), s in stats.items():  # samples without a report (an interrupted run)
        if (suite, subset) not in known:
            values = s["_values"]
            entry = {"name": subset, "score": round(sum(values) / len(values), 4) if values else None,
                     "num": len(values), "ci95": interval(values), **{k: v for k, v in s.items() if k != "_values"}}
            board.append({"suite": suite, "pretty": suite, "metric": None, "score": entry["score"], "num": entry["num"],
                          "ci95": entry["ci95"], "categories": [{"name": "default", "subsets": [entry]}], "repeats": 1})
    return board


def _endpoint(config: dict[str, Any]) -> str | None:
    if config.get("api_url"):
        return shown_urls(config["api_url"] if isinstance(config["api_url"], list) else str(config["api_url"]))
    if config.get("eval_type") in ("checkpoint", "llm_ckpt"):
        return f"checkpoint {config.get('model')}"
    return config.get("eval_type")


def load_run(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the run's page data without samples, its sample rows)."""
    run_dir = find_run(Path(path))
    summary = _read_json(run_dir / SUMMARY_FILE)
    if is_perf_run(run_dir):
        return perf_data.perf_run(run_dir, summary), []
    config = read_config(run_dir)
    reports = read_reports(run_dir)
    progress = _read_json(run_dir / "progress.json")
    rows = read_samples(run_dir, set(reports) | set(config.get("datasets") or []))
    gates = _gates(config, reports, summary)
    exitstatus = summary.get("exitstatus")
    started, duration = _times(run_dir, summary, progress)
    versions = summary.get("versions") or ({"evalscope": config["evalscope_version"]} if config.get("evalscope_version") else {})
    run = {
        "id": run_dir.name, "path": str(run_dir), "kind": "eval",
        "source": "pytest-evalscope" if summary or "model_id" in config and "thresholds" in config else "evalscope",
        "model": config.get("model_id") or config.get("model") or next((r.get("model_name") for r in reports.values()), None),
        "endpoint": _endpoint(config), "date": started, "duration_s": duration, "versions": versions,
        "config": yaml.safe_dump(_redacted(config), allow_unicode=True, sort_keys=True) if config else "",
        "exitstatus": exitstatus, "reason": summary.get("reason") or exit_reason(exitstatus, gates, progress),
        "state": progress.get("state"), "gates": gates, "scoreboard": scoreboard(reports, rows),
        "perf": perf_data.eval_perf(rows),
    }
    return run, rows
