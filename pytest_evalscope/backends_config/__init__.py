"""EvalScope's ``eval_backend`` / ``eval_config``: RAGEval (MTEB, RAGAS, clip_benchmark), OpenCompass and
VLMEvalKit configs, in EvalScope 1.14.1's shapes.

- schema.py: strict validation (did-you-mean; pre-1.9 keys answered with their 1.9 rename);
- route.py: run natively (a :class:`NativePlan` of TaskConfig settings) or delegate (:class:`Delegation`);
- delegate.py: the delegated run, in a subprocess with the backend's interpreter;
- convert.py: the backend's result files as reports without per-sample records.

:func:`plan_for` is the one call config.py makes: it reads ``eval_backend`` and ``eval_config`` from the
merged raw settings and returns the settings to run with and the plan (None for Native).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..params import ConfigError
from .route import Delegation, NativePlan, route
from .schema import validate

__all__ = ["Delegation", "NativePlan", "parse_eval_config", "plan_for", "route", "validate"]

# settings a user may still give beside a natively-run eval_config (they name or shape the run, not the task)
USER_KEEPS = ("model", "model_id", "limit")
# settings eval_config decides; EvalScope ignores them beside a backend, here a value given for them is refused
OWNED = ("datasets", "dataset_args", "judge_model_args", "eval_type")


def parse_eval_config(value: Any, name: str = "eval_config") -> dict[str, Any] | None:
    """A mapping as given, or the mapping in a JSON string or a YAML/JSON file (as EvalScope accepts)."""
    if value is None or isinstance(value, Mapping):
        return None if value is None else dict(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: expected a mapping, JSON, or a .yaml/.json file, got {type(value).__name__}")
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{name}: not valid JSON ({exc})") from None
    elif Path(text).suffix.lower() in (".yaml", ".yml", ".json"):
        from ..config import load_config_file

        data = load_config_file(text, holds="eval_config keys")
    else:
        raise ConfigError(f"{name}: {text[:60]!r} is neither JSON nor a .yaml/.json file")
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping, got {type(data).__name__}")
    return data


def plan_for(raw: Mapping[str, Any]) -> tuple[dict[str, Any], NativePlan | Delegation | None]:
    """The raw settings to resolve, and the plan: native settings merged in, or the delegation recorded."""
    from ..params import PARAMS_BY_NAME

    backend = PARAMS_BY_NAME["eval_backend"].convert(raw.get("eval_backend") or "Native")
    if backend == "Native":
        if raw.get("eval_config"):
            raise ConfigError("eval_config is read only with eval_backend RAGEval, OpenCompass or VLMEvalKit; "
                              "set eval_backend, or remove eval_config")
        return dict(raw), None
    config = validate(backend, parse_eval_config(raw.get("eval_config")))
    plan = route(backend, config)
    data = _data_locations(raw.get("dataset_args"), plan)
    given = [k for k in OWNED if raw.get(k) not in (None, "", [], {}) and not (k == "dataset_args" and data)]
    if given:
        raise ConfigError(f"{given[0]}: eval_backend {backend} takes its {'model' if given[0] == 'eval_type' else 'tasks'} "
                          f"from eval_config, so {given[0]} would be ignored; remove it")
    merged = {**raw, "eval_config": config}
    if isinstance(plan, NativePlan):
        kept = {k: raw[k] for k in USER_KEEPS if raw.get(k) is not None}
        merged.update({**plan.settings, **kept})
        if data:
            merged["dataset_args"] = {**(plan.settings.get("dataset_args") or {}), **data}
    else:
        merged.update(eval_type="mock", datasets=[], model=raw.get("model") or backend)
    return merged, plan


def _data_locations(dataset_args: Any, plan: NativePlan | Delegation) -> dict[str, Any] | None:
    """dataset_args that only say where a natively-run MTEB task's data is (``{"banking77_classification":
    {"local_path": ...}}``, as mteb_task_configs' data_dirs): EvalScope's mteb downloads it, here it is read
    from a folder. None for anything else, which eval_config decides."""
    if isinstance(dataset_args, str) and dataset_args.strip().startswith("{"):
        try:
            dataset_args = json.loads(dataset_args)
        except ValueError:
            return None  # left to the check that refuses it
    if not isinstance(plan, NativePlan) or plan.tool != "mteb" or not isinstance(dataset_args, Mapping) or not dataset_args:
        return None
    named = set(plan.settings.get("datasets") or []) - set(plan.settings.get("dataset_args") or {})
    ok = all(name in named and isinstance(args, Mapping) and set(args) == {"local_path"} for name, args in dataset_args.items())
    return dict(dataset_args) if ok else None
