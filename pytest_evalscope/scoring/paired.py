"""Paired statistics for comparing two runs sample by sample (a candidate against a baseline).

Every function takes per-sample values of the same samples in the same order, so each sample is its
own control: what varies between two runs of different models is mostly *which* samples flip, not
how hard the benchmark is, and a paired test sees that where an unpaired one (two independent
binomials) drowns it in the between-sample variance.

Δ is always candidate minus baseline (negative: worse). Two families:

- 0/1 metrics, one attempt per sample: b = base passed and candidate failed, c = the reverse, Δ = (c - b)/n;
  the **mid-p McNemar** test (two-sided, exact binomial on the b + c discordant pairs, half the
  probability of the observed table) and **Newcombe's hybrid score interval** for a paired difference
  (Newcombe 1998, method 10 without continuity correction; Fagerland, Lydersen & Laake 2014 recommend it).
- anything else (Rouge, judge ratings, means over repeats, pass@k): the sample is the unit; a seeded
  **paired bootstrap** over samples gives the percentile interval, a seeded **sign-flip permutation**
  test the two-sided p.

A gate with margin m asks a one-sided question at level α: *regression* rejects "Δ >= -m" when the upper
(1 - α) bound is below -m; *non-inferiority* rejects "Δ <= -m" when the lower bound is at least -m. Its
interval is therefore the two-sided 1 - 2α one (90% for α = 0.05), whose bounds are the one-sided 95%
ones; reports carry the 95% interval beside it. :func:`gate_p` inverts the interval into the gate's
p-value, so that several gates can be corrected with :func:`holm`. :func:`mde` is the smallest true
difference a gate tells apart from its boundary with 80% power at the run's n and discordance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

ALPHA = 0.05
POWER = 0.8
BOOTSTRAP_RESAMPLES = 4000
PERMUTATION_ROUNDS = 10_000
_NORMAL = NormalDist()


def z_of(level: float) -> float:
    """The standard normal quantile of `level` (0.975 -> 1.96)."""
    return _NORMAL.inv_cdf(level)


# ---------------------------------------------------------------- 0/1 metrics


def midp_mcnemar(b: int, c: int) -> float:
    """Two-sided mid-p McNemar test of b against c discordant pairs: 2 [P(X < k) + P(X = k) / 2] with
    X ~ Binomial(b + c, 1/2) and k = min(b, c), at most 1."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    top = max(logs)
    below = sum(math.exp(v - top) for v in logs[:-1])  # P(X < k), scaled
    p = 2 * math.exp(top) * (below + 0.5 * math.exp(logs[-1] - top))
    return min(1.0, p)


def wilson(successes: Any, n: Any, z: float) -> tuple[Any, Any]:
    """Wilson's score interval for successes / n (numpy arrays or numbers)."""
    n = np.asarray(n, dtype=float)
    p = np.asarray(successes, dtype=float) / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


def newcombe(a: Any, b: Any, c: Any, d: Any, z: float) -> tuple[Any, Any]:
    """Newcombe's hybrid score interval for Δ = (c - b)/n of a paired 2x2 table (vectorised): a both
    passed, b only the baseline passed, c only the candidate passed, d neither. z = 1.96 gives the 95%
    two-sided interval; z = 1.645 the 90% one, whose bounds are one-sided 95% bounds."""
    a, b, c, d = (np.asarray(x, dtype=float) for x in (a, b, c, d))
    n = a + b + c + d
    p_cand, p_base = (a + c) / n, (a + b) / n
    l_cand, u_cand = wilson(a + c, n, z)
    l_base, u_base = wilson(a + b, n, z)
    denom = np.sqrt((a + c) * (b + d) * (a + b) * (c + d))
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(denom > 0, (a * d - b * c) / np.where(denom > 0, denom, 1.0), 0.0)
    delta = p_cand - p_base
    down = np.sqrt(np.maximum((p_cand - l_cand) ** 2 - 2 * phi * (p_cand - l_cand) * (u_base - p_base)
                              + (u_base - p_base) ** 2, 0.0))
    up = np.sqrt(np.maximum((u_cand - p_cand) ** 2 - 2 * phi * (u_cand - p_cand) * (p_base - l_base)
                            + (p_base - l_base) ** 2, 0.0))
    return delta - down, delta + up


# ---------------------------------------------------------------- any metric


