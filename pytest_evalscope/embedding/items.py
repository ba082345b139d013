"""One pytest item per query (retrieval), pair (STS) or text (classification).

An :class:`EmbedItem` is a SampleItem whose setup asks its task (an :class:`EmbeddingTask`) instead of
the chat pipeline: the task encodes what the whole subset shares once (engine.py, store.py), then scores
this one sample. A model failure is the item's error (fatal kinds stop the run, as for chat models); a
poor ranking or a wrong label fails it; the record it leaves has the same schema as every sample's, so
reports, gates, ``--lf``, xdist and baseline comparison work unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..benchmarks.base import Benchmark, Sample, Score
from ..items import SampleError, SampleItem
from ..models import candidate_spec
from ..models.base import ModelError, ModelOutput
from ..params import ConfigError
from ..pipeline import FATAL_KINDS

if TYPE_CHECKING:  # numpy and the store load with the first embedding item, not with every run
    from .engine import EmbedEngine


@dataclass
class ItemResult:
    """What a task made of one sample."""

    score: dict[str, float]
    correct: bool
    extracted: str | None  # the top document, the predicted label, the similarity
    content: str  # the prediction as text (ranked ids with scores, per-experiment labels)
    explanation: str | None = None  # why it failed, in one line
    metadata: dict[str, Any] = field(default_factory=dict)


class EmbeddingTask(Benchmark):
    """A benchmark scored from embeddings (or reranker scores) rather than generated text."""

    model_abilities: tuple[str, ...] = ("embed",)  # what the run's model must be able to do, any one (registry abilities)
    explain_failures = True

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, str]]:
        return [{"role": "user", "content": sample.input}]

    def evaluate(self, engine: EmbedEngine, sample: Sample) -> ItemResult:
        raise NotImplementedError


class EmbedItem(SampleItem):
    benchmark: EmbeddingTask

    def messages(self) -> list[dict[str, str]]:
        if self._messages is None:
            self._messages = self.benchmark.build_messages(self.sample, [])
        return self._messages

    def cached(self) -> bool:
        return True  # nothing for the chat pipeline to load or prefetch

    def submit(self) -> None:
        return None

    def setup(self) -> None:
        """Score the sample (the subset's shared work first, if this process has not done it); a model that
        fails is this item's error, and a fatal one (unreachable, 401, a model that cannot load) stops the run."""
        self.record = self._base_record(cached=False)
        self.record["status"] = "error"
        from .engine import engine_for

        engine = engine_for(self.config, candidate_spec(self.runtime.config), self.runtime.run_dir)
        self.runtime.embed_engine = engine  # its request and encoding figures reach perf_metrics.model
        started = time.perf_counter()
        try:
            result = self._evaluate(engine)
        except ModelError as error:
            self.record["error"] = error.to_dict()
            self.user_properties.append(("error", f"{error.kind}: {error}"))
            if error.kind in FATAL_KINDS:
                self.session.shouldstop = f"evalscope: {error}; check api_url, api_key and model ({self.runtime.config.model!r})"
            raise SampleError(f"{error.kind} after {error.attempts} attempt(s): {error}") from None
        output = ModelOutput(result.content, latency=time.perf_counter() - started, model=engine.spec.model)
        self.record["output"] = output.to_dict()
        if result.metadata:
            self.record["metadata"] = {**self.record["metadata"], **result.metadata}
        self.record.update(status="correct" if result.correct else "wrong", score=result.score,
                           extracted=result.extracted, score_status="success", explanation=result.explanation)
        self._add_properties(self.record["output"], Score(result.score, result.extracted, result.correct))

    def _evaluate(self, engine: EmbedEngine) -> ItemResult:
        try:
            return self.benchmark.evaluate(engine, self.sample)
        except ConfigError as exc:  # a model that cannot be made here (its runtime is not installed)
            raise ModelError("model_load", str(exc)) from None


EmbeddingTask.item_class = EmbedItem  # type: ignore[attr-defined]  # plugin.py builds items of this class
