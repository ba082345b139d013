"""The TaskConfig parameters: one table that the pytest options, ini keys, config files, the CLI
and (later) the HTTP service are all generated from, so they cannot drift apart.

Every value goes through the parser of its parameter, whatever its source (a command-line string,
an ini line, or a typed YAML/JSON value), and a bad value raises :class:`ConfigError` with one line
that names the parameter, what was wrong and what would be right.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message is one line meant for the user."""


def did_you_mean(name: str, candidates: list[str] | set[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------- value parsers


MAX_TEXT = 1 << 16  # characters in one setting's string (a prompt template fits; a 300k-character name does not)


def parse_str(value: Any, name: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"{name}: expected a string, got {type(value).__name__} {_shown(value)}")
    return check_text(str(value), name)


def check_text(text: str, name: str, limit: int = MAX_TEXT) -> str:
    """`text` unless it holds a NUL, a lone surrogate (not Unicode: nothing can write it as UTF-8) or is
    longer than `limit` characters; then one line naming the setting."""
    if len(text) > limit:
        raise ConfigError(f"{name}: {len(text)} characters is over the limit of {limit}")
    if "\0" in text:
        raise ConfigError(f"{name}: holds a NUL character, which no name, path or URL may contain")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(f"{name}: holds a lone surrogate {text[exc.start]!r} at position {exc.start}, "
                          "which is not valid Unicode") from None
    return text


def _shown(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


# Characters a name used in output paths may not hold: separators, and what terminals and file systems mangle.
_NAME_FORBIDDEN = frozenset("/\\") | frozenset(chr(c) for c in range(32)) | {chr(127)}


def parse_name(value: Any, name: str, example: str = "Qwen3-8B", role: str = "names folders in the outputs tree") -> str:
    """A name that becomes one folder or file name (model_id; split and subset names, which name data
    files and output files): no separators, no control characters, not `.` or `..`, at most 128 characters."""
    text = check_text(parse_str(value, name).strip(), name, limit=128)
    bad = next((c for c in text if c in _NAME_FORBIDDEN), None)
    if not text or text in (".", "..") or bad is not None:
        why = f"holds {bad!r}" if bad is not None else "is empty" if not text else f"is {text!r}"
        raise ConfigError(f"{name}: {_shown(text)} {why}; it {role}, so give a plain name such as {example} "
                          "(no / or \\, no control characters, not . or ..)")
    return text


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_headers(headers: Any, name: str) -> dict[str, str]:
    """HTTP headers as str -> str: a name must be an RFC 9110 token and a value may hold no control
    character but tab, so that nothing given here can split a request (CR/LF) on the wire."""
    if not isinstance(headers, dict):
        raise ConfigError(f"{name}: expected an object of header names to values, got {_shown(headers)}")
    checked = {}
    for raw_key, raw_value in headers.items():
        key, value = str(raw_key), str(raw_value)
        if not key or any(c not in _TOKEN_CHARS for c in key):
            raise ConfigError(f"{name}: {_shown(key)} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)")
        bad = next((c for c in value if (ord(c) < 32 and c != "\t") or ord(c) == 127), None)
        if bad is not None:
            raise ConfigError(f"{name}.{key}: the value holds the control character {bad!r}; header values "
                              "may not contain CR, LF or other control characters")
        checked[key] = check_text(value, f"{name}.{key}", limit=8192)
    return checked


def bounded_int(minimum: int, maximum: int) -> Callable[[Any, str], int]:
    """An integer in [minimum, maximum]; the maximum keeps an absurd value from growing a run without end."""
    def parse(value: Any, name: str) -> int:
        number = parse_int(value, name, minimum)
        if number > maximum:
            raise ConfigError(f"{name}: {number} is over the maximum of {maximum}")
        return number
    return parse


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def parse_int(value: Any, name: str, minimum: int | None = None) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    return number


def parse_seconds(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}: expected a number of seconds, got {_shown(value)}") from None
    if math.isinf(number) or math.isnan(number):
        raise ConfigError(f"{name}: expected a finite number of seconds, got {_shown(value)}")
    if number <= 0:
        raise ConfigError(f"{name}: must be positive, got {value!r}")
    return number


def parse_scalar(text: str) -> Any:
    """A `k=v` value: JSON if it parses (numbers, true/false, null, lists), else the raw string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_mapping(value: Any, name: str) -> dict[str, Any]:
    """A dict given as a mapping, a JSON object, or `k=v,k=v` (EvalScope's two CLI spellings)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    text = str(value).strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{name}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"{name}: expected a JSON object")
        return parsed
    result: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{name}: expected JSON or k=v,k=v, got {part!r}")
        result[key.strip()] = parse_scalar(raw.strip())
    return result


def parse_json_object(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, str) and value.strip() and not value.strip().startswith("{"):
        raise ConfigError(f"{name}: expected a JSON object such as '{{\"gsm8k\": {{\"few_shot_num\": 0}}}}'")
    return parse_mapping(value, name)


def parse_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [parse_str(v, name) for v in value]
    return [part for part in str(value).replace(",", " ").split() if part]


def parse_limit(value: Any, name: str) -> int | float | None:
    """EvalScope's limit: an int is a count, a float in (0, 1) a fraction, both per subset."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}: expected a count (e.g. 100) or a fraction in (0, 1) (e.g. 0.1), got {_shown(value)}") from None
    if math.isinf(number) or math.isnan(number):
        raise ConfigError(f"{name}: expected a finite count or fraction, got {_shown(value)}")
    if number <= 0:
        raise ConfigError(f"{name}: must be positive, got {value!r}")
    if number < 1:
        return number
    if not number.is_integer():
        raise ConfigError(f"{name}: a count must be a whole number, got {value!r}")
    return int(number)


def parse_url(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    text = parse_str(value, name).strip()
    bad = next((c for c in text if ord(c) < 33 or ord(c) == 127), None)
    if bad is not None:  # a CR/LF would inject lines into logs and requests
        raise ConfigError(f"{name}: {_shown(text)} holds the control or space character {bad!r}; "
                          "expected a URL such as http://127.0.0.1:8000/v1")
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name}: {text!r} is not an http(s) URL; expected e.g. http://127.0.0.1:8000/v1")
    return text.rstrip("/")


def parse_urls(value: Any, name: str) -> str | list[str] | None:
    """api_url: one URL, or several endpoints serving the same model (a list, a repeated option, or an
    ini value with one URL per line). One stays a plain string, as in EvalScope's configs."""
    if isinstance(value, str) and value.split() and not any(ord(c) < 32 and c not in "\n\t" for c in value):
        value = value.split()  # ini lines; a CR or other control character is left to parse_url's refusal
    if not isinstance(value, (list, tuple)):
        return parse_url(value, name)
    urls = [parse_url(url, f"{name}[{i}]" if len(value) > 1 else name) for i, url in enumerate(value)]
    if any(url is None for url in urls):
        raise ConfigError(f"{name}: an empty entry in the list; give each endpoint's URL, e.g. http://127.0.0.1:8000/v1")
    twice = next((url for i, url in enumerate(urls) if url in urls[:i]), None)
    if twice is not None:
        raise ConfigError(f"{name}: {twice} is listed twice; give each endpoint once")
    checked = [url for url in urls if url is not None]
    return None if not checked else checked[0] if len(checked) == 1 else checked


def parse_threshold_value(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"threshold {name}: expected a score in [0, 1], got {_shown(value)}") from None
    if not 0.0 <= number <= 1.0:
        raise ConfigError(f"threshold {name}: {number} is outside [0, 1]; scores are fractions (0.8, not 80)")
    return number


def parse_thresholds(value: Any, name: str) -> dict[str, float]:
    """`NAME=VALUE` strings (repeatable on the CLI), or a mapping; NAME is a benchmark or bench/subset."""
    if value is None:
        return {}
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    else:
        entries = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
        for entry in entries:
            key, sep, raw = str(entry).partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{name}: expected NAME=VALUE such as gsm8k=0.8, got {entry!r}")
            items.append((key.strip(), raw.strip()))
    return {str(k): parse_threshold_value(v, str(k)) for k, v in items}


MAX_SHARDS = 10_000


def parse_shard(value: Any, name: str) -> str:
    """`I/N`: part I (1 to N) of N; the normalized text, so that configs and markers compare as strings."""
    text = parse_str(value, name).strip()
    part, sep, count = text.partition("/")
    try:
        if not sep:
            raise ValueError
        i, n = int(part), int(count)
    except ValueError:
        raise ConfigError(f"{name}: expected I/N such as 2/4 (part 2 of 4), got {_shown(value)}") from None
    if not 1 <= n <= MAX_SHARDS:
        raise ConfigError(f"{name}: {text}: the number of parts must be between 1 and {MAX_SHARDS}")
    if not 1 <= i <= n:
        raise ConfigError(f"{name}: {text}: parts are numbered 1 to {n}, e.g. 1/{n}")
    return f"{i}/{n}"


def parse_error_budget(value: Any, name: str) -> int | float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}: expected a count or a fraction in (0, 1), got {_shown(value)}") from None
    if math.isinf(number) or math.isnan(number):
        raise ConfigError(f"{name}: expected a finite count or fraction, got {_shown(value)}")
    if number < 0:
        raise ConfigError(f"{name}: must not be negative, got {value!r}")
    return number if 0 < number < 1 else int(number)


EVAL_TYPES = {
    "service": "service", "openai_api": "service", "server": "service",
    "checkpoint": "checkpoint", "llm_ckpt": "checkpoint",
    "mock": "mock", "mock_llm": "mock",
    # embedding and reranker models (pytest_evalscope/embedding/backends.py)
    "embedding": "embedding", "openai_embedding": "embedding", "rerank": "rerank", "openai_rerank": "rerank",
    "encoder": "encoder", "local_encoder": "encoder",
}
DATASET_HUBS = ("huggingface", "modelscope", "local")
SANDBOX_ISOLATIONS = ("auto", "bwrap", "unshare", "process")  # scoring.sandbox.ISOLATIONS, plus auto


def choice(options: dict[str, str] | tuple[str, ...]) -> Callable[[Any, str], str | None]:
    def parse(value: Any, name: str) -> str | None:
        if value is None or value == "":
            return None
        text = parse_str(value, name).strip().lower()
        if text not in options:
            valid = ", ".join(sorted(set(options.values()) if isinstance(options, dict) else options))
            raise ConfigError(f"{name}: unknown value {text!r}{did_you_mean(text, list(options))}; expected one of {valid}")
        return options[text] if isinstance(options, dict) else text

    return parse


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Param:
    name: str
    parse: Callable[[Any, str], Any]
    default: Any
    help: str
    secret: bool = False
    cli: bool = True  # has a --evalscope-* option and an ini key
    repeatable: bool = False  # the option may be given several times (its values are a list)
    operator: bool = False  # set by whoever runs the process (CLI, ini, config file), never by a service request
    # the JSON Schema of a typed value (config files, the HTTP service's bodies and OpenAPI document);
    # strings in command-line spelling are accepted wherever the parser takes them
    schema: tuple[tuple[str, Any], ...] = (("type", "string"),)

    def convert(self, value: Any) -> Any:
        return self.parse(value, self.name)

    def json_schema(self) -> dict[str, Any]:
        return {**dict(self.schema), "description": self.help, "default": self.default}


def _opt(parse: Callable[..., Any]) -> Callable[[Any, str], Any]:
    """Parsers for optional values: None stays None."""
    return lambda value, name: None if value is None else parse(value, name)


def _judge_args(value: Any, name: str) -> dict[str, Any]:
    from .judge.settings import parse_judge_model_args  # the judge's own table of keys

    return parse_judge_model_args(value, name)


def _backend_config(value: Any, name: str) -> dict[str, Any] | None:
    from .backends_config import parse_eval_config  # the backends' own tables of keys

    return parse_eval_config(value, name)


def parse_regressions(value: Any, name: str) -> dict[str, float]:
    """Regression gates `NAME[=MARGIN]` (repeatable, or space/comma separated, or a mapping): NAME a
    benchmark, benchmark/subset or `all`; MARGIN the tolerated drop in [0, 1] (default 0)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    else:
        entries = value if isinstance(value, (list, tuple)) else [value]
        items = []
        for entry in (part for e in entries for part in str(e).replace(",", " ").split()):
            key, sep, raw = entry.partition("=")
            if not key.strip() or (sep and not raw.strip()):
                raise ConfigError(f"{name}: expected NAME or NAME=MARGIN such as gsm8k=0.02, got {entry!r}")
            items.append((key.strip(), raw.strip() if sep else 0.0))
    gates = {}
    for key, raw in items:
        try:
            margin = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} {key}: expected a margin in [0, 1] such as 0.02, got {raw!r}") from None
        if not 0.0 <= margin <= 1.0:
            raise ConfigError(f"{name} {key}: margin {margin:g} is outside [0, 1]; margins are fractions (0.02, not 2)")
        gates[key] = margin
    return gates


JUDGE_STRATEGIES = ("auto", "rule", "llm", "llm_recall")
EVAL_BACKENDS = ("Native", "RAGEval", "OpenCompass", "VLMEvalKit", "ThirdParty")
REGRESSION_MODES = ("regression", "noninferior")
GATE_ON = ("point", "lower", "upper")
# Hard ceilings for any run (the HTTP service sets lower ones of its own): beyond them a value is a mistake.
MAX_REPEATS = 10_000
MAX_BATCH = 100_000


PARAMS: tuple[Param, ...] = (
    Param("model", _opt(parse_str), None, "model name served by api_url (service) or a local path / hub id (checkpoint)",
          schema=(("type", ["string", "null"]),)),
    Param("model_id", _opt(parse_name), None, "name used in outputs and reports; default: the basename of model",
          schema=(("type", ["string", "null"]),)),
    Param("api_url", parse_urls, None, "OpenAI-compatible root URL such as http://127.0.0.1:8000/v1 (implies eval_type "
          "service); repeatable: several endpoints serving the same model", repeatable=True,
          schema=(("type", ["string", "array", "null"]), ("items", {"type": "string", "format": "uri"}),)),
    Param("api_key", _opt(parse_str), None, "API key; default $EVALSCOPE_API_KEY, then $OPENAI_API_KEY, then EMPTY; never written anywhere", secret=True,
          schema=(("type", ["string", "null"]),)),
    Param("eval_type", choice(EVAL_TYPES), None, "service | checkpoint | mock (default: service when api_url is set)",
          schema=(("type", ["string", "null"]), ("enum", [*sorted(set(EVAL_TYPES)), None]),)),
    Param("model_args", parse_mapping, {}, "k=v,k=v or JSON, passed to the model client (default_headers, timeout, max_retries, ...)",
          schema=(("type", ["object", "string"]),)),
    Param("generation_config", parse_mapping, {}, "k=v,k=v or JSON: max_tokens, temperature, top_p, top_k, stop, n, seed, stream, ...",
          schema=(("type", ["object", "string"]),)),
    Param("chat_template", _opt(parse_str), None,
          "checkpoint: a Jinja chat template (string or file) replacing the tokenizer's; none for plain prompts",
          schema=(("type", ["string", "null"]),)),
    Param("datasets", parse_list, [], "benchmarks to run (space or comma separated); default: every collected suite",
          schema=(("type", ["array", "string"]), ("items", {"type": "string"}),)),
    Param("dataset_args", parse_json_object, {}, "JSON: per-benchmark settings, e.g. '{\"gsm8k\": {\"few_shot_num\": 0}}'",
          schema=(("type", ["object", "string"]),)),
    Param("dataset_dir", _opt(parse_str), None, "cache folder for hub downloads",
          schema=(("type", ["string", "null"]),)),
    Param("dataset_hub", choice(DATASET_HUBS), None, "huggingface | modelscope | local (default: modelscope when installed, else huggingface)",
          schema=(("type", ["string", "null"]), ("enum", [*DATASET_HUBS, None]),)),
    Param("limit", parse_limit, None, "samples per subset: a count (100) or a fraction in (0, 1) (0.1)",
          schema=(("type", ["number", "null"]), ("exclusiveMinimum", 0),)),
    Param("repeats", bounded_int(1, MAX_REPEATS), 1, "evaluate every sample this many times",
          schema=(("type", "integer"), ("minimum", 1),)),
    Param("seed", parse_int, 42, "seed for shuffles and random few-shot choices",
          schema=(("type", "integer"),)),
    Param("eval_batch_size", bounded_int(1, MAX_BATCH), 1, "model requests kept in flight per process",
          schema=(("type", "integer"), ("minimum", 1),)),
    Param("work_dir", parse_str, "./outputs", "outputs root; a YYYYMMDD_HHMMSS folder is created inside",
          schema=(("type", "string"),)),
    Param("no_timestamp", parse_bool, False, "write directly into work_dir, without the timestamp folder",
          schema=(("type", "boolean"),)),
    Param("use_cache", _opt(parse_str), None, "an earlier run's folder: reuse its finished predictions and continue in it",
          schema=(("type", ["string", "null"]),)),
    Param("ignore_errors", parse_bool, False, "samples that end in an error do not fail the session",
          schema=(("type", "boolean"),)),
    Param("max_errors", parse_error_budget, None, "error budget: a count or a fraction of samples (default 0)",
          schema=(("type", ["number", "null"]), ("minimum", 0),)),
    Param("thresholds", parse_thresholds, {}, "score gates NAME=VALUE (benchmark or benchmark/subset)", cli=False,
          schema=(("type", ["object", "array"]), ("additionalProperties", {"type": "number", "minimum": 0, "maximum": 1}),)),
    Param("debug", parse_bool, False, "log every sample's verdict, extracted answer and gold to logs/eval_log.log",
          schema=(("type", "boolean"),)),
    Param("dry_run", parse_bool, False, "render prompts and write outputs with the mock model; no request is sent",
          schema=(("type", "boolean"),)),
    Param("sandbox_isolation", choice(SANDBOX_ISOLATIONS), "auto",
          "sandbox for model-written code: auto (the strongest here) | bwrap | unshare | process; the operator's "
          "choice: the HTTP service refuses it in requests",
          schema=(("type", "string"), ("enum", list(SANDBOX_ISOLATIONS)),), operator=True),
    Param("judge_strategy", choice(JUDGE_STRATEGIES), None,
          "auto (the benchmark's own: rule, or a judge for judge-only benchmarks) | rule | llm (the judge scores) | "
          "llm_recall (the judge is asked only when the rule says wrong)",
          schema=(("type", ["string", "null"]), ("enum", [*JUDGE_STRATEGIES, None]),)),
    Param("judge_worker_num", _opt(bounded_int(1, MAX_BATCH)), None,
          "judge requests kept in flight per process (default: eval_batch_size)",
          schema=(("type", ["integer", "null"]), ("minimum", 1),)),
    Param("judge_model_args", _judge_args, {},
          "the judge: api_url, api_key, model_id, generation_config, system_prompt, prompt_template, score_type "
          "(pattern | numeric), score_pattern, score_mapping", schema=(("type", ["object", "string"]),)),
    Param("judge_cache", _opt(parse_str), None,
          "a folder of judge verdicts kept across runs, keyed by judge model, settings and exact messages "
          "(written to: the operator's setting, refused in service requests)",
          schema=(("type", ["string", "null"]),), operator=True),
    Param("eval_backend", choice({b.lower(): b for b in EVAL_BACKENDS}), "Native",
          "Native | RAGEval | OpenCompass | VLMEvalKit (EvalScope's backends; eval_config holds their settings); the "
          "operator's: a service request cannot name it", schema=(("type", "string"), ("enum", list(EVAL_BACKENDS)),),
          operator=True),
    Param("eval_config", _backend_config, None,
          "the backend's settings in EvalScope 1.14.1's shape: a mapping, JSON, or a YAML/JSON file", operator=True,
          schema=(("type", ["object", "string", "null"]),)),
    Param("gate_on", choice(GATE_ON), "point",
          "what a threshold is compared with: point (the score, as EvalScope) | lower (the 95% interval's lower "
          "bound must reach it) | upper (fails only when even the upper bound is below it)",
          schema=(("type", "string"), ("enum", list(GATE_ON)),)),
    Param("baseline", _opt(parse_str), None,
          "an earlier run's outputs folder (ours or EvalScope's) to compare this run with, sample by sample",
          schema=(("type", ["string", "null"]),)),
    Param("regression", parse_regressions, {},
          "regression gate against the baseline NAME[=MARGIN]: NAME a benchmark, benchmark/subset or all (repeatable)",
          repeatable=True, schema=(("type", ["object", "array", "string"]),)),
    Param("regression_mode", choice(REGRESSION_MODES), "regression",
          "regression (fails when confidently worse than the baseline by more than the margin) | noninferior "
          "(fails unless confidently within the margin)",
          schema=(("type", "string"), ("enum", list(REGRESSION_MODES)),)),
    Param("compare_allow", parse_list, [],
          "a setting allowed to differ from the baseline's (e.g. generation_config.max_tokens, gsm8k.prompt_template, "
          "dataset) (repeatable)", repeatable=True, schema=(("type", ["array", "string"]), ("items", {"type": "string"}),)),
    Param("compare_md", _opt(parse_str), None, "write the comparison with the baseline as Markdown to this file",
          operator=True, schema=(("type", ["string", "null"]),)),
    Param("strict", parse_bool, False, "regression gates too small to detect a drop of their margin fail the run",
          schema=(("type", "boolean"),)),
    Param("shard", _opt(parse_shard), None,
          "I/N: evaluate part I of N of the selection (contiguous blocks; repeats of a sample stay together); "
          "combine the parts with pytest-evalscope merge", schema=(("type", ["string", "null"]), ("pattern", r"^\d+/\d+$"),)),
    Param("run_id", _opt(parse_name), None,
          "the run the shards are parts of (default: a hash of the config); merge refuses parts of different runs",
          schema=(("type", ["string", "null"]),)),
    Param("shard_gates", parse_bool, False,
          "a shard applies thresholds and regression gates to its own part (by default only the merged run is gated)",
          schema=(("type", "boolean"),)),
)
PARAMS_BY_NAME = {p.name: p for p in PARAMS}
BOOL_PARAMS = {p.name for p in PARAMS if p.parse is parse_bool}  # flags without a value on command lines

# EvalScope TaskConfig keys that are accepted for compatibility and have no effect here.
INERT_KEYS = {
    "model_task", "rerun_review", "stream", "timeout",
    "enable_progress_tracker", "analysis_report", "collect_perf", "evalscope_version",
    "sandbox_type", "sandbox_manager_config", "use_sandbox",
}
# Keys EvalScope moved into generation_config; they are migrated there when given at the top level.
MIGRATED_TO_GENERATION = ("timeout", "stream")