def bootstrap_deltas(diffs: np.ndarray, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> np.ndarray:
    """Means of `resamples` resamples (with replacement, over samples) of per-sample differences."""
    rng = np.random.default_rng(seed)
    n = len(diffs)
    out = np.empty(resamples)
    step = max(1, 2_000_000 // max(n, 1))  # rows per chunk: bounded memory for large n
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        out[start:start + rows] = diffs[rng.integers(0, n, size=(rows, n))].mean(axis=1)
    return out


def sign_flip_p(diffs: np.ndarray, seed: int, rounds: int = PERMUTATION_ROUNDS) -> float:
    """Two-sided sign-flip permutation p of mean(diffs) = 0: under no difference each sample's pair could
    be swapped, which flips the sign of its difference. (1 + #{|flipped mean| >= |observed|}) / (1 + rounds)."""
    nonzero = diffs[diffs != 0]
    if len(nonzero) == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    observed = abs(nonzero.sum()) - 1e-12 * (1 + abs(nonzero).sum())
    hits = 0
    step = max(1, 2_000_000 // len(nonzero))
    for start in range(0, rounds, step):
        rows = min(step, rounds - start)
        signs = rng.integers(0, 2, size=(rows, len(nonzero)), dtype=np.int8) * 2 - 1
        hits += int((np.abs(signs @ nonzero) >= observed).sum())
    return (1 + hits) / (1 + rounds)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    k = len(pvalues)
    order = sorted(range(k), key=lambda i: pvalues[i])
    adjusted = [1.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def mde(se: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The minimum detectable effect: the true difference beyond a gate's boundary that a one-sided test
    at `alpha` finds with probability `power`, given the standard error of Δ."""
    return (z_of(1 - alpha) + z_of(power)) * se


# ---------------------------------------------------------------- one comparison


@dataclass
class Paired:
    """The paired comparison of one benchmark or subset. `interval` is the gate's (1 - 2α) two-sided
    interval, `ci95` the 95% one; `p` the two-sided test of no difference (McNemar or sign-flip)."""

    n: int
    base: float
    candidate: float
    delta: float
    interval: tuple[float, float]
    ci95: tuple[float, float]
    p: float
    se: float
    method: str
    b: int | None = None  # 0/1 metrics: base passed, candidate failed
    c: int | None = None  # 0/1 metrics: base failed, candidate passed
    table: tuple[int, int, int, int] | None = None
    boot: np.ndarray | None = field(default=None, repr=False)

    @property
    def mde(self) -> float:
        return mde(self.se)

    def bound(self, z: float) -> float:
        """The bound at normal quantile z: the upper one for z >= 0, the lower one for z < 0 (increasing in z)."""
        if self.table is not None:
            low, high = newcombe(*self.table, abs(z))
            return float(high if z >= 0 else low)
        assert self.boot is not None
        return float(np.quantile(self.boot, _NORMAL.cdf(z)))

    def gate_p(self, margin: float, mode: str) -> float:
        """The one-sided p of the gate: regression tests "Δ >= -margin" (small p: confidently worse),
        noninferior tests "Δ <= -margin" (small p: confidently not worse by more than the margin)."""
        target = -margin
        if self.table is not None:
            low_z, high_z = -12.0, 12.0
            if self.bound(high_z) < target:
                below = 0.0
            elif self.bound(low_z) >= target:
                below = 1.0
            else:
                for _ in range(60):  # bisection for the z at which the bound crosses -margin
                    mid = (low_z + high_z) / 2
                    low_z, high_z = (mid, high_z) if self.bound(mid) < target else (low_z, mid)
                below = 1 - _NORMAL.cdf(high_z)  # p of "Δ >= -margin"
            return below if mode == "regression" else 1 - below
        assert self.boot is not None
        at_or_above = float(np.mean(self.boot >= target))
        return at_or_above if mode == "regression" else 1 - at_or_above


def compare_binary(base: np.ndarray, cand: np.ndarray, alpha: float = ALPHA) -> Paired:
    base, cand = base.astype(bool), cand.astype(bool)
    a = int(np.sum(base & cand))
    b = int(np.sum(base & ~cand))
    c = int(np.sum(~base & cand))
    d = int(np.sum(~base & ~cand))
    n = a + b + c + d
    gate = newcombe(a, b, c, d, z_of(1 - alpha))
    ci = newcombe(a, b, c, d, z_of(0.975))
    return Paired(n, (a + b) / n, (a + c) / n, (c - b) / n, (float(gate[0]), float(gate[1])),
                  (float(ci[0]), float(ci[1])), midp_mcnemar(b, c), math.sqrt(max(b + c, 1)) / n,
                  "mcnemar_midp+newcombe", b, c, (a, b, c, d))


def compare_values(base: np.ndarray, cand: np.ndarray, seed: int, alpha: float = ALPHA) -> Paired:
    """Per-sample values (already averaged over a sample's repeats) of any metric."""
    diffs = cand.astype(float) - base.astype(float)
    n = len(diffs)
    boot = bootstrap_deltas(diffs, seed)
    gate = np.quantile(boot, [alpha, 1 - alpha])
    ci = np.quantile(boot, [0.025, 0.975])
    sd = float(np.std(diffs, ddof=1)) if n > 1 else 0.0
    se = max(sd / math.sqrt(n), 1.0 / n) if n else 1.0
    b = int(np.sum(diffs < 0))
    c = int(np.sum(diffs > 0))
    return Paired(n, float(base.mean()), float(cand.mean()), float(diffs.mean()), (float(gate[0]), float(gate[1])),
                  (float(ci[0]), float(ci[1])), sign_flip_p(diffs, seed), se, "bootstrap+sign_flip", b, c, None, boot)


def compare(base: np.ndarray, cand: np.ndarray, binary: bool, seed: int, alpha: float = ALPHA) -> Paired:
    return compare_binary(base, cand, alpha) if binary else compare_values(base, cand, seed, alpha)
