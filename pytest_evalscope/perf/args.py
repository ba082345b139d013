"""`evalscope perf` parameters: one table that the CLI flags, the Python API (`run_perf`) and the
pytest face (`perf_*.yaml`/`perf_*.json` files) are all generated from.

Every value goes through its parser whatever its source (a command-line string, a YAML value, a
Python object); a bad value raises :class:`~pytest_evalscope.params.ConfigError` with one line
naming the parameter, what was wrong and what would be right.  Unknown keys get "did you mean".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlparse

from ..config import redact_mapping, redact_url
from ..params import (
    ConfigError,
    check_headers,
    did_you_mean,
    parse_bool,
    parse_int,
    parse_mapping,
    parse_name,
    parse_str,
)
from .gates import Slo, parse_goodput, parse_slo

DEFAULT_URL = "http://127.0.0.1:8877/v1/chat/completions"


# Ceilings for any run (the HTTP service sets lower ones): 10^12 requests at 10^6 in parallel is a typo.
MAX_NUMBER = 1_000_000_000
MAX_PARALLEL = 100_000
MAX_POINTS = 1_000  # points of one sweep


def _positive_ints(maximum: int) -> Callable[[Any, str], list[int]]:
    def parse(value: Any, name: str) -> list[int]:
        items = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
        if not items:
            raise ConfigError(f"{name}: expected one or more positive integers, e.g. 1 16 64")
        if len(items) > MAX_POINTS:
            raise ConfigError(f"{name}: {len(items)} sweep points is over the maximum of {MAX_POINTS}")
        numbers = [parse_int(v, name, minimum=1) for v in items]
        if max(numbers) > maximum:
            raise ConfigError(f"{name}: {max(numbers)} is over the maximum of {maximum}")
        return numbers
    return parse


def _rates(value: Any, name: str) -> list[float]:
    items = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
    out = []
    for v in items:
        try:
            rate = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected requests per second (a positive number, or -1 for no limit), "
                              f"got {v!r}") from None
        if not (rate == -1 or (rate > 0 and math.isfinite(rate))):
            raise ConfigError(f"{name}: {v!r} is not a rate; use a positive number of requests/s or -1 for no limit")
        out.append(rate)
    if not out:
        raise ConfigError(f"{name}: expected one or more rates, e.g. 10 or -1")
    return out


def _number(minimum: float, maximum: float | None = None, *, optional: bool = False) -> Callable[[Any, str], Any]:
    def parse(value: Any, name: str) -> float | None:
        if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none"))):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{name}: expected a number, got {str(value)[:40]!r}") from None
        if not math.isfinite(number) or number < minimum or (maximum is not None and number > maximum):
            span = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise ConfigError(f"{name}: expected a number {span}, got {value!r}")
        return number

    return parse


MAX_SECONDS = 30 * 86400.0  # any perf duration beyond a month is a typo


def _positive_seconds(value: Any, name: str) -> float:
    number = _number(0.0, MAX_SECONDS)(value, name)
    if not number:
        raise ConfigError(f"{name}: must be a positive number of seconds, got {value!r}")
    return number


def _opt_int(minimum: int) -> Callable[[Any, str], int | None]:
    def parse(value: Any, name: str) -> int | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        return parse_int(value, name, minimum=minimum)

    return parse


def _run_name(value: Any, name: str) -> str | None:
    """The run's folder name: a plain name (no separators, not . or ..)."""
    if value is None or value == "":
        return None
    return parse_name(value, name, "qwen3-sweep", "names the run's output folder")


def _opt_str(value: Any, name: str) -> str | None:
    return None if value is None or value == "" else parse_str(value, name)


def _url(value: Any, name: str) -> str:
    text = parse_str(value, name).strip()
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{name}: {text!r} is not an http(s) URL; expected e.g. {DEFAULT_URL}")
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{name}: {text!r} has an invalid port; expected e.g. {DEFAULT_URL}") from None
    return text


def _urls(value: Any, name: str) -> str | list[str]:
    """One endpoint, or several serving the same model (a repeated --url, or a list): the load is spread
    over them (perf/fleet.py)."""
    if not isinstance(value, (list, tuple)):
        return _url(value, name)
    urls = [_url(url, f"{name}[{i}]") for i, url in enumerate(value)]
    twice = next((url for i, url in enumerate(urls) if url in urls[:i]), None)
    if twice is not None:
        raise ConfigError(f"{name}: {twice} is listed twice; give each endpoint once")
    if not urls:
        raise ConfigError(f"{name}: an empty list; give at least one endpoint, e.g. {DEFAULT_URL}")
    return urls[0] if len(urls) == 1 else urls


def _warmup(value: Any, name: str) -> int | float:
    number = _number(0.0)(value, name)
    assert number is not None
    if 0 < number < 1:
        return number
    if not number.is_integer():
        raise ConfigError(f"{name}: a count must be a whole number (or a fraction < 1 of number), got {value!r}")
    return int(number)


