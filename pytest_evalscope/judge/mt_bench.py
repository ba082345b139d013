"""MT-Bench's single-answer grading: a judge rates each turn of a two-turn conversation from 1 to 10.

Turn 1 shows the judge the first question and the first answer; turn 2 shows the whole conversation and
asks about the second answer. For math, reasoning and coding the judge also sees the reference answers.
Two protocols (``extra_params.protocol`` of the benchmark):

- ``evalscope`` (default): EvalScope 1.14.1's prompts, byte for byte (``prompts/mt_bench_turn*.txt``),
  ending with its reply contract: one JSON object with ``explanation`` and ``score``, an integer 1-10;
- ``fastchat``: FastChat's ``single-v1`` / ``single-math-v1`` and their ``-multi-turn`` variants
  (``prompts/mt_bench_single_*.txt``), the rating read from ``[[rating]]`` as FastChat reads it
  (decimals allowed).

Under ``evalscope`` a judge that answers FastChat's way (``Rating: [[7]]``, one distinct rating) is read
too. A reply with no rating, two different ratings, or one outside 1-10 is unparseable: the judge is
asked again, then the sample is an error (``judge_unparsed``), never a score.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .contract import JudgeDefinition, explanation_in, template

if TYPE_CHECKING:
    from .judge import Judge, Verdict

PROTOCOLS = ("evalscope", "fastchat")
REFERENCE_CATEGORIES = ("math", "reasoning", "coding")
RATING = r"\[\[(\d+(?:\.\d+)?)\]\]"  # FastChat's "[[rating]]"
# EvalScope's OutputContract instruction for its MTBenchVerdict schema (explanation: str, score: int 1-10)
CONTRACT = ('\n\nReply with a single JSON object and no other text, containing these required keys '
            '(additional keys are allowed):\n- "explanation": a string\n- "score": an integer >= 1 and <= 10')
METRICS = ("first_turn_judge_score", "second_turn_judge_score")


@dataclass(frozen=True)
class Conversation:
    """One question's two turns, the candidate's two answers, and the references the judge sees."""

    category: str
    questions: tuple[str, str]
    answers: tuple[str, str]
    references: tuple[str, str] | None = None  # given in REFERENCE_CATEGORIES only

    def fields(self) -> dict[str, str]:
        refs = self.references or ("", "")
        return {"question": self.questions[0], "answer": self.answers[0], "question_1": self.questions[0],
                "question_2": self.questions[1], "answer_1": self.answers[0], "answer_2": self.answers[1],
                "ref_answer_1": refs[0], "ref_answer_2": refs[1]}


def turn_definition(conversation: Conversation, turn: int, protocol: str = "evalscope") -> JudgeDefinition:
    """What the judge is asked to rate turn 1 or 2 of `conversation`."""
    reference = conversation.references is not None
    if protocol == "evalscope":
        name = f"mt_bench_turn{turn}" + ("_ref" if reference else "")
        system = template("mt_bench_turn1_system" if turn == 1 else f"{name}_system")
        prompt = template(name).format(**conversation.fields()) + CONTRACT
        return JudgeDefinition(prompt, system, metric="rating", score_pattern=RATING, score_range=(1.0, 10.0),
                               instruction=False, integer=True)
    name = "mt_bench_single_" + ("math_v1" if reference else "v1") + ("_multi_turn" if turn == 2 else "")
    return JudgeDefinition(template(name).format(**conversation.fields()), template(f"{name}_system"), metric="rating",
                           score_pattern=RATING, score_range=(1.0, 10.0), instruction=False, json_reply=False)


async def rate(judge: Judge, key: str, conversation: Conversation, protocol: str, pass_rating: float) -> Verdict:
    """Both turns rated (concurrently), as one Verdict: the mean rating, each turn's in ``turns``; it
    passes when both ratings reach `pass_rating`."""
    from .judge import Verdict

    # both calls run to their end (each journals its verdict); then the first failure is the sample's
    results = await asyncio.gather(*(judge.grade(f"{key}#turn{n}", turn_definition(conversation, n, protocol))
                                     for n in (1, 2)), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    verdicts: list[Verdict] = list(results)  # type: ignore[arg-type]
    ratings = [float(v.verdict) for v in verdicts]
    turns = [{"turn": n, "rating": r, "explanation": explanation_of(v.raw), "raw": v.raw, "source": v.source,
              "attempts": v.attempts, "messages": v.messages} for n, (r, v) in enumerate(zip(ratings, verdicts, strict=True), start=1)]
    value = {"judge_score": sum(ratings) / 2, **dict(zip(METRICS, ratings, strict=True))}
    asked = [v for v in verdicts if v.source == "judge"]
    return Verdict(value["judge_score"], value, all(r >= pass_rating for r in ratings), "", [], verdicts[0].model,
                   "judge" if asked else verdicts[0].source, sum(v.attempts for v in asked), _usage(asked), turns=turns)


def _usage(verdicts: list[Verdict]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for verdict in verdicts:
        for name, value in (verdict.usage or {}).items():
            if isinstance(value, (int, float)):
                total[name] = total.get(name, 0) + value
    return total


def explanation_of(raw: str) -> str:
    """The judge's explanation: the JSON reply's ``explanation``, else its text before the rating."""
    return explanation_in(raw, "explanation")
