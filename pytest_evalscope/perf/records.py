"""One request's record (timestamps as they arrived) and its analysis into per-request metrics.

:func:`analyse` runs once a response is complete: it splits the body into SSE events (each timed by
the arrival of the bytes that ended it), decodes them with the API format, and derives TTFT, E2E,
TPOT, per-chunk and per-token ITL, and token counts with their source:

* ``output_tokens``: server ``usage.completion_tokens`` (source ``usage``), else the tokenizer on the
  whole text (``tokenizer``), else the number of content chunks (``chunks``; non-stream: whitespace
  words, ``words``).
* tokens in each chunk, for per-token ITL: cumulative ``usage.completion_tokens`` on every chunk
  (vLLM ``continuous_usage_stats``; ``usage_per_chunk``), else the tokenizer on each chunk, else
  ``output_tokens`` spread evenly over the chunks (``uniform``).

Payload error kinds: ``http_<code>``, ``malformed`` (a body or event that is not the expected JSON),
``stream_error`` (an ``event: error`` or an ``{"error": ...}`` event), ``empty_stream`` (no event).
"""

from __future__ import annotations

import json
import re
from typing import Any

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is optional
    _loads = json.loads

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class RequestRecord:
    """Times are ``perf_counter`` seconds; derived durations are seconds relative to ``t_start``."""

    __slots__ = (
        "index", "warmup", "scheduled", "prompt_tokens_hint",
        "t_start", "t_connected", "t_sent", "t_first_byte", "t_end", "status", "content_type", "pieces",
        "error", "error_detail",
        "ttft", "ttfb", "first_event", "e2e", "stream_end", "tpot", "queue_wait", "output_tokens",
        "input_tokens", "token_source", "chunk_token_source", "itl_token", "itl_chunk", "receive_lags",
        "chunk_times", "chunk_tokens", "chunk_stamps", "text_chars", "endpoint",
    )

    def __init__(self, index: int, scheduled: float | None = None, warmup: bool = False,
                 prompt_tokens_hint: int | None = None) -> None:
        self.index, self.scheduled, self.warmup, self.prompt_tokens_hint = index, scheduled, warmup, prompt_tokens_hint
        self.t_start = self.t_connected = self.t_sent = self.t_first_byte = self.t_end = None
        self.endpoint: str | None = None  # with several --url: the endpoint it was sent to
        self.status: int | None = None
        self.content_type: str | None = None
        self.pieces: list[tuple[float, bytes]] = []
        self.error: str | None = None
        self.error_detail: str | None = None
        self.ttft = self.ttfb = self.first_event = self.e2e = self.stream_end = self.tpot = None
        self.queue_wait = 0.0
        self.output_tokens: int | None = None
        self.input_tokens: int | None = None
        self.token_source = self.chunk_token_source = ""
        self.itl_token: list[float] = []
        self.itl_chunk: list[float] = []
        self.receive_lags: list[float] = []
        self.chunk_times: list[float] = []
        self.chunk_tokens: list[float] = []
        self.chunk_stamps: list[float] = []  # the server's srv_ts of each content chunk, when it stamps
        self.text_chars = 0

    def to_json(self, origin: float) -> dict[str, Any]:
        """The JSONL row: times in ms (``scheduled``/``start`` relative to the run's first start)."""
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000.0, 4)

        return {
            "index": self.index, "success": self.error is None, "error": self.error, "error_detail": self.error_detail,
            "status": self.status,
            "scheduled_ms": ms(self.scheduled - origin) if self.scheduled is not None else None,
            "start_ms": ms(self.t_start - origin) if self.t_start is not None else None,
            "queue_wait_ms": ms(self.queue_wait), "ttfb_ms": ms(self.ttfb), "first_event_ms": ms(self.first_event),
            "ttft_ms": ms(self.ttft), "e2e_ms": ms(self.e2e), "stream_end_ms": ms(self.stream_end),
            "tpot_ms": ms(self.tpot), "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "token_source": self.token_source, "chunk_token_source": self.chunk_token_source,
            "chunk_times_ms": [ms(t) for t in self.chunk_times], "chunk_tokens": self.chunk_tokens,
            "text_chars": self.text_chars, **({"endpoint": self.endpoint} if self.endpoint is not None else {}),
            **({"chunk_srv_ms": [round((t - origin) * 1000.0, 4) for t in self.chunk_stamps]} if self.chunk_stamps else {}),
        }


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body[:limit * 2].decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
        error = obj.get("error") if isinstance(obj, dict) else None
        if isinstance(error, dict) and error.get("message"):
            text = str(error["message"])
        elif isinstance(error, str):
            text = error
    except ValueError:
        pass
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def analyse(rec: RequestRecord, api: Any, tokenizer: Any = None) -> None:
    """Fill the derived fields of a finished ``rec``; a bad payload sets ``rec.error``."""
    if rec.scheduled is not None and rec.t_start is not None:
        rec.queue_wait = max(0.0, rec.t_start - rec.scheduled)
    if rec.t_first_byte is not None:
        rec.ttfb = rec.t_first_byte - rec.t_start
    pieces, rec.pieces = rec.pieces, []
    if rec.error is not None:
        return
    body = pieces[0][1] if len(pieces) == 1 else b"".join(p for _, p in pieces)
    if rec.status is None or not 200 <= rec.status < 300:
        rec.error, rec.error_detail = f"http_{rec.status}", _snippet(body)
        return
    if "event-stream" in (rec.content_type or "") or body[:5] == b"data:" or body[:1] == b":":
        texts, per_chunk_usage, usage = _stream(rec, api, pieces, body)
    else:
        texts, per_chunk_usage, usage = _whole(rec, api, body)
    if rec.error is None:
        _count_tokens(rec, texts, per_chunk_usage, usage, tokenizer)


