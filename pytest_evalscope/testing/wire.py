"""What the loopback test server (server.py) says on the wire: HTTP/1.1 requests read from an asyncio
stream and responses framed (``Content-Length`` bodies, keep-alive), and OpenAI's reply bodies (a chat
completion, its SSE stream as one chunked response, the model list). Nothing here decides *what* to
answer; the server's oracle, judge and fault model do.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

# the body of a reply cut short (the server's malformed_json fault)
MALFORMED_BODY = b'{"id": "chatcmpl-x", "choices": [{"message": {"content": "'
_WORD_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


def is_loopback(host: str) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


def netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def pieces(text: str, words: int) -> list[str]:
    """``text`` cut into pieces of ``words`` words whose concatenation is ``text``."""
    parts = _WORD_BOUNDARY.split(text) if text else []
    return ["".join(parts[i : i + words]) for i in range(0, len(parts), words)]


def usage_of(prompt_tokens: int, reply: str) -> dict[str, int]:
    completion = len(reply.split())
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def response(status: int, body: bytes, keep: bool, ctype: str = "application/json", extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep else 'close'}\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


def error(status: int, message: str, keep: bool, extra: str = "") -> bytes:
    kind = {429: "rate_limit_error", 400: "invalid_request_error", 404: "not_found_error"}.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
    return response(status, json_bytes(body), keep, extra=extra)


@dataclass
class Request:
    method: str
    path: str
    body: bytes
    keep: bool  # keep the connection open after the response; handlers may clear it


class BadRequest(Exception):
    pass


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """One HTTP/1.1 request from ``reader``; None when the peer closed the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest(431, "request header too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        length = int(headers.get("content-length") or 0)
    except ValueError:
        raise BadRequest(400, "malformed request") from None
    if "transfer-encoding" in headers:
        raise BadRequest(501, "only Content-Length bodies are supported")
    body = await reader.readexactly(length) if length else b""
    conn = headers.get("connection", "").lower()
    keep = conn == "keep-alive" if version == "HTTP/1.0" else conn != "close"
    return Request(method, target.split("?", 1)[0], body, keep)


def models_body(ids: tuple[str, ...]) -> bytes:
    return json_bytes({"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "test"} for i in ids]})


def completion_body(payload: dict[str, Any], reply: dict[str, str], usage: dict[str, int], reply_id: int) -> dict[str, Any]:
    message = {"role": "assistant", "content": reply["content"]}
    if reply.get("reasoning_content"):
        message["reasoning_content"] = reply["reasoning_content"]
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.get("finish_reason", "stop")}
    return {"id": f"chatcmpl-{reply_id}", "object": "chat.completion", "created": int(time.time()),
            "model": payload.get("model", "oracle"), "choices": [choice],
            "usage": usage}


def stream_response(payload: dict[str, Any], reply: dict[str, str], usage: dict[str, int], keep: bool, reply_id: int,
                    chunk_words: int) -> bytes:
    """The whole SSE answer as one chunked HTTP response (one HTTP chunk per event, `chunk_words` words each)."""
    base = {"id": f"chatcmpl-{reply_id}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": payload.get("model", "oracle")}

    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    events = [chunk({"role": "assistant"})]
    events += [chunk({"reasoning_content": p}) for p in pieces(reply.get("reasoning_content", ""), chunk_words)]
    events += [chunk({"content": p}) for p in pieces(reply["content"], chunk_words)]
    events.append(chunk({}, reply.get("finish_reason", "stop")))
    if (payload.get("stream_options") or {}).get("include_usage"):
        events.append({**base, "choices": [], "usage": usage})
    lines = [b"data: %s\n\n" % json_bytes(e) for e in events] + [b"data: [DONE]\n\n"]
    head = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            f"Transfer-Encoding: chunked\r\nConnection: {'keep-alive' if keep else 'close'}\r\n\r\n")
    return head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in lines) + b"0\r\n\r\n"