def _choice_registry(kind: str) -> Callable[[Any, str], str]:
    def parse(value: Any, name: str) -> str:
        from .apis import API_REGISTRY
        from .datasets import DATASET_REGISTRY

        registry = API_REGISTRY if kind == "api" else DATASET_REGISTRY
        text = parse_str(value, name).strip().lower()
        if text not in registry:
            raise ConfigError(f"{name}: unknown {kind} {text!r}{did_you_mean(text, list(registry))}; "
                              f"expected one of {', '.join(sorted(registry))}")
        return text

    return parse


def _headers(value: Any, name: str) -> dict[str, str]:
    if isinstance(value, (list, tuple)):  # EvalScope's `--headers key1=value1 key2=value2`
        value = ",".join(str(v) for v in value)
    return check_headers(parse_mapping(value, name), name)


def _slos(value: Any, name: str) -> list[Slo]:
    items = [] if value is None else value if isinstance(value, (list, tuple)) else [value]
    return [v if isinstance(v, Slo) else parse_slo(v) for v in items]


def _json_object(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, str) and value.strip() and not value.strip().startswith("{"):
        raise ConfigError(f"{name}: expected a JSON object such as '{{\"ignore_eos\": true}}', got {value!r}")
    return parse_mapping(value, name)


@dataclass(frozen=True)
class PerfParam:
    name: str
    parse: Callable[[Any, str], Any]
    default: Any
    help: str
    nargs: str | None = None  # "+" for sweep lists on the command line; "append"/"repeat": a repeatable flag
    flag: bool = False  # a boolean switch on the command line
    secret: bool = False


PERF_PARAMS: tuple[PerfParam, ...] = (
    PerfParam("model", parse_str, None, "model name sent in each request (required)"),
    PerfParam("url", _urls, DEFAULT_URL, "full endpoint URL, e.g. http://127.0.0.1:8000/v1/chat/completions; "
              "repeatable: several endpoints of one model share the load", nargs="repeat"),
    PerfParam("api", _choice_registry("api"), "openai", "request/response format: openai (chat), openai_completions, dashscope"),
    PerfParam("api_key", _opt_str, None, "sent as 'Authorization: Bearer ...'; never written to any file", secret=True),
    PerfParam("headers", _headers, {}, "extra HTTP headers: k=v k=v or a JSON object", nargs="*"),
    PerfParam("number", _positive_ints(MAX_NUMBER), [1000], "requests per run; a list pairs with --parallel/--rate", nargs="+"),
    PerfParam("parallel", _positive_ints(MAX_PARALLEL), [1], "concurrent requests (closed loop); a list runs a sweep", nargs="+"),
    PerfParam("rate", _rates, [-1.0], "requests/s with Poisson arrivals, -1 = as fast as parallel allows", nargs="+"),
    PerfParam("open_loop", parse_bool, False, "send at --rate regardless of completions (in-flight capped by --max-inflight)",
              flag=True),
    PerfParam("max_inflight", lambda v, n: parse_int(v, n, minimum=1), 1024,
              "open loop: requests due while this many are in flight are dropped and counted"),
    PerfParam("warmup_num", _warmup, 0, "warm-up requests before each run, left out of metrics (a count, or a fraction < 1)"),
    PerfParam("duration", _number(0.0, MAX_SECONDS, optional=True), None, "stop sending new requests after this many seconds"),
    PerfParam("sleep_interval", _number(0.0, 86400.0), 5.0, "seconds to wait between the runs of a sweep"),
    PerfParam("total_timeout", _positive_seconds, 6 * 3600.0, "global deadline in seconds; in-flight requests are cut"),
    PerfParam("connect_timeout", _positive_seconds, 30.0, "seconds to open a TCP connection"),
    PerfParam("read_timeout", _positive_seconds, 120.0, "seconds without a byte before a request fails (timeout/stalled_stream)"),
    PerfParam("dataset", _choice_registry("dataset"), "openqa", "openqa, line_by_line, custom, random, sharegpt"),
    PerfParam("dataset_path", _opt_str, None, "local dataset file"),
    PerfParam("prompt", _opt_str, None, "one fixed prompt for every request (overrides --dataset)"),
    PerfParam("min_prompt_length", lambda v, n: parse_int(v, n, minimum=0), 0,
              "shortest prompt kept (tokens with --tokenizer-path, else characters)"),
    PerfParam("max_prompt_length", lambda v, n: parse_int(v, n, minimum=1), 131072,
              "longest prompt kept (tokens with --tokenizer-path, else characters)"),
    PerfParam("tokenizer_path", _opt_str, None, "transformers tokenizer (path or hub id) for token counts and random prompts"),
    PerfParam("max_tokens", lambda v, n: parse_int(v, n, minimum=1), 2048, "max_tokens sent in each request"),
    PerfParam("min_tokens", _opt_int(0), None, "min_tokens sent in each request (vLLM/SGLang extension)"),
    PerfParam("temperature", _number(0.0, 2.0, optional=True), 0.0, "sampling temperature"),
    PerfParam("top_p", _number(0.0, 1.0, optional=True), None, "nucleus sampling top_p"),
    PerfParam("stream", parse_bool, True, "stream responses (SSE); --no-stream to turn off"),
    PerfParam("extra_args", _json_object, {}, "JSON object merged into each request body, e.g. '{\"ignore_eos\": true}'"),
    PerfParam("seed", lambda v, n: parse_int(v, n, minimum=0), 0, "seed for prompt sampling and Poisson arrivals"),
    PerfParam("outputs_dir", parse_str, "outputs", "outputs root; <timestamp>/<name>/parallel_<p>_number_<n>/ is made inside"),
    PerfParam("name", _run_name, None, "run name used for the output folder (default: the model)"),
    PerfParam("no_timestamp", parse_bool, False, "write directly under outputs_dir/<name>", flag=True),
    PerfParam("slo", _slos, [], "gate, e.g. 'p99 ttft <= 500ms' or 'success_rate >= 0.99' (repeatable)", nargs="append"),
    PerfParam("goodput", parse_goodput, {}, "per-request SLOs for goodput, e.g. ttft=500ms,tpot=50ms,e2e=10s"),
    PerfParam("plots", parse_bool, True, "write PNG plots and an HTML report (needs matplotlib)"),
    PerfParam("progress", parse_bool, True, "live progress line on stderr"),
)
PERF_PARAMS_BY_NAME = {p.name: p for p in PERF_PARAMS}
# EvalScope spellings accepted as aliases.
ALIASES = {"warmup": "warmup_num", "output_dir": "outputs_dir", "outputs": "outputs_dir", "tokenizer": "tokenizer_path"}


