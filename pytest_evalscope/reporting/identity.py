"""What makes two runs comparable: everything but the model.

Every run records, beside ``configs/task_config.yaml``, the settings each suite's benchmark resolved to
(``configs/suite_settings.json``: prompt templates, few-shot settings, filters, split, aggregation),
since defaults live in the adapters and the task config holds only what the user overrode. EvalScope
1.14.1 writes the same facts into its ``task_config.yaml`` under ``dataset_args.<benchmark>``, so either
kind of run folder can be a baseline.

:func:`fields` flattens a run's facts into named fields (``generation_config.temperature``,
``gsm8k.prompt_template``, ``judge.model_id``); :func:`mismatches` lists the fields two runs disagree on.
Fields that only change how requests travel (stream, timeout, batch_size) are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import redact_settings
from .outputs import atomic_write

SETTINGS_FILE = "suite_settings.json"
# the benchmark settings that shape the prompt or the score (EvalScope's dataset_args keys)
SUITE_KEYS = ("prompt_template", "few_shot_prompt_template", "system_prompt", "query_template", "few_shot_num",
              "few_shot_random", "filters", "eval_split", "aggregation", "extra_params")
# generation_config keys that change nothing the model is asked
TRANSPORT_KEYS = frozenset({"stream", "timeout", "batch_size", "stream_options", "max_retries"})
# judge settings that do not change its verdicts
JUDGE_TRANSPORT = frozenset({"api_url", "api_key", "timeout", "max_retries", "default_headers"})


def suite_settings(benchmark: Any) -> dict[str, Any]:
    """A benchmark instance's resolved settings, JSON-able (they travel from xdist workers as JSON)."""
    values = {key: getattr(benchmark, key, None) for key in SUITE_KEYS if key not in ("filters", "extra_params")}
    values["filters"] = benchmark.args.get("filters")
    values["extra_params"] = {k: v for k, v in (getattr(benchmark, "extra", None) or {}).items()
                              if k not in ("isolation", "timeout")}  # the sandbox is the operator's, not the benchmark's
    values["benchmark"] = benchmark.name
    return redact_settings(json.loads(json.dumps(values, default=str)))  # a RAG suite's embeddings key, a reranker's


def write_settings(run_dir: Path, settings: dict[str, dict[str, Any]]) -> None:
    if settings:
        atomic_write(run_dir / "configs" / SETTINGS_FILE, json.dumps(dict(sorted(settings.items())), indent=2, ensure_ascii=False) + "\n")


def read_settings(run_dir: Path, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Suite -> settings: ours from suite_settings.json, EvalScope's from its task_config's dataset_args."""
    path = run_dir / "configs" / SETTINGS_FILE
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    args = config.get("dataset_args") or {}
    if config.get("evalscope_version") is None:  # ours without the file (older runs): only the overrides are known
        return {}
    return {name: {"benchmark": value.get("name", name), **{k: value.get(k) for k in SUITE_KEYS if k in value}}
            for name, value in args.items() if isinstance(value, dict)}


def _blank(value: Any) -> Any:
    return None if value in ("", [], {}, None) else value


def fields(config: dict[str, Any], settings: dict[str, dict[str, Any]], suites: set[str], judged: bool) -> dict[str, Any]:
    """The named facts of one run that must match between a baseline and a candidate."""
    out: dict[str, Any] = {}
    for key, value in (config.get("generation_config") or {}).items():
        if key not in TRANSPORT_KEYS:
            out[f"generation_config.{key}"] = value
    by_benchmark = {s.get("benchmark", name): s for name, s in settings.items()}
    for suite in suites:
        found = settings.get(suite) or by_benchmark.get(suite)
        if found is None:
            continue
        for key in SUITE_KEYS:
            if key in found:
                out[f"{suite}.{key}"] = _blank(found[key])
    if judged:
        judge = config.get("judge_model_args") or {}
        if not judge and isinstance(config.get("judge"), dict):  # EvalScope 1.x's judge block
            models = config["judge"].get("models") or [{}]
            judge = {**(models[0] if isinstance(models, list) and models else {}),
                     **(config["judge"].get("contract") or {})}
            out["judge.strategy"] = config["judge"].get("strategy")
        else:
            out["judge.strategy"] = config.get("judge_strategy") or "auto"
        for key, value in judge.items():
            if key not in JUDGE_TRANSPORT:
                out[f"judge.{key}"] = value
    return out


def mismatches(base: dict[str, Any], cand: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, base value, candidate value) for every field both runs know and disagree on, plus
    generation settings one of them set and the other left at the server's default."""
    found = []
    for name in sorted(set(base) | set(cand)):
        if name in base and name in cand:
            if _blank(base[name]) != _blank(cand[name]):
                found.append((name, base[name], cand[name]))
        elif name.startswith("generation_config."):
            found.append((name, base.get(name), cand.get(name)))
    return found


def allowed(name: str, allow: list[str]) -> bool:
    """Whether --evalscope-compare-allow accepts a field: its full name, a prefix (``generation_config``,
    ``gsm8k``), or its last part for every suite (``prompt_template``)."""
    return any(name == a or name.startswith(a + ".") or name.rsplit(".", 1)[-1] == a for a in allow)


def first_mismatch(base: dict[str, Any], cand: dict[str, Any], allow: list[str]) -> str | None:
    """The one line that stops a comparison, or None when the runs are comparable."""
    for name, old, new in mismatches(base, cand):
        if not allowed(name, allow):
            return (f"not comparable with the baseline: {name} differs (baseline {_short(old)}, this run {_short(new)}); "
                    f"only the model may change between the runs (accept it knowingly with "
                    f"--evalscope-compare-allow={name})")
    return None


def _short(value: Any, width: int = 60) -> str:
    if value is None:
        return "unset"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."
