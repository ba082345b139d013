"""`pytest-evalscope service`: the HTTP API (see :mod:`pytest_evalscope.service.app`).

Wiring: ``add_service_parser(subparsers)`` adds the subcommand; ``service_main(namespace)`` runs it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..params import ConfigError
from .policy import Limits

USAGE_ERROR = 4


def add_service_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("service", help="serve the evaluation and perf HTTP API (EvalScope's service)",
                                   description="EvalScope's service endpoints plus asynchronous jobs")
    configure_parser(parser)
    return parser


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port to bind (default 9000; 0 picks a free one)")
    parser.add_argument("--debug", action="store_true", help="tracebacks in 500 answers, access log")
    parser.add_argument("--output-dir", default="./outputs", help="root of every job's outputs (default ./outputs)")
    parser.add_argument("--max-jobs", type=int, default=2, help="jobs running at once; more get 429 (default 2)")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--auth-token-env", metavar="NAME", help="require Authorization: Bearer <$NAME> (not /health)")
    token.add_argument("--auth-token-file", metavar="PATH", help="require Authorization: Bearer <file contents>")
    parser.add_argument("--max-body-bytes", type=int, default=1 << 20, help="request size limit (default 1 MiB)")
    parser.add_argument("--cancel-grace", type=float, default=10.0, dest="grace_s",
                        help="seconds between SIGINT and SIGKILL when a job is cancelled (default 10)")
    parser.add_argument("--read-root", action="append", default=[], metavar="DIR", dest="read_roots",
                        help="confine the paths requests may read (datasets, templates, checkpoints, tokenizers) "
                             "to these folders and the output root (repeatable; default: no limit)")
    parser.add_argument("--sandbox-isolation", default="auto", choices=("auto", "bwrap", "unshare", "process"),
                        help="sandbox for model-written code (HumanEval): auto, the strongest here, refuses code "
                             "benchmarks where only the process level works; name process to allow it anyway")
    parser.add_argument("--allow-checkpoints", action="store_true",
                        help="let requests run a local model in their job (eval_type checkpoint; never trust_remote_code)")
    parser.add_argument("--allow-url", action="append", default=[], metavar="PREFIX", dest="allow_urls",
                        help="the only URL prefixes (scheme://host:port/path) requests may send to: api_url, a "
                             "judge's api_url, perf's url (repeatable; default: any)")
    limits = Limits()
    for name, kind, text in (("repeats", int, "repeats or generation_config.n"),
                             ("eval_batch_size", int, "eval_batch_size (requests in flight per job process)"),
                             ("review_timeout", float, "seconds per sandboxed program (review_timeout)"),
                             ("perf_requests", int, "perf requests per sweep point (number)"),
                             ("perf_parallel", int, "perf parallel and max_inflight"),
                             ("perf_seconds", float, "perf total_timeout, duration and sleep_interval, seconds")):
        parser.add_argument(f"--max-{name.replace('_', '-')}", type=kind, default=getattr(limits, name),
                            dest=f"max_{name}", metavar="N",
                            help=f"the most a request may ask for: {text} (default {getattr(limits, name):g})")
    parser.add_argument("--eval-defaults", metavar="JSON|FILE",
                        help="TaskConfig keys put under every eval request, e.g. dataset_args with local paths")
    return parser


def auth_token(ns: argparse.Namespace) -> str | None:
    if ns.auth_token_env:
        token = os.environ.get(ns.auth_token_env, "").strip()
        if not token:
            raise ConfigError(f"--auth-token-env: environment variable {ns.auth_token_env} is unset or empty")
        return token
    if ns.auth_token_file:
        try:
            token = Path(ns.auth_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--auth-token-file: cannot read {ns.auth_token_file!r} ({exc.strerror})") from None
        if not token:
            raise ConfigError(f"--auth-token-file: {ns.auth_token_file!r} is empty")
        return token
    return None


def eval_defaults(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    source = Path(text).read_text(encoding="utf-8") if not text.lstrip().startswith("{") else text
    try:
        data = json.loads(source)
    except ValueError as exc:
        raise ConfigError(f"--eval-defaults: not a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError("--eval-defaults: expected a JSON object of TaskConfig keys")
    return data


def read_roots(values: list[str]) -> list[str]:
    for value in values:
        if not Path(value).expanduser().is_dir():
            raise ConfigError(f"--read-root: {value!r} is not a folder")
    return values


def limits_of(ns: argparse.Namespace) -> Limits:
    values = {f.name: getattr(ns, f"max_{f.name}") for f in dataclasses.fields(Limits)}
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"--max-{name.replace('_', '-')}: must be positive, got {value}")
    return Limits(**values)


def service_main(ns: argparse.Namespace) -> int:
    try:
        from .server import run_service
    except ImportError as exc:
        print(f"ERROR: the service needs starlette and uvicorn ({exc.name} is missing); "
              "pip install 'pytest-evalscope[service]'", file=sys.stderr)
        return USAGE_ERROR
    try:
        if ns.max_jobs < 1 or ns.max_body_bytes < 1 or not 0 <= ns.port < 65536:
            raise ConfigError("--max-jobs and --max-body-bytes must be positive, --port in 0..65535")
        run_service(ns.host, ns.port, ns.debug, output_dir=ns.output_dir, max_jobs=ns.max_jobs,
                    auth_token=auth_token(ns), max_body_bytes=ns.max_body_bytes, grace_s=ns.grace_s,
                    eval_defaults=eval_defaults(ns.eval_defaults), read_roots=read_roots(ns.read_roots),
                    sandbox_isolation=ns.sandbox_isolation, limits=limits_of(ns),
                    allow_checkpoints=ns.allow_checkpoints, allow_urls=ns.allow_urls)
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = configure_parser(argparse.ArgumentParser(prog="python -m pytest_evalscope.service"))
    return service_main(parser.parse_args(argv))
