"""An OpenAI-compatible chat-completions server for loopback tests of the evaluation harness.

``POST /v1/chat/completions`` answers from an *oracle* (prompt -> reply), so a run against it
has a known expected score; the server is plain asyncio streams plus a small HTTP/1.1 parser
(keep-alive, ``Content-Length`` bodies), fast enough to benchmark the harness itself, and it
binds loopback addresses only.  Also: ``GET /v1/models``, ``GET /stats``, ``POST /shutdown``.

Images (testing/images.py): an ``image_url`` part must be a ``data:image/...;base64`` URI whose bytes
are the image type it declares (else 400), or an http(s) URL (never fetched). In the text the oracle
matches, each image stands as ``image_tag(bytes)`` (their sha256), parts joined by newlines, so an
oracle keyed on an image's tag proves that image arrived intact.

Oracle lookup takes the last ``user`` message and tries: the whole content stripped; its last
block after a blank line; that block minus trailing lines, one at a time (so "Question?"
followed by a line "Please reason step by step." still finds "Question?").  No match:
``default_reply``.  A list of replies stands for sampling: the n-th answer to that prompt is
``replies[n % len(replies)]``, so repeats see different answers.

Fault model (deterministic, to test retry logic): a request's key is the matched oracle key
(the full content when none matched); ``attempt`` counts earlier requests for that key.  A key
is faulty when ``random.Random(f"{fault_seed}:{key}").random() < fault_rate``, the same
generator picks its kind from ``fault_kinds``, and it fails while ``attempt < fault_attempts``
(transient).  ``persistent_faults`` maps keys to a kind that fails on every attempt.  Kinds:
``429`` (``Retry-After: 0``), ``500``, ``503`` (OpenAI-style error JSON), ``timeout`` (stall
``timeout_sleep`` s, then answer if the client is still there), ``drop`` (close without a
response), ``malformed_json`` (200, truncated JSON), ``empty_choices`` (200, ``"choices": []``).
Faults answer with a plain JSON body even to streaming requests.

Judge mode (``judge=True``): a request whose last user message is a grader prompt (SimpleQA's,
Chinese SimpleQA's, EvalScope's generic pattern or numeric template, the arena's pairwise prompts, MT-Bench's
single-answer ratings) is graded by the oracle judge of ``testing/judge_oracle.py``; its reply form (bare JSON, fenced, after ``<think>``) varies with the
prompt. Other requests fall through to the oracle. Faults and latency apply to both.

With ``record_requests``, ``stats()["received"]`` lists every chat request's JSON body (MT-Bench's
two-turn requests and their temperatures are checked on them).

Capacity (``max_concurrent``): at most that many chat requests are served at once; later ones *queue*
(as vLLM's ``max_num_seqs`` does) and their latency starts when they are admitted, so a client that
sends more than the cap gains nothing. ``stats()["max_concurrent"]`` is the peak served at once,
``max_waiting`` the peak queue. ``served_models`` is what ``GET /v1/models`` lists.

The HTTP/1.1 framing and the OpenAI reply bodies are in wire.py.

Bounds: after ``max_requests`` chat requests (later ones get 503) or ``max_seconds`` the server
shuts itself down, so a forgotten server never outlives a test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .images import BadImage, image_text
from .judge_oracle import judge_reply
from .serving import announce_port, http_json, run_in_subprocess, run_in_thread
from .wire import (
    MALFORMED_BODY,
    BadRequest,
    Request,
    completion_body,
    error,
    is_loopback,
    json_bytes,
    models_body,
    netloc,
    read_request,
    response,
    stream_response,
    usage_of,
)

FAULT_KINDS = ("429", "500", "503", "timeout", "drop", "malformed_json", "empty_choices", "401", "404")


@dataclass
class ServerConfig:
    """Settings of an :class:`OracleServer`; see the module docstring."""

    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    oracle: dict[str, Any] = field(default_factory=dict)  # a reply, or a list of replies taken in turn
    default_reply: str = "I am not sure."
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("429", "500", "503", "timeout", "drop", "malformed_json")
    fault_seed: int = 0
    fault_attempts: int = 1
    persistent_faults: dict[str, str] = field(default_factory=dict)
    timeout_sleep: float = 30.0
    max_requests: int | None = None
    max_seconds: float | None = 600.0
    stream_chunk_tokens: int = 3
    judge: bool = False  # answer grader prompts as an oracle judge (testing/judge_oracle.py) before the oracle
    record_requests: bool = False  # keep every chat request's body; stats() lists them as "received"
    max_concurrent: int | None = None  # chat requests served at once; more wait in a queue
    served_models: tuple[str, ...] = ("oracle",)  # the ids GET /v1/models lists

    def __post_init__(self) -> None:
        self.fault_kinds = tuple(self.fault_kinds)
        if self.host == "localhost":  # one address, so port 0 means one port
            self.host = "127.0.0.1"
        if not is_loopback(self.host):
            raise ValueError(f"test server only binds loopback addresses, not {self.host!r}")
        unknown = set(self.fault_kinds) | set(self.persistent_faults.values())
        if unknown - set(FAULT_KINDS):
            raise ValueError(f"unknown fault kinds {sorted(unknown - set(FAULT_KINDS))}")
        if self.stream_chunk_tokens < 1:
            raise ValueError("stream_chunk_tokens must be >= 1")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1 (or None for no cap)")
        self.served_models = tuple(self.served_models)


def _text(content: Any) -> str:
    """The text of a message content: a string, or a list of parts with ``text``, each image part as its
    :func:`~.images.image_tag` (raises BadImage for an image part that is not a well-formed image)."""
    if isinstance(content, list):
        return "\n".join(image_text(p) if p.get("type") == "image_url" else p.get("text", "")
                         for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _candidates(content: str) -> Iterator[str]:
    whole = content.strip()
    yield whole
    lines = whole.rsplit("\n\n", 1)[-1].strip().split("\n")
    yield "\n".join(lines).strip()
    while len(lines) > 1:
        lines.pop()
        yield "\n".join(lines).strip()


class OracleServer:
    """The server; ``await start()`` binds it, ``await stop()`` (or a bound) ends it."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self._oracle = {k: self._normalise(v) for k, v in self.config.oracle.items()}
        self._by_key: dict[str, list[int]] = {}  # key -> [requests, completed]
        self._faults: dict[str, int] = {}
        self._requests = self._completed = self._inflight = self._peak = 0
        self._received: list[Any] = []
        self._waiting = self._peak_waiting = 0
        self._capacity: asyncio.Semaphore | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.port = self.config.port

    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, list):  # sampled replies: the n-th answer for a prompt is value[n % len]
            return [cls._normalise(v) for v in value]
        value = {"content": value} if isinstance(value, str) else dict(value)
        return {"content": "", "finish_reason": "stop", **value}

    @property
    def url(self) -> str:
        return f"http://{netloc(self.config.host, self.port)}/v1"

    async def start(self) -> None:
        if self.config.max_concurrent is not None:
            self._capacity = asyncio.Semaphore(self.config.max_concurrent)
        self._server = await asyncio.start_server(self._serve, self.config.host, self.config.port, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.config.max_seconds is not None:
            self._timer = asyncio.get_running_loop().call_later(self.config.max_seconds, self.request_stop)

    def request_stop(self) -> None:
        """Schedule :meth:`stop` (safe to call from a request handler)."""
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self.stop())

    async def stop(self) -> None:
        """Stop accepting, close every connection and wake :meth:`wait_stopped`."""
        if self._stopped.is_set():
            return
        if self._server is not None:
            self._server.close()
        if self._timer is not None:
            self._timer.cancel()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def stats(self) -> dict[str, Any]:
        """``{requests, completed, by_key: {key: {requests, completed}}, faults: {kind: n}, max_concurrent,
        max_waiting}``.

        Chat requests only; ``completed`` counts answers sent (a fault is not one).  Safe to call
        from another thread: the copies below are single C-level calls under the GIL.
        """
        by_key = {k: {"requests": n, "completed": m} for k, (n, m) in list(self._by_key.items())}
        stats = {"requests": self._requests, "completed": self._completed, "by_key": by_key,
                 "faults": dict(self._faults), "max_concurrent": self._peak, "max_waiting": self._peak_waiting}
        if self.config.record_requests:
            stats["received"] = list(self._received)
        return stats

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    req = await read_request(reader)
                except BadRequest as exc:
                    writer.write(error(exc.args[0], exc.args[1], keep=False))
                    break
                out = None if req is None else await self._dispatch(req, reader)
                if out is None:  # peer closed, or a "drop" fault
                    break
                writer.write(out)
                await writer.drain()
                if not req.keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _dispatch(self, req: Request, reader: asyncio.StreamReader) -> bytes | None:
        route = (req.method, req.path)
        if route == ("POST", "/v1/chat/completions"):
            return await self._chat(req, reader)
        if route == ("GET", "/v1/models"):
            return response(200, models_body(self.config.served_models), req.keep)
        if route == ("GET", "/stats"):
            return response(200, json_bytes(self.stats()), req.keep)
        if route == ("POST", "/shutdown"):
            req.keep = False
            asyncio.get_running_loop().call_soon(self.request_stop)
            return response(200, b'{"ok": true}', keep=False)
        return error(404, f"no route for {req.method} {req.path}", req.keep)

    def _lookup(self, content: str) -> tuple[str | None, Any]:
        if self.config.judge:
            verdict = judge_reply(content, zlib.crc32(content.encode("utf-8", "replace")))
            if verdict is not None:
                return content, {"content": verdict, "finish_reason": "stop"}
        for candidate in _candidates(content):
            if candidate in self._oracle:
                return candidate, self._oracle[candidate]
        return None, {"content": self.config.default_reply, "finish_reason": "stop"}

    def _fault_for(self, key: str, attempt: int) -> str | None:
        cfg = self.config
        if key in cfg.persistent_faults:
            return cfg.persistent_faults[key]
        if attempt >= cfg.fault_attempts or cfg.fault_rate <= 0 or not cfg.fault_kinds:
            return None  # fast path: no generator to seed
        rng = random.Random(f"{cfg.fault_seed}:{key}")
        return cfg.fault_kinds[rng.randrange(len(cfg.fault_kinds))] if rng.random() < cfg.fault_rate else None

    async def _chat(self, req: Request, reader: asyncio.StreamReader) -> bytes | None:
        try:
            payload = json.loads(req.body)
            messages = payload["messages"]
            user = [m for m in messages if m.get("role") == "user"]
            for message in messages:  # every image well-formed, before anything is counted
                _text(message.get("content"))
        except BadImage as exc:
            return error(400, str(exc), req.keep)
        except (ValueError, KeyError, TypeError, AttributeError):
            return error(400, "body must be JSON with a 'messages' list", req.keep)
        limit = self.config.max_requests
        if limit is not None and self._requests >= limit:
            req.keep = False
            return error(503, "server request bound reached", keep=False)
        content = _text(user[-1].get("content")) if user else ""
        if self.config.record_requests:
            self._received.append(payload)
        matched, reply = self._lookup(content)
        key = content if matched is None else matched
        counts = self._by_key.setdefault(key, [0, 0])
        attempt = counts[0]
        counts[0] += 1
        self._requests += 1
        if self._capacity is None:
            return await self._served(req, reader, payload, messages, key, reply, counts, attempt)
        self._waiting += 1
        self._peak_waiting = max(self._peak_waiting, self._waiting)
        try:
            await self._capacity.acquire()
        finally:
            self._waiting -= 1
        try:
            return await self._served(req, reader, payload, messages, key, reply, counts, attempt)
        finally:
            self._capacity.release()

    async def _served(self, req: Request, reader: asyncio.StreamReader, payload: dict[str, Any], messages: list[Any],
                      key: str, reply: Any, counts: list[int], attempt: int) -> bytes | None:
        """A chat request admitted to be served: its latency, fault or answer."""
        limit = self.config.max_requests
        self._inflight += 1
        self._peak = max(self._peak, self._inflight)
        try:
            if self.config.latency_ms > 0:
                await asyncio.sleep(self.config.latency_ms / 1000)
            fault = self._fault_for(key, attempt)
            if fault is not None:
                self._faults[fault] = self._faults.get(fault, 0) + 1
                if fault != "timeout":
                    return self._fault_response(fault, payload, req.keep)
                await asyncio.sleep(self.config.timeout_sleep)
                if reader.at_eof() or reader.exception() is not None:
                    return None  # the client gave up; nothing to answer
            if isinstance(reply, list):
                reply = reply[counts[1] % len(reply)]
            counts[1] += 1
            self._completed += 1
            return self._answer(payload, messages, reply, req.keep)
        finally:
            self._inflight -= 1
            if limit is not None and self._requests >= limit and self._inflight == 0 and self._waiting == 0:
                self.request_stop()

    def _fault_response(self, fault: str, payload: dict[str, Any], keep: bool) -> bytes | None:
        if fault == "drop":
            return None
        if fault == "malformed_json":
            return response(200, MALFORMED_BODY, keep)
        if fault == "empty_choices":
            empty = completion_body(payload, {"content": ""}, usage_of(0, ""), next(self._ids))
            return response(200, json_bytes({**empty, "choices": []}), keep)
        extra = "Retry-After: 0\r\n" if fault == "429" else ""
        return error(int(fault), f"injected fault {fault}", keep, extra=extra)

    def _answer(self, payload: dict[str, Any], messages: list[Any], reply: dict[str, str], keep: bool) -> bytes:
        usage = usage_of(sum(len(_text(m.get("content")).split()) for m in messages), reply["content"])
        if payload.get("stream"):
            return stream_response(payload, reply, usage, keep, next(self._ids), self.config.stream_chunk_tokens)
        return response(200, json_bytes(completion_body(payload, reply, usage, next(self._ids))), keep)



