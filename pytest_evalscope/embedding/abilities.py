"""Which benchmarks a run's model can serve, decided at collection. Kept free of numpy and the
embedding machinery: plugin.py imports it for every run, chat runs included."""

from __future__ import annotations

from typing import Any


def ability_missing(eval_type: str | None, benchmark: Any) -> str | None:
    """Why the run's model cannot serve this benchmark (an encoder asked to chat, or the reverse), or None."""
    from ..models.registry import can

    if eval_type is None:
        return None
    needed = getattr(benchmark, "model_abilities", ("generate",))  # any one of them will do
    if any(can(eval_type, ability) for ability in needed):
        return None
    if "generate" in needed:
        return f"{benchmark.name} needs a chat model; eval_type {eval_type} embeds or reranks texts"
    rerank = " or rerank (with api_url)" if "rerank" in needed else ""
    return (f"{benchmark.name} needs an embedding model: eval_type embedding (with api_url){rerank} or encoder "
            f"(a sentence-transformers folder), not {eval_type}")
