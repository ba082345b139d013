"""TaskConfig: EvalScope's task settings, assembled from layers (defaults < ini < config file < options).

A config file is EvalScope's TaskConfig as YAML or JSON. Every key is checked: an unknown or
misspelled key is an error with a suggestion, never silently ignored. Keys that EvalScope has but that
do nothing here (INERT_KEYS) are accepted so that EvalScope configs load unchanged.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from .params import (
    INERT_KEYS,
    MAX_REPEATS,
    MIGRATED_TO_GENERATION,
    PARAMS,
    PARAMS_BY_NAME,
    ConfigError,
    bounded_int,
    did_you_mean,
    parse_name,
)

REDACTED = "***"
# Names of headers, query parameters and settings whose values are secrets (Azure's
# Ocp-Apim-Subscription-Key, X-Auth, ?key=..., session cookies); matched as substrings, case-insensitively.
_SECRET_HEADER_WORDS = ("authorization", "api-key", "api_key", "apikey", "token", "secret", "cookie", "auth", "key",
                        "subscription", "password", "passwd", "credential", "signature", "session")


class TaskConfig:
    """Resolved settings. Attributes are the names in :data:`pytest_evalscope.params.PARAMS`."""

    model: str | None
    model_id: str | None
    api_url: str | list[str] | None  # several: endpoints serving the same model (models/fleet.py)
    api_key: str | None
    eval_type: str | None
    model_args: dict[str, Any]
    generation_config: dict[str, Any]
    chat_template: str | None
    datasets: list[str]
    dataset_args: dict[str, Any]
    dataset_dir: str | None
    dataset_hub: str | None
    limit: int | float | None
    repeats: int
    seed: int
    eval_batch_size: int
    work_dir: str
    no_timestamp: bool
    use_cache: str | None
    ignore_errors: bool
    max_errors: int | float | None
    thresholds: dict[str, float]
    debug: bool
    dry_run: bool
    sandbox_isolation: str
    judge_strategy: str | None
    judge_worker_num: int | None
    judge_model_args: dict[str, Any]
    judge_cache: str | None
    shard: str | None
    run_id: str | None
    shard_gates: bool

    def __init__(self, values: Mapping[str, Any]) -> None:
        for param in PARAMS:
            setattr(self, param.name, values.get(param.name, param.default))
        self.extra: dict[str, Any] = {k: v for k, v in values.items() if k in INERT_KEYS}
        self.backend_plan: Any = None  # eval_backend's NativePlan or Delegation (backends_config), None for Native

    @classmethod
    def from_layers(cls, layers: Iterable[tuple[str, Mapping[str, Any]]], env: Mapping[str, str] | None = None) -> TaskConfig:
        """Merge `(source, mapping)` layers, later ones winning, and validate every key and value."""
        merged: dict[str, Any] = {}
        for source, given in layers:
            layer = dict(given)
            if "judge" in layer:  # EvalScope 1.x's judge block: its strategy and model as our keys
                from .judge.settings import from_evalscope_judge

                layer = {**from_evalscope_judge(layer.pop("judge")), **layer}
            for key, value in layer.items():
                check_key(key, source)
                if value is None and key in merged:
                    continue
                merged[key] = value
        from .backends_config import plan_for

        merged, plan = plan_for(merged)  # eval_backend: its eval_config run natively, or delegated
        config = cls._resolve(merged, os.environ if env is None else env)
        config.backend_plan = plan
        return config

    @classmethod
    def _resolve(cls, raw: dict[str, Any], env: Mapping[str, str]) -> TaskConfig:
        values = {name: PARAMS_BY_NAME[name].convert(value) for name, value in raw.items() if name in PARAMS_BY_NAME}
        values.update({k: v for k, v in raw.items() if k in INERT_KEYS})
        config = cls(values)
        config._migrate(raw)
        config._derive(env)
        return config

    def _migrate(self, raw: Mapping[str, Any]) -> None:
        # EvalScope moved top-level timeout/stream into generation_config, and turns n > 1 into repeats.
        self.generation_config = dict(self.generation_config)
        for key in MIGRATED_TO_GENERATION:
            if raw.get(key) is not None:
                self.generation_config.setdefault(key, raw[key])
        n = self.generation_config.pop("n", None)
        if n is not None and bounded_int(1, MAX_REPEATS)(n, "generation_config.n") > 1:
            self.repeats = max(self.repeats, int(n))

    def _derive(self, env: Mapping[str, str]) -> None:
        if self.dry_run:
            self.eval_type = "mock"
        if self.eval_type is None:
            self.eval_type = "service" if self.api_url else ("checkpoint" if self.model else None)
        if self.eval_type == "mock" and not self.model:
            self.model = "mock"
        if self.model and not self.model_id:
            derived = os.path.basename(self.model.rstrip("/")) or self.model
            try:
                self.model_id = parse_name(derived, "model_id")
            except ConfigError:
                raise ConfigError(f"model: {derived[:60]!r}, the last part of {self.model[:60]!r}, cannot name the run's "
                                  "output folders; give model_id, a plain name such as Qwen3-8B") from None
        if self.api_key is None:
            self.api_key = env.get("EVALSCOPE_API_KEY") or env.get("OPENAI_API_KEY") or "EMPTY"
        if self.eval_type == "service" and not self.api_url:
            raise ConfigError("eval_type service needs api_url, e.g. --evalscope-api-url=http://127.0.0.1:8000/v1")
        if self.eval_type == "service" and not self.model:
            raise ConfigError("eval_type service needs model: the model name the server serves (--evalscope-model)")
        if self.eval_type == "checkpoint" and not self.model:
            raise ConfigError("eval_type checkpoint needs model: a local folder, a .gguf file or a hub id "
                              "(--evalscope-model=HuggingFaceTB/SmolLM2-135M-Instruct)")
        if self.judge_strategy in ("llm", "llm_recall") and not (self.judge_model_args or {}).get("model_id"):
            raise ConfigError(f"judge_strategy {self.judge_strategy}: needs a judge model; give judge_model_args "
                              "with model_id and api_url, e.g. '{\"model_id\": \"qwen3\", \"api_url\": \"http://127.0.0.1:8001/v1\"}'")

    @property
    def evaluating(self) -> bool:
        """True when a model is configured, i.e. benchmark suites are collected and run."""
        return self.eval_type is not None

    def error_budget(self, total: int) -> float:
        if self.ignore_errors:
            return float("inf")
        if self.max_errors is None:
            return 0
        return self.max_errors * total if isinstance(self.max_errors, float) else self.max_errors

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        data = {p.name: getattr(self, p.name) for p in PARAMS}
        data.update(self.extra)
        if redact:
            data["api_key"] = REDACTED if self.api_key not in (None, "EMPTY") else self.api_key
            data["model_args"] = redact_mapping(self.model_args)
            data["generation_config"] = redact_mapping(self.generation_config)
            data["api_url"] = redact_urls(self.api_url)
            data["judge_model_args"] = redact_mapping(self.judge_model_args)
            if data["judge_model_args"].get("api_url") is not None:  # user:password@ and ?key= as api_url's
                data["judge_model_args"]["api_url"] = redact_urls(data["judge_model_args"]["api_url"])
            data["eval_config"] = redact_tree(self.eval_config)
            data["dataset_args"] = redact_settings(self.dataset_args)
        return data


def redact_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of a model_args-like mapping with keys and header values that carry secrets replaced."""
    result: dict[str, Any] = {}
    for key, value in mapping.items():
        lowered = str(key).lower()
        if isinstance(value, Mapping):
            result[key] = redact_mapping(value)
        elif _secret_name(lowered):
            result[key] = REDACTED
        else:
            result[key] = value
    return result


