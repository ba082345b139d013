"""Aggregation into EvalScope's report schema (`reports/<model_id>/<suite>.json`).

The layout follows EvalScope's reports (compare `evalscope_examples/.../reports/*.json`):

    {name: "<model>@<suite>", dataset_name, dataset_pretty_name, dataset_description, model_name,
     score,                      # the primary metric over all scored samples (micro)
     metrics: [{name, num, score, macro_score,            # the primary metric first
                categories: [{name: [category], num, score, macro_score,
                              subsets: [{name, score, num, ...extensions}]}]}],
     analysis: "N/A", perf_metrics, num, ...extensions}

Metrics: one `mean_<name>` entry per value a sample's score carries (IFEval scores four), and with an
aggregation over repeats (`mean_and_pass_at_k`, `mean_and_vote_at_k`, `mean_and_pass_hat_k`) one
entry per k <= repeats, counted over samples (groups) with at least k scored attempts:

- `pass@k`: the unbiased estimator 1 - C(n-c, k) / C(n, k) over n attempts of which c are correct;
- `pass^k`: C(c, k) / C(n, k), the chance that k attempts drawn without replacement all pass;
- `vote@k`: 1 when the majority answer of the first k attempts is a correct one.

`mean_<name>` over repeats is mean@k. The primary metric is the adapter's `primary_metric`
(dataset_args may override it), else its first metric.

Extensions, all additive: per subset `passed`, `failed`, `errors`, `unparsed` (replies with no
extractable answer, counted within `failed`) and `ci95` ([low, high]: Wilson's interval for 0/1
values, else the normal approximation over per-sample values); the same at the top level in
`execution_summary` and `ci95`, and `primary_metric`. `model_adapter` says how the scores were produced
(generation, multiple_choice_logits, continuous_logits) and `model_adapter_note` why a log-likelihood
mode fell back to generation. Errors are counted apart and left out of `num` and the score. Timing
figures live only in `perf_metrics` (with `model` stats of a checkpoint: load time, tokens/s, memory).

`schema_version` (:data:`SCHEMA_VERSION`) is in every report; it grows when a field changes meaning.
Judge-scored suites add `judge_summary` (judge model, samples judged, calls made, verdicts reused from
the journal or judge_cache, judge errors, verdict counts) and `tokens` (candidate and judge apart);
SimpleQA-style suites add `attempted_scores` (accuracy given attempted and its F-score). A suite whose
scores are not fractions says so in `score_scale` (MT-Bench's 1-10 ratings: 10); gates divide by it, and
its `ci95` is not clipped to [0, 1].
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from ..schema import (
    REPORT_SCHEMA_VERSION as SCHEMA_VERSION,  # 2: + schema_version, judge_summary, tokens, attempted_scores
)

Z95 = 1.959963984540054
AGGREGATIONS = ("mean", "mean_and_pass_at_k", "mean_and_vote_at_k", "mean_and_pass_hat_k")


def wilson_interval(successes: float, n: int) -> list[float] | None:
    if n == 0:
        return None
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def interval(values: list[float]) -> list[float] | None:
    """Wilson's interval when every value is 0 or 1, else mean +- 1.96 standard errors."""
    n = len(values)
    if n == 0:
        return None
    if all(v in (0.0, 1.0) for v in values):
        return wilson_interval(sum(values), n)
    mean = statistics.fmean(values)
    half = Z95 * statistics.stdev(values) / math.sqrt(n) if n > 1 else 0.0
    if any(not 0.0 <= v <= 1.0 for v in values):  # not fractions (MT-Bench's 1-10 ratings): no [0, 1] bounds
        return [round(mean - half, 4), round(mean + half, 4)]
    return [round(max(0.0, mean - half), 4), round(min(1.0, mean + half), 4)]


def pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    return math.comb(c, k) / math.comb(n, k)


def _value(record: dict[str, Any], metric: str) -> float:
    return float((record.get("score") or {}).get(metric, 0.0))


def _primary(record: dict[str, Any]) -> str:
    return record.get("primary_metric") or record["metric"]


def subset_stats(name: str, records: list[dict[str, Any]], metric: str | None = None) -> dict[str, Any]:
    scored = [r for r in records if r["status"] != "error"]
    values = [_value(r, metric or r["metric"]) for r in scored]
    return _stats(name, values, records, scored)


