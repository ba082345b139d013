"""The four RAG metrics, computed as RAGAS defines them, from judge verdicts (prompts.py) and embeddings.

- ``faithfulness`` = statements of the response that the retrieved contexts support / statements;
- ``answer_relevancy`` = mean cosine between the question's embedding (as a query) and the embeddings of the
  questions the judge writes from the response (as passages; ``strictness`` of them, RAGAS's default 3), and
  0 when every one of those calls says the response is noncommittal (RAGAS 0.4, which EvalScope 1.14.1
  requires, zeroes on all; older RAGAS on any);
- ``context_precision`` = mean precision@k over the positions k of the contexts judged useful for reaching
  the reference (RAGAS's LLMContextPrecisionWithReference; 0 when none is useful);
- ``context_recall`` = sentences of the reference that the contexts hold / sentences.

Every judge call goes through :meth:`Judge.grade` under its own key (``<sample>#faithfulness.support`` ...),
so it is journaled for ``use_cache`` and kept in ``judge_cache`` like any verdict. A judge or embedding
failure raises ModelError: the sample is an error, never a score.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..judge.judge import Judge, Verdict
from ..models.base import ModelError
from ..models.embedding import EncoderAPI
from . import prompts
from .data import RagRow

METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
# the fields of a row each metric reads
NEEDS = {"faithfulness": ("user_input", "response", "retrieved_contexts"),
         "answer_relevancy": ("user_input", "response"),
         "context_precision": ("user_input", "retrieved_contexts", "reference"),
         "context_recall": ("user_input", "retrieved_contexts", "reference")}


@dataclass
class Steps:
    """The judge calls one sample made, for its record."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    async def ask(self, judge: Judge, key: str, definition: Any) -> Any:
        verdict: Verdict = await judge.grade(key, definition)
        self.calls.append({"key": key.rsplit("#", 1)[-1], "verdict": verdict.verdict, "raw": verdict.raw,
                           "source": verdict.source, "attempts": verdict.attempts, "usage": verdict.usage,
                           "model": verdict.model})
        return verdict.verdict


def context_text(row: RagRow) -> str:
    return "\n".join(row.retrieved_contexts)


async def faithfulness(judge: Judge, key: str, row: RagRow, steps: Steps) -> float:
    claims = await steps.ask(judge, f"{key}#faithfulness.statements", prompts.statements(row.user_input, row.response))
    verdicts = await steps.ask(judge, f"{key}#faithfulness.support", prompts.support(context_text(row), claims))
    return sum(verdicts) / len(verdicts)


async def answer_relevancy(judge: Judge, key: str, row: RagRow, steps: Steps, encoder: EncoderAPI,
                           strictness: int) -> float:
    replies = await asyncio.gather(*(steps.ask(judge, f"{key}#answer_relevancy.q{n}", prompts.question(row.response))
                                     for n in range(1, strictness + 1)))
    if all(noncommittal for _, noncommittal in replies):
        return 0.0
    query = await _embed(encoder, [row.user_input], "query")
    generated = await _embed(encoder, [text for text, _ in replies], "passage")
    return float(np.mean(cosines(query[0], generated)))


async def context_precision(judge: Judge, key: str, row: RagRow, steps: Steps) -> float:
    verdicts = await asyncio.gather(*(
        steps.ask(judge, f"{key}#context_precision.c{i}", prompts.useful(row.user_input, str(row.reference), context))
        for i, context in enumerate(row.retrieved_contexts)))
    return average_precision(list(verdicts))


async def context_recall(judge: Judge, key: str, row: RagRow, steps: Steps) -> float:
    verdicts = await steps.ask(judge, f"{key}#context_recall",
                               prompts.attributed(row.user_input, context_text(row), str(row.reference)))
    return sum(verdicts) / len(verdicts)


def average_precision(useful: list[int]) -> float:
    """Mean of precision@k over the positions k holding a useful context (0 when none is)."""
    hits, total = 0, 0.0
    for k, verdict in enumerate(useful, start=1):
        if verdict:
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


def cosines(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(query)
    if not np.all(norms > 0):
        raise ModelError("embedding_invalid", "the embedding model returned a zero vector; cosine is undefined")
    return (rows @ query) / norms


async def _embed(encoder: EncoderAPI, texts: list[str], kind: Any) -> np.ndarray:
    vectors = np.asarray(await encoder.embed(texts, kind=kind), dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts) or not np.all(np.isfinite(vectors)):
        raise ModelError("embedding_invalid", f"the embedding model returned shape {vectors.shape} (or non-finite "
                         f"values) for {len(texts)} texts; expected one finite row per text")
    return vectors


async def compute(metrics: tuple[str, ...], judge: Judge, key: str, row: RagRow, encoder: EncoderAPI | None,
                  strictness: int) -> tuple[dict[str, float], Steps]:
    """Every requested metric of one row, concurrently; the judge calls made are in the Steps."""
    steps = Steps()
    jobs = {"faithfulness": lambda: faithfulness(judge, key, row, steps),
            "answer_relevancy": lambda: answer_relevancy(judge, key, row, steps, encoder, strictness),  # type: ignore[arg-type]
            "context_precision": lambda: context_precision(judge, key, row, steps),
            "context_recall": lambda: context_recall(judge, key, row, steps)}
    values = await asyncio.gather(*(jobs[name]() for name in metrics))
    return {name: round(float(v), 6) for name, v in zip(metrics, values, strict=True)}, steps
