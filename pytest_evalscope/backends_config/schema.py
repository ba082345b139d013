"""EvalScope 1.14.1's ``eval_config`` shapes, checked strictly: every key known, misspellings answered with
"did you mean", and keys of the pre-1.9 schema answered with the 1.9 rename that replaces them.

The tables mirror EvalScope 1.14.1's pydantic models (``extra='forbid'``):
``backend/rag_eval/mteb/arguments.py`` (MTEBToolConfig), ``ragas/arguments.py`` (RAGASToolConfig),
``clip_benchmark/arguments.py`` (ClipBenchmarkToolConfig). OpenCompass and VLMEvalKit take their own
argument classes (ms-opencompass, ms-vlmeval); their top-level keys are the ones EvalScope's backend
managers and documentation use, and each model entry is passed to the backend as given.

:func:`validate` returns the config with ``tool`` lower-cased and nothing else changed; the first problem
raises a one-line ConfigError naming the key path (``eval_config.eval.topk``).
"""

from __future__ import annotations

from typing import Any

from ..params import ConfigError, did_you_mean

BACKENDS = ("Native", "RAGEval", "OpenCompass", "VLMEvalKit", "ThirdParty")
TOOLS = ("mteb", "ragas", "clip_benchmark")

MTEB_TOP = ("tool", "models", "eval")
MTEB_MODEL = ("model_name_or_path", "is_cross_encoder", "pooling_mode", "max_seq_length", "prompt", "prompts",
              "model_kwargs", "encode_kwargs", "hub", "model_name", "api_base", "api_key", "dimensions")
MTEB_EVAL = ("task_names", "task_types", "languages", "custom_tasks", "output_folder", "overwrite_results", "limits",
             "hub", "top_k", "splits", "encode_kwargs")
MTEB_CUSTOM_TASK = ("name", "data_path", "eval_splits")
RAGAS_TOP = ("tool", "testset_generation", "eval")
RAGAS_EVAL = ("testset_file", "critic_llm", "embeddings", "metrics", "language", "batch_size", "raise_exceptions")
RAGAS_TESTSET = ("docs", "test_size", "output_file", "generator_llm", "embeddings", "language")
RAGAS_LLM = ("model_name", "provider", "api_base", "api_key", "temperature", "max_tokens")
RAGAS_EMBEDDINGS = ("model_name_or_path", "provider", "api_base", "api_key")
CLIP_TOP = ("tool", "eval")
CLIP_EVAL = ("models", "dataset_name", "data_dir", "split", "task", "batch_size", "num_workers", "verbose",
             "output_dir", "cache_dir", "skip_existing", "limit")
OPENCOMPASS_TOP = ("datasets", "models", "work_dir", "limit", "reuse", "debug", "generation_kwargs")
VLMEVALKIT_TOP = ("data", "model", "mode", "limit", "reuse", "work_dir", "nproc", "judge", "verbose", "ignore",
                  "retry", "nframe", "fps", "use_subtitle", "OPENAI_API_KEY", "OPENAI_API_BASE", "LOCAL_LLM")

# keys of earlier EvalScope releases -> what to write instead (EvalScope 1.14.1 refuses them)
MIGRATED = {
    "mteb": {"model": "EvalScope 1.9 renamed model to models (and eval.tasks to eval.task_names, eval.topk to eval.top_k)"},
    "mteb.eval": {"tasks": "EvalScope 1.9 renamed eval.tasks to eval.task_names",
                  "topk": "EvalScope 1.9 renamed eval.topk to eval.top_k",
                  "verbosity": "EvalScope 1.14.1's MTEB eval config has no verbosity (its docs still show it, its "
                               "pydantic model refuses it); remove it"},
    "mteb.models": {"config_kwargs": "EvalScope 1.9 dropped config_kwargs; put loading options in model_kwargs",
                    "dimension": "the key is dimensions"},
    "ragas.llm": {"model_name_or_path": "EvalScope 1.9 dropped local critic/generator models: give model_name (and "
                                        "api_base) of an OpenAI-compatible server",
                  "generation_config": "EvalScope 1.9 replaced generation_config with temperature and max_tokens"},
    "ragas.embeddings": {"model_name": "EvalScope 1.9 names it model_name_or_path (with provider: openai for an API)",
                         "dimension": "EvalScope 1.9 dropped dimension from the RAGAS embeddings block"},
    "ragas.testset_generation": {"knowledge_graph": "EvalScope 1.9 dropped knowledge_graph (ragas 0.4 builds it in "
                                                    "memory); remove it"},
    "clip_benchmark.eval": {"model_name_or_path": "EvalScope 1.9 takes models: [{\"model_name\": ...}] instead"},
    "vlmevalkit": {"rerun": "ms-vlmeval 0.0.11 renamed rerun to reuse"},
}


def check_keys(mapping: Any, allowed: tuple[str, ...], where: str, migrated: str | None = None,
               required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping with keys among {', '.join(allowed)}, got {type(mapping).__name__}")
    renames = MIGRATED.get(migrated or "", {})
    for key in mapping:
        if key in allowed:
            continue
        if key in renames:
            raise ConfigError(f"{where}.{key}: {renames[key]}")
        raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(str(key), allowed)}; valid: {', '.join(allowed)}")
    for key in required:
        if mapping.get(key) in (None, "", [], {}):
            raise ConfigError(f"{where}.{key}: required")
    return mapping


