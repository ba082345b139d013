"""The contract of embedding and reranker models (abilities ``embed`` and ``rerank``).

Retrieval, STS and classification tasks, and the embedding half of the RAG metrics, depend on these two
ABCs only; backends (an OpenAI-compatible ``/v1/embeddings`` client, a ``/rerank`` client, a local
encoder) implement them. Failures are :class:`~pytest_evalscope.models.base.ModelError`, as for chat
models, so they count as errors and never as scores.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import numpy as np

TextKind = Literal["query", "passage"]


class EncoderAPI(ABC):
    """Texts in, one float32 row per text out (shape ``(len(texts), dim)``), in the order given."""

    name: str

    @abstractmethod
    async def embed(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        """Embed `texts`; `kind` selects the query or passage instruction where the model has one.
        Raise ModelError on failure."""

    async def aclose(self) -> None:  # noqa: B027  (optional hook)
        """Release connections or sessions."""


class RerankerAPI(ABC):
    """A query and candidate documents in, one relevance score per document out (higher is more relevant)."""

    name: str

    @abstractmethod
    async def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        """Score `documents` for `query`, in the order given. Raise ModelError on failure."""

    async def aclose(self) -> None:  # noqa: B027  (optional hook)
        """Release connections or sessions."""