def _events(pieces: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """(arrival, event block) for every SSE event, each timed by the piece that holds its end."""
    out = []
    carry = b""
    for ts, raw in pieces:
        piece = carry + raw if carry else raw
        carry = b""
        if piece[-2:] == b"\n\n" and piece.count(b"\n\n") == 1 and b"\r" not in piece:
            out.append((ts, piece[:-2]))  # the usual case: one HTTP chunk, one event
            continue
        pos = 0
        for match in _EVENT_END.finditer(piece):
            out.append((ts, piece[pos:match.start()]))
            pos = match.end()
        carry = piece[pos:]
    if carry.strip():
        out.append((pieces[-1][0], carry))  # an event cut off by the end of the stream
    return out


def _decode_fast(pieces: list[tuple[float, bytes]], body: bytes) -> list[tuple[float, bytes | None, Any]] | None:
    """The common shape (one ``data: {json}`` event per piece, LF endings) decoded in one orjson call.

    ``None`` when the stream has another shape or does not decode: the general path then decodes
    event by event (and reports the bad one).
    """
    n = len(pieces)
    if body.count(b"\n") != 2 * n or body.count(b"\n\n") != n or b"\r" in body:
        return None
    if not all(p[-2:] == b"\n\n" and p[:6] == b"data: " for _, p in pieces):
        return None
    datas = [p[6:-2] for _, p in pieces]
    done = datas[-1] == b"[DONE]"
    if done:
        datas.pop()
    try:
        objs = _loads(b"[" + b",".join(datas) + b"]")
    except ValueError:
        return None
    if len(objs) != len(datas):
        return None
    return [(pieces[i][0], None, obj) for i, obj in enumerate(objs)]


def _decode_slow(rec: RequestRecord, pieces: list[tuple[float, bytes]]) -> list[tuple[float, bytes | None, Any]]:
    out = []
    for ts, block in _events(pieces):
        if block[:6] == b"data: " and b"\n" not in block:
            data, event = block[6:], None
        else:
            data, event = _fields(block)
            if data is None:
                continue  # a comment (": ping") or an event without data
        if data == b"[DONE]":
            continue
        try:
            out.append((ts, event, _loads(data)))
        except ValueError:
            out.append((ts, event, None))
            rec.error, rec.error_detail = "malformed", f"SSE event is not JSON: {_snippet(data, 80)!r}"
            break
    return out


def _stream(rec: RequestRecord, api: Any, pieces: list[tuple[float, bytes]], body: bytes):
    texts: list[str] = []
    per_chunk: list[int | None] = []
    usage = None
    start = rec.t_start
    chunk_times, lags = rec.chunk_times, rec.receive_lags
    parse = api.parse_event
    items = _decode_fast(pieces, body) if pieces else None
    if items is None:
        items = _decode_slow(rec, pieces)
    if items:
        rec.first_event = items[0][0] - start
    if rec.error is not None:
        return texts, per_chunk, usage
    for ts, event, obj in items:
        if type(obj) is not dict:
            rec.error, rec.error_detail = "malformed", f"SSE event is not a JSON object: {str(obj)[:80]!r}"
            return texts, per_chunk, usage
        if event == b"error" or ("error" in obj and not obj.get("choices") and not obj.get("output")):
            rec.error, rec.error_detail = "stream_error", _snippet(json.dumps(obj).encode())
            return texts, per_chunk, usage
        content, reasoning, chunk_usage = parse(obj)
        if chunk_usage is not None and type(chunk_usage) is not dict:
            chunk_usage = None
        if chunk_usage:
            usage = chunk_usage
        srv = obj.get("srv_ts")
        if srv is not None:
            srv /= 1e9
            lags.append(ts - srv)
        if content or reasoning:
            if srv is not None:
                rec.chunk_stamps.append(srv)
            chunk_times.append(ts - start)
            texts.append(content + reasoning if reasoning else content)
            per_chunk.append(chunk_usage.get("completion_tokens") if chunk_usage else None)
    if not items:
        rec.error, rec.error_detail = "empty_stream", "the stream ended without a data event"
        return texts, per_chunk, usage
    rec.stream_end = rec.t_end - start
    if chunk_times:
        rec.ttft, rec.e2e = chunk_times[0], chunk_times[-1]
        rec.itl_chunk = [b - a for a, b in zip(chunk_times, chunk_times[1:], strict=False)]
    else:
        rec.e2e = rec.stream_end
    return texts, per_chunk, usage


def _fields(block: bytes) -> tuple[bytes | None, bytes | None]:
    data, event = [], None
    for line in block.splitlines():
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            event = line[6:].strip()
    return (b"\n".join(data) if data else None), event


def _whole(rec: RequestRecord, api: Any, body: bytes):
    try:
        obj = _loads(body)
    except ValueError:
        rec.error, rec.error_detail = "malformed", f"response is not JSON: {_snippet(body, 80)!r}"
        return [], [], None
    if not isinstance(obj, dict):
        rec.error, rec.error_detail = "malformed", "response is not a JSON object"
        return [], [], None
    content, reasoning, usage = api.parse_response(obj)
    rec.e2e = rec.stream_end = rec.t_end - rec.t_start
    return [content + reasoning], [], usage


def _count_tokens(rec: RequestRecord, texts: list[str], per_chunk: list[int | None], usage: Any,
                  tokenizer: Any) -> None:
    text = "".join(texts)
    rec.text_chars = len(text)
    streamed = bool(rec.chunk_times) or rec.first_event is not None
    if usage and usage.get("completion_tokens") is not None:
        rec.output_tokens, rec.token_source = int(usage["completion_tokens"]), "usage"
    elif tokenizer is not None:
        rec.output_tokens, rec.token_source = len(tokenizer.encode(text, add_special_tokens=False)), "tokenizer"
    elif streamed:
        rec.output_tokens, rec.token_source = len(rec.chunk_times), "chunks"
    else:
        rec.output_tokens, rec.token_source = len(text.split()), "words"
    if usage and usage.get("prompt_tokens") is not None:
        rec.input_tokens = int(usage["prompt_tokens"])
    else:
        rec.input_tokens = rec.prompt_tokens_hint
    n = rec.output_tokens
    if rec.ttft is not None and n >= 2:
        rec.tpot = (rec.e2e - rec.ttft) / (n - 1)
    if not rec.chunk_times:
        return
    counts: list[float] | None = None
    if per_chunk and all(c is not None for c in per_chunk):
        cumulative = [int(c) for c in per_chunk]  # type: ignore[arg-type]
        diffs = [cumulative[0]] + [b - a for a, b in zip(cumulative, cumulative[1:], strict=False)]
        if all(d > 0 for d in diffs):
            counts, rec.chunk_token_source = diffs, "usage_per_chunk"
    if counts is None and tokenizer is not None:
        counts = [max(1, len(tokenizer.encode(t, add_special_tokens=False))) for t in texts]
        rec.chunk_token_source = "tokenizer"
    if counts is None:
        per = n / len(texts) if n else 1.0
        counts, rec.chunk_token_source = [per] * len(texts), "uniform"
    rec.chunk_tokens = counts
    itl = rec.itl_token
    for gap, k in zip(rec.itl_chunk, counts[1:], strict=True):
        if isinstance(k, int):
            itl.extend([gap / k] * k)
        else:
            itl.append(gap / k)
