"""The EvalScope outputs tree, written on the controller only:

    <run>/configs/task_config.yaml             the resolved TaskConfig, secrets redacted
    <run>/logs/eval_log.log                    the run's log
    <run>/predictions/<model_id>/<suite>_<subset>.jsonl   one line per sample, appended as it finishes
    <run>/reviews/<model_id>/<suite>_<subset>.jsonl       the same samples, scored
    <run>/reports/<model_id>/<suite>.json                 the aggregated report (see report.py)

Lines are appended as samples finish, so an interrupted run keeps what it finished; at the end each
file is rewritten in sample order (atomically), so outputs do not depend on `-n` or scheduling.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FLUSH_INTERVAL = 0.5  # seconds between flushes of the prediction and review files


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_task_config(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write(run_dir / "configs" / "task_config.yaml", yaml.safe_dump(data, allow_unicode=True, sort_keys=True))


def prediction_line(record: dict[str, Any], model_id: str) -> dict[str, Any]:
    output = record.get("output") or {}
    usage = output.get("usage") or {}
    scored = output.get("choice_scores") is not None  # log-likelihood modes: no text, one score per choice
    assistant = {"content": output.get("content", ""), "role": "assistant",
                 "source": "loglikelihood" if scored else "generate", "model": output.get("model")}
    logprobs = ({"continuations": record.get("continuations"), "scores": output["choice_scores"]} if scored else None)
    if record.get("reasoning"):
        assistant["reasoning_content"] = record["reasoning"]
    perf = {"latency": output.get("latency"), "ttft": output.get("ttft"), "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"), "tpot": _tpot(output, usage)}
    if output.get("endpoint"):  # several api_url endpoints: the one that answered
        perf["endpoint"] = output["endpoint"]
    model_output = {
        "id": output.get("id"), "model": output.get("model") or model_id,
        "choices": [{"message": assistant, "stop_reason": output.get("finish_reason"), "logprobs": logprobs}] if output else [],
        "usage": {"input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens"),
                  "total_tokens": usage.get("total_tokens"), "reasoning_tokens": usage.get("reasoning_tokens")},
        # a multi-turn sample's every reply as received (the messages hold them as sent back, reasoning left out)
        "time": output.get("latency"), "metadata": {"turns": output["turns"]} if output.get("turns") else None,
        "error": (record.get("error") or {}).get("message"), "perf_metrics": perf if output else None,
    }
    line = {"index": record["index"], "model": model_id, "model_output": model_output,
            "messages": record["messages"] + ([assistant] if output else []), "metadata": record.get("metadata")}
    if record.get("repeat"):
        line["repeat"] = record["repeat"]
    return line


def review_line(record: dict[str, Any]) -> dict[str, Any]:
    output = record.get("output") or {}
    status = {"correct": "success", "wrong": record.get("score_status", "success")}.get(record["status"], "transport_error")
    score = {
        "value": record.get("score") or {record["metric"]: 0.0},
        "extracted_prediction": record.get("extracted"),
        "prediction": output.get("content", ""),
        "explanation": (record.get("error") or {}).get("message") or record.get("explanation"),
        "metadata": {"cached": record.get("cached", False), "verdict": record["status"], "benchmark": record["benchmark"],
                     "category": record.get("category", "default"), "metric": record["metric"],
                     **{k: record[k] for k in ("aggregation", "primary_metric", "model_adapter", "judge", "error", "score_scale")
                        if record.get(k) is not None}},
        "main_score_name": record["metric"], "status": status,
    }
    messages = record["messages"] + ([{"content": output["content"], "role": "assistant"}] if output else [])
    line = {"index": record["index"], "target": record["target"], "messages": messages,
            "sample_score": {"score": score, "sample_id": record["index"], "group_id": record["index"],
                             "sample_metadata": record.get("metadata")}}
    if record.get("repeat"):
        line["repeat"] = record["repeat"]
    return line


def _tpot(output: dict[str, Any], usage: dict[str, Any]) -> float | None:
    tokens, ttft, latency = usage.get("output_tokens"), output.get("ttft"), output.get("latency")
    if ttft is None or latency is None or not tokens or tokens < 2:
        return None
    return (latency - ttft) / (tokens - 1)


def record_from_review(suite: str, subset: str, line: dict[str, Any]) -> dict[str, Any]:
    """The part of a sample's record that reports need, read back from its review line."""
    score = line["sample_score"]["score"]
    meta = score.get("metadata") or {}
    return {"suite": suite, "benchmark": meta.get("benchmark", suite), "subset": subset, "index": line["index"],
            "repeat": line.get("repeat", 0), "status": meta.get("verdict", "error"), "score": score["value"],
            "extracted": score.get("extracted_prediction"), "score_status": score.get("status"),
            "category": meta.get("category", "default"), "metric": meta.get("metric", next(iter(score["value"]))),
            "cached": True, **{k: meta[k] for k in ("aggregation", "primary_metric", "judge", "error", "score_scale") if k in meta}}


