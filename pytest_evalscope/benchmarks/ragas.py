"""``ragas``: RAG metrics on the judge layer; the adapter lives in :mod:`pytest_evalscope.rag.benchmark`."""

from ..rag.benchmark import Ragas

__all__ = ["Ragas"]
