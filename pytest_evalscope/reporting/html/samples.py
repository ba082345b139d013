"""Per-sample rows for the page, read from a run's review and prediction files (ours or EvalScope
1.14.1's), plus the flips against a baseline run and the size budget.

A sample row is columnar (one list per field, all the same length) so the page parses it fast:

    suite, subset     indexes into the page's `names` table
    index, repeat     the sample's position (repeat 0 for a single attempt)
    status            "correct" | "wrong" | "error"
    unparsed          no answer could be extracted (score status `parse_error`)
    truncated         the reply stopped at the token limit (finish reason `length`)
    judge_error       a judge was asked and gave no usable verdict
    score             the primary metric's value; `values` holds every metric
    extracted, target, reply, reasoning, explanation (scorer's reason, sandbox output), error
    prompt            the messages before the reply: [[role, text, p], ...], the text after `prefixes[p]`
                      (p -1: none). Few-shot prompts share most of their text within a subset; storing it
                      once made the whole MMLU's page data 6x smaller and its writing 2x faster.
    judge             judge fields the review carries (verdict, messages, summary), else null
    latency, tokens_in, tokens_out, file, line
    flip              against the baseline: regressed | fixed | failing | unchanged | new (no baseline)
    base_status, base_reply, base_extracted   the baseline's attempt (reply null when identical)
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...datasets.images import content_text

# Fields longer than this are cut in the page once a run passes SAMPLE_BUDGET samples or TEXT_BUDGET
# characters of text; the jsonl files beside the page keep the full text.
FIELD_CAP = 4000
SAMPLE_BUDGET = 50_000
TEXT_BUDGET = 120_000_000
LONG_FIELDS = ("reply", "reasoning", "explanation", "base_reply")
COLUMNS = ("suite", "subset", "index", "repeat", "status", "unparsed", "truncated", "judge_error", "score", "values",
           "extracted", "target", "reply", "reasoning", "explanation", "error", "prompt", "judge", "latency",
           "tokens_in", "tokens_out", "file", "line")
_DECODER = json.JSONDecoder()
_ERROR_STATUSES = {"transport_error", "error", "timeout", "api_error"}


def split_name(stem: str, suites: Iterable[str]) -> tuple[str, str]:
    """`gsm8k_main` -> (gsm8k, main): the longest known suite name that prefixes the file name."""
    known = sorted((s for s in suites if stem.startswith(f"{s}_")), key=len, reverse=True)
    if known:
        return known[0], stem[len(known[0]) + 1:]
    suite, _, subset = stem.rpartition("_")
    return (suite, subset) if suite else (stem, "default")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts; an image is a short note, never its base64 data
        return content_text(value)
    return json.dumps(value, ensure_ascii=False)


def _model_output(text: str) -> dict[str, Any]:
    """The `model_output` object of a prediction line, decoded alone: the prompt messages after it are
    most of the line and the page reads them from the review line already."""
    at = text.find('"model_output": ')
    if at < 0:
        return (json.loads(text) or {}).get("model_output") or {}
    value, _ = _DECODER.raw_decode(text, at + len('"model_output": '))
    return value or {}


def _predictions(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    out: dict[tuple[int, int], dict[str, Any]] = {}
    if not path.is_file():
        return out
    for text in path.read_text(encoding="utf-8").split("\n"):
        if not text.strip():
            continue
        try:
            output = _model_output(text)
            index = _index_of(text)
        except ValueError:
            continue  # a line a killed run left half-written
        repeat = _repeat_of(text)
        choice = (output.get("choices") or [{}])[0] or {}
        message = choice.get("message") or {}
        usage = output.get("usage") or {}
        perf = output.get("perf_metrics") or {}
        out[(index, repeat)] = {"stop": choice.get("stop_reason"), "reasoning": message.get("reasoning_content"),
                                "latency": perf.get("latency", output.get("time")),
                                "tokens_in": usage.get("input_tokens"), "tokens_out": usage.get("output_tokens"),
                                "error": output.get("error")}
    return out


def _index_of(text: str) -> int:
    if text.startswith('{"index": '):  # both writers put it first
        return int(text[len('{"index": '):text.index(",")])
    return int(json.loads(text)["index"])


def _repeat_of(text: str) -> int:
    at = text.rfind(', "repeat": ')  # our lines end with it; EvalScope's carry none
    if at < 0 or not text.endswith("}"):
        return 0
    try:
        return int(text[at + len(', "repeat": '):-1])
    except ValueError:
        return 0


def _status(score: dict[str, Any], primary: float | None) -> str:
    verdict = (score.get("metadata") or {}).get("verdict")
    if verdict in ("correct", "wrong", "error"):
        return str(verdict)
    if str(score.get("status") or "") in _ERROR_STATUSES:
        return "error"
    return "correct" if primary is not None and primary >= 1.0 else "wrong"


def _judge(line: dict[str, Any], score: dict[str, Any]) -> dict[str, Any] | None:
    """Whatever judge fields a review carries, shown as they are (none are invented)."""
    found = {k: v for k, v in score.items() if "judge" in k and v not in (None, {}, [])}
    found.update({k: v for k, v in (score.get("metadata") or {}).items() if "judge" in k and v not in (None, {}, [])})
    found.update({k: v for k, v in line.items() if "judge" in k and v not in (None, {}, [])})
    return found or None


def read_subset(review: Path, prediction: Path, suite: str, subset: str) -> list[dict[str, Any]]:
    """One review file's samples as row dicts, joined with the prediction file beside it."""
    predicted = _predictions(prediction)
    rows = []
    for number, text in enumerate(review.read_text(encoding="utf-8").split("\n"), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            continue
        sample = line.get("sample_score") or {}
        score = sample.get("score") or {}
        values = score.get("value") or {}
        meta = score.get("metadata") or {}
        main = score.get("main_score_name") or meta.get("metric") or next(iter(values), None)
        primary = values.get(main) if main else None
        repeat = int(line.get("repeat") or sample.get("generation_index") or 0)
        pred = predicted.get((line["index"], repeat), {})
        messages = line.get("messages") or []
        if messages and messages[-1].get("role") == "assistant":
            messages = messages[:-1]
        reply = score.get("prediction")
        if reply is None:
            reply = _text((line.get("messages") or [{}])[-1].get("content"))
        status = _status(score, primary)
        score_status = str(score.get("status") or "")
        rows.append({
            "suite": suite, "subset": subset, "index": line["index"], "repeat": repeat, "status": status,
            "unparsed": score_status == "parse_error", "truncated": pred.get("stop") in ("length", "max_tokens"),
            "judge_error": "judge" in score_status and "error" in score_status,
            "score": primary, "values": values, "extracted": _text(score.get("extracted_prediction")) or None,
            "target": _text(line.get("target")), "reply": _text(reply), "reasoning": pred.get("reasoning"),
            "explanation": score.get("explanation") if status != "error" else None,
            "error": (score.get("explanation") or pred.get("error") or "error") if status == "error" else None,
            "prompt": [[m.get("role", "user"), _text(m.get("content"))] for m in messages],
            "judge": _judge(line, score), "latency": pred.get("latency"), "tokens_in": pred.get("tokens_in"),
            "tokens_out": pred.get("tokens_out"), "file": f"{review.parent.parent.name}/{review.parent.name}/{review.name}",
            "line": number,
        })
    return rows


def read_samples(run_dir: Path, suites: Iterable[str]) -> list[dict[str, Any]]:
    suites = list(suites)
    rows: list[dict[str, Any]] = []
    for review in sorted((run_dir / "reviews").glob("*/*.jsonl")):
        suite, subset = split_name(review.stem, suites)
        prediction = run_dir / "predictions" / review.parent.name / review.name
        rows += read_subset(review, prediction, suite, subset)
    rows.sort(key=lambda r: (r["suite"], r["subset"], r["index"], r["repeat"]))
    return rows


def add_flips(rows: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, int]:
    """Each row's flip against the baseline's attempt with the same (suite, subset, index, repeat)."""
    base = {(r["suite"], r["subset"], r["index"], r["repeat"]): r for r in baseline}
    counts = {"regressed": 0, "fixed": 0, "failing": 0, "unchanged": 0, "new": 0}
    for row in rows:
        before = base.get((row["suite"], row["subset"], row["index"], row["repeat"]))
        if before is None:
            row["flip"] = "new"
        else:
            was, now = before["status"] == "correct", row["status"] == "correct"
            row["flip"] = ("unchanged" if now else "regressed") if was else ("fixed" if now else "failing")
            row["base_status"] = before["status"]
            row["base_extracted"] = before["extracted"]
            row["base_reply"] = None if before["reply"] == row["reply"] else before["reply"]
        counts[row["flip"]] += 1
    return counts


def _cut(text: str, cap: int, where: str) -> str:
    head = cap * 2 // 3
    return (f"{text[:head]}\n… [{len(text) - cap:,} characters cut here; the full text is in {where}] …\n"
            f"{text[len(text) - (cap - head):]}")


def apply_budget(rows: list[dict[str, Any]], cap: int = FIELD_CAP, samples: int = SAMPLE_BUDGET,
                 text: int = TEXT_BUDGET) -> dict[str, Any] | None:
    """Past the sample or text budget, cut long fields (prompts keep their end: the question is last)."""
    total = sum(len(r[f] or "") for r in rows for f in LONG_FIELDS if r.get(f)) + sum(
        len(m[1]) for r in rows for m in r["prompt"])
    if len(rows) <= samples and total <= text:
        return None
    cut = 0
    for row in rows:
        where = f"{row['file']}, line {row['line']}"
        for field in LONG_FIELDS:
            value = row.get(field)
            if value and len(value) > cap:
                row[field] = _cut(value, cap, where)
                cut += 1
        for message in row["prompt"]:
            if len(message[1]) > cap:
                message[1] = f"… [{len(message[1]) - cap:,} characters cut here; the full text is in {where}] …\n" + message[1][-cap:]
                cut += 1
    return {"cap": cap, "fields": cut, "samples": len(rows), "chars": total}


MIN_PREFIX = 200  # characters: shorter shared beginnings are left to the compressor


def share_prefixes(rows: list[dict[str, Any]], prefixes: list[str]) -> None:
    """Per subset and message position, the beginning all prompts share, moved to `prefixes`."""
    by_slot: dict[tuple[str, str, int], list[list[Any]]] = defaultdict(list)
    for row in rows:
        for position, message in enumerate(row["prompt"]):
            by_slot[(row["suite"], row["subset"], position)].append(message)
    for messages in by_slot.values():
        prefix = os.path.commonprefix([m[1] for m in messages]) if len(messages) > 1 else ""
        if len(prefix) < MIN_PREFIX:
            for message in messages:
                message.append(-1)
            continue
        prefixes.append(prefix)
        for message in messages:
            message[1] = message[1][len(prefix):]
            message.append(len(prefixes) - 1)


def columns(rows: list[dict[str, Any]], names: dict[str, int], prefixes: list[str]) -> dict[str, list[Any]]:
    """Rows as columns, suite and subset names as indexes into `names`, shared prompt beginnings moved
    to `prefixes` (both filled here)."""
    share_prefixes(rows, prefixes)
    keys = list(COLUMNS)
    if any("flip" in r for r in rows):
        keys += ["flip", "base_status", "base_reply", "base_extracted"]
    out: dict[str, list[Any]] = {k: [] for k in keys}
    for row in rows:
        for key in keys:
            value = row.get(key)
            if key in ("suite", "subset"):
                value = names.setdefault(value, len(names))
            elif key in ("unparsed", "truncated", "judge_error"):
                value = 1 if value else 0
            out[key].append(value)
    return out