@dataclass
class PerfArgs:
    """Validated settings of one perf invocation (a sweep of one or more runs)."""

    model: str
    url: str | list[str] = DEFAULT_URL  # a list: endpoints serving the same model (perf/fleet.py)
    api: str = "openai"
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    number: list[int] = field(default_factory=lambda: [1000])
    parallel: list[int] = field(default_factory=lambda: [1])
    rate: list[float] = field(default_factory=lambda: [-1.0])
    open_loop: bool = False
    max_inflight: int = 1024
    warmup_num: int | float = 0
    duration: float | None = None
    sleep_interval: float = 5.0
    total_timeout: float = 6 * 3600.0
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    dataset: str = "openqa"
    dataset_path: str | None = None
    prompt: str | None = None
    min_prompt_length: int = 0
    max_prompt_length: int = 131072
    tokenizer_path: str | None = None
    max_tokens: int = 2048
    min_tokens: int | None = None
    temperature: float | None = 0.0
    top_p: float | None = None
    stream: bool = True
    extra_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    outputs_dir: str = "outputs"
    name: str | None = None
    no_timestamp: bool = False
    slo: list[Slo] = field(default_factory=list)
    goodput: dict[str, float] = field(default_factory=dict)
    plots: bool = True
    progress: bool = True

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PerfArgs:
        """Validate a mapping (CLI namespace, YAML file, Python kwargs) into :class:`PerfArgs`."""
        data: dict[str, Any] = {}
        for key, value in values.items():
            name = ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
            param = PERF_PARAMS_BY_NAME.get(name)
            if param is None:
                raise ConfigError(f"unknown perf parameter {key!r}{did_you_mean(name, list(PERF_PARAMS_BY_NAME))}")
            if value is not None:
                data[name] = param.parse(value, name)
        if "model" not in data:
            raise ConfigError("model: required; give the model name the server serves, e.g. --model qwen2.5-7b")
        args = cls(**data)
        args.check()
        return args

    def check(self) -> None:
        if self.min_prompt_length > self.max_prompt_length:
            raise ConfigError(f"min_prompt_length ({self.min_prompt_length}) is above max_prompt_length "
                              f"({self.max_prompt_length})")
        if self.dataset in ("line_by_line", "custom", "sharegpt") and not self.dataset_path and not self.prompt:
            raise ConfigError(f"dataset_path: dataset {self.dataset!r} reads a local file; give --dataset-path FILE")
        if self.open_loop and all(r == -1 for r in self.rate):
            raise ConfigError("rate: --open-loop needs a rate (requests/s), e.g. --rate 10 50 100")
        self.points()  # list lengths must pair up

    def points(self) -> list[tuple[int, int, float]]:
        """The sweep: (parallel, number, rate) triples; length-1 lists pair with every point."""
        lists = {"parallel": self.parallel, "number": self.number, "rate": self.rate}
        length = max(len(v) for v in lists.values())
        for name, values in lists.items():
            if len(values) not in (1, length):
                longest = max(lists, key=lambda k: len(lists[k]))
                raise ConfigError(f"{name}: has {len(values)} values but {longest} has {length}; sweep lists pair "
                                  f"up one to one, so give {length} values or one")
        return [(self.parallel[i % len(self.parallel)], self.number[i % len(self.number)], self.rate[i % len(self.rate)])
                for i in range(length)]

    def public(self) -> dict[str, Any]:
        """The settings as JSON-safe values, with the API key and auth headers redacted."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key":
                value = "***" if value else None
            elif f.name == "headers":
                value = redact_mapping(value)
            elif f.name == "url":
                value = [redact_url(u) for u in value] if isinstance(value, list) else redact_url(value)
            elif f.name == "slo":
                value = [s.text for s in value]
            out[f.name] = value
        return json.loads(json.dumps(out, default=str))
