"""Retrieval (MTEB's AbsTaskRetrieval, EvalScope's RAGEval custom retrieval task): one item per query.

Data: a folder in EvalScope's custom format or BEIR's (embedding/retrieval_data.py), given as
``dataset_args.retrieval.local_path``. The corpus is embedded as passages once per run (store.py), each
query as a query; documents are ranked by cosine similarity (``score_function``). With a ``reranker``
the first ``top_k`` documents are scored again by it and only they are kept (MTEB's two-stage protocol).
A reranker as the run's own model (eval_type rerank) scores every document of the corpus.

Scores per query: nDCG, MAP, recall, precision, MRR and hit rate at 1, 3, 5, 10, 20, 100, 1000
(embedding/trec.py); the report's main score is ``ndcg_at_10``, as MTEB's. A query fails when no
relevant document is in its first ``pass_at`` (10).

extra_params: ``top_k`` (100), ``reranker`` ({"model", "api_url", "api_key"?, "eval_type"?: rerank,
"model_args"?}), ``pass_at`` (10), ``score_function`` (cos_sim | dot), ``folders`` ({task: folder}: several
tasks, each a subset, in place of ``local_path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..datasets.local import DatasetError
from ..embedding.items import EmbeddingTask, ItemResult
from ..embedding.retrieval_data import RetrievalData, load_retrieval
from ..embedding.trec import CUTOFFS, metric_names, query_measures
from ..models.registry import ModelSpec, can
from ..params import ConfigError, bounded_int, did_you_mean
from ..registry import register_benchmark
from .base import Sample

if TYPE_CHECKING:  # numpy loads with the first retrieval item, not with every run's benchmark registry
    from ..embedding.engine import EmbedEngine

SCORE_FUNCTIONS = ("cos_sim", "dot")
RERANKER_KEYS = ("model", "api_url", "api_key", "eval_type", "model_args")
SHOWN = 10  # ranked documents kept in the record's output


def reranker_spec(value: Any, where: str) -> ModelSpec | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "model" not in value:
        raise ConfigError(f"{where}: expected a mapping with model and api_url, e.g. "
                          '{"model": "bge-reranker", "api_url": "http://127.0.0.1:8000/v1"}')
    for key in value:
        if key not in RERANKER_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, RERANKER_KEYS)}; valid: {', '.join(RERANKER_KEYS)}")
    spec = ModelSpec(str(value.get("eval_type", "rerank")), str(value["model"]), value.get("api_url"),
                     value.get("api_key") or "EMPTY", dict(value.get("model_args") or {}))
    if not can(spec, "rerank"):
        raise ConfigError(f"{where}.eval_type: {spec.backend} cannot rerank; use rerank")
    from ..models.registry import create

    create(spec)  # checks api_url and model_args now, before any request
    return spec


@register_benchmark
class Retrieval(EmbeddingTask):
    name = "retrieval"
    pretty_name = "Retrieval"
    description = "Dense retrieval over a corpus (EvalScope custom or BEIR format), scored as trec_eval does."
    dataset_id = ""
    metric_list: ClassVar[list[Any]] = metric_names()
    primary_metric = "ndcg_at_10"
    sample_keyword = "query_id"  # -k query3 selects that query's item
    console_metrics = ("ndcg_at_10", "map_at_10", "mrr_at_10", "recall_at_10", "recall_at_100")  # of 42
    model_abilities = ("embed", "rerank")  # a reranker alone scores the whole corpus
    needs_setup = "retrieval needs its data: dataset_args {\"retrieval\": {\"local_path\": \"<folder with corpus.jsonl>\"}}"
    extra_params: ClassVar[dict[str, Any]] = {"top_k": 100, "reranker": None, "pass_at": 10, "score_function": "cos_sim",
                                              "folders": None}

    def _apply_args(self) -> None:
        super()._apply_args()
        where = f"dataset_args.{self.name}.extra_params"
        self.top_k = bounded_int(1, 100000)(self.extra["top_k"], f"{where}.top_k")
        self.pass_at = bounded_int(1, max(CUTOFFS))(self.extra["pass_at"], f"{where}.pass_at")
        self.score_function = str(self.extra["score_function"])
        if self.score_function not in SCORE_FUNCTIONS:
            raise ConfigError(f"{where}.score_function: {self.score_function!r}{did_you_mean(self.score_function, SCORE_FUNCTIONS)}"
                              f"; valid: {', '.join(SCORE_FUNCTIONS)}")
        self.reranker = reranker_spec(self.extra["reranker"], f"{where}.reranker")
        self.folders = self._folders(self.extra["folders"], where)
        self._data: dict[str, RetrievalData] = {}

    def _folders(self, value: Any, where: str) -> dict[str, str] | None:
        """``folders: {task: folder}``: several retrieval tasks in one suite, each a subset (EvalScope's
        custom_tasks); subset_list defaults to their names."""
        if value is None:
            return None
        if not isinstance(value, dict) or not value or not all(isinstance(v, str) and v for v in value.values()):
            raise ConfigError(f"{where}.folders: expected a mapping of task names to folders, e.g. "
                              '{"CustomRetrieval": "custom_eval/text/retrieval"}')
        if self.args.get("local_path") or self.args.get("dataset_id"):
            raise ConfigError(f"{where}.folders: give folders or local_path, not both")
        if "subset_list" not in self.args:
            self.subset_list = [str(k) for k in value]  # type: ignore[misc]
        for subset in self.subset_list:
            if subset not in value:
                raise ConfigError(f"dataset_args.{self.name}.subset_list: {subset!r} is not a key of extra_params.folders "
                                  f"({', '.join(map(str, value))})")
        return {str(k): v for k, v in value.items()}

    def folder(self, subset: str = "default") -> Path:
        given = self.folders[subset] if self.folders else self.args.get("local_path") or self.args.get("dataset_id")
        if not given:
            raise ConfigError(f"dataset_args.{self.name}.local_path: give the folder holding corpus.jsonl, "
                              "queries.jsonl and qrels.jsonl (or BEIR's qrels/test.tsv)")
        path = Path(str(given)).expanduser()
        if not path.is_dir():
            key = f"extra_params.folders.{subset}" if self.folders else "local_path"
            raise ConfigError(f"dataset_args.{self.name}.{key}: {str(path)!r} is not a folder")
        return path

    def data(self, subset: str) -> RetrievalData:
        if subset not in self._data:
            self._data[subset] = load_retrieval(self.folder(subset), self.eval_split)
        return self._data[subset]

    def load_samples(self, subset: str, limit: int | float | None, repeats: int) -> list[Sample]:
        if repeats != 1:
            raise ConfigError(f"repeats: {self.name} ranks deterministically; leave repeats at 1")
        data = self.data(subset)
        judged = [q for q in data.queries if any(r >= 1 for r in data.qrels.get(q, {}).values())]
        if not judged:
            raise DatasetError(f"{self.folder(subset)}: no query has a relevant document in the qrels")
        if limit is not None:
            judged = judged[: int(len(judged) * limit) if isinstance(limit, float) else limit]
        return [Sample(i, subset, data.queries[q], ",".join(d for d, r in data.qrels[q].items() if r >= 1),
                       {"query_id": q, "qrels": data.qrels[q]}) for i, q in enumerate(judged)]

    def _prepare(self, engine: EmbedEngine, subset: str) -> dict[str, Any]:
        from ..embedding.ranking import id_order, unit_rows

        data = self.data(subset)
        state: dict[str, Any] = {"tie_rank": id_order(data.corpus_ids)}
        if engine.spec.backend and can(engine.spec, "embed"):
            corpus = engine.embed(data.corpus_texts, "passage")
            queries = engine.embed(list(data.queries.values()), "query")
            if self.score_function == "cos_sim":
                corpus, queries = unit_rows(corpus), unit_rows(queries)
            state.update(corpus=corpus, queries=dict(zip(data.queries, queries, strict=True)))
        return state

    def evaluate(self, engine: EmbedEngine, sample: Sample) -> ItemResult:
        import numpy as np

        from ..embedding.ranking import top_k

        data = self.data(sample.subset)
        state = engine.memo((id(self), sample.subset), lambda: self._prepare(engine, sample.subset))
        query_id = sample.metadata["query_id"]
        if "corpus" in state:  # dense first stage
            scores = state["corpus"] @ state["queries"][query_id]
            depth = self.top_k if self.reranker is not None else max(CUTOFFS)
            ranked = top_k(scores, state["tie_rank"], min(depth, len(scores)))
            run = {data.corpus_ids[i]: float(scores[i]) for i in ranked}
            reranker = engine.reranker(self.reranker) if self.reranker is not None else None
        else:  # the run's model is a reranker: it scores the whole corpus
            ranked, run, reranker = np.arange(len(data.corpus_ids)), {}, engine.reranker()
        if reranker is not None:
            values = engine.run(reranker.rerank(sample.input, [data.corpus_texts[i] for i in ranked]))
            scores = np.full(len(data.corpus_ids), -np.inf)
            scores[ranked] = values
            order = top_k(scores, state["tie_rank"], len(ranked))
            run = {data.corpus_ids[i]: float(scores[i]) for i in order}
        return self._result(list(run), run, sample.metadata["qrels"])

    def _result(self, ranked: list[str], run: dict[str, float], qrels: dict[str, int]) -> ItemResult:
        measures = query_measures(ranked, qrels)
        hit = measures.get(f"hit_rate_at_{self.pass_at}")
        if hit is None:  # pass_at between the reported cutoffs
            hit = float(any(qrels.get(d, 0) >= 1 for d in ranked[: self.pass_at]))
        first = next((n for n, d in enumerate(ranked, 1) if qrels.get(d, 0) >= 1), None)
        content = "\n".join(f"{d}\t{run[d]:.6f}" for d in ranked[:SHOWN])
        why = None if hit else (f"no relevant document in the top {self.pass_at}; first relevant at rank "
                                f"{first if first else 'none (not retrieved)'}")
        return ItemResult(measures, bool(hit), ranked[0] if ranked else None, content, why)
