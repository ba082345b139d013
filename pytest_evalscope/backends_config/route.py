"""Where a validated ``eval_config`` runs: natively as pytest items, or delegated to the backend.

:func:`route` returns a :class:`NativePlan` (the TaskConfig settings that run the same evaluation
natively) or a :class:`Delegation` (the backend, what it needs installed, and why it cannot run here):

- RAGEval / RAGAS ``eval`` whose metrics are the four computed here (rag/) and whose embeddings provider
  has a native encoder: the ``ragas`` suite, the critic LLM as the judge;
- RAGEval / MTEB whose every task is served by a native benchmark (an adapter declaring ``mteb_name``,
  from the embedding tasks): those suites, the first model as the model under test;
- RAGEval / MTEB with custom retrieval tasks whose embedding model is an API or a local folder, and whose
  reranker (``is_cross_encoder``), if any, is a rerank API: the ``retrieval`` suite (several tasks: a subset
  each), two-stage with the reranker (embedding/mteb_tasks.py);
- everything else (RAGAS testset generation or other metrics, MTEB tasks without a native adapter or named
  by task_types, hub models, local cross-encoders, named tasks beside custom ones, clip_benchmark,
  OpenCompass, VLMEvalKit): delegated, with the reason in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..params import ConfigError


@dataclass(frozen=True)
class NativePlan:
    backend: str
    tool: str | None
    settings: dict[str, Any]  # TaskConfig keys that replace eval_config: datasets, dataset_args, judge_model_args, ...
    note: str


@dataclass(frozen=True)
class Delegation:
    backend: str
    tool: str | None
    config: dict[str, Any]
    modules: tuple[str, ...]  # what the backend's interpreter must import
    install: str  # the pip line that installs them
    reason: str  # why it is not run natively


INSTALL = {"OpenCompass": (("evalscope", "opencompass"), "pip install 'evalscope[opencompass]'"),
           "VLMEvalKit": (("evalscope", "vlmeval"), "pip install 'evalscope[vlmeval]'"),
           "mteb": (("evalscope", "mteb", "sentence_transformers"), "pip install 'evalscope[rag]'"),
           "ragas": (("evalscope", "ragas"), "pip install 'evalscope[rag]'"),
           "clip_benchmark": (("evalscope", "webdataset", "torch"), "pip install 'evalscope[rag]'")}


def route(backend: str, config: dict[str, Any]) -> NativePlan | Delegation:
    if backend == "RAGEval":
        tool = config["tool"]
        if tool == "ragas":
            return _ragas(config)
        if tool == "mteb":
            return _mteb(config)
        return delegation(backend, tool, config, "clip_benchmark (CLIP image-text models) has no native counterpart here")
    return delegation(backend, None, config, f"{backend} runs its own datasets and models; none of it is native here")


def delegation(backend: str, tool: str | None, config: dict[str, Any], reason: str) -> Delegation:
    modules, install = INSTALL[tool or backend]
    return Delegation(backend, tool, config, modules, install, reason)


def _ragas(config: dict[str, Any]) -> NativePlan | Delegation:
    from ..rag.benchmark import DEFAULT_METRICS, native_metric
    from ..rag.embedder import check_embeddings

    if config.get("testset_generation") is not None:
        return delegation("RAGEval", "ragas", config, "testset_generation is done by the ragas library")
    block = config["eval"]
    names = block.get("metrics") or DEFAULT_METRICS
    foreign = [m for m in names if native_metric(m) is None]
    if foreign:
        return delegation("RAGEval", "ragas", config, f"metrics {', '.join(foreign)} are computed by the ragas library only "
                          "(native: faithfulness, answer_relevancy, context_precision, context_recall)")
    critic = block["critic_llm"]
    if str(critic.get("provider") or "openai") != "openai":
        return delegation("RAGEval", "ragas", config, f"critic_llm provider {critic['provider']!r} is not an "
                          "OpenAI-compatible server")
    embeddings = dict(block["embeddings"])
    if any(native_metric(m) == "answer_relevancy" for m in names):
        try:
            embeddings = check_embeddings(embeddings, "eval_config.eval.embeddings")
        except ConfigError as exc:
            return delegation("RAGEval", "ragas", config, f"answer_relevancy's embeddings have no native encoder ({exc})")
    generation = {k: critic[k] for k in ("temperature", "max_tokens") if critic.get(k) is not None}
    judge = {"model_id": critic["model_name"], "api_url": critic.get("api_base") or "https://api.openai.com/v1",
             **({"api_key": critic["api_key"]} if critic.get("api_key") else {}),
             **({"generation_config": generation} if generation else {})}
    testset = Path(str(block["testset_file"]))
    extra = {"metrics": list(names), "embeddings": embeddings, "language": block.get("language", "english")}
    settings = {"datasets": ["ragas"], "dataset_args": {"ragas": {"dataset_id": str(testset), "extra_params": extra}},
                "judge_model_args": judge, "judge_strategy": "llm", "eval_type": "mock", "model": "ragas",
                "model_id": _plain(testset.stem) or "ragas"}
    if block.get("batch_size"):
        settings["judge_worker_num"] = block["batch_size"]
    return NativePlan("RAGEval", "ragas", settings, f"RAGAS eval of {testset} runs natively (suite ragas)")


def native_mteb_tasks() -> dict[str, str]:
    """MTEB task name -> the native benchmark that runs it (adapters that declare ``mteb_name``)."""
    from ..registry import _BENCHMARKS, _load_builtins

    _load_builtins()
    return {str(cls.mteb_name): name for name, cls in _BENCHMARKS.items() if getattr(cls, "mteb_name", None)}


def _mteb(config: dict[str, Any]) -> NativePlan | Delegation:
    evaluation = config["eval"]
    names = _as_list(evaluation.get("task_names") or [])
    if evaluation.get("task_types"):
        return delegation("RAGEval", "mteb", config, "task_types are resolved against MTEB's task registry by the mteb library")
    native = native_mteb_tasks()
    missing = [n for n in names if n not in native]
    if missing:
        return delegation("RAGEval", "mteb", config, f"MTEB tasks {', '.join(missing[:5])} have no native benchmark here")
    if evaluation.get("custom_tasks"):
        return _mteb_custom(config)
    if len(config["models"]) != 1:
        return delegation("RAGEval", "mteb", config, "a reranker runs natively only on custom retrieval tasks; MTEB's "
                          "named retrieval tasks are downloaded by the mteb library")
    model = config["models"][0]
    settings: dict[str, Any] = {"datasets": [native[n] for n in names],
                                "model": model.get("model_name") or model.get("model_name_or_path")}
    if model.get("api_base"):
        settings.update(api_url=model["api_base"], **({"api_key": model["api_key"]} if model.get("api_key") else {}))
    from ..models.registry import backend_names

    backend = "embedding" if model.get("api_base") else "encoder"  # /v1/embeddings, or a local model folder
    if backend in backend_names():
        settings["eval_type"] = backend
    if evaluation.get("limits"):
        settings["limit"] = evaluation["limits"]
    return NativePlan("RAGEval", "mteb", settings, f"MTEB tasks {', '.join(names)} run natively")


def _mteb_custom(config: dict[str, Any]) -> NativePlan | Delegation:
    """Custom retrieval tasks (one, with or without an API reranker) as the native ``retrieval`` suite."""
    from ..embedding.mteb_tasks import mteb_task_configs

    why = _mteb_models_not_native(config["models"])
    if why:
        return delegation("RAGEval", "mteb", config, why)
    evaluation = config["eval"]
    if evaluation.get("task_names"):
        return delegation("RAGEval", "mteb", config, "named tasks beside custom ones are several native runs (a suite "
                          "each): run them with pytest_evalscope.embedding.mteb_task_configs and run_task, one by one")
    configs = mteb_task_configs({k: v for k, v in config.items() if k != "tool"})
    tasks = evaluation["custom_tasks"]
    stage = " then reranked" if len(config["models"]) > 1 else ""
    if len(tasks) == 1:
        return NativePlan("RAGEval", "mteb", configs[0], f"custom retrieval task {tasks[0].get('name') or tasks[0]['data_path']} "
                          f"runs natively{stage} (suite retrieval)")
    # several custom tasks: one retrieval suite, a subset per task (retrieval's extra_params.folders)
    names = [str(t.get("name") or "CustomRetrieval") for t in tasks]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise ConfigError(f"eval_config.eval.custom_tasks: {names.count(twice)} tasks are named {twice!r}; give each its "
                          "own name (it names its subset and its scores)")
    splits = {c["dataset_args"]["retrieval"]["eval_split"] for c in configs}
    if len(splits) > 1:
        return delegation("RAGEval", "mteb", config, f"custom tasks evaluated on different splits ({', '.join(sorted(splits))}) "
                          "are several native runs: run them with mteb_task_configs and run_task, one by one")
    args = {k: v for k, v in configs[0]["dataset_args"]["retrieval"].items() if k != "local_path"}
    args["extra_params"] = {**args.get("extra_params", {}), "folders": {n: t["data_path"] for n, t in zip(names, tasks, strict=True)}}
    settings = {**configs[0], "dataset_args": {"retrieval": args}}
    return NativePlan("RAGEval", "mteb", settings, f"custom retrieval tasks {', '.join(names)} run natively{stage} "
                      "(suite retrieval, a subset each)")


def _mteb_models_not_native(models: list[dict[str, Any]]) -> str | None:
    """Why these MTEB models cannot run here (None when they can): an embedding model is an API or a local
    folder, a cross-encoder an API (``/rerank``)."""
    encoders = [m for m in models if not m.get("is_cross_encoder")]
    rerankers = [m for m in models if m.get("is_cross_encoder")]
    if len(encoders) != 1 or len(rerankers) > 1:
        return f"{len(encoders)} embedding models and {len(rerankers)} rerankers: a native run takes one of each at most"
    for model in rerankers:
        if not model.get("api_base"):
            return (f"cross-encoder {model.get('model_name_or_path')} is a local model, run by the mteb library; "
                    "natively a reranker is a rerank API (give api_base and model_name)")
    model = encoders[0]
    if not model.get("api_base") and not Path(str(model.get("model_name_or_path"))).is_dir():
        return (f"model {model.get('model_name_or_path')} is not a local folder (hub models are downloaded by the mteb "
                "library); natively give a sentence-transformers folder, or model_name with api_base")
    return None


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _plain(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
