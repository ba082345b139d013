"""A ``/rerank`` client (eval_type ``rerank``, EvalScope's ``openai_rerank``) with EvalScope's body:

    POST {api_url}/rerank   {"model", "query", "documents": [...], "top_n": len(documents), "return_documents": false}
    ->  {"results": [{"index": i, "relevance_score": s}, ...]}      (``score`` is read when ``relevance_score`` is absent)

As in EvalScope's APIReranker, ``api_url`` ending in ``/rerank`` or ``/reranks`` is used as it is,
documents go ``batch_size`` (10) at a time, ``prompt`` is prepended to the query and texts are cut at
3 characters per token of ``max_seq_length`` (512). Unlike it, a reply that leaves a document without
a score, or names an index twice, is a ``malformed_reply`` error instead of a silent 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..models.base import ModelError
from ..models.embedding import RerankerAPI
from ..params import bounded_int, parse_int, parse_str
from .api_client import CLIENT_KEYS, JsonPoster, check_keys

KEYS = ("batch_size", "prompt", "max_seq_length", *CLIENT_KEYS)


class RerankClient(RerankerAPI):
    def __init__(self, name: str, api_url: str, api_key: str, model_args: dict[str, Any]) -> None:
        where = "model_args"
        check_keys(model_args, KEYS, where)
        self.name = name
        url = api_url.rstrip("/")
        self.path = "/" + url.rsplit("/", 1)[1] if url.endswith(("/rerank", "/reranks")) else "/rerank"
        base = url.rsplit("/", 1)[0] if url.endswith(("/rerank", "/reranks")) else url
        self.poster = JsonPoster(base, api_key, model_args, where)
        self.batch_size = bounded_int(1, 10000)(model_args.get("batch_size", 10), f"{where}.batch_size")
        self.prompt = parse_str(model_args.get("prompt", ""), f"{where}.prompt")
        self.max_chars = parse_int(model_args.get("max_seq_length", 512), f"{where}.max_seq_length", 0) * 3
        self.requests = 0

    def _cut(self, text: str) -> str:
        return text[: self.max_chars] if self.max_chars else text

    async def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        query = self._cut(self.prompt + query)
        scores: list[float] = []
        for start in range(0, len(documents), self.batch_size):
            batch = [self._cut(d) for d in documents[start: start + self.batch_size]]
            body = {"model": self.name, "query": query, "documents": batch, "top_n": len(batch),
                    "return_documents": False}
            reply = await self.poster.post(self.path, body)
            self.requests += 1
            scores.extend(parse_rerank(reply, len(batch)))
        return scores

    def stats(self) -> dict[str, Any]:
        return {"requests": self.requests}

    async def aclose(self) -> None:
        await self.poster.aclose()


def parse_rerank(reply: dict[str, Any], expected: int) -> list[float]:
    """One score per document, in the order sent, from a rerank reply (results come sorted by score)."""
    results = reply.get("results")
    if not isinstance(results, list):
        raise ModelError("malformed_reply", f"rerank reply has no 'results' list (keys: {sorted(reply)[:6]})")
    scores: list[float | None] = [None] * expected
    for position, item in enumerate(results):
        if not isinstance(item, dict):
            raise ModelError("malformed_reply", f"rerank result {position} is not an object")
        index = item.get("index", position)
        value = item.get("relevance_score", item.get("score"))
        if not isinstance(index, int) or not 0 <= index < expected or scores[index] is not None:
            raise ModelError("malformed_reply", f"rerank result {position}: index {index!r} is out of range or repeated "
                             f"({expected} documents sent)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ModelError("malformed_reply", f"rerank result {position}: relevance_score {value!r} is not a finite number")
        scores[index] = float(value)
    missing = [i for i, s in enumerate(scores) if s is None]
    if missing:
        raise ModelError("malformed_reply", f"rerank reply scored {expected - len(missing)} of {expected} documents "
                         f"(none for index {missing[0]})")
    return [float(s) for s in scores if s is not None]