@dataclass
class ServerHandle:
    """A running server: ``url`` is the OpenAI ``base_url``; ``pid`` is the serving process."""

    url: str
    stats: Callable[[], dict[str, Any]]
    stop: Callable[[], None]
    pid: int


@contextlib.contextmanager
def serve_in_thread(config: ServerConfig | None = None) -> Iterator[ServerHandle]:
    """Run an :class:`OracleServer` on its own event loop in a daemon thread."""
    server = OracleServer(config)
    with run_in_thread(server, "oracle-server") as stop:
        yield ServerHandle(server.url, server.stats, stop, os.getpid())


@contextlib.contextmanager
def serve_in_subprocess(config: ServerConfig | None = None, cpu: int | None = None) -> Iterator[ServerHandle]:
    """Run ``python -m pytest_evalscope.testing.server`` (pinned to ``cpu`` if given) until exit."""
    config = config or ServerConfig()
    with run_in_subprocess("pytest_evalscope.testing.server", asdict(config), cpu, config.host) as (base, proc, stop):
        yield ServerHandle(f"{base}/v1", lambda: http_json(f"{base}/stats"), stop, proc.pid)


async def _main(config: ServerConfig, port_file: str | None) -> None:
    server = OracleServer(config)
    await server.start()
    await announce_port(server.port, port_file)
    print(f"listening on {server.url}", flush=True)
    await server.wait_stopped()


def main(argv: list[str] | None = None) -> None:
    """CLI: ``--config FILE.json`` (ServerConfig fields), overridden by the direct flags."""
    parser = argparse.ArgumentParser(prog="python -m pytest_evalscope.testing.server", description=main.__doc__)
    parser.add_argument("--config", help="JSON file with ServerConfig fields")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--oracle", help="JSON file mapping prompts to replies")
    for flag, kind in (("--port", int), ("--latency-ms", float), ("--fault-rate", float), ("--max-seconds", float)):
        parser.add_argument(flag, type=kind)
    parser.add_argument("--cpu", type=int, help="pin the server process to this CPU")
    args = parser.parse_args(argv)
    data = json.loads(Path(args.config).read_text()) if args.config else {}
    if args.oracle:
        data["oracle"] = json.loads(Path(args.oracle).read_text())
    data.update({k: v for k in ("port", "latency_ms", "fault_rate", "max_seconds") if (v := getattr(args, k)) is not None})
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(_main(ServerConfig(**data), args.port_file))


if __name__ == "__main__":
    main()
