"""What the service's operator decides and a request cannot: upper bounds on the work one request may
ask for, the sandbox for model-written code, the paths a request may read, and the environment a
job process gets.

A request is checked against the policy after it was validated as a TaskConfig (so a value sent as a
JSON string is checked in its parsed form, like an object); a breach is a 400 naming the field.

- **Limits** (`Limits`): repeats (and `generation_config.n`), eval_batch_size, a code benchmark's
  review_timeout, and perf's number, parallel and max_inflight. The command line has hard ceilings of
  its own (params.MAX_REPEATS, perf.args.MAX_NUMBER, ...); these are the operator's, lower ones.
- **Sandbox**: `sandbox_isolation` is the operator's (``--sandbox-isolation``); a request that names it,
  or a benchmark's ``extra_params.isolation``, is refused. With ``auto`` on a host where only the
  ``process`` level works, code benchmarks are refused unless the operator chose ``process`` knowingly.
- **Models**: HTTP clients (``service``, ``embedding``, ``rerank``) may be used by any request, each URL
  it would send to (``api_url``, a judge's, a retrieval reranker's, ragas's embeddings ``api_base``) held to
  ``--allow-url``; a model run in the job (``checkpoint``, ``encoder``, ragas embeddings of provider
  ``huggingface``) needs ``--allow-checkpoints``; provider ``python`` (imports a module) is always refused.
- **Read roots**: with ``--read-root``, every path a request would read lies under one of them (an
  encoder's folder and ``model_args.onnx`` too); the refusal does not say whether the path exists. A
  served model's name (``/models/Qwen3-8B``) is a name, not a path, and is not checked.
- **Environment**: a job process gets a short allow-list of the service's variables (locale, caches,
  proxies, TLS), never its bearer token or API keys; the request's own key is added by the job manager.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..params import PARAMS, PARAMS_BY_NAME, ConfigError
from .schema import HTTP_BACKENDS, RequestError, inside, read_paths

OPERATOR_KEYS = frozenset(p.name for p in PARAMS if p.operator)


@dataclass(frozen=True)
class Limits:
    """The most one request may ask for (each a service option, ``--max-<name>``)."""

    repeats: int = 100
    eval_batch_size: int = 256
    review_timeout: float = 60.0  # seconds per sandboxed program
    perf_requests: int = 100_000  # perf `number`, per sweep point
    perf_parallel: int = 1_000  # perf `parallel` and `max_inflight`
    perf_seconds: float = 3_600.0  # perf `total_timeout`, `duration` and `sleep_interval`


MAX_RETRIES = 100  # model_args.max_retries: more is a typo, and a request could hold its job slot with it
MAX_SWEEP_POINTS = 100  # perf: points of one sweep (number/parallel/rate lists)


# ---------------------------------------------------------------- eval requests


def check_operator_keys(body: Any) -> None:
    """Settings that belong to the operator are refused in a request, whatever their value."""
    if not isinstance(body, dict):
        return
    # EvalScope's clients send eval_backend Native and eval_config null by default: they ask nothing of the operator
    asked = {k for k, v in body.items() if not ((k == "eval_backend" and str(v).lower() == "native")
                                                or (k == "eval_config" and v is None))}
    for key in OPERATOR_KEYS & asked:
        if key in ("eval_backend", "eval_config"):
            raise RequestError(f"{key}: a service request cannot run another backend (RAGEval, OpenCompass, VLMEvalKit); "
                               "run it with pytest-evalscope eval --config, or use the ragas suite in datasets", key)
        raise RequestError(f"{key}: set by the service's operator (pytest-evalscope service --{key.replace('_', '-')}), "
                           "not by a request", key)


def confine_eval_reads(body: Any, roots: list[Path]) -> None:
    """Read roots over the request as sent (the operator's eval_defaults are trusted), its values parsed
    as the run will parse them: dataset_args or model_args sent as a JSON string are checked like objects.
    A value that does not parse is left to validation, which refuses it."""
    if not roots or not isinstance(body, dict):
        return
    parsed = {}
    for key, value in body.items():
        try:
            parsed[key] = PARAMS_BY_NAME[key].convert(value) if key in PARAMS_BY_NAME and value is not None else value
        except ConfigError:
            parsed[key] = value
    confine_reads(_readable(parsed), "eval", roots)


@dataclass(frozen=True)
class Operator:
    """The operator's decisions a request is checked against (the service's options)."""

    limits: Limits = Limits()
    allows_code: str | None = None  # None: code benchmarks may run; else why they may not
    allow_checkpoints: bool = False  # --allow-checkpoints: requests may run local models in the job
    allow_urls: tuple[str, ...] = ()  # --allow-url: the URL prefixes a request may send to; empty: any
    sandbox_isolation: str = "auto"


def check_eval(values: Mapping[str, Any], body: Mapping[str, Any], operator: Operator) -> None:
    """The policy for a validated eval request, the operator's defaults merged in (raises RequestError).
    `body` is the request as sent: what only a request may not do (run a checkpoint, trust remote code)
    is checked there, so the operator's eval_defaults can still do it."""
    limits = operator.limits
    parsed = _parsed(values)
    sent = _parsed(body)
    if not operator.allow_checkpoints:
        for field, backend in (("eval_type", sent.get("eval_type")),
                               ("judge_model_args", (sent.get("judge_model_args") or {}).get("eval_type"))):
            if backend not in (None, *HTTP_BACKENDS, "mock", "mock_llm"):
                raise RequestError(f"{field}: this service runs no local model for a request ({backend}); its "
                                   "operator may allow that with --allow-checkpoints", field)
    for field, args in (("model_args", sent.get("model_args") or {}),
                        ("judge_model_args", (sent.get("judge_model_args") or {}).get("model_args") or {})):
        if args.get("trust_remote_code"):
            raise RequestError(f"{field}.trust_remote_code: a request may not run a model repository's own code", field)
        if "http_client" in args:
            raise RequestError(f"{field}.http_client: not something a request can send; leave it out", field)
    for field, url in (("api_url", parsed.get("api_url")),
                       ("judge_model_args", (parsed.get("judge_model_args") or {}).get("api_url")),
                       *_suite_urls(parsed.get("dataset_args"))):
        check_url(url, field, operator.allow_urls)
    _check_suite_models(sent, operator.allow_checkpoints)
    retries = (parsed.get("model_args") or {}).get("max_retries")
    if retries is not None:
        _at_most("model_args.max_retries", _number(retries, "model_args.max_retries"), MAX_RETRIES, "model_args")
    _at_most("repeats", parsed.get("repeats", 1), limits.repeats)
    n = (parsed.get("generation_config") or {}).get("n")
    if n is not None:
        _at_most("generation_config.n", _number(n, "generation_config.n"), limits.repeats)
    _at_most("eval_batch_size", parsed.get("eval_batch_size", 1), limits.eval_batch_size)
    for name, args in (parsed.get("dataset_args") or {}).items():
        if not isinstance(args, dict):
            continue
        extra = args.get("extra_params") if isinstance(args.get("extra_params"), dict) else {}
        if "isolation" in extra:
            raise RequestError(f"dataset_args.{name}.extra_params.isolation: the sandbox is the service operator's "
                               "choice (--sandbox-isolation), not a request's", "dataset_args")
        for key, value in (("review_timeout", args.get("review_timeout")), ("extra_params.timeout", extra.get("timeout"))):
            if value is not None:
                _at_most(f"dataset_args.{name}.{key}", _number(value, f"dataset_args.{name}.{key}"),
                         limits.review_timeout, "dataset_args")
    for name in parsed.get("datasets") or []:
        if operator.allows_code is not None and _runs_code(name):
            raise RequestError(f"datasets: {name} runs model-written code, and {operator.allows_code}", "datasets")
        _check_benchmark(name, (parsed.get("dataset_args") or {}).get(name), operator.sandbox_isolation)