def _entries(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list")
    return value


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of names")
    return value


def validate(backend: str, config: Any) -> dict[str, Any]:
    where = "eval_config"
    if backend == "ThirdParty":
        raise ConfigError("eval_backend ThirdParty: EvalScope 1.14.1 itself refuses it (NotImplementedError); run "
                          "the third_party scripts (longbench_write, toolbench_static, thinkbench) directly")
    if not isinstance(config, dict) or not config:
        raise ConfigError(f"eval_backend {backend} needs eval_config: a mapping, or a YAML/JSON file holding one")
    if backend == "RAGEval":
        return _rag_eval(dict(config), where)
    if backend == "OpenCompass":
        return _opencompass(config, where)
    return _vlmevalkit(config, where)


def _rag_eval(config: dict[str, Any], where: str) -> dict[str, Any]:
    tool = str(config.get("tool") or "").lower()
    if tool not in TOOLS:
        raise ConfigError(f"{where}.tool: {config.get('tool')!r} is not a RAGEval tool"
                          f"{did_you_mean(tool, TOOLS)}; expected MTEB, RAGAS or clip_benchmark")
    config["tool"] = tool
    if tool == "mteb":
        check_keys(config, MTEB_TOP, where, "mteb", ("models", "eval"))
        for i, model in enumerate(_entries(config["models"], f"{where}.models")):
            check_keys(model, MTEB_MODEL, f"{where}.models[{i}]", "mteb.models")
            if not (model.get("model_name_or_path") or model.get("model_name")):
                raise ConfigError(f"{where}.models[{i}]: give model_name_or_path (a local model) or model_name with api_base")
        check_keys(config["eval"], MTEB_EVAL, f"{where}.eval", "mteb.eval")
        evaluation = config["eval"]
        if evaluation.get("task_names") is not None:
            _names(evaluation["task_names"], f"{where}.eval.task_names")
        for i, task in enumerate(evaluation.get("custom_tasks") or []):
            check_keys(task, MTEB_CUSTOM_TASK, f"{where}.eval.custom_tasks[{i}]", required=("data_path",))
        if not (evaluation.get("task_names") or evaluation.get("task_types") or evaluation.get("custom_tasks")):
            raise ConfigError(f"{where}.eval: name the tasks (task_names, task_types or custom_tasks)")
    elif tool == "ragas":
        check_keys(config, RAGAS_TOP, where)
        if not config.get("eval") and not config.get("testset_generation"):
            raise ConfigError(f"{where}: RAGAS needs eval (score a testset_file) or testset_generation")
        if config.get("eval") is not None:
            _ragas_eval(config["eval"], f"{where}.eval")
        if config.get("testset_generation") is not None:
            block = check_keys(config["testset_generation"], RAGAS_TESTSET, f"{where}.testset_generation",
                               "ragas.testset_generation", ("docs", "generator_llm", "embeddings"))
            check_keys(block["generator_llm"], RAGAS_LLM, f"{where}.testset_generation.generator_llm", "ragas.llm", ("model_name",))
            check_keys(block["embeddings"], RAGAS_EMBEDDINGS, f"{where}.testset_generation.embeddings", "ragas.embeddings",
                       ("model_name_or_path",))
    else:
        check_keys(config, CLIP_TOP, where)
        evaluation = check_keys(config.get("eval") or {}, CLIP_EVAL, f"{where}.eval", "clip_benchmark.eval",
                                ("models", "dataset_name"))
        _names(evaluation["dataset_name"], f"{where}.eval.dataset_name")
        for i, model in enumerate(_entries(evaluation["models"], f"{where}.eval.models")):
            if not isinstance(model, dict) or not model.get("model_name"):
                raise ConfigError(f"{where}.eval.models[{i}]: expected {{\"model_name\": ...}}")
    return config


def _ragas_eval(block: Any, where: str) -> None:
    check_keys(block, RAGAS_EVAL, where, required=("testset_file", "critic_llm", "embeddings"))
    check_keys(block["critic_llm"], RAGAS_LLM, f"{where}.critic_llm", "ragas.llm", ("model_name",))
    check_keys(block["embeddings"], RAGAS_EMBEDDINGS, f"{where}.embeddings", "ragas.embeddings", ("model_name_or_path",))
    if block.get("metrics") is not None:
        _names(block["metrics"], f"{where}.metrics")


def _opencompass(config: Any, where: str) -> dict[str, Any]:
    check_keys(config, OPENCOMPASS_TOP, where, required=("models",))
    _names(config.get("datasets") or [], f"{where}.datasets")
    for i, model in enumerate(_entries(config["models"], f"{where}.models")):
        # EvalScope's OpenCompass manager asserts these two; the rest goes to OpenCompass's ApiModelConfig
        if not isinstance(model, dict) or not model.get("path") or not model.get("openai_api_base"):
            raise ConfigError(f"{where}.models[{i}]: needs path (the served model name) and openai_api_base "
                              "(http://127.0.0.1:8000/v1/chat/completions)")
    return config


def _vlmevalkit(config: Any, where: str) -> dict[str, Any]:
    check_keys(config, VLMEVALKIT_TOP, where, "vlmevalkit", ("data", "model"))
    _names(config["data"], f"{where}.data")
    if config.get("mode", "all") not in ("all", "infer"):
        raise ConfigError(f"{where}.mode: {config['mode']!r} is not all or infer")
    for i, model in enumerate(_entries(config["model"], f"{where}.model")):
        if isinstance(model, str):
            continue
        if not isinstance(model, dict) or not model.get("name"):
            raise ConfigError(f"{where}.model[{i}]: expected a VLMEvalKit model name or {{\"name\": ..., ...}}")
        if model["name"] == "CustomAPIModel" and not (model.get("type") and model.get("api_base")):
            raise ConfigError(f"{where}.model[{i}]: CustomAPIModel needs type (the served model name) and api_base")
    return config