class OutputWriter:
    """Appends prediction and review lines per (suite, subset) file as samples finish.

    With `keep_previous` (a run continued with use_cache), the lines an earlier run wrote for samples
    this run does not report are kept, so resuming with a narrower selection (-k, --lf) loses nothing.
    """

    def __init__(self, run_dir: Path, model_id: str, keep_previous: bool = False) -> None:
        self.run_dir = run_dir
        self.model_id = model_id
        self.keep_previous = keep_previous
        self._files: dict[tuple[str, str, str], _OpenFile] = {}
        self._previous: dict[tuple[str, str, str], dict[tuple[int, int], str]] = {}
        self.kept: list[dict[str, Any]] = []  # records of earlier samples that this run did not report
        self._flushed = time.monotonic()

    def path(self, kind: str, suite: str, subset: str) -> Path:
        name = f"{suite}_{subset}.jsonl"
        if any(c in name for c in "/\\\0") or name.startswith("."):  # checked at collection; never write elsewhere
            raise ValueError(f"{name!r} cannot name an output file")
        return self.run_dir / kind / self.model_id / name

    def append(self, record: dict[str, Any]) -> None:
        sample = (record["index"], record.get("repeat") or 0)
        for kind, line in (("predictions", prediction_line(record, self.model_id)), ("reviews", review_line(record))):
            file = self._file(kind, record["suite"], record["subset"])
            file.handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            file.last_line[sample] = file.lines  # a sample reported twice (a restarted worker) keeps its last line
            file.lines += 1
        now = time.monotonic()
        if now - self._flushed >= FLUSH_INTERVAL:
            # A flush per line cost a syscall per sample on the controller; these files are rebuilt
            # from the reply journal on resume, so a fraction of a second of them may wait in memory.
            for file in self._files.values():
                file.handle.flush()
            self._flushed = now

    def _file(self, kind: str, suite: str, subset: str) -> _OpenFile:
        key = (kind, suite, subset)
        if key not in self._files:
            path = self.path(kind, suite, subset)
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.keep_previous and path.is_file():
                self._previous[key] = _lines_by_sample(path)
            # a resumed run rewrites its files from the records it reports again
            self._files[key] = _OpenFile(path, path.open("w", encoding="utf-8"))
        return self._files[key]

    def finish(self) -> None:
        """Close the files and rewrite each in sample order. Lines are moved as text: decoding and
        re-encoding every line here was seconds of serial work at the end of a 14k-sample run."""
        for key, file in self._files.items():
            file.handle.close()
            texts = file.path.read_text(encoding="utf-8").split("\n")  # JSON text never holds a raw "\n"
            current = {sample: texts[n] for sample, n in file.last_line.items()}
            earlier = {k: v for k, v in self._previous.get(key, {}).items() if k not in current}
            if key[0] == "reviews":
                self.kept += [record_from_review(key[1], key[2], json.loads(text)) for text in earlier.values()]
            unique = {**earlier, **current}
            atomic_write(file.path, "".join(unique[k] + "\n" for k in sorted(unique)))
        self._files.clear()


@dataclass
class _OpenFile:
    path: Path
    handle: Any
    lines: int = 0  # lines written so far
    last_line: dict[tuple[int, int], int] = field(default_factory=dict)  # sample -> its last line's number


def _lines_by_sample(path: Path) -> dict[tuple[int, int], str]:
    """An earlier run's lines as text, by (index, repeat)."""
    lines: dict[tuple[int, int], str] = {}
    # split on "\n" only: str.splitlines() also breaks at U+2028, U+0085 ..., which JSON written with
    # ensure_ascii=False keeps raw inside strings
    for text in path.read_text(encoding="utf-8").split("\n"):
        if text.strip():
            try:
                line = json.loads(text)
            except ValueError:
                continue  # the line a SIGKILL cut short
            lines[(line["index"], line.get("repeat", 0))] = text
    return lines


def write_report(run_dir: Path, model_id: str, suite: str, report: dict[str, Any]) -> Path:
    if any(c in suite for c in "/\\\0") or suite.startswith("."):  # as OutputWriter.path: never write elsewhere
        raise ValueError(f"{suite!r} cannot name a report file")
    path = run_dir / "reports" / model_id / f"{suite}.json"
    atomic_write(path, json.dumps(report, ensure_ascii=False, indent=4) + "\n")
    return path
