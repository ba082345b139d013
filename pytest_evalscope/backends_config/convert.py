"""A delegated backend's result files as reports in our schema, marked ``per_sample_records: false``.

The files read are the ones each backend writes, as EvalScope's documentation shows them:

- OpenCompass: ``<work_dir>/<time>/summary/summary_<time>.csv`` (``dataset, version, metric, mode, <model>...``,
  scores in percent, ``-`` where none); one report per (model, dataset);
- VLMEvalKit: ``<work_dir>/<model>/*.csv|*.json`` (EvalScope's Summarizer reads the same); one report per file,
  values kept on the backend's scale;
- MTEB: ``<output_folder>/<model>/<revision>/<task>.json`` (``task_name``, ``scores: {split: [{main_score, ...}]}``);
- clip_benchmark: ``<output_dir>/<model>/<dataset>_<task>.json`` (``dataset, model, task, metrics``);
- RAGAS: ``<testset>_score.json`` beside the testset file (one row per sample, one column per metric).

A report has one metric entry per figure, one ``default`` subset each, ``num`` null (the backend does not
say how many samples made a figure) and no records: there is nothing to resume, compare per sample or show.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from ..schema import REPORT_SCHEMA_VERSION
from .route import Delegation


def report(dataset: str, model: str, figures: dict[str, float], delegation: Delegation, source: Path,
           scale: str = "fraction") -> dict[str, Any]:
    metrics = [{"name": name, "num": None, "score": value, "macro_score": value,
                "categories": [{"name": ["default"], "num": None, "score": value, "macro_score": value,
                                "subsets": [{"name": "default", "score": value, "num": None}]}]}
               for name, value in figures.items()]
    head = metrics[0]["score"] if metrics else None
    return {"name": f"{model}@{dataset}", "dataset_name": dataset, "dataset_pretty_name": dataset,
            "dataset_description": f"run by {delegation.backend}" + (f" ({delegation.tool})" if delegation.tool else ""),
            "model_name": model, "score": head, "metrics": metrics, "analysis": "N/A", "perf_metrics": None,
            "num": None, "primary_metric": metrics[0]["name"] if metrics else None, "schema_version": REPORT_SCHEMA_VERSION,
            "per_sample_records": False, "score_scale": scale,
            "backend": {"eval_backend": delegation.backend, "tool": delegation.tool, "source": str(source),
                        "reason": delegation.reason}}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or isinstance(value, bool) else number


def opencompass(out: Path, delegation: Delegation) -> list[dict[str, Any]]:
    files = sorted(out.glob("*/summary/*.csv"))
    if not files:
        return []
    rows = list(csv.DictReader(files[-1].open(encoding="utf-8", newline="")))
    models = [c for c in (rows[0] if rows else {}) if c not in ("dataset", "version", "metric", "mode")]
    reports = []
    for model in models:
        for row in rows:
            value = _number(row.get(model))
            if value is not None:
                reports.append(report(row["dataset"], model, {row["metric"]: round(value / 100, 6)}, delegation, files[-1]))
    return reports


def vlmevalkit(out: Path, delegation: Delegation) -> list[dict[str, Any]]:
    reports = []
    for path in sorted([*out.glob("*/*.csv"), *out.glob("*/*.json")]):
        if path.suffix == ".csv":
            first = next(iter(csv.DictReader(path.open(encoding="utf-8", newline=""))), {})
        else:
            first = json.loads(path.read_text(encoding="utf-8"))
        figures = {k: v for k, v in ((k, _number(v)) for k, v in dict(first).items()) if v is not None}
        if figures:
            reports.append(report(path.stem, path.parent.name, figures, delegation, path, scale="backend"))
    return reports


def mteb(out: Path, delegation: Delegation) -> list[dict[str, Any]]:
    reports = []
    for path in sorted(out.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "task_name" not in data or not isinstance(data.get("scores"), dict):
            continue
        for split, entries in sorted(data["scores"].items()):
            first = entries[0] if isinstance(entries, list) and entries else {}
            figures = {"main_score": _number(first.get("main_score"))}
            figures.update({k: _number(v) for k, v in first.items() if k != "main_score"})
            model = path.parent.parent.name if path.parent.parent != out else path.parent.name
            kept = {k: v for k, v in figures.items() if v is not None}
            if kept:
                reports.append(report(f"{data['task_name']}_{split}", model, kept, delegation, path))
    return reports


def clip_benchmark(out: Path, delegation: Delegation) -> list[dict[str, Any]]:
    reports = []
    for path in sorted(out.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
            figures = {k: v for k, v in ((k, _number(v)) for k, v in data["metrics"].items()) if v is not None}
            reports.append(report(f"{data.get('dataset', path.stem)}_{data.get('task', 'task')}", path.parent.name,
                                  figures, delegation, path))
    return reports


def ragas(testset: Path, delegation: Delegation) -> list[dict[str, Any]]:
    path = testset.with_name(testset.stem + "_score.json")
    if not path.is_file():
        return []
    rows = json.loads(path.read_text(encoding="utf-8"))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            number = _number(value)
            if number is not None and key not in ("user_input", "response", "reference"):
                columns.setdefault(key, []).append(number)
    figures = {k: round(sum(v) / len(v), 6) for k, v in columns.items() if v}
    return [report("ragas", testset.stem, figures, delegation, path)] if figures else []


def collect(delegation: Delegation, out: Path) -> list[dict[str, Any]]:
    """Every report the delegated run left (empty when it wrote none of the expected files)."""
    if delegation.backend == "OpenCompass":
        return opencompass(Path(delegation.config.get("work_dir") or out / "opencompass"), delegation)
    if delegation.backend == "VLMEvalKit":
        return vlmevalkit(out, delegation)
    if delegation.tool == "mteb":
        return mteb(out, delegation)
    if delegation.tool == "clip_benchmark":
        return clip_benchmark(out, delegation)
    return ragas(Path(str(delegation.config["eval"]["testset_file"])), delegation) if delegation.config.get("eval") else []
