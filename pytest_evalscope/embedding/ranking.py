"""Dense ranking: cosine (or dot) scores of one query against a corpus, in trec_eval's order."""

from __future__ import annotations

import numpy as np


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)


def id_order(doc_ids: list[str]) -> np.ndarray:
    """Each document's position when ids are sorted descending: the tie-break trec_eval applies."""
    order = sorted(range(len(doc_ids)), key=lambda i: doc_ids[i], reverse=True)
    ranks = np.empty(len(doc_ids), dtype=np.int64)
    ranks[order] = np.arange(len(doc_ids))
    return ranks


def top_k(scores: np.ndarray, tie_rank: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best documents, best first (score descending, then id descending). Every
    document tied with the k-th is considered, so the cut equals sorting the whole run."""
    n = len(scores)
    if k < n:
        kth = np.partition(-scores, k - 1)[k - 1]
        candidates = np.flatnonzero(-scores <= kth)
    else:
        candidates = np.arange(n)
    order = np.lexsort((tie_rank[candidates], -scores[candidates]))
    return candidates[order][:k]
