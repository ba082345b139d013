"""AIME 2024 and AIME 2025 with EvalScope 1.14.1's protocol: 0-shot, the boxed answer, an integer.

- aime24: `evalscope/aime24` (HF `math-ai/aime24`), subset `default`, split test, 30 problems.
- aime25: `evalscope/aime25` (HF `math-ai/aime25`), subset `default`, split test, 30 problems
  (AIME 2025 I then II, 15 each).

The question is `problem` (or `question`, as OpenCompass's copy names it) and the gold is `answer`.
Golds are compared as integers: the copies disagree on their form (`"025"` zero-padded strings, plain
integers, `"336^\\circ"` in one OpenCompass line), so the gold is read as the integer it writes. The
reply's answer is read as MATH-500's (`scoring.math_equal.extract_math_answer`: the Minerva sentence,
the last `\\boxed{}`, "the answer is X", ...) and is right when it is an integer literal (`25`,
`025`, `25.0`, `1,000`; a `\\text{}` or `$` around it is dropped) equal to the gold, as EvalScope's
`compare_answers(..., integer_only=True)` decides. `33.5`, `x+1` or `\\frac{50}{2}` is wrong, as there.

With 30 problems a score's 95% interval is about +-17 points: AIME is meant to be run with repeats.
The aggregation is `mean_and_pass_at_k`, so a run with `repeats: k` reports `mean_acc` (EvalScope's
avg@k, the primary metric) and `pass@1` ... `pass@k`; the report's `ci95` shows the width.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from ..registry import register_benchmark
from ..scoring.math_equal import extract_math_answer
from .base import Benchmark, Sample

# EvalScope's aime PROMPT_TEMPLATE, equal byte for byte (tests/fixtures/evalscope_prompts/aime*.json)
PROMPT = ("\nSolve the following math problem step by step. Put your answer inside \\boxed{{}}.\n\n{question}\n\n"
          "Remember to put your answer inside \\boxed{{}}.")

_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")


def integer_of(text: Any, degrees: bool = False) -> int | None:
    """The integer an answer writes (`25`, `"025"`, `25.0`, `1,000`, `$25$`), else None. With `degrees`
    (golds only: one OpenCompass line is `336^\\circ`) a degree sign is dropped; in a reply, as in
    EvalScope, `480^\\circ` is not an integer literal."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    cleaned = _WRAPPERS.sub(r"\1", str(text))
    cleaned = _DEGREES.sub("", cleaned) if degrees else cleaned
    cleaned = cleaned.replace("$", "").replace("\\!", "").replace("{,}", ",").replace(",", "").strip().rstrip(".")
    try:
        value = Decimal(cleaned.replace(" ", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)


class _AIME(Benchmark):
    subset_list: ClassVar[list[str]] = ["default"]
    default_subset = "default"
    eval_split = "test"
    train_split = None
    few_shot_num = 0
    prompt_template = PROMPT
    metric_list: ClassVar[list[Any]] = [{"acc": {"numeric": True}}]
    aggregation = "mean_and_pass_at_k"
    required_fields = ("answer",)

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        question = record.get("problem", record.get("question"))
        if question is None:
            raise KeyError("'problem' (or 'question')")
        gold = integer_of(record["answer"], degrees=True)
        if gold is None:
            raise ValueError(f"answer {record['answer']!r} is not an integer")
        return Sample(index=index, subset=subset, input=str(question), target=str(gold),
                      metadata={"id": record.get("id"), "url": record.get("url")})

    def extract(self, text: str) -> str | None:
        return extract_math_answer(text)

    def match(self, extracted: str | None, target: str) -> bool:
        return extracted is not None and integer_of(extracted) == int(target)


@register_benchmark
class AIME24(_AIME):
    name = "aime24"
    pretty_name = "AIME-2024"
    description = "The 30 problems of AIME 2024 I and II: competition mathematics with an integer answer 0-999."
    dataset_id = "evalscope/aime24"
    hf_dataset_id = "math-ai/aime24"


@register_benchmark
class AIME25(_AIME):
    name = "aime25"
    pretty_name = "AIME-2025"
    description = "The 30 problems of AIME 2025 I and II: competition mathematics with an integer answer 0-999."
    dataset_id = "evalscope/aime25"
    hf_dataset_id = "math-ai/aime25"
