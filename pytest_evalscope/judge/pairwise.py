"""Pairwise judging: two answers to one prompt, one verdict per game, each pair played twice.

Arena-Hard's judge (EvalScope's ``general_arena`` and ``arena_hard`` prompts, byte for byte) answers
one of five verdicts, ``A>>B``, ``A>B``, ``A=B``, ``B>A`` or ``B>>A``. The reply is read strictly
(contract.py): one JSON object whose ``verdict`` is one of them (or the same in brackets,
``[[A>B]]``), or, with no JSON, exactly one distinct ``[[...]]`` verdict in the text, as Arena-Hard's
own parser requires; anything else is unparseable, asked again, then an error.

AlpacaEval's judge names the better output's identifier: ``m`` (output 1) or ``M`` (output 2).

:func:`play` asks for both games at once, game 1 and game 2 with the answers swapped, each under its
own key (``<sample>#game1``, ``<sample>#game2``), so each is journaled and kept in ``judge_cache``
like any judge call; the result is one :class:`~.judge.Verdict` whose ``games`` keep both verdicts,
the candidate's slot in each, and the judge's reasoning.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..scoring.arena_stats import VERDICTS, prompt_result, prompt_score
from .contract import JudgeDefinition, explanation_in, template

if TYPE_CHECKING:
    from .judge import Judge, Verdict

_A_SCORE = {"A>>B": 1.0, "A>B": 1.0, "A=B": 0.5, "B>A": 0.0, "B>>A": 0.0}
BRACKETED = r"\[\[(.*?)\]\]"


def arena_hard_definition(question: str, answer_a: str, answer_b: str) -> JudgeDefinition:
    """Arena-Hard's grader (EvalScope's system prompt and template) for one game."""
    prompt = template("arena_hard").format(question=question, answer_1=answer_a, answer_2=answer_b)
    return JudgeDefinition(prompt, template("arena_hard_system"), {v: {"a_score": _A_SCORE[v]} for v in VERDICTS},
                           {v: f"[[{v}]]" for v in VERDICTS}, "a_score", score_pattern=BRACKETED, label_order=VERDICTS)


def alpaca_eval_definition(instruction: str, output_m: str, output_big_m: str) -> JudgeDefinition:
    """AlpacaEval's grader (EvalScope's prompts): ``m`` names output 1, ``M`` output 2."""
    prompt = template("alpaca_eval").format(instruction=instruction, output_1=output_m, output_2=output_big_m)
    return JudgeDefinition(prompt, template("alpaca_eval_system"), {"m": {"a_score": 1.0}, "M": {"a_score": 0.0}},
                           metric="a_score", label_order=("m", "M"), reasoning_key=False)


def five_point(verdict: str, kind: str) -> str:
    """A game's verdict on the five-point scale (AlpacaEval's m / M is a strong preference, as EvalScope scores it)."""
    if kind == "alpaca_eval":
        return "A>>B" if verdict == "m" else "B>>A"
    return verdict


@dataclass(frozen=True)
class Pairing:
    """One pair to judge: the prompt, the candidate's and the opponent's answers, and who goes first."""

    question: str
    candidate: str
    opponent: str
    kind: str = "arena_hard"  # arena_hard | alpaca_eval
    candidate_first: bool = True  # slot A in game 1 (general_arena: the candidate; arena_hard, alpaca_eval: the baseline)
    swap: bool = True  # play game 2 with the answers swapped

    def definition(self, candidate_in_a: bool) -> JudgeDefinition:
        a, b = (self.candidate, self.opponent) if candidate_in_a else (self.opponent, self.candidate)
        build = alpaca_eval_definition if self.kind == "alpaca_eval" else arena_hard_definition
        return build(self.question, a, b)


async def play(judge: Judge, key: str, pairing: Pairing) -> Verdict:
    """Both games of one pair (concurrently), combined into one Verdict for the sample."""
    from .judge import Verdict

    slots = [pairing.candidate_first] + ([not pairing.candidate_first] if pairing.swap else [])
    verdicts = await asyncio.gather(*(judge.grade(f"{key}#game{n}", pairing.definition(in_a))
                                      for n, in_a in enumerate(slots, start=1)))
    games = [{"candidate_slot": "A" if in_a else "B", "verdict": five_point(str(v.verdict), pairing.kind),
              "judge_verdict": str(v.verdict), "reasoning": reasoning_of(v.raw), "raw": v.raw, "source": v.source,
              "attempts": v.attempts, "messages": v.messages}
             for in_a, v in zip(slots, verdicts, strict=True)]
    oriented = [g["verdict"] if g["candidate_slot"] == "A" else _mirror(g["verdict"]) for g in games]
    result, strength = prompt_result(oriented[0], _mirror(oriented[1]) if len(oriented) > 1 else None)
    asked = [v for v in verdicts if v.source == "judge"]
    usage: dict[str, Any] = {}
    for v in verdicts:
        for name, value in (v.usage or {}).items():
            if isinstance(value, (int, float)):
                usage[name] = usage.get(name, 0) + value
    return Verdict(result, {"score": prompt_score(result, strength)}, result != "loss", "", [],
                   verdicts[0].model, "judge" if asked else verdicts[0].source,
                   sum(v.attempts for v in asked) if asked else 0, usage, games=games)


def _mirror(verdict: str) -> str:
    """The same verdict with the slots exchanged (what it says of the candidate had it sat in A)."""
    return {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}[verdict]


def reasoning_of(raw: str) -> str:
    """The judge's explanation: the JSON reply's ``reasoning``, else its text before the verdict."""
    return explanation_in(raw, "reasoning")