def _suite_models(dataset_args: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """The models a suite's settings name: a retrieval's second-stage ``reranker``, ragas's ``embeddings``."""
    for name, args in (dataset_args or {}).items() if isinstance(dataset_args, dict) else ():
        extra = args.get("extra_params") if isinstance(args, dict) else None
        for key in ("reranker", "embeddings"):
            block = extra.get(key) if isinstance(extra, dict) else None
            if isinstance(block, dict):
                yield f"dataset_args.{name}.extra_params.{key}", block


def _suite_urls(dataset_args: Any) -> list[tuple[str, Any]]:
    """The URLs those models send to: a reranker's api_url, an embeddings block's api_base."""
    return [(f"{field}.{key}", block.get(key)) for field, block in _suite_models(dataset_args)
            for key in ("api_url", "api_base") if block.get(key) is not None]


def _check_suite_models(sent: Mapping[str, Any], allow_checkpoints: bool) -> None:
    """ragas's embeddings as a request sends them: provider python imports code (never from a request);
    huggingface (EvalScope's default) runs a local model (--allow-checkpoints); openai is an HTTP client."""
    for field, block in _suite_models(sent.get("dataset_args")):
        if not field.endswith(".embeddings"):
            continue
        provider = str(block.get("provider") or "huggingface")
        if provider == "python":
            raise RequestError(f"{field}.provider: python imports a module named by the request, which a service "
                               "request may not do; use provider openai with api_base", "dataset_args")
        if provider != "openai" and not allow_checkpoints:
            raise RequestError(f"{field}.provider: {provider} runs a local model, which this service does not do for a "
                               "request (its operator may allow it with --allow-checkpoints); use provider openai with "
                               "api_base", "dataset_args")


def _parsed(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: PARAMS_BY_NAME[k].convert(v) for k, v in values.items() if k in PARAMS_BY_NAME and v is not None}


def _check_benchmark(name: str, args: Any, isolation: str) -> None:
    """dataset_args as the job will take them, checked now (keys, split and subset names, templates'
    types, extra_params), so a bad one is a 400 rather than a failed job. Reads no data."""
    from ..registry import create_benchmark

    try:
        create_benchmark(name, dict(args) if isinstance(args, dict) else None, sandbox_isolation=isolation)
    except ConfigError as exc:
        if "unknown benchmark" in str(exc):
            return  # a user's own suite name: the job resolves it
        raise RequestError(str(exc), "dataset_args") from None


def check_url(url: str | list[str] | None, field: str, allowed: tuple[str, ...]) -> None:
    """With --allow-url prefixes, a URL a request makes the service send to must start with one of them
    (compared scheme, host and port exactly, then the path as a prefix; user:password ignored). A fleet's
    list (api_url with several endpoints) is checked URL by URL."""
    if isinstance(url, list):
        for i, one in enumerate(url):
            check_url(one, f"{field}[{i}]", allowed)
        return
    if not url or not allowed:
        return
    if not any(_canonical(url).startswith(_canonical(prefix)) for prefix in allowed):
        raise RequestError(f"{field}: this service sends only to the URLs its operator allowed (--allow-url "
                           f"{' '.join(allowed)})", field.partition("[")[0])


def _canonical(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}{parts.path or '/'}"


def _runs_code(benchmark: str) -> bool:
    from ..registry import get_benchmark_class

    try:
        return bool(getattr(get_benchmark_class(benchmark), "runs_code", False))
    except ConfigError:
        return False


def _readable(parsed: dict[str, Any]) -> dict[str, Any]:
    """The parsed request as read_paths sees it; a served model's name is not a path on this host."""
    serves = parsed.get("api_url") is not None and parsed.get("eval_type") in (None, *HTTP_BACKENDS)
    return {k: v for k, v in parsed.items() if not (k == "model" and serves)}


# ---------------------------------------------------------------- perf requests


def check_perf(values: Mapping[str, Any], operator: Operator, roots: list[Path]) -> None:
    from ..perf.args import PERF_PARAMS_BY_NAME

    limits = operator.limits
    parsed = {k: PERF_PARAMS_BY_NAME[k].parse(v, k) for k, v in values.items() if k in PERF_PARAMS_BY_NAME and v is not None}
    for key, limit in (("number", limits.perf_requests), ("parallel", limits.perf_parallel),
                       ("max_inflight", limits.perf_parallel)):
        value = parsed.get(key)
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            _at_most(key, item, limit)
    for key in ("total_timeout", "duration", "sleep_interval"):  # a job may hold its slot this long at most
        if parsed.get(key) is not None:
            _at_most(key, float(parsed[key]), limits.perf_seconds)
    lengths = {k: len(parsed[k]) for k in ("number", "parallel", "rate") if isinstance(parsed.get(k), list)}
    for key, length in lengths.items():
        if length > MAX_SWEEP_POINTS:
            raise RequestError(f"{key}: {length} sweep points is over the limit of {MAX_SWEEP_POINTS}", key)
    check_url(parsed.get("url"), "url", operator.allow_urls)
    confine_reads(parsed, "perf", roots)


# ---------------------------------------------------------------- shared


def confine_reads(body: Any, kind: str, roots: list[Path]) -> None:
    """With read roots set (`--read-root`), every path a request would read must lie under one of them;
    else a 400 naming the field, and saying nothing of whether the path exists."""
    if not roots:
        return
    for name, value in read_paths(body, kind):
        path = Path(os.path.abspath(os.path.expanduser(value)))
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: refused like any path outside
            resolved = None
        # the real file lies under a root's real folder, and the name as written under the root (as the
        # operator wrote it, or resolved): no symlink outside the roots is followed on the way
        if resolved is None or not any(inside(resolved, root.resolve()) and (inside(path, root) or inside(path, root.resolve()))
                                       for root in roots):
            raise RequestError(f"{name}: this path is outside the service's read roots; give a path under "
                               f"{', '.join(str(r) for r in roots)}", name)


def _at_most(name: str, value: float, limit: float, field: str | None = None) -> None:
    if value > limit:
        option = {"repeats": "repeats", "generation_config.n": "repeats", "eval_batch_size": "eval-batch-size",
                  "number": "perf-requests", "parallel": "perf-parallel", "max_inflight": "perf-parallel",
                  "total_timeout": "perf-seconds", "duration": "perf-seconds", "sleep_interval": "perf-seconds"}.get(
                      name, "review-timeout")
        raise RequestError(f"{name}: {value:g} is over this service's limit of {limit:g} (the operator's "
                           f"--max-{option})", field or name.split(".")[0])


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(f"{name}: expected a number, got {str(value)[:40]!r}", name.split(".")[0]) from None
    if number != number:
        raise RequestError(f"{name}: expected a number, got NaN", name.split(".")[0])
    return number


# ---------------------------------------------------------------- job environment

# What a job process may inherit from the service: locale, time zone, model and dataset caches, proxies
# and TLS trust. Never the service's bearer token (--auth-token-env), and never an API key: the job gets
# the request's own key, and only that.
_ENV_NAMES = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
              "HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
              "TRANSFORMERS_CACHE", "TRANSFORMERS_OFFLINE", "MODELSCOPE_CACHE", "XDG_CACHE_HOME",
              "PYTEST_EVALSCOPE_CACHE", "PYTEST_EVALSCOPE_LEAN_HTTP", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
              "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "VIRTUAL_ENV", "PYTHONPATH"}
_ENV_PREFIXES = ("LC_",)


def job_environment(environ: Mapping[str, str], secrets: Iterator[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """The variables a job process starts with; `secrets` (the service's token) are dropped even if an
    allowed variable happens to hold one."""
    hidden = {s for s in secrets if s}
    return {k: v for k, v in environ.items()
            if (k in _ENV_NAMES or k.startswith(_ENV_PREFIXES)) and v not in hidden}
