"""The lean HTTP/1.1 transport under the official openai client, against a scripted loopback server.

The server answers each request with raw bytes written in parts (with pauses), so every framing the
transport reads (Content-Length, chunked with extensions and trailers, close-delimited, gzip, 1xx
first) and every way a server fails (stale keep-alive, a drop in the middle, a stall, garbage) is
exercised through `openai.AsyncOpenAI`, as the harness uses it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import openai
import pytest

from pytest_evalscope.models.http11 import Http11Transport, lean_transport_applies
from pytest_evalscope.models.openai_api import OpenAIServiceModel
from pytest_evalscope.testing.serving import run_in_thread

# A reply is a list of steps: bytes to write, a float to sleep, or None to close the connection.
Step = bytes | float | None


def completion(text: str) -> bytes:
    return json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()


def sized(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            ).encode() + body


@dataclass
class ScriptedServer:
    """Reads HTTP/1.1 requests; the n-th request (0-based, over all connections) gets `script(n, body)`."""

    script: Callable[[int, bytes], list[Step]]
    port: int = 0
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def request_stop(self) -> None:
        self._stopped.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._tasks.add(asyncio.current_task())
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                n = len(self.requests)
                self.requests.append(head + body)
                for step in self.script(n, body):
                    if step is None:
                        writer.close()
                        return
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                    else:
                        writer.write(step)
                        await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[int, bytes], list[Step]]], ScriptedServer]]:
    stops = []

    def start(script: Callable[[int, bytes], list[Step]]) -> ScriptedServer:
        server = ScriptedServer(script)
        context = run_in_thread(server, "scripted-http")
        context.__enter__()
        stops.append(context)
        return server

    yield start
    for context in stops:
        context.__exit__(None, None, None)


def client_for(server: ScriptedServer, **kwargs) -> tuple[openai.AsyncOpenAI, Http11Transport]:
    transport = Http11Transport()
    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="k",
                                http_client=openai.DefaultAsyncHttpxClient(transport=transport), **kwargs)
    return client, transport


async def ask(client: openai.AsyncOpenAI, n: int = 1, **kwargs) -> list[str]:
    replies = []
    for _ in range(n):
        reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], **kwargs)
        replies.append(reply.choices[0].message.content)
    return replies


def test_keep_alive_reuses_one_connection_and_sends_the_body_whole(serve) -> None:
    server = serve(lambda n, body: [sized(completion(f"reply {n}"))])

    async def run() -> list[str]:
        client, transport = client_for(server)
        replies = await ask(client, 5)
        assert transport.connections_opened == 1
        await client.close()
        return replies

    assert asyncio.run(run()) == [f"reply {n}" for n in range(5)]
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    head, _, body = first.partition(b"\r\n\r\n")
    assert json.loads(body)["messages"] == [{"role": "user", "content": "hi"}]
    assert f"content-length: {len(body)}".encode() in head.lower()
    assert b"authorization: bearer k" in head.lower()


def test_chunked_body_with_extensions_and_trailers_arrives_in_pieces(serve) -> None:
    body = completion("chunked ok")
    parts = [body[:10], body[10:11], body[11:]]
    steps: list[Step] = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"]
    for part in parts:
        steps += [f"{len(part):x};ext=1\r\n".encode(), 0.01, part + b"\r\n", 0.01]
    steps += [b"0\r\nX-Trailer: yes\r\n\r\n"]
    server = serve(lambda n, _: steps)

    async def run() -> list[str]:
        client, transport = client_for(server)
        replies = await ask(client, 2)
        assert transport.connections_opened == 1  # the chunked body ended cleanly: the connection was kept
        await client.close()
        return replies

    assert asyncio.run(run()) == ["chunked ok", "chunked ok"]


def test_close_delimited_gzip_and_informational_replies(serve) -> None:
    packed = gzip.compress(completion("from gzip"))
    scripts = {
        0: [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", completion("until close")[:20], 0.02,
            completion("until close")[20:], None],
        1: [sized(packed, extra="Content-Encoding: gzip\r\n")],
        2: [b"HTTP/1.1 100 Continue\r\n\r\n", 0.01, sized(completion("after 100"))],
    }
    server = serve(lambda n, _: scripts[n])

    async def run() -> list[str]:
        client, transport = client_for(server)
        replies = await ask(client, 3)
        assert transport.connections_opened == 2  # the close-delimited reply used its connection up
        await client.close()
        return replies

    assert asyncio.run(run()) == ["until close", "from gzip", "after 100"]


def test_a_keep_alive_connection_the_server_closed_is_replaced_without_a_retry(serve) -> None:
    # The server answers, then closes the connection without saying so (as idle timeouts do).
    server = serve(lambda n, _: [sized(completion(f"r{n}")), 0.05, None])

    async def run() -> list[str]:
        client, transport = client_for(server, max_retries=0)  # a second attempt would need a retry
        first = await ask(client)
        await asyncio.sleep(0.2)  # the close has arrived: the idle connection is dropped at checkout
        second = await ask(client)
        assert transport.connections_opened == 2
        await client.close()
        return first + second

    assert asyncio.run(run()) == ["r0", "r1"]
    assert len(server.requests) == 2  # nothing was sent twice


def test_a_stale_connection_that_closes_as_the_request_goes_out_is_resent_once(serve) -> None:
    # The first reply's connection closes 0.1 s after the reply without reading further; the second
    # request, written to it at once, gets no byte back and goes out again on a fresh connection.
    server = serve(lambda n, _: [sized(completion(f"r{n}")), 0.1, None] if n == 0 else [sized(completion(f"r{n}"))])

    async def run() -> list[str]:
        client, transport = client_for(server, max_retries=0)  # resending is the transport's, not a retry
        replies = await ask(client, 2)
        assert transport.connections_opened == 2
        await client.close()
        return replies

    assert asyncio.run(run()) == ["r0", "r1"]
    assert len(server.requests) == 2  # the unread copy on the closed connection never reached the script


def test_read_timeout_is_the_clients_timeout_error(serve) -> None:
    server = serve(lambda n, _: [1.0, sized(completion("late"))])

    async def run() -> None:
        client, _ = client_for(server, max_retries=0, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            await ask(client)
        await client.close()

    asyncio.run(run())


def test_failures_are_connection_errors_and_retries_recover(serve) -> None:
    good = sized(completion("recovered"))
    scripts = {
        0: [sized(completion("x"))[:30], None],              # dropped in the middle of the head
        1: [sized(completion("x"))[:-5], None],              # dropped in the middle of the body
        2: [b"garbage that is not http\r\n\r\n", None],       # not a status line
        3: [b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", None],
        4: [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", None],
        5: [None],                                           # closed without a reply: retried below
    }
    server = serve(lambda n, _: scripts.get(n, [good]))

    async def run() -> list[str]:
        client, _ = client_for(server, max_retries=0)
        for _ in range(5):
            with pytest.raises(openai.APIConnectionError) as excinfo:
                await ask(client)
            assert not isinstance(excinfo.value, openai.APITimeoutError)
        await client.close()
        retrying = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="k", max_retries=2,
                                      http_client=openai.DefaultAsyncHttpxClient(transport=Http11Transport()))
        replies = await ask(retrying)
        await retrying.close()
        return replies

    assert asyncio.run(run()) == ["recovered"]


def test_connection_refused_is_a_connection_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def run() -> None:
        client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0,
                                    http_client=openai.DefaultAsyncHttpxClient(transport=Http11Transport()))
        with pytest.raises(openai.APIConnectionError) as excinfo:
            await ask(client)
        assert "could not connect" in str(excinfo.value.__cause__)
        await client.close()

    asyncio.run(run())


def test_status_errors_keep_their_types_and_bodies(serve) -> None:
    error = json.dumps({"error": {"message": "no such model", "type": "invalid_request_error"}}).encode()
    server = serve(lambda n, _: [sized(error, status="404 Not Found")])

    async def run() -> None:
        client, transport = client_for(server, max_retries=0)
        with pytest.raises(openai.NotFoundError, match="no such model"):
            await ask(client)
        assert transport.connections_opened == 1
        await client.close()

    asyncio.run(run())


def test_streaming_reads_server_sent_events_as_they_arrive(serve) -> None:
    def event(data: dict) -> bytes:
        text = f"data: {json.dumps(data)}\n\n".encode()
        return f"{len(text):x}\r\n".encode() + text + b"\r\n"

    chunk = {"id": "s", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    steps: list[Step] = [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"]
    for word in ["Hel", "lo", "!"]:
        steps += [event({**chunk, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}), 0.02]
    steps += [event({**chunk, "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}}),
              b"e\r\ndata: [DONE]\n\n\r\n", b"0\r\n\r\n"]
    server = serve(lambda n, _: steps)

    async def run() -> tuple[str, int, int]:
        client, transport = client_for(server)
        for _ in range(2):
            stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                                          stream=True, stream_options={"include_usage": True})
            text, usage = "", 0
            async for part in stream:
                text += "".join(c.delta.content or "" for c in part.choices)
                usage = part.usage.completion_tokens if part.usage else usage
        await client.close()
        return text, usage, transport.connections_opened

    # the client drains the body after [DONE] with a second iteration: the body ends cleanly, so the
    # connection is kept for the next request
    assert asyncio.run(run()) == ("Hello!", 3, 1)


def test_the_service_model_uses_the_transport_only_where_it_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "PYTEST_EVALSCOPE_LEAN_HTTP"):
        monkeypatch.delenv(var, raising=False)
    assert lean_transport_applies("http://127.0.0.1:8000/v1", {})
    assert not lean_transport_applies("https://api.example.com/v1", {})
    assert not lean_transport_applies("http://127.0.0.1:8000/v1", {"http_client": object()})
    monkeypatch.setenv("http_proxy", "http://proxy.internal:3128")
    assert not lean_transport_applies("http://10.0.0.5:8000/v1", {})
    monkeypatch.setenv("no_proxy", "10.0.0.5")
    assert lean_transport_applies("http://10.0.0.5:8000/v1", {})
    monkeypatch.setenv("PYTEST_EVALSCOPE_LEAN_HTTP", "0")
    assert not lean_transport_applies("http://10.0.0.5:8000/v1", {})
    monkeypatch.delenv("PYTEST_EVALSCOPE_LEAN_HTTP")

    async def transports() -> list[str]:
        names = []
        for url in ("http://127.0.0.1:9/v1", "https://127.0.0.1:9/v1"):
            model = OpenAIServiceModel("m", url, "k", {}, {})
            names.append(type(model.client._client._transport).__name__)
            await model.aclose()
        return names

    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert asyncio.run(transports()) == ["Http11Transport", "AsyncHTTPTransport"]
