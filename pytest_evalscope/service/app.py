"""The HTTP service: EvalScope's v1.4 endpoints (synchronous ``POST /api/v1/eval`` and ``/api/v1/perf``,
``/params``, ``/health``) plus asynchronous jobs, on Starlette.

Errors are one JSON shape, ``{"status": "error", "error": "<one line>", "field": <name or null>}``:
400 invalid body (the field and why), 401 no/wrong bearer token, 404 unknown endpoint (with the list)
or job, 409 job in the wrong state, 413 body over ``max_body_bytes``, 429 ``max_jobs`` running,
500 internal error (a traceback only with ``debug``).  ``/health`` never needs the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import check_key
from ..params import ConfigError, check_text, parse_bool, parse_int
from .jobs import CANCELLED, SUCCEEDED, Job, JobManager
from .openapi import openapi_document
from .policy import Limits, Operator, check_eval, check_operator_keys, check_perf, confine_eval_reads
from .schema import RequestError, eval_params, perf_params, validate_eval, validate_perf

SERVICE = "pytest-evalscope"


@dataclass
class ServiceConfig:
    host: str = "127.0.0.1"
    port: int = 9000
    debug: bool = False
    output_dir: str = "./outputs"
    max_jobs: int = 2
    auth_token: str | None = None
    max_body_bytes: int = 1 << 20
    grace_s: float = 10.0  # cancel: SIGINT, then SIGKILL after this many seconds
    launch: bool = True  # False: requests are validated and recorded as jobs, nothing runs
    eval_defaults: dict[str, Any] = field(default_factory=dict)  # under every eval body (e.g. dataset_args)
    read_roots: list[str] = field(default_factory=list)  # where request paths may point; empty: anywhere
    sandbox_isolation: str = "auto"  # the sandbox for model-written code (scoring.sandbox); never a request's
    limits: Limits = field(default_factory=Limits)  # the most one request may ask for (policy.py)
    allow_checkpoints: bool = False  # requests may run a local model in their job (eval_type checkpoint)
    allow_urls: list[str] = field(default_factory=list)  # URL prefixes requests may send to; empty: any

    def __post_init__(self) -> None:
        for key in self.eval_defaults:
            check_key(key, "eval defaults")


def error(message: str, status: int, field: str | None = None, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 429 else None
    return JSONResponse({"status": "error", "error": message, "field": field, **extra}, status, headers=headers)


# ---------------------------------------------------------------- auth


class BearerAuth:
    """Every path but /health needs ``Authorization: Bearer <token>`` (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.token is not None and scope["path"] != "/health":
            header = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, credential = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(credential.strip(), self.token):
                response = error("missing or wrong bearer token (Authorization: Bearer <token>)", 401)
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- request helpers


async def read_json(request: Request, limit: int, optional: bool = False) -> Any:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(f"request body of {length} bytes is over the limit of {limit} bytes", None, status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"request body is over the limit of {limit} bytes", None, status=413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if optional and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        where = f" ({exc.msg} at line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise RequestError(f"the request body is not valid JSON{where}") from None
    _check_strings(body, "")
    return body


def _check_strings(value: Any, where: str, depth: int = 0) -> None:
    """Every string of a body must be one a file, a log and a path can hold: no NUL, no lone surrogate
    (JSON's \\ud800 escapes decode to one), and the body no deeper than a config ever is."""
    if depth > 32:
        raise RequestError(f"{where.lstrip('.') or 'the body'}: nested deeper than 32 levels", where.lstrip(".").split(".")[0] or None)
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        path = f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]"
        for text in ((key, item) if isinstance(value, dict) else (item,)):
            if isinstance(text, str):
                try:
                    check_text(text, path.lstrip("."), limit=1 << 20)
                except ConfigError as exc:
                    raise RequestError(str(exc), path.lstrip(".").split(".")[0].split("[")[0]) from None
        _check_strings(item, path, depth + 1)


def query_flag(request: Request, name: str) -> bool:
    try:
        return parse_bool(request.query_params.get(name, "false"), name)
    except ConfigError as exc:
        raise RequestError(str(exc), name) from None


def query_int(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    try:
        value = parse_int(request.query_params.get(name, default), name, minimum=minimum)
    except ConfigError as exc:
        raise RequestError(str(exc), name) from None
    if value > maximum:
        raise RequestError(f"{name}: must be at most {maximum}, got {value}", name)
    return value


def _code_refusal(isolation: str) -> str | None:
    """Why this service may not run model-written code, or None. The operator's named level must work
    here (else the service does not start); with auto, a host where only the process level works
    refuses code benchmarks, since that level is no boundary against hostile code."""
    from ..scoring.sandbox import resolve_isolation, strongest_isolation

    if isolation != "auto":
        resolve_isolation(isolation)  # ConfigError: the service refuses to start, with the reason
        return None
    if strongest_isolation() in (None, "process"):
        return ("this service has no sandbox that holds against hostile code here (neither bubblewrap nor unshare "
                "works); its operator may allow the weaker process level with --sandbox-isolation process")
    return None


def _merge_defaults(defaults: dict[str, Any], body: Any) -> Any:
    if not isinstance(body, dict) or not defaults:
        return body
    merged = {**defaults, **body}
    if isinstance(defaults.get("dataset_args"), dict) and isinstance(body.get("dataset_args"), dict):
        merged["dataset_args"] = {**defaults["dataset_args"], **body["dataset_args"]}
    return merged


# ---------------------------------------------------------------- the app


class Service:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.root = Path(config.output_dir).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.jobs = JobManager(self.root, config.max_jobs, config.grace_s, config.launch,
                               hidden=(config.auth_token,) if config.auth_token else ())
        self.operator = Operator(config.limits, _code_refusal(config.sandbox_isolation), config.allow_checkpoints,
                                 tuple(config.allow_urls), config.sandbox_isolation)
        # the output root is always readable (use_cache); the operator's eval_defaults are not checked
        # as the operator wrote them (absolute): confine_reads also resolves them, so a root reached
        # through a symlinked folder admits the paths written through that folder
        self.read_roots = [Path(os.path.abspath(os.path.expanduser(r))) for r in config.read_roots]
        if self.read_roots:
            self.read_roots.append(self.root)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": SERVICE, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S")})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document(self.config.auth_token is not None))

    async def eval_params(self, request: Request) -> Response:
        return JSONResponse(eval_params())

    async def perf_params(self, request: Request) -> Response:
        return JSONResponse(perf_params())

    async def run_eval(self, request: Request) -> Response:
        wait = not query_flag(request, "async")
        body = await read_json(request, self.config.max_body_bytes)
        check_operator_keys(body)
        confine_eval_reads(body, self.read_roots)
        values = validate_eval(_merge_defaults(self.config.eval_defaults, body), self.root)
        check_eval(values, body, self.operator)
        values["sandbox_isolation"] = self.config.sandbox_isolation
        api_key = values.pop("api_key", None)
        return await self._answer(self.jobs.submit("eval", values, api_key), wait)

    async def run_perf(self, request: Request) -> Response:
        wait = not query_flag(request, "async")
        body = await read_json(request, self.config.max_body_bytes)
        values = validate_perf(body, self.root)
        check_perf(values, self.operator, self.read_roots)
        api_key = values.pop("api_key", None)
        return await self._answer(self.jobs.submit("perf", values, api_key), wait)

    async def _answer(self, job: Job, wait: bool) -> Response:
        if not wait:
            links = {name: f"/api/v1/jobs/{job.id}{suffix}" for name, suffix in
                     (("status", ""), ("log", "/log"), ("cancel", "/cancel"), ("resume", "/resume"))}
            return JSONResponse({"status": "accepted", "job_id": job.id, "state": job.state,
                                 "output_dir": job.output_dir, "links": links}, 202,
                                headers={"Location": links["status"]})
        while not job.done.is_set():
            await asyncio.sleep(0.05)
        done = {"job_id": job.id, "output_dir": job.output_dir}
        what = "Evaluation" if job.kind == "eval" else "Performance test"
        if job.state == SUCCEEDED:
            extra = {}
            if job.kind == "perf" and isinstance(job.result, dict):  # EvalScope's per-point `results`
                extra["results"] = {p["point"]["label"]: p for p in job.result.get("points", [])}
            return JSONResponse({"status": "success", "message": f"{what} completed", "result": job.result,
                                 **done, **extra})
        if job.state == CANCELLED:
            return JSONResponse({"status": "stopped", "message": f"{what} was cancelled", **done})
        trace = {"traceback": job.traceback} if self.config.debug and job.traceback else {}
        if job.exit_code == 4:  # the session refused its input (e.g. a dataset file that does not parse)
            return error(f"{job.error}; see /api/v1/jobs/{job.id}/log", 400, None, **done)
        return error(f"{what} failed: {job.error}; see /api/v1/jobs/{job.id}/log", 500, None, **done, **trace)

    async def list_jobs(self, request: Request) -> Response:
        return JSONResponse({"jobs": [job.summary() for job in self.jobs.jobs.values()]})

    async def job(self, request: Request) -> Response:
        return JSONResponse(self.jobs.get(request.path_params["job_id"]).summary(detail=True))

    async def job_log(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["job_id"])
        start = query_int(request, "start_line", 0, 0, 10**9)
        page = query_int(request, "page", 500, 1, 5000)
        return JSONResponse(self.jobs.log(job, start, page))

    async def cancel(self, request: Request) -> Response:
        job = self.jobs.cancel(self.jobs.get(request.path_params["job_id"]))
        return JSONResponse({"status": "success", "message": "cancel requested (SIGINT; SIGKILL after "
                             f"{self.config.grace_s:g} s)", "job_id": job.id, "state": job.state})

    async def resume(self, request: Request) -> Response:
        wait = not query_flag(request, "async")
        job = self.jobs.get(request.path_params["job_id"])
        body = await read_json(request, self.config.max_body_bytes, optional=True)
        if not isinstance(body, dict) or set(body) - {"api_key"}:
            raise RequestError("the resume body is optional and takes only api_key", "api_key" if isinstance(body, dict) else None)
        api_key = body.get("api_key")
        if api_key is not None and not isinstance(api_key, str):
            raise RequestError("api_key: expected a string", "api_key")
        return await self._answer(self.jobs.resume(job, api_key), wait)

    def routes(self) -> list[Route]:
        return [
            Route("/health", self.health), Route("/openapi.json", self.openapi),
            Route("/api/v1/eval", self.run_eval, methods=["POST"]),
            Route("/api/v1/perf", self.run_perf, methods=["POST"]),
            Route("/api/v1/eval/params", self.eval_params), Route("/api/v1/perf/params", self.perf_params),
            Route("/api/v1/jobs", self.list_jobs), Route("/api/v1/jobs/{job_id}", self.job),
            Route("/api/v1/jobs/{job_id}/log", self.job_log),
            Route("/api/v1/jobs/{job_id}/cancel", self.cancel, methods=["POST"]),
            Route("/api/v1/jobs/{job_id}/resume", self.resume, methods=["POST"]),
        ]


def endpoints(routes: list[Route]) -> list[str]:
    return [f"{method} {r.path}" for r in routes for method in sorted(r.methods or ()) if method != "HEAD"]


def create_app(config: ServiceConfig | None = None) -> Starlette:
    config = config or ServiceConfig()
    service = Service(config)
    routes = service.routes()
    listing = endpoints(routes)

    async def on_request_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        return error(exc.message, exc.status, exc.field)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error(f"no endpoint {request.method} {request.url.path}", 404, None, endpoints=listing)
        if exc.status_code == 405:
            return error(f"{request.method} is not allowed on {request.url.path}", 405, None, endpoints=listing)
        return error(str(exc.detail), exc.status_code)

    async def on_crash(request: Request, exc: Exception) -> Response:
        extra = {"traceback": traceback.format_exc()} if config.debug else {}
        return error(f"internal error ({type(exc).__name__}); the service log has the details", 500, None, **extra)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(service.jobs.shutdown)

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        RequestError: on_request_error, HTTPException: on_http, Exception: on_crash}
    app = Starlette(debug=False, routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(BearerAuth, token=config.auth_token)
    return app
