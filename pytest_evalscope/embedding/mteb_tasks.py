"""EvalScope's ``eval_backend: RAGEval`` MTEB configuration turned into native runs.

    from pytest_evalscope.embedding.mteb_tasks import mteb_task_configs
    from pytest_evalscope import run_task

    for task in mteb_task_configs(eval_config, data_dirs={"Banking77Classification": "../shared/datasets/banking77"}):
        reports = run_task(task)

`eval_config` is EvalScope 1.14.1's ``eval_config`` for ``tool: mteb``: ``models`` (``model_name_or_path`` for
a local sentence-transformers folder; ``model_name`` + ``api_base`` (+ ``api_key``, ``dimensions``) for an
OpenAI-compatible embeddings API; ``is_cross_encoder: true`` with ``api_base`` for a rerank API, which makes
retrieval two-stage with ``eval.top_k``), and ``eval`` (``task_names``, ``custom_tasks`` [{name, data_path}],
``limits``). Each returned dict is a TaskConfig for :func:`run_task` (one per custom retrieval task, since
a run has one ``retrieval`` suite). Tasks whose data has no hub loader here take their folder from
``data_dirs``. A name this project does not implement is a ConfigError naming the ones it does.
"""

from __future__ import annotations

from typing import Any

from ..params import ConfigError, did_you_mean

# MTEB task name -> (native benchmark, what data_dirs must give)
MTEB_TASKS = {"Banking77Classification": "banking77_classification"}  # the adapters declaring mteb_name
MODEL_KEYS = ("model_name_or_path", "model_name", "api_base", "api_key", "dimensions", "is_cross_encoder",
              "pooling_mode", "max_seq_length", "prompt", "prompts", "model_kwargs", "encode_kwargs", "hub")
EVAL_KEYS = ("task_names", "task_types", "languages", "custom_tasks", "output_folder", "overwrite_results", "limits",
             "hub", "top_k", "splits", "encode_kwargs")


def _check(mapping: Any, known: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    for key in mapping:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(str(key), known)}; valid: {', '.join(known)}")
    return mapping


def encoder_settings(model: dict[str, Any]) -> dict[str, Any]:
    """An MTEB model entry as the TaskConfig keys of an embedding model."""
    args: dict[str, Any] = {}
    if model.get("prompt"):
        args["prompt"] = model["prompt"]
    if model.get("max_seq_length") is not None:
        args["max_seq_length"] = model["max_seq_length"]
    batch = (model.get("encode_kwargs") or {}).get("batch_size")
    if batch is not None:
        args["batch_size"] = batch
    if model.get("api_base"):
        if model.get("dimensions") is not None:
            args["dimensions"] = model["dimensions"]
        return {"eval_type": "embedding", "model": model.get("model_name") or model.get("model_name_or_path"),
                "api_url": model["api_base"], "api_key": model.get("api_key") or "EMPTY", "model_args": args}
    if model.get("pooling_mode"):
        raise ConfigError("models[].pooling_mode: the local encoder reads pooling from the folder's 1_Pooling/config.json; "
                          "leave pooling_mode out")
    return {"eval_type": "encoder", "model": model["model_name_or_path"], "model_args": args}


def reranker_settings(model: dict[str, Any]) -> dict[str, Any]:
    if not model.get("api_base"):
        raise ConfigError("models[]: a cross-encoder runs here only behind a rerank API; give api_base (and model_name)")
    return {"model": model.get("model_name") or model.get("model_name_or_path"), "api_url": model["api_base"],
            "api_key": model.get("api_key") or "EMPTY", "eval_type": "rerank"}


def mteb_task_configs(eval_config: dict[str, Any], data_dirs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """TaskConfig dicts for :func:`pytest_evalscope.run_task`, one per native run the MTEB config asks for."""
    models = [_check(m, MODEL_KEYS, f"eval_config.models[{i}]") for i, m in enumerate(eval_config.get("models") or [])]
    evaluation = _check(eval_config.get("eval") or {}, EVAL_KEYS, "eval_config.eval")
    encoders = [m for m in models if not m.get("is_cross_encoder")]
    rerankers = [m for m in models if m.get("is_cross_encoder")]
    if len(encoders) != 1 or len(rerankers) > 1:
        raise ConfigError(f"eval_config.models: expected one embedding model and at most one reranker, got "
                          f"{len(encoders)} and {len(rerankers)}")
    base = {**encoder_settings(encoders[0]), **({"limit": evaluation["limits"]} if evaluation.get("limits") else {})}
    data_dirs = data_dirs or {}
    configs = []
    for name in evaluation.get("task_names") or []:
        if name not in MTEB_TASKS:
            raise ConfigError(f"eval_config.eval.task_names: {name!r} is not implemented here{did_you_mean(name, list(MTEB_TASKS))}; "
                              f"implemented: {', '.join(MTEB_TASKS)}, and custom_tasks (retrieval)")
        if name not in data_dirs:
            raise ConfigError(f"{name}: give its local folder in data_dirs (no hub loader for it here)")
        suite = MTEB_TASKS[name]
        configs.append({**base, "datasets": [suite], "dataset_args": {suite: {"local_path": data_dirs[name]}}})
    for i, given in enumerate(evaluation.get("custom_tasks") or []):
        task = _check(given, ("name", "data_path", "eval_splits"), f"eval_config.eval.custom_tasks[{i}]")
        if "data_path" not in task:
            raise ConfigError(f"eval_config.eval.custom_tasks[{i}]: give data_path, the folder with corpus.jsonl")
        args: dict[str, Any] = {"local_path": task["data_path"]}
        splits = task.get("eval_splits") or ["test"]
        args["eval_split"] = splits[0]
        if rerankers:
            args["extra_params"] = {"reranker": reranker_settings(rerankers[0]), "top_k": int(evaluation.get("top_k", 10))}
        configs.append({**base, "datasets": ["retrieval"], "dataset_args": {"retrieval": args}})
    if not configs:
        raise ConfigError("eval_config.eval: name task_names or custom_tasks")
    return configs
