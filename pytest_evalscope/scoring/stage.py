"""Scoring as a stage of the request pipeline: reply -> score, on the pipeline's event loop.

``await score_reply(...)`` runs for each sample as soon as its reply is in, while other requests are
in flight, so judging overlaps generation and a sandbox runs off pytest's thread. The strategy
(EvalScope's ``judge_strategy``) picks the scorer:

- ``rule``: the benchmark's own rule (``Benchmark.score``; code benchmarks in a worker thread);
- ``llm``: the judge decides (a benchmark may have no rule: SimpleQA);
- ``llm_recall``: the rule, and the judge only when the rule says wrong; the better of the two;
- ``auto``: ``rule``, or ``llm`` for benchmarks scored by a judge only.

A judge that cannot be reached or whose verdict does not parse raises ModelError (the sample is an
error); a scorer that raises anything else is a bug, reported as a ``scoring`` error.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..models.base import ModelError, ModelOutput
from .numeric import split_reasoning

if TYPE_CHECKING:
    from ..benchmarks.base import Benchmark, Sample, Score
    from ..judge import Judge, Verdict



@dataclass
class Scored:
    score: Score
    reasoning: str | None
    judge: Verdict | None = None


def strategy_for(benchmark: Benchmark, strategy: str | None) -> str:
    """The scorer a sample of `benchmark` gets under the run's judge_strategy."""
    if strategy in (None, "auto"):
        return "llm" if benchmark.scoring_policy == "judge_only" else "rule"
    return strategy


class Scorer:
    """The scoring stage of one process: the judge (when the run has one) and the slots for code runs."""

    def __init__(self, strategy: str | None, judge: Judge | None) -> None:
        self.strategy = strategy
        self.judge = judge
        self._code_slots: asyncio.Semaphore | None = None

    async def score(self, key: str, benchmark: Benchmark, sample: Sample, output: ModelOutput) -> Scored:
        answer_text, think = split_reasoning(output.content)
        reasoning = output.reasoning or think or None
        if output.choice_scores is not None:
            return Scored(benchmark.score_choices(sample, output.choice_scores), reasoning)
        mode = strategy_for(benchmark, self.strategy)
        rule: Score | None = None
        if mode in ("rule", "llm_recall"):
            rule = await self._rule(benchmark, sample, answer_text)
            if mode == "rule" or rule.correct:
                return Scored(rule, reasoning)
        if self.judge is None:
            raise ModelError("judge_missing", f"{benchmark.name} needs a judge model (judge_model_args)")
        score, verdict = await benchmark.judge_output(self.judge, key, sample, output, answer_text, rule)
        return Scored(score, reasoning, verdict)

    async def _rule(self, benchmark: Benchmark, sample: Sample, answer_text: str) -> Score:
        if not benchmark.runs_code:
            return benchmark.score(sample, answer_text)
        if self._code_slots is None:  # sandboxed programs in parallel, one per core
            self._code_slots = asyncio.Semaphore(max(1, os.cpu_count() or 1))
        async with self._code_slots:
            return await asyncio.to_thread(benchmark.score, sample, answer_text)


def judge_fields(verdict: Verdict | None) -> dict[str, Any] | None:
    return None if verdict is None else verdict.to_dict()
