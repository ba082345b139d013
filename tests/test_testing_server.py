"""Tests of the loopback OpenAI-compatible oracle server, driven by the real ``openai`` client."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_evalscope.testing import wire
from pytest_evalscope.testing.server import (
    OracleServer,
    ServerConfig,
    ServerHandle,
    serve_in_subprocess,
    serve_in_thread,
)

ROOT = Path(__file__).resolve().parents[1]
ORACLE: dict[str, Any] = {
    "What is 2+2?": "4",
    "Capital of France?": "The capital is Paris.",
    "Think first?": {"content": "Yes.", "reasoning_content": "Let me think about this carefully."},
    "Cut short?": {"content": "Partial", "finish_reason": "length"},
}


def client(handle: ServerHandle, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=handle.url, api_key="x", max_retries=0, timeout=timeout)


def ask(target: ServerHandle | str, content: str = "", *, messages: Any = None, timeout: float = 5.0, **kwargs: Any) -> Any:
    """One chat request with a client closed afterwards; a stream comes back as its list of chunks."""
    url = target if isinstance(target, str) else target.url
    messages = messages or [{"role": "user", "content": content}]
    with openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=timeout) as oai:
        reply = oai.chat.completions.create(model="test-model", messages=messages, **kwargs)
        return list(reply) if kwargs.get("stream") else reply


def root_url(handle: ServerHandle) -> str:
    return handle.url.removesuffix("/v1")


def wait_refused(handle: ServerHandle, within: float = 3.0) -> bool:
    """True once the server no longer accepts connections."""
    host, port = root_url(handle).removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
        except OSError:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with serve_in_thread(ServerConfig(oracle=ORACLE, max_seconds=30)) as handle:
        yield handle


# --- oracle lookup -------------------------------------------------------------------------


def test_exact_match(server: ServerHandle) -> None:
    reply = ask(server, "  What is 2+2?  ")
    assert reply.choices[0].message.content == "4"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.object == "chat.completion"
    assert reply.model == "test-model"


def test_last_block_after_blank_line(server: ServerHandle) -> None:
    prompt = "Here are some examples.\n\nQ: 1+1? A: 2\n\nCapital of France?"
    assert ask(server, prompt).choices[0].message.content == "The capital is Paris."


def test_trailing_instruction_lines_are_stripped(server: ServerHandle) -> None:
    prompt = "Few-shot block\n\nWhat is 2+2?\nPlease reason step by step.\nPut the answer in \\boxed{}."
    assert ask(server, prompt).choices[0].message.content == "4"


def test_last_user_message_is_used(server: ServerHandle) -> None:
    messages = [
        {"role": "system", "content": "Capital of France?"},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "The capital is Paris."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    reply = ask(server, messages=messages)
    assert reply.choices[0].message.content == "4"


def test_default_reply_when_nothing_matches(server: ServerHandle) -> None:
    assert ask(server, "Something the oracle does not know").choices[0].message.content == "I am not sure."
    assert server.stats()["by_key"]["Something the oracle does not know"] == {"requests": 1, "completed": 1}


def test_reasoning_content_and_finish_reason(server: ServerHandle) -> None:
    message = ask(server, "Think first?").choices[0].message
    assert message.content == "Yes."
    assert getattr(message, "reasoning_content", None) == "Let me think about this carefully."
    assert ask(server, "Cut short?").choices[0].finish_reason == "length"


def test_usage_counts_words(server: ServerHandle) -> None:
    messages = [{"role": "system", "content": "Be brief and exact."}, {"role": "user", "content": "Capital of France?"}]
    usage = ask(server, messages=messages).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (7, 4, 11)


# --- streaming -----------------------------------------------------------------------------


def test_streaming_assembles_content_and_usage(server: ServerHandle) -> None:
    chunks = ask(server, "Think first?", stream=True, stream_options={"include_usage": True})
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert content == "Yes."
    assert reasoning == "Let me think about this carefully."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (2, 1)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}


def test_streaming_chunks_hold_stream_chunk_tokens_words() -> None:
    text = "one two three four five six seven"
    with serve_in_thread(ServerConfig(oracle={"q": text}, stream_chunk_tokens=2, max_seconds=30)) as handle:
        chunks = ask(handle, "q", stream=True)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces == ["one two ", "three four ", "five six ", "seven"]
    assert chunks[-1].usage is None  # no include_usage, no usage chunk


@given(st.text(alphabet=" \n\tab", max_size=40), st.integers(1, 4))
def test_pieces_rejoin_exactly(text: str, words: int) -> None:
    pieces = wire.pieces(text, words)
    assert "".join(pieces) == text
    assert all(len(p.split()) <= words for p in pieces)


# --- faults --------------------------------------------------------------------------------


def faulty(kind: str, **kwargs: Any) -> ServerConfig:
    """Every key faults with ``kind`` on its first attempt."""
    return ServerConfig(oracle=ORACLE, fault_rate=1.0, fault_kinds=(kind,), max_seconds=30, **kwargs)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("429", openai.RateLimitError),
        ("500", openai.InternalServerError),
        ("503", openai.InternalServerError),
        ("drop", openai.APIConnectionError),
    ],
)
def test_fault_kinds_raise_client_errors(kind: str, error: type[Exception]) -> None:
    with serve_in_thread(faulty(kind)) as handle:
        with pytest.raises(error) as excinfo:
            ask(handle, "What is 2+2?")
        if kind == "429":
            assert excinfo.value.response.headers["retry-after"] == "0"  # type: ignore[attr-defined]
        if kind == "drop":
            assert not isinstance(excinfo.value, openai.APITimeoutError)
        assert ask(handle, "What is 2+2?").choices[0].message.content == "4"  # transient
        assert handle.stats()["faults"] == {kind: 1}


def test_timeout_fault_stalls_past_the_client_timeout() -> None:
    with serve_in_thread(faulty("timeout", timeout_sleep=2.0)) as handle:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(handle, "What is 2+2?", timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert ask(handle, "What is 2+2?").choices[0].message.content == "4"


def test_timeout_fault_does_not_count_an_abandoned_request() -> None:
    with serve_in_thread(faulty("timeout", timeout_sleep=0.3)) as handle:
        with pytest.raises(openai.APITimeoutError):
            ask(handle, "What is 2+2?", timeout=0.1)
        time.sleep(0.5)  # the stall ends after the client has hung up
        assert handle.stats()["by_key"]["What is 2+2?"] == {"requests": 1, "completed": 0}


def test_timeout_fault_answers_a_patient_client() -> None:
    with serve_in_thread(faulty("timeout", timeout_sleep=0.2)) as handle:
        assert ask(handle, "What is 2+2?").choices[0].message.content == "4"
        assert handle.stats()["by_key"]["What is 2+2?"] == {"requests": 1, "completed": 1}


def test_malformed_json_surfaces_as_a_json_decode_error() -> None:
    # openai 3.x does not wrap this: a 200 with a truncated JSON body escapes from
    # chat.completions.create() as a bare json.JSONDecodeError (a ValueError), not an
    # openai.APIError, so harness retry logic must catch ValueError too.
    with serve_in_thread(faulty("malformed_json")) as handle:
        with pytest.raises(json.JSONDecodeError):
            ask(handle, "What is 2+2?")
        # A streaming request gets the same application/json body; the client finds no
        # SSE events in it and yields nothing, silently.
        assert ask(handle, "Capital of France?", stream=True) == []


def test_empty_choices_is_returned_as_is() -> None:
    # The client accepts a 200 with "choices": [] and returns it; reading choices[0]
    # is the caller's IndexError.
    with serve_in_thread(ServerConfig(oracle=ORACLE, persistent_faults={"What is 2+2?": "empty_choices"})) as handle:
        reply = ask(handle, "What is 2+2?")
        assert reply.choices == []
        assert ask(handle, "What is 2+2?", stream=True) == []


def test_fault_attempts_controls_how_many_attempts_fail() -> None:
    with serve_in_thread(faulty("500", fault_attempts=2)) as handle:
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                ask(handle, "Capital of France?")
        assert ask(handle, "Capital of France?").choices[0].message.content == "The capital is Paris."
        assert handle.stats()["by_key"]["Capital of France?"] == {"requests": 3, "completed": 1}


def test_persistent_faults_always_fail() -> None:
    config = ServerConfig(oracle=ORACLE, persistent_faults={"What is 2+2?": "503"}, max_seconds=30)
    with serve_in_thread(config) as handle:
        for _ in range(4):
            with pytest.raises(openai.InternalServerError):
                ask(handle, "What is 2+2?")
        assert ask(handle, "Capital of France?").choices[0].message.content == "The capital is Paris."
        stats = handle.stats()
    assert stats["by_key"]["What is 2+2?"] == {"requests": 4, "completed": 0}
    assert stats["faults"] == {"503": 4}


def test_fault_selection_follows_the_documented_formula() -> None:
    keys = [f"question {i}" for i in range(40)]
    kinds = ("429", "500", "503")
    config = ServerConfig(oracle={k: "ok" for k in keys}, fault_rate=0.5, fault_kinds=kinds, fault_seed=7)
    expected: dict[str, int] = {}
    for key in keys:
        rng = random.Random(f"7:{key}")
        if rng.random() < 0.5:
            kind = kinds[rng.randrange(len(kinds))]
            expected[kind] = expected.get(kind, 0) + 1
    with serve_in_thread(config) as handle, client(handle) as oai:
        failed = 0
        for key in keys:
            try:
                oai.chat.completions.create(model="m", messages=[{"role": "user", "content": key}])
            except openai.APIStatusError:
                failed += 1
        assert handle.stats()["faults"] == expected
    assert failed == sum(expected.values()) and 0 < failed < len(keys)


# --- stats, latency, bounds ----------------------------------------------------------------


def test_stats_and_max_concurrent() -> None:
    with serve_in_thread(ServerConfig(oracle=ORACLE, latency_ms=300, max_seconds=30)) as handle:
        threads = [threading.Thread(target=ask, args=(handle, "What is 2+2?")) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        ask(handle, "unknown")
        stats = json.loads(urllib.request.urlopen(root_url(handle) + "/stats", timeout=5).read())
    assert stats["requests"] == stats["completed"] == 5
    assert stats["by_key"] == {"What is 2+2?": {"requests": 4, "completed": 4}, "unknown": {"requests": 1, "completed": 1}}
    assert stats["faults"] == {}
    assert stats["max_concurrent"] >= 2


def test_latency_delays_each_answer() -> None:
    with serve_in_thread(ServerConfig(oracle=ORACLE, latency_ms=250, max_seconds=30)) as handle:
        started = time.monotonic()
        ask(handle, "What is 2+2?")
        assert time.monotonic() - started >= 0.25


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ServerConfig(host=host)


def test_loopback_hosts_are_accepted() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1"):
        assert ServerConfig(host=host).host == host
    assert ServerConfig(host="localhost").host == "127.0.0.1"  # a single address, so port 0 is one port


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="fault kinds"):
        ServerConfig(persistent_faults={"q": "418"})


def test_max_requests_bound_stops_the_server() -> None:
    with serve_in_thread(ServerConfig(oracle=ORACLE, max_requests=2, max_seconds=30)) as handle:
        ask(handle, "What is 2+2?")
        ask(handle, "What is 2+2?")
        assert wait_refused(handle)
        with pytest.raises(openai.APIConnectionError):
            ask(handle, "What is 2+2?")
        assert handle.stats()["requests"] == 2


def test_max_seconds_bound_stops_the_server() -> None:
    with serve_in_thread(ServerConfig(max_seconds=0.3)) as handle:
        assert wait_refused(handle)


def test_in_process_start_and_stop() -> None:
    import asyncio

    async def main() -> str:
        server = OracleServer(ServerConfig(oracle=ORACLE, max_seconds=30))
        await server.start()
        assert server.url.startswith("http://127.0.0.1:") and server.port != 0
        aclient = openai.AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=5)
        reply = await aclient.chat.completions.create(model="m", messages=[{"role": "user", "content": "What is 2+2?"}])
        await aclient.close()
        await server.stop()
        return reply.choices[0].message.content or ""

    assert asyncio.run(main()) == "4"


# --- HTTP details --------------------------------------------------------------------------


def test_models_endpoint(server: ServerHandle) -> None:
    with client(server) as oai:
        assert [m.id for m in oai.models.list()] == ["oracle"]


def test_unknown_path_is_404_json(server: ServerHandle) -> None:
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(root_url(server) + "/nope", timeout=5)
    assert excinfo.value.code == 404
    assert "error" in json.loads(excinfo.value.read())


def test_bad_json_body_is_400(server: ServerHandle) -> None:
    request = urllib.request.Request(server.url + "/chat/completions", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)
    assert excinfo.value.code == 400
    assert json.loads(excinfo.value.read())["error"]["type"] == "invalid_request_error"


def test_keep_alive_and_connection_close(server: ServerHandle) -> None:
    host, port = root_url(server).removeprefix("http://").rsplit(":", 1)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "What is 2+2?"}]}).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" + body
    with socket.create_connection((host, int(port)), timeout=5) as sock, sock.makefile("rb") as stream:
        for connection, expected in ((b"", b"keep-alive"), (b"", b"keep-alive"), (b"Connection: close\r\n", b"close")):
            sock.sendall(request % (len(body), connection))
            assert stream.readline().startswith(b"HTTP/1.1 200 OK")
            headers = dict(line.rstrip(b"\r\n").split(b": ", 1) for line in iter(stream.readline, b"\r\n"))
            assert headers[b"Connection"] == expected
            assert json.loads(stream.read(int(headers[b"Content-Length"])))["choices"][0]["message"]["content"] == "4"
        assert stream.read() == b""  # the server closed the connection after "Connection: close"
    assert server.stats()["requests"] == 3


# --- subprocess mode and CLI ---------------------------------------------------------------


def test_subprocess_mode_with_shutdown() -> None:
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=30), cpu=min(os.sched_getaffinity(0))) as handle:
        assert ask(handle, "Capital of France?").choices[0].message.content == "The capital is Paris."
        assert handle.stats()["completed"] == 1
        assert handle.pid > 0
        request = urllib.request.Request(root_url(handle) + "/shutdown", data=b"", method="POST")
        assert json.loads(urllib.request.urlopen(request, timeout=5).read()) == {"ok": True}
        assert wait_refused(handle)


def test_subprocess_readiness_failure_reports_stderr() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="(?s)did not become ready.*in use"), serve_in_subprocess(ServerConfig(port=port)):
            pass


def test_cli_flags(tmp_path: Path) -> None:
    oracle_file = tmp_path / "oracle.json"
    oracle_file.write_text(json.dumps({"What is 2+2?": "four"}))
    cmd = [sys.executable, "-m", "pytest_evalscope.testing.server", "--port", "0", "--oracle", str(oracle_file),
           "--latency-ms", "0", "--fault-rate", "0", "--max-seconds", "10"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("listening on http://127.0.0.1:")
            url = line.split()[-1]
            assert ask(url, "What is 2+2?").choices[0].message.content == "four"
            shutdown = urllib.request.Request(url.removesuffix("/v1") + "/shutdown", data=b"", method="POST")
            urllib.request.urlopen(shutdown, timeout=5).close()
            assert proc.wait(5) == 0
        finally:
            proc.kill()
