"""Two runs' samples paired for a comparison, and a finished run read back from its folder.

A sample is identified across runs by (benchmark, subset, a content hash of its rendered input and its
target, repeat): the same question asked the same way, wherever it sits in the split. Samples left
unpaired that share (benchmark, subset, index, repeat) are paired by index instead, with a warning
(a prompt rendered a little differently, or an edited dataset row). The rest are *missing* (only in
the baseline) or *new* (only in the candidate).

:func:`load_run` reads our outputs tree and EvalScope 1.14.1's (reviews/, reports/, configs/) into the
records a live run has, so `pytest-evalscope compare` and ``--evalscope-baseline`` share all the code.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..params import ConfigError
from .identity import read_settings


@dataclass
class RunData:
    """A run as a comparison sees it: its config, suite settings, reports and sample records."""

    path: str
    config: dict[str, Any]
    settings: dict[str, dict[str, Any]]
    reports: dict[str, dict[str, Any]]
    records: list[dict[str, Any]]

    @property
    def model(self) -> str | None:
        return self.config.get("model_id") or self.config.get("model")


@dataclass
class SubsetAlignment:
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    by_index: int = 0  # pairs made by the index fallback
    missing: int = 0  # only in the baseline
    new: int = 0  # only in the candidate

    @property
    def share(self) -> float:
        """Aligned samples over all samples either run has."""
        total = len(self.pairs) + self.missing + self.new
        return len(self.pairs) / total if total else 0.0


def input_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rendered input: the conversation without the reply a review line appends."""
    if messages and messages[-1].get("role") == "assistant":
        return messages[:-1]
    return messages


def content_hash(record: dict[str, Any]) -> str:
    text = json.dumps({"input": [[m.get("role"), m.get("content")] for m in input_messages(record.get("messages") or [])],
                       "target": record.get("target")}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def align(base: list[dict[str, Any]], cand: list[dict[str, Any]]) -> dict[tuple[str, str], SubsetAlignment]:
    """(benchmark, subset) -> its pairs (baseline record, candidate record), by content then by index."""
    out: dict[tuple[str, str], SubsetAlignment] = defaultdict(SubsetAlignment)
    groups: dict[tuple[str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = defaultdict(lambda: ([], []))
    for side, records in ((0, base), (1, cand)):
        for record in records:
            groups[(record["benchmark"], record["subset"])][side].append(record)
    for key, (olds, news) in sorted(groups.items()):
        result = out[key]
        by_content: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for record in sorted(olds, key=lambda r: (r["index"], r["repeat"])):
            by_content[(content_hash(record), record["repeat"])].append(record)
        left: list[dict[str, Any]] = []
        for record in sorted(news, key=lambda r: (r["index"], r["repeat"])):
            queue = by_content.get((content_hash(record), record["repeat"]))
            if queue:
                result.pairs.append((queue.pop(0), record))
            else:
                left.append(record)
        unpaired = {(r["index"], r["repeat"]): r for q in by_content.values() for r in q}
        for record in left:
            partner = unpaired.pop((record["index"], record["repeat"]), None)
            if partner is not None:
                result.pairs.append((partner, record))
                result.by_index += 1
            else:
                result.new += 1
        result.missing = len(unpaired)
    return dict(out)


# ---------------------------------------------------------------- reading a run folder


def load_run(path: str | Path, with_records: bool = True) -> RunData:
    """A finished run's folder (ours or EvalScope's), or an outputs folder holding one run (the latest).
    Without records, only what is read before a run starts: its config, settings and reports."""
    from .html.load import find_run

    try:
        run = find_run(Path(path).expanduser())
    except (FileNotFoundError, OSError):
        raise ConfigError(f"baseline: {str(path)!r} is not the folder of a finished run (expected reviews/ and "
                          "reports/ inside, as an outputs folder of pytest-evalscope or EvalScope has)") from None
    config = _read_config(run)
    reports = _read_reports(run)
    records: list[dict[str, Any]] = []
    if not (run / "reviews").is_dir():
        raise ConfigError(f"baseline: {str(run)!r} has no reviews/ folder; a comparison pairs the samples it reviewed")
    for file in sorted((run / "reviews").glob("*/*.jsonl")) if with_records else []:
        suite, subset = _split_name(file.stem, list(reports) + list(config.get("datasets") or []))
        records += [review_record(suite, subset, json.loads(line)) for line in
                    file.read_text(encoding="utf-8").split("\n") if line.strip()]
    if with_records and not records:
        raise ConfigError(f"baseline: {str(run)!r} holds no reviewed samples (reviews/<model>/<benchmark>_<subset>.jsonl)")
    return RunData(str(run), config, read_settings(run, config), reports, records)


def _read_config(run: Path) -> dict[str, Any]:
    path = run / "configs" / "task_config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except yaml.YAMLError:
        data = {}
    return data if isinstance(data, dict) else {}


def _read_reports(run: Path) -> dict[str, dict[str, Any]]:
    reports = {}
    for path in sorted((run / "reports").glob("*/*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(report, dict) and report.get("metrics"):
            reports[str(report.get("dataset_name") or path.stem)] = report
    return reports


def _split_name(stem: str, suites: list[str]) -> tuple[str, str]:
    """`<suite>_<subset>` -> (suite, subset); suite names hold underscores too, so known names come first."""
    for suite in sorted(set(suites), key=len, reverse=True):
        if stem.startswith(suite + "_"):
            return suite, stem[len(suite) + 1:]
    suite, _, subset = stem.rpartition("_")
    return (suite, subset) if suite else (stem, "default")


def review_record(suite: str, subset: str, line: dict[str, Any]) -> dict[str, Any]:
    """A review line (ours or EvalScope's) as the record fields a comparison reads."""
    score = (line.get("sample_score") or {}).get("score") or {}
    meta = score.get("metadata") or {}
    status = meta.get("verdict")
    if status is None:  # EvalScope: a score with a value is scored; transport errors carry none
        bad = score.get("status") in ("transport_error", "error", "excluded") or not score.get("value")
        status = "error" if bad else "scored"
    messages = line.get("messages") or []
    reply = messages[-1].get("content") if messages and messages[-1].get("role") == "assistant" else score.get("prediction")
    return {"suite": suite, "benchmark": meta.get("benchmark", suite), "subset": subset, "index": line["index"],
            "repeat": line.get("repeat", 0), "status": status, "score": score.get("value") or {},
            "extracted": score.get("extracted_prediction"), "target": line.get("target"), "messages": messages,
            "reply": reply, "metric": meta.get("metric") or score.get("main_score_name"),
            **{k: meta[k] for k in ("aggregation", "primary_metric", "judge") if k in meta}}


def live_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record of the running session in the same shape (the reply where review lines have it)."""
    return {**record, "reply": (record.get("output") or {}).get("content")}