def redact_tree(value: Any) -> Any:
    """redact_mapping through lists too (eval_config's model entries carry api_key, key, OPENAI_API_KEY)."""
    if isinstance(value, Mapping):
        return {k: REDACTED if _secret_name(str(k).lower()) and not isinstance(v, (Mapping, list)) else redact_tree(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    return value


# dataset_args words are looser than headers' (answer_key, sort_key, tokens are settings there): in a
# benchmark's settings only these names hold secrets (RAG embeddings, a retrieval reranker's api_key)
_SETTING_SECRET = re.compile(r"(^|[_-])(api[_-]?key|apikey|token|secret|password|passwd|authorization|cookie)$|^key$")
_SETTING_URLS = frozenset({"api_base", "api_url", "base_url", "url", "endpoint"})


def redact_settings(value: Any) -> Any:
    """A benchmark's settings (dataset_args) with the keys and URL credentials a block may carry masked."""
    if isinstance(value, Mapping):
        result: dict[Any, Any] = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered == "headers" and isinstance(item, Mapping):
                result[key] = redact_mapping(item)
            elif lowered in _SETTING_URLS and (isinstance(item, str) or
                                               (isinstance(item, list) and all(isinstance(u, str) for u in item))):
                result[key] = redact_urls(item)
            elif _SETTING_SECRET.search(lowered) and isinstance(item, str) and item not in ("", "EMPTY"):
                result[key] = REDACTED
            else:
                result[key] = redact_settings(item)
        return result
    if isinstance(value, list):
        return [redact_settings(v) for v in value]
    return value


def _secret_name(lowered: str) -> bool:
    # max_tokens, min_tokens, max_new_tokens: counts of tokens, not tokens
    return any(word in lowered for word in _SECRET_HEADER_WORDS) and not lowered.endswith("tokens")


def redact_urls(value: str | list[str] | None) -> str | list[str] | None:
    """api_url redacted in the shape it has: one URL, or a fleet's list."""
    return [redact_url(u) or u for u in value] if isinstance(value, list) else redact_url(value)


def shown_urls(value: str | list[str] | None) -> str | None:
    """api_url for a header or a log line: one URL, or a fleet's joined by ", "; credentials redacted."""
    redacted = redact_urls(value)
    return ", ".join(redacted) if isinstance(redacted, list) else redacted


def redact_url(url: str | None) -> str | None:
    """An URL without the user:password@ part and without the values of secret-named query parameters
    (``?key=...``, ``&api-key=...``), for logs and files."""
    if not url or ("@" not in url and "?" not in url):
        return url
    parts = urlsplit(url)
    if "@" in parts.netloc:
        try:
            port = parts.port
        except ValueError:
            port = None
        parts = parts._replace(netloc=f"{REDACTED}@{parts.hostname}" + (f":{port}" if port else ""))
    if parts.query:
        pairs = [pair.partition("=") for pair in parts.query.split("&")]
        parts = parts._replace(query="&".join(
            f"{k}{eq}{REDACTED if eq and _secret_name(k.lower()) else v}" for k, eq, v in pairs))
    return urlunsplit(parts)


def check_key(key: str, source: str) -> None:
    if key in PARAMS_BY_NAME or key in INERT_KEYS or key == "judge":
        return
    known = [p.name for p in PARAMS] + sorted(INERT_KEYS) + ["judge"]
    raise ConfigError(f"{source}: unknown key {key!r}{did_you_mean(key, known)}")


MAX_CONFIG_NODES = 100_000  # a real TaskConfig has hundreds; YAML aliases can make billions out of a few lines


def _load_yaml(text: str) -> Any:
    """yaml.safe_load, except that a document whose aliases expand past MAX_CONFIG_NODES nodes is refused
    before it is built (a "billion laughs" file would otherwise grow to gigabytes)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return None
    counts: dict[int, int] = {}

    def size(node: yaml.Node) -> int:  # nodes after expansion, each distinct node counted once per use
        if id(node) not in counts:
            counts[id(node)] = 0  # a cycle counts as itself
            inner = node.value if isinstance(node, yaml.SequenceNode) else \
                [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else []
            counts[id(node)] = min(1 + sum(size(child) for child in inner), MAX_CONFIG_NODES + 1)
        return counts[id(node)]

    if size(root) > MAX_CONFIG_NODES:
        raise ValueError(f"its aliases expand to more than {MAX_CONFIG_NODES} values; a TaskConfig is far smaller")
    return yaml.safe_load(text)


def load_config_file(path: str | os.PathLike[str], holds: str = "TaskConfig keys") -> dict[str, Any]:
    """Read a TaskConfig (or perf's arguments) from a YAML or JSON file; the result is a mapping of raw values."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {str(file)!r} does not exist")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(file)!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(file)!r} cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else _load_yaml(text)
    except RecursionError:
        raise ConfigError(f"config file {str(file)!r} nests deeper than a config can") from None
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"config file {str(file)!r} does not parse: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(file)!r}: expected a mapping of {holds}, got {type(data).__name__}")
    return data
