"""Ranking measures of one query, as trec_eval defines them (and MTEB reports them, by these names).

A run is {doc_id: score}; qrels are {doc_id: relevance}. Documents are ranked by score, descending,
ties broken by doc id descending (trec_eval's order). A document is relevant when its relevance is at
least 1. At each cutoff k (:data:`CUTOFFS`):

- ``ndcg_at_k``: sum of rel_i / log2(i + 1) over the first k, over the same for the best ordering of
  the judged documents (trec_eval ``ndcg_cut_k``; gains are the relevance values);
- ``map_at_k``: sum of precision at the rank of each relevant document in the first k, over the number
  of relevant documents (``map_cut_k``);
- ``recall_at_k``: relevant in the first k over relevant (``recall_k``);
- ``precision_at_k``: relevant in the first k over k, whatever the run's length (``P_k``);
- ``mrr_at_k``: 1 / rank of the first relevant document in the first k, else 0 (``recip_rank`` of the
  run cut at k);
- ``hit_rate_at_k``: 1 when a relevant document is in the first k (``success_k``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

CUTOFFS = (1, 3, 5, 10, 20, 100, 1000)
MEASURES = ("ndcg", "map", "recall", "precision", "mrr", "hit_rate")


def metric_names(cutoffs: tuple[int, ...] = CUTOFFS) -> list[str]:
    return [f"{m}_at_{k}" for m in MEASURES for k in cutoffs]


def rank(run: Mapping[str, float]) -> list[str]:
    """Doc ids best first: score descending, then doc id descending, as trec_eval sorts."""
    return [d for d, _ in sorted(run.items(), key=lambda item: (-item[1], _Desc(item[0])))]


class _Desc(str):
    """A string that sorts in reverse (trec_eval breaks score ties by doc id, descending)."""

    __slots__ = ()

    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


def query_measures(ranked: list[str], qrels: Mapping[str, int], cutoffs: tuple[int, ...] = CUTOFFS) -> dict[str, float]:
    """Every measure at every cutoff for one query's ranked doc ids; needs at least one relevant document."""
    relevant = {d for d, r in qrels.items() if r >= 1}
    if not relevant:
        raise ValueError("a query without relevant documents has no ranking measures")
    gains = sorted((r for r in qrels.values() if r > 0), reverse=True)
    out: dict[str, float] = {}
    for k in cutoffs:
        top = ranked[:k]
        hits = [i for i, d in enumerate(top, 1) if d in relevant]
        dcg = sum(max(qrels.get(d, 0), 0) / math.log2(i + 1) for i, d in enumerate(top, 1))
        ideal = sum(g / math.log2(i + 1) for i, g in enumerate(gains[:k], 1))
        out[f"ndcg_at_{k}"] = dcg / ideal if ideal else 0.0
        out[f"map_at_{k}"] = sum(n / i for n, i in enumerate(hits, 1)) / len(relevant)
        out[f"recall_at_{k}"] = len(hits) / len(relevant)
        out[f"precision_at_{k}"] = len(hits) / k
        out[f"mrr_at_{k}"] = 1.0 / hits[0] if hits else 0.0
        out[f"hit_rate_at_{k}"] = 1.0 if hits else 0.0
    return {name: out[name] for name in metric_names(cutoffs)}
