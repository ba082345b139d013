"""Final-answer extraction and LaTeX answer equivalence for competition math (MATH, MATH-500).

`extract_math_answer` follows EvalScope's math parser preferences, on the reply without its `<think>`
blocks:

1. Minerva style "final answer is $X$. I hope it is correct.": X.
2. The last `\\boxed{...}` / `\\fbox{...}` with content, brace-matched (an unclosed box at the end of a
   truncated reply runs to the end of the text).
3. "the answer is X", "final answer is X", "答案是 X", "ANSWER: X": `$X$` when the line opens with
   it, else the line up to where prose resumes (a sentence end, ", because", " since", ...). A reply
   cut off right after an opened `\\boxed{` gave no answer: None.
4. The last number in the text.

Surrounding `$`, `\\(`/`\\)` and a trailing period are removed. None when nothing is found.

`math_equal(pred, gold)` decides equivalence with Hugging Face's `math-verify` (an optional dependency,
imported on first use): both sides are parsed as LaTeX or plain expressions and compared symbolically
and numerically (`\\frac{1}{2}` = `0.5` = `1/2`, `x=3` = `3`, `5\\text{ cm}` = `5`, `90^\\circ` = `90`,
intervals, sets, tuples and matrices). A side math-verify cannot parse is compared as normalised text.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from .numeric import _BOX, _box_content, split_reasoning

__all__ = ["MATH_EXTRA_HINT", "extract_math_answer", "math_equal", "require_math_verify"]

MATH_EXTRA_HINT = "pip install 'pytest-evalscope[math]'"

# bounded, so a reply repeating "final answer is $" is not rescanned to its end from every match
_MINERVA = re.compile(r"final answer is \$(.{1,2000}?)\$\. I hope", re.DOTALL)
# where "the answer is X" stops: a sentence end, or prose that explains it ("4 because ...")
_PHRASE_END = re.compile(r"[.;!?](?=\s|$)|,?\s+(?:because|since|as|which|so|but)\b|\s+—\s")
_TRUNCATED_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{\s*$")
_PHRASES = re.compile(r"(?:[Tt]he (?:final )?answer is|[Ff]inal [Aa]nswer is|答案是|ANSWER:)\s*:?")
_NUMBER = re.compile(r"-?\d*\.?\d+")
# `$...$` (a `\\$` inside is an escaped dollar), `$$...$$`, `\\(...\\)`, `\\[...\\]`
_DOLLARS = re.compile(r"\$+((?:\\\$|[^$])+)\$")
# a reply cut off inside `$...` ends in that math, not in its last number
_INLINE_MATH = re.compile(
    r"\$\$(.+?)\$\$|\$((?:\\\$|[^$])+?)(?:\$|\Z)|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_WRAPPERS = re.compile(r"^(?:\$+|\\\(|\\\[)\s*|\s*(?:\$+|\\\)|\\\])$")
_SPACES = re.compile(r"\s+|\\[,;:! ]")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")


def require_math_verify() -> Any:
    """The `math_verify` module, or an ImportError that says how to install it."""
    try:
        import math_verify
    except ImportError:
        raise ImportError(
            f"math answer checking (math_500, competition_math) needs the math-verify package: {MATH_EXTRA_HINT}"
        ) from None
    return math_verify


def _clean(answer: str) -> str | None:
    for _ in range(2):
        answer = _WRAPPERS.sub("", answer.strip().rstrip(".").rstrip("/").strip()).strip()
    answer = answer.removeprefix("\\$").strip()  # `$\\$32$`: the escaped dollar is a currency sign
    return answer or None


def extract_math_answer(text: str) -> str | None:
    """The final answer of a reply as a LaTeX string, or None when it gives none (rules: module doc)."""
    text, _ = split_reasoning(text)
    minerva = _MINERVA.findall(text)
    if minerva:
        return _clean(minerva[-1])
    truncated = _TRUNCATED_BOX.search(text)
    if truncated:  # cut off just as the boxed answer began: read what came before that line
        text = text[:text.rfind("\n", 0, truncated.start()) + 1]
    for box in reversed([m.end() for m in _BOX.finditer(text)]):
        answer = _clean(_box_content(text, box))
        if answer is not None:
            return answer
    phrases = list(_PHRASES.finditer(text))
    if phrases:
        answer = _phrase_answer(text[phrases[-1].end():].strip().split("\n", 1)[0])
        if answer is not None:
            return answer
    spans = list(_INLINE_MATH.finditer(text))
    if spans:
        answer = _clean(next(group for group in spans[-1].groups() if group is not None))
        if answer is not None:
            return answer
    numbers = _NUMBER.findall(text.replace(",", ""))
    return numbers[-1] if numbers else None


def _phrase_answer(line: str) -> str | None:
    """The answer after "the answer is": `$...$` when it opens with one, else up to where prose resumes."""
    math = _DOLLARS.match(line)
    if math:
        return _clean(math.group(1))
    end = next((m.start() for m in _PHRASE_END.finditer(line) if not _inside_number(line, m.start())), len(line))
    return _clean(line[:end])


def _inside_number(line: str, at: int) -> bool:
    return line[at] == "." and 0 < at < len(line) - 1 and line[at - 1].isdigit() and line[at + 1].isdigit()


def _normalise(answer: str) -> str:
    answer = _TEXT.sub(r"\1", answer).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    answer = answer.replace("\\left", "").replace("\\right", "")
    return _SPACES.sub("", answer).rstrip(".").lower()


def _parse(math_verify: Any, answer: str, timeout: int | None) -> list[Any]:
    config = [math_verify.LatexExtractionConfig(), math_verify.ExprExtractionConfig()]
    text = answer if answer.startswith("$") or "\\boxed" in answer else f"${answer}$"
    return math_verify.parse(text, extraction_config=config, parsing_timeout=timeout)


def math_equal(pred: str | None, gold: str, timeout: int = 5) -> bool:
    """Whether the extracted answer `pred` is mathematically equivalent to the gold answer."""
    if pred is None or not pred.strip():
        return False
    if _normalise(pred) == _normalise(gold):
        return True
    math_verify = require_math_verify()
    # math-verify's timeouts use SIGALRM, which only the main thread may set.
    limit = timeout if threading.current_thread() is threading.main_thread() else None
    try:
        gold_parsed = _parse(math_verify, gold, limit)
        pred_parsed = _parse(math_verify, pred, limit)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(math_verify.verify(gold_parsed, pred_parsed, timeout_seconds=limit))
    except Exception:  # a parser failure means "not shown equal", never a crash
        return False
