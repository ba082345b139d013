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
Arena and MT-Bench prompts are judged as described further down (pairwise and single-answer grading),
and :func:`mt_bench_candidate` makes MT-Bench replies with planted ratings.
"""

from __future__ import annotations

import csv
import hashlib
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
    from .rag_oracle import rag_reply  # the RAG metrics' prompts (scripted word rules)

    scripted = rag_reply(content, style)
    if scripted is not None:
        return scripted
    pairwise = pairwise_reply(content, style)
    if pairwise is not None:
        return pairwise
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


# ---------------------------------------------------------------- pairwise and single-answer grading
#
# Arena prompts (Arena-Hard's template, AlpacaEval's) are judged by a marker: the answer holding
# MARKER is better, strongly. When both or neither hold it, the judge has a planted position bias: it
# prefers slot A with probability POSITION_BIAS (a weak A>B, from a hash of the prompt, so a repeated
# request gets the same verdict), and otherwise calls a tie (AlpacaEval, which has no tie, picks M).
# MT-Bench's single-answer prompts (EvalScope's, FastChat's) rate the answer asked about (a conversation's
# last): the rating planted in it (:func:`plant`, ``[[rate 7]]``), else 9 when it holds the marker and 3
# otherwise; an answer holding UNRATABLE gets a reply with no rating at all (a malformed verdict).

MARKER = "[[marked]]"
POSITION_BIAS = 0.3
_ARENA = re.compile(r"<\|User Prompt\|>\n(.*?)\n\n<\|The Start of Assistant A's Answer\|>\n(.*?)\n<\|The End of Assistant A's Answer\|>"
                    r"\n\n<\|The Start of Assistant B's Answer\|>\n(.*?)\n<\|The End of Assistant B's Answer\|>", re.S)
_ALPACA = re.compile(r'"instruction": "(.*?)"\n}\n\n## Model Outputs.*?"model_identifier": "m",\n        "output": "(.*?)"\n    },'
                     r'.*?"model_identifier": "M",\n        "output": "(.*?)"\n    }\n}', re.S)
_MT_SINGLE = re.compile(r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.S)
_MT_CONVERSATIONS = (("<|The End of Assistant's Conversation with User|>", "### Assistant:\n"),  # EvalScope's
                     ("<|The End of Assistant A's Conversation with User|>", "### Assistant A:\n"))  # FastChat's
_MT_CONTRACT = '"score": an integer >= 1 and <= 10'  # EvalScope's MT-Bench reply contract
_PLANTED = re.compile(r"\[\[rate (\d+)\]\]")
UNRATABLE = "[[unratable]]"


def leans_first(text: str) -> bool:
    """The planted position bias: whether the judge leans to slot A on this prompt (seeded by its text)."""
    digest = hashlib.sha256(text.encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < POSITION_BIAS


def arena_verdict(answer_a: str, answer_b: str, prompt: str) -> str:
    """The oracle's five-point verdict on one game."""
    in_a, in_b = MARKER in answer_a, MARKER in answer_b
    if in_a != in_b:
        return "A>>B" if in_a else "B>>A"
    return "A>B" if leans_first(prompt) else "A=B"


def alpaca_verdict(output_m: str, output_big_m: str, prompt: str) -> str:
    in_m, in_big = MARKER in output_m, MARKER in output_big_m
    if in_m != in_big:
        return "m" if in_m else "M"
    return "m" if leans_first(prompt) else "M"


def plant(rating: int) -> str:
    """The text that makes the oracle judge rate an MT-Bench answer `rating`."""
    return f"[[rate {rating}]]"


def mt_bench_rating(answer: str) -> int | None:
    if UNRATABLE in answer:
        return None
    planted = _PLANTED.search(answer)
    if planted:
        return int(planted.group(1))
    return 9 if MARKER in answer else 3


def mt_bench_answer(content: str) -> str | None:
    """The answer an MT-Bench judge prompt asks about: a conversation's last, or the single one; None for
    any other prompt."""
    for end, head in _MT_CONVERSATIONS:
        if end in content:
            return content.split(end, 1)[0].rsplit(head, 1)[-1].removesuffix("\n\n")
    found = _MT_SINGLE.search(content)
    return found.group(1) if found else None


def mt_bench_reply(content: str, style: int = 0) -> str | None:
    """The oracle's reply to an MT-Bench judge prompt, in the form its protocol asks for (and, for
    EvalScope's, now and then in FastChat's form, which is read too)."""
    answer = mt_bench_answer(content)
    if answer is None or ("[[rating]]" not in content and _MT_CONTRACT not in content):
        return None
    rating = mt_bench_rating(answer)
    if rating is None:
        return "This answer cannot be rated."
    if "[[rating]]" in content:
        return f"The answer was checked against the question.\n\nRating: [[{rating}]]"
    body = json.dumps({"explanation": "rated by the oracle", "score": rating})
    forms = (body, f"```json\n{body}\n```", f"<think>\nRate it {rating}.\n</think>\n{body}", f"Checked.\n\nRating: [[{rating}]]")
    return forms[style % len(forms)]


def pairwise_reply(content: str, style: int = 0) -> str | None:
    """The oracle's reply to an arena or MT-Bench judge prompt; None for any other prompt."""
    found = _ARENA.search(content)
    if found:
        verdict = arena_verdict(found.group(2), found.group(3), content)
        forms = (json.dumps({"reasoning": "the marked answer is better", "verdict": verdict}),
                 f"Comparing both answers with mine, one stands out.\n\nMy final verdict is: [[{verdict}]]",
                 f"```json\n{json.dumps({'reasoning': 'checked', 'verdict': f'[[{verdict}]]'})}\n```")
        return forms[style % len(forms)]
    found = _ALPACA.search(content)
    if found:
        verdict = alpaca_verdict(found.group(2), found.group(3), content)
        return (json.dumps({"verdict": verdict}), verdict)[style % 2]
    return mt_bench_reply(content, style)


def mt_bench_candidate(questions: list[dict[str, Any]], seed: int = 0,
                       unratable: frozenset[int] = frozenset()) -> tuple[dict[str, str], dict[int, tuple[int, int]]]:
    """Replies to both turns of each MT-Bench question (FastChat's records), each with a planted rating,
    and the (turn 1, turn 2) ratings the oracle judge will give, by question_id. Every third first reply
    opens with a <think> block (the second turn's request must carry the reply without it); the second
    replies of `unratable` questions get a malformed verdict instead of a rating."""
    rng = random.Random(seed)
    replies: dict[str, str] = {}
    ratings: dict[int, tuple[int, int]] = {}
    for n, question in enumerate(questions):
        first, second = rng.randint(1, 10), rng.randint(1, 10)
        qid = question["question_id"]
        think = "<think>\nWhat is asked?\n</think>\n" if n % 3 == 0 else ""
        replies[question["turns"][0]] = f"{think}First answer to {qid}. {plant(first)}"
        replies[question["turns"][1]] = f"Second answer to {qid}. " + (UNRATABLE if qid in unratable else plant(second))
        ratings[qid] = (first, second)
    return replies, ratings
