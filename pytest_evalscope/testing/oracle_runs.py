"""Whole-dataset runs of a multiple-choice benchmark against the oracle server, for tests and benchmarks:
the oracle items of a benchmark, the scores a run must report by design, and the report of a run."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..benchmarks.base import Benchmark
from .answer_formats import Item


def mcq_items(bench: Benchmark, limit: int | None = None) -> list[Item]:
    """Every sample of every subset (the first `limit` of each) as an oracle item keyed `subset-index`."""
    items = []
    for subset in bench.subset_list:
        fewshot = bench.fewshot_samples(subset)
        for s in bench.load_samples(subset, limit, 1):
            items.append(Item(s.key, bench.build_messages(s, fewshot)[-1]["content"], s.target, len(s.metadata["choices"])))
    return items


def subset_scores(verdicts: dict[str, bool]) -> dict[str, tuple[int, float]]:
    """subset -> (samples, score rounded as reports round it) from `subset-index` verdicts."""
    by_subset: dict[str, list[bool]] = defaultdict(list)
    for key, right in verdicts.items():
        by_subset[key.rsplit("-", 1)[0]].append(right)
    return {s: (len(v), round(sum(v) / len(v), 4)) for s, v in by_subset.items()}


def report_subsets(report: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """subset -> (num, score) of a report's primary metric."""
    return {s["name"]: (s["num"], s["score"]) for c in report["metrics"][0]["categories"] for s in c["subsets"]}


def read_report(folder: Path, suite: str, model: str = "oracle") -> dict[str, Any]:
    """The report a run wrote under `folder` (its work_dir), without the timing figures that differ by run."""
    report = json.loads(next(folder.glob(f"*/reports/{model}/{suite}.json")).read_text(encoding="utf-8"))
    return {k: v for k, v in report.items() if k != "perf_metrics"}
