"""The comparison as Markdown for a pull request (``--evalscope-compare-md PATH``): one table row per
benchmark (benchmark | base | candidate | Δ [interval] | p | verdict), then the ten worst regressed
samples with their prompt, both replies and the target."""

from __future__ import annotations

from typing import Any

from ..datasets.images import content_text
from .comparison import Comparison

WORST = 10
TEXT_LIMIT = 1500  # characters of a prompt or reply shown


def render(comparison: Comparison, base_label: str, cand_label: str) -> str:
    verdicts = {c.name: c for c in comparison.checks}
    lines = [f"## Compared with the baseline {base_label}", "", f"Candidate: {cand_label}. Δ is candidate minus "
             "baseline; the interval is the gate's (90%: each bound one-sided 95%).", "",
             "| benchmark | base | candidate | Δ [interval] | p | verdict |", "|---|---|---|---|---|---|"]
    for suite, section in comparison.sections.items():
        rows = [(suite, section)] + [(f"{suite}/{s['name']}", s) for s in section["subsets"]
                                      if len(section["subsets"]) > 1 or f"{suite}/{s['name']}" in verdicts]
        for name, stats in rows:
            check = verdicts.get(name)
            verdict = check.verdict.upper() if check else "not gated"
            if "delta" not in stats:
                lines.append(f"| {name} | | | | | {verdict} |")
                continue
            lo, hi = stats["interval"]
            lines.append(f"| {name} | {stats['base']:.4f} | {stats['candidate']:.4f} | {stats['delta']:+.4f} "
                         f"[{lo:+.4f}, {hi:+.4f}] | {stats['p']:.3g} | {verdict} |")
    for check in comparison.checks:
        if check.reason:
            lines.append(f"\n**{check.name}**: {check.verdict.upper()}: {check.reason}")
    for warning in comparison.warnings:
        lines.append(f"\n> warning: {warning}")
    worst = _worst(comparison)
    if worst:
        lines += ["", f"### The {len(worst)} worst regressed samples", ""]
        for sample_id, old, new in worst:
            lines += [f"#### {sample_id}", "", f"Target: `{_inline(old.get('target'))}`", "",
                      "<details><summary>prompt</summary>", "", _block(_prompt(new)), "", "</details>", "",
                      f"Baseline ({_status(old)}):", "", _block(old.get("reply")), "",
                      f"Candidate ({_status(new)}):", "", _block(new.get("reply")), ""]
    return "\n".join(lines) + "\n"


def _worst(comparison: Comparison) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for suite in comparison.sections:
        scope = comparison.scopes[suite]
        diffs = scope.cand - scope.base
        for i in range(len(scope.keys)):
            if diffs[i] < 0:
                old, new = scope.pairs[i][0]
                found.append((float(diffs[i]), f"{suite}/{scope.keys[i][0]}/{scope.keys[i][1]}", old, new))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(sid, old, new) for _, sid, old, new in found[:WORST]]


def _prompt(record: dict[str, Any]) -> str:
    messages = [m for m in record.get("messages") or [] if m.get("role") != "assistant"] or record.get("messages") or []
    return "\n\n".join(f"[{m.get('role')}] {content_text(m.get('content'))}" for m in messages)


def _status(record: dict[str, Any]) -> str:
    extracted = record.get("extracted")
    return f"{record.get('status')}, answer {'(none)' if extracted is None else repr(extracted)}"


def _block(text: Any) -> str:
    body = "" if text is None else str(text)
    if len(body) > TEXT_LIMIT:
        body = body[:TEXT_LIMIT] + f"\n... ({len(body) - TEXT_LIMIT} more characters)"
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}text\n{body}\n{fence}"


def _inline(value: Any) -> str:
    return " ".join(str(value).split()).replace("`", "'")[:200]
