"""An oracle judge for loopback tests, and SimpleQA candidate oracles whose judged metrics are known.

The test server in judge mode (``ServerConfig(judge=True)``) reads each request as a grader prompt
(SimpleQA's, Chinese SimpleQA's, or EvalScope's generic pattern or numeric template), finds the
question, the gold target and the predicted answer in it, and grades by a fixed rule
(:func:`oracle_verdict`):

- **A** (correct) when the predicted answer holds the target (case, spaces and punctuation ignored);
- **C** (not attempted) when it says it does not know (:data:`ABSTAIN`), where the grader offers C;
- **B** (incorrect) otherwise.

Its replies vary in form as real judges' do (:func:`judge_reply`): bare JSON, JSON in a fence, JSON
after a ``<think>`` block, extra keys. A numeric template is rated 1.0 or 0.0 by the same rule.
"""

from __future__ import annotations

import csv
import json
import random
import re
import unicodedata
from pathlib import Path
from typing import Any

ABSTAIN = ("i don't know", "i do not know", "not sure", "我不知道", "不确定")
_SIMPLE = re.compile(r".*```\nQuestion: (.*?)\nGold target: (.*?)\nPredicted answer: (.*?)\n```\n\nGrade the predicted", re.S)
_CHINESE = re.compile(r".*```\n问题: (.*?)\n正确答案: (.*?)\n预测答案: (.*?)\n```\n+将此新问题", re.S)
_PATTERN = re.compile(r"\[Question\]\n(.*?)\n\n\[Reference Answer\]\n(.*?)\n\n\[Predicted Answer\]\n(.*?)\n\nEvaluate", re.S)
_NUMERIC = re.compile(r"\[Question\]\n(.*?)\n\n\[Response\]\n(.*?)\n\nReply with", re.S)


def _norm(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower()
                   if not unicodedata.category(c).startswith(("P", "Z", "S")))


def oracle_verdict(target: str, predicted: str, labels: str = "ABC") -> str:
    gold = _norm(target)
    if gold and gold in _norm(predicted):
        return "A"
    if "C" in labels and any(marker in predicted.lower() for marker in ABSTAIN):
        return "C"
    return "B"


def parse_grader(content: str) -> tuple[str, str, str, str] | None:
    """(kind, question, target, predicted) from a grader prompt; kind is abc, ab or numeric."""
    for pattern, kind in ((_SIMPLE, "abc"), (_CHINESE, "abc"), (_PATTERN, "ab")):
        found = pattern.search(content)
        if found:
            return kind, found.group(1), found.group(2), found.group(3)
    found = _NUMERIC.search(content)
    if found:
        return "numeric", found.group(1), "", found.group(2)
    return None


def judge_reply(content: str, style: int = 0) -> str | None:
    """The oracle judge's reply to a grader prompt, in one of several real-world forms; None when
    `content` is not a grader prompt."""
    parsed = parse_grader(content)
    if parsed is None:
        return None
    kind, _, target, predicted = parsed
    if kind == "numeric":
        body: dict[str, Any] = {"reasoning": "rated by the oracle", "score": 1.0 if "correct" in predicted.lower() else 0.0}
    else:
        body = {"reasoning": "graded by the oracle", "verdict": oracle_verdict(target, predicted, "ABC" if kind == "abc" else "AB")}
    text = json.dumps(body, ensure_ascii=False)
    forms = (text, f"```json\n{text}\n```", f"<think>\nThe gold target is {{{target}}}.\n</think>\n{text}",
             json.dumps({**body, "confidence": "high"}))
    return forms[style % len(forms)]


# ---------------------------------------------------------------- SimpleQA candidates


def read_simpleqa(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def read_chinese_simpleqa(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def candidate_oracle(questions: list[str], targets: list[str], seed: int = 0,
                     chinese: bool = False) -> tuple[dict[str, str], list[str]]:
    """Replies to each question (correct, hedged, wrong, abstaining, with and without reasoning) and the
    verdict the oracle judge will give each, in order."""
    rng = random.Random(seed)
    oracle: dict[str, str] = {}
    verdicts: list[str] = []
    for i, (question, target) in enumerate(zip(questions, targets, strict=True)):
        if question in oracle:  # a repeated question gets its first reply (and verdict)
            verdicts.append(oracle_verdict(target, _answer_part(oracle[question])))
            continue
        other = next((t for t in (targets[(i + k) % len(targets)] for k in range(1, 50))
                      if _norm(target) not in _norm(t) and _norm(t)), "nothing at all")
        kind = rng.random()
        if kind < 0.45:
            reply = (f"答案是{target}。" if chinese else f"The answer is {target}.")
        elif kind < 0.55:
            reply = (f"<think>\n想一想。\n</think>\n我认为是{target}" if chinese
                     else f"<think>\nLet me recall.\n</think>\nI believe it is {target}, though I am not certain.")
        elif kind < 0.85:
            reply = (f"答案是{other}。" if chinese else f"It is {other}.")
        else:
            reply = "我不知道。" if chinese else "I don't know."
        oracle[question] = reply
        verdicts.append(oracle_verdict(target, _answer_part(reply)))
    return oracle, verdicts


def _answer_part(reply: str) -> str:
    return re.sub(r"<think>.*?</think>", "", reply, flags=re.S).strip()