def _stats(name: str, values: list[float], records: list[dict[str, Any]], scored: list[dict[str, Any]]) -> dict[str, Any]:
    n, total = len(values), sum(values)
    return {
        "name": name, "score": round(total / n, 4) if n else None, "num": n,
        "passed": sum(r["status"] == "correct" for r in scored),
        "failed": sum(r["status"] == "wrong" for r in scored),
        "errors": len(records) - len(scored),
        "unparsed": sum(r.get("score_status") == "parse_error" for r in scored),
        "ci95": interval(values), "_sum": total, "_values": values,
    }


def _groups(scored: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    by_index: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in scored:
        by_index[record["index"]].append(record)
    return [sorted(g, key=lambda r: r["repeat"]) for _, g in sorted(by_index.items())]


def _vote(group: list[dict[str, Any]], k: int) -> float:
    first = group[:k]
    votes = Counter(r.get("extracted") for r in first if r.get("extracted") is not None)
    if not votes:
        return 0.0
    answer = votes.most_common(1)[0][0]
    return float(any(r["status"] == "correct" for r in first if r.get("extracted") == answer))


def _k_metric(kind: str, k: int) -> tuple[str, Callable[[list[dict[str, Any]]], float]]:
    def correct(group: list[dict[str, Any]]) -> int:
        return sum(r["status"] == "correct" for r in group)

    if kind == "pass_at_k":
        return f"pass@{k}", lambda g: pass_at_k(len(g), correct(g), k)
    if kind == "pass_hat_k":
        return f"pass^{k}", lambda g: pass_hat_k(len(g), correct(g), k)
    return f"vote@{k}", lambda g: _vote(g, k)


def _metric_entry(name: str, subsets: list[dict[str, Any]], categories: dict[str, str], order: list[str]) -> dict[str, Any]:
    rows = []
    for category in dict.fromkeys(categories[s] for s in order):
        parts = [s for s in subsets if categories[s["name"]] == category]
        num, micro, macro, _ = _combine(parts)
        rows.append({"name": [category], "num": num, "score": micro, "macro_score": macro,
                     "subsets": [{k: v for k, v in s.items() if not k.startswith("_")} for s in parts]})
    num, micro, macro, _ = _combine(subsets)
    values = [v for s in subsets for v in s["_values"]]
    return {"name": name, "num": num, "score": micro, "macro_score": macro, "categories": rows, "_ci": interval(values)}


def _combine(parts: list[dict[str, Any]]) -> tuple[int, float | None, float | None, float]:
    num = sum(p["num"] for p in parts)
    total = sum(p["_sum"] for p in parts)
    scores = [p["score"] for p in parts if p["score"] is not None]
    micro = round(total / num, 4) if num else None
    macro = round(statistics.fmean(scores), 4) if scores else None
    return num, micro, macro, total


def metric_names(records: list[dict[str, Any]]) -> list[str]:
    """The per-sample metrics in first-seen order, the adapter's metric first."""
    names = dict.fromkeys([records[0]["metric"]] if records else ["acc"])
    for record in records:
        names.update(dict.fromkeys(record.get("score") or {}))
    return list(names)


def build_report(suite: str, meta: dict[str, Any], model_id: str, records: list[dict[str, Any]],
                 subset_order: list[str]) -> dict[str, Any]:
    by_subset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    categories: dict[str, str] = {}
    for record in records:
        by_subset[record["subset"]].append(record)
        categories[record["subset"]] = record.get("category", "default")
    order = sorted(by_subset, key=lambda s: (subset_order.index(s) if s in subset_order else len(subset_order), s))
    scored = {name: [r for r in by_subset[name] if r["status"] != "error"] for name in order}
    entries = []
    for metric in metric_names(records):
        subsets = [subset_stats(name, by_subset[name], metric) for name in order]
        entries.append(_metric_entry(f"mean_{metric}", subsets, categories, order))
    aggregation = records[0].get("aggregation", "mean") if records else "mean"
    repeats = max((r["repeat"] for r in records), default=0) + 1
    if aggregation != "mean":
        kind = aggregation.removeprefix("mean_and_")
        for k in range(1, repeats + 1):
            name, estimate = _k_metric(kind, k)
            subsets = []
            for subset in order:
                groups = [g for g in _groups(scored[subset]) if len(g) >= k]
                subsets.append(_stats(subset, [estimate(g) for g in groups], [r for g in groups for r in g],
                                      [r for g in groups for r in g]))
                subsets[-1]["num"] = len(groups)
            entries.append(_metric_entry(name, subsets, categories, order))
    primary = _primary(records[0]) if records else "acc"
    position = next((i for i, e in enumerate(entries) if e["name"] in (primary, f"mean_{primary}")), 0)
    entries.insert(0, entries.pop(position))
    head = entries[0]
    errors = sum(len(by_subset[s]) - len(scored[s]) for s in order)
    return {
        "name": f"{model_id}@{suite}", "dataset_name": suite,
        "dataset_pretty_name": meta.get("pretty_name", suite), "dataset_description": meta.get("description", ""),
        "model_name": model_id, "score": head["score"],
        "metrics": [{k: v for k, v in e.items() if k != "_ci"} for e in entries],
        "analysis": "N/A", "perf_metrics": perf_summary(records), "num": head["num"],
        "ci95": head["_ci"], "primary_metric": head["name"], "repeats": repeats,
        "model_adapter": records[0].get("model_adapter", "generation") if records else "generation",
        **({"model_adapter_note": records[0]["model_adapter_note"]} if records and records[0].get("model_adapter_note") else {}),
        **({"score_scale": records[0]["score_scale"]} if records and records[0].get("score_scale") else {}),
        "execution_summary": {"requested": len(records), "succeeded": len(records) - errors, "errored": errors,
                              "cached": sum(bool(r.get("cached")) for r in records)},
        "schema_version": SCHEMA_VERSION,
        **judge_summary(records), **attempted_scores(records),
    }


def judge_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What the judge did for this suite (absent when no sample was judged): calls made, verdicts reused
    (journal or judge_cache), judge errors, and the judge's tokens beside the candidate's."""
    judged = [r["judge"] for r in records if r.get("judge")]
    failed = sum(str((r.get("error") or {}).get("kind", "")).startswith("judge_") for r in records)
    if not judged and not failed:
        return {}
    asked = [j for j in judged if j.get("source") == "judge"]
    usage = [j.get("usage") or {} for j in asked]
    outputs = [(r.get("output") or {}).get("usage") or {} for r in records if r.get("output") and not r.get("cached")]
    return {"judge_summary": {
        "model": next((j.get("model") for j in judged if j.get("model")), None),
        "judged": len(judged), "calls": sum(int(j.get("attempts") or 1) for j in asked),
        "cached": len(judged) - len(asked), "errors": failed,
        "verdicts": dict(sorted(Counter(str(j.get("verdict")) for j in judged).items())),
    }, "tokens": {
        "candidate": {"input": sum(int(u.get("input_tokens") or 0) for u in outputs),
                      "output": sum(int(u.get("output_tokens") or 0) for u in outputs)},
        "judge": {"input": sum(int(u.get("input_tokens") or 0) for u in usage),
                  "output": sum(int(u.get("output_tokens") or 0) for u in usage)},
    }}


def attempted_scores(records: list[dict[str, Any]]) -> dict[str, Any]:
    """SimpleQA's summary figures (OpenAI's simple-evals): accuracy given attempted, correct / (correct +
    incorrect), and the F-score of it with overall accuracy. Only for suites scored that way."""
    scored = [r["score"] for r in records if r["status"] != "error" and "is_correct" in (r.get("score") or {})]
    if not scored:
        return {}
    correct = sum(s.get("is_correct", 0.0) for s in scored) / len(scored)
    incorrect = sum(s.get("is_incorrect", 0.0) for s in scored) / len(scored)
    given = correct / (correct + incorrect) if correct + incorrect else 0.0
    f1 = 2 * given * correct / (given + correct) if given + correct else 0.0
    return {"attempted_scores": {"is_correct": round(correct, 4), "is_incorrect": round(incorrect, 4),
                                 "is_not_attempted": round(1 - correct - incorrect, 4),
                                 "accuracy_given_attempted": round(given, 4), "f1": round(f1, 4)}}


def perf_summary(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    outputs = [r["output"] for r in records if r.get("output") and not r.get("cached")]
    if not outputs:
        return None
    latencies = sorted(float(o.get("latency") or 0.0) for o in outputs)
    out_tokens = [int((o.get("usage") or {}).get("output_tokens") or 0) for o in outputs]
    in_tokens = [int((o.get("usage") or {}).get("input_tokens") or 0) for o in outputs]
    return {"summary": {
        "requests": sum(len(o.get("turns") or [o]) for o in outputs),  # a multi-turn sample made one per turn
        "latency": {"mean": round(statistics.fmean(latencies), 4), "p50": round(latencies[len(latencies) // 2], 4),
                    "p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 4)},
        "usage": {"input_tokens": sum(in_tokens), "output_tokens": sum(out_tokens)},
        "attempts": sum(int(o.get("attempts") or 1) for o in outputs),
    }}
