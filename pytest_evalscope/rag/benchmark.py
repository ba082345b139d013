"""``ragas``: a RAG system's recorded answers scored by the RAG metrics, one pytest item per input row.

EvalScope runs these through the RAGAS library (``eval_backend: RAGEval``, ``tool: RAGAS``); here each row
of the same input file is a sample (``ragas[default-3]``) whose reply is the row's ``response``, given to
the pipeline as a known reply (the candidate model is never called), and scored on the judge layer::

    dataset_args = {"ragas": {"dataset_id": "outputs/testset.json",
                              "extra_params": {"metrics": ["faithfulness", "answer_relevancy"],
                                               "embeddings": {"model_name_or_path": "m3e-base", "provider": "openai",
                                                              "api_base": "http://127.0.0.1:8002/v1"}}}}

with the judge in ``judge_model_args`` (EvalScope's ``critic_llm``). ``extra_params``:

- ``metrics``: any of faithfulness, answer_relevancy, context_precision, context_recall, by RAGAS's snake
  or class names (``Faithfulness``, ``AnswerRelevancy``/``ResponseRelevancy``, ``ContextPrecision``/
  ``LLMContextPrecisionWithReference``, ``ContextRecall``/``LLMContextRecall``); default EvalScope's
  ``[answer_relevancy, faithfulness]``;
- ``embeddings``: EvalScope's embeddings block (rag/embedder.py), needed by answer_relevancy only;
- ``strictness``: questions generated per answer for answer_relevancy (RAGAS's 3);
- ``threshold``: an item passes when every metric reaches it (default 0.5);
- ``language``: accepted as in EvalScope; the instructions stay English, the texts are sent as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ..benchmarks.base import Benchmark, Sample, Score
from ..datasets.local import DatasetError
from ..judge.judge import Verdict
from ..params import ConfigError, did_you_mean
from ..registry import register_benchmark
from . import metrics
from .data import RagRow, read_rows, to_row
from .embedder import check_embeddings, encoder_from

# RAGAS's names (snake and class) of the metrics computed here
ALIASES = {"faithfulness": "faithfulness", "Faithfulness": "faithfulness",
           "answer_relevancy": "answer_relevancy", "AnswerRelevancy": "answer_relevancy",
           "ResponseRelevancy": "answer_relevancy", "response_relevancy": "answer_relevancy",
           "context_precision": "context_precision", "ContextPrecision": "context_precision",
           "LLMContextPrecisionWithReference": "context_precision",
           "llm_context_precision_with_reference": "context_precision",
           "context_recall": "context_recall", "ContextRecall": "context_recall",
           "LLMContextRecall": "context_recall", "llm_context_recall": "context_recall"}
DEFAULT_METRICS = ["answer_relevancy", "faithfulness"]  # EvalScope's RAGASEvalConfig default


def native_metric(name: str) -> str | None:
    """The metric computed here for a RAGAS metric name, or None when it is not one of the four."""
    return ALIASES.get(str(name))


@register_benchmark
class Ragas(Benchmark):
    name = "ragas"
    pretty_name = "RAGAS"
    description = ("A RAG system's recorded answers scored by judge prompts with JSON verdicts (faithfulness, "
                   "context precision and recall) and embeddings (answer relevancy), as RAGAS defines them.")
    dataset_id = "outputs/testset.json"
    needs_setup = ("ragas scores a RAGAS input file: give dataset_args.ragas.dataset_id (the JSON file with "
                   "user_input, response, retrieved_contexts, reference) and judge_model_args")
    scoring_policy = "judge_only"
    explain_failures = True
    eval_split = "test"
    extra_params: ClassVar[dict[str, Any]] = {"metrics": DEFAULT_METRICS, "embeddings": None, "strictness": 3,
                                              "threshold": 0.5, "language": "english"}

    def _apply_args(self) -> None:
        super()._apply_args()
        where = f"dataset_args.{self.name}.extra_params"
        given = self.extra["metrics"]
        if isinstance(given, str) or not isinstance(given, list) or not given:
            raise ConfigError(f"{where}.metrics: expected a list such as [\"faithfulness\", \"answer_relevancy\"]")
        chosen = []
        for name in given:
            metric = native_metric(name)
            if metric is None:
                raise ConfigError(f"{where}.metrics: {name!r} is not computed here{did_you_mean(str(name), list(ALIASES))}; "
                                  f"native: {', '.join(metrics.METRICS)} (other RAGAS metrics run through eval_backend "
                                  "RAGEval with ragas installed)")
            if metric not in chosen:
                chosen.append(metric)
        self.rag_metrics = tuple(chosen)
        self.metric_list = list(chosen)  # type: ignore[misc]
        strictness = self.extra["strictness"]
        if isinstance(strictness, bool) or not isinstance(strictness, int) or not 1 <= strictness <= 10:
            raise ConfigError(f"{where}.strictness: expected an integer from 1 to 10 (RAGAS uses 3), got {strictness!r}")
        threshold = self.extra["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise ConfigError(f"{where}.threshold: expected a number in [0, 1], got {threshold!r}")
        self.embeddings = None
        if "answer_relevancy" in self.rag_metrics:
            if self.extra["embeddings"] is None:
                raise ConfigError(f"{where}.embeddings: answer_relevancy needs an embedding model, e.g. "
                                  "{\"model_name_or_path\": \"bge-m3\", \"provider\": \"openai\", \"api_base\": \"http://127.0.0.1:8002/v1\"}")
            self.embeddings = check_embeddings(self.extra["embeddings"], f"{where}.embeddings")
        self._encoder: Any = None

    def score(self, sample: Sample, answer_text: str) -> Score:
        raise ConfigError("ragas has no rule to score by; its metrics are judged (judge_model_args)")

    # ------------------------------------------------------------ data

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        path = Path(self.dataset_id).expanduser()
        needs = tuple(dict.fromkeys(f for m in self.rag_metrics for f in metrics.NEEDS[m]))
        rows = read_rows(path)
        if not rows:
            raise DatasetError(f"{path}: holds no rows")
        return [to_row(raw, f"{path} row {i}", needs).__dict__ for i, raw in enumerate(rows)]

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        return Sample(index=index, subset=subset, input=record["user_input"], target=record["reference"] or "",
                      metadata={"response": record["response"], "retrieved_contexts": list(record["retrieved_contexts"])})

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, str]]:
        return [{"role": "user", "content": sample.input}]

    def given_reply(self, sample: Sample) -> str | None:
        return str(sample.metadata["response"])

    # ------------------------------------------------------------ judging

    async def judge_sample(self, judge: Any, key: str, sample: Sample, prediction: str, answer_text: str,
                           rule: Score | None) -> tuple[Score, Any]:
        row = RagRow(sample.input, prediction, tuple(sample.metadata["retrieved_contexts"]), sample.target or None)
        if self._encoder is None and self.embeddings is not None:
            self._encoder = encoder_from(self.embeddings)
        values, steps = await metrics.compute(self.rag_metrics, judge, key, row, self._encoder, self.extra["strictness"])
        threshold = float(self.extra["threshold"])
        explanation = explain(values, threshold)
        passed = all(v >= threshold for v in values.values())
        return Score(values, None, passed, explanation=explanation), RagVerdict.of(values, passed, steps.calls)


def explain(values: dict[str, float], threshold: float) -> str:
    """The item's one-line reason: each metric under the threshold, then the ones that reached it
    (``faithfulness 0.333 < 0.5; reached: context_recall 1``)."""
    below = [f"{m} {v:.3g} < {threshold:g}" for m, v in values.items() if v < threshold]
    reached = ", ".join(f"{m} {v:.3g}" for m, v in values.items() if v >= threshold)
    if not below:
        return f"every metric reached {threshold:g}: {reached}"
    return ", ".join(below) + (f"; reached: {reached}" if reached else "")


class RagVerdict(Verdict):
    """A sample's verdict made of several judge calls, each kept in `steps` (key, verdict, raw reply, source);
    `verdict` is pass or fail, `source` judge when any call was asked now, `attempts` and `usage` theirs."""

    def __init__(self, *args: Any, steps: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = steps

    @classmethod
    def of(cls, values: dict[str, float], passed: bool, calls: list[dict[str, Any]]) -> RagVerdict:
        asked = [c for c in calls if c["source"] == "judge"]
        usage: dict[str, Any] = {}
        for call in asked:
            for name, value in (call["usage"] or {}).items():
                if isinstance(value, (int, float)):
                    usage[name] = usage.get(name, 0) + value
        source = "judge" if asked or not calls else calls[0]["source"]
        return cls("pass" if passed else "fail", values, passed, "", [], next((c["model"] for c in calls if c["model"]), None),
                   source, sum(c["attempts"] for c in asked), usage,
                   steps=[{k: v for k, v in c.items() if k not in ("model", "usage")} for c in calls])
