"""Rank statistics for STS: Spearman's rho (average ranks for ties) and its 95% interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks; tied values share the mean of their positions (as scipy.stats.rankdata)."""
    data = np.asarray(values, dtype=np.float64)
    order = np.argsort(data, kind="mergesort")
    ranks = np.empty(len(data), dtype=np.float64)
    sorted_values = data[order]
    start = 0
    for end in range(1, len(data) + 1):
        if end == len(data) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2.0
            start = end
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's correlation of the average ranks; None when either side is constant or has < 2 values."""
    if len(x) != len(y):
        raise ValueError("spearman: both sides need the same length")
    if len(x) < 2:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / denom if denom else None


def spearman_interval(rho: float | None, n: int) -> list[float] | None:
    """Fisher's z with Bonett and Wright's variance (1 + rho^2 / 2) / (n - 3); None below 4 pairs."""
    if rho is None or n < 4:
        return None
    z = math.atanh(max(min(rho, 0.999999), -0.999999))
    half = Z95 * math.sqrt((1 + rho * rho / 2) / (n - 3))
    return [round(math.tanh(z - half), 4), round(math.tanh(z + half), 4)]
