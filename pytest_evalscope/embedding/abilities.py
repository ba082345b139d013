"""Which benchmarks a run's model can serve, decided at collection. Kept free of numpy and the
embedding machinery: plugin.py imports it for every run, chat runs included."""

from __future__ import annotations

from typing import Any


def ability_missing(eval_type: str | None, benchmark: Any) -> str | None:
    """Why the run's model cannot serve this benchmark (an encoder asked to chat, or the reverse), or None."""
    from ..models.registry import can

    if eval_type is None:
        return None
    needed = getattr(benchmark, "model_ability", "generate")
    if needed == "embed" and (can(eval_type, "embed") or can(eval_type, "rerank")):
        return None  # a reranker alone ranks the whole corpus
    if can(eval_type, needed):
        return None
    if needed == "generate":
        return f"{benchmark.name} needs a chat model; eval_type {eval_type} embeds or reranks texts"
    return (f"{benchmark.name} needs an embedding model: eval_type embedding (with api_url) or encoder "
            f"(a sentence-transformers folder), not {eval_type}")
