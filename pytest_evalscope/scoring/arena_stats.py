"""Arena statistics: pairwise games -> Bradley–Terry ratings, win rates and intervals, in numpy.

A *game* is one judge verdict on one prompt with two models in slots A and B (``A>>B``, ``A>B``,
``A=B``, ``B>A``, ``B>>A``). As in Arena-Hard and EvalScope, a strong verdict weighs 3 and a tie
counts half a win for each side.

- :func:`bradley_terry`: the maximum-likelihood ratings (natural-log scale, baseline 0) by Newton's
  method on the aggregated pairwise counts. For two models it is the weighted win fraction exactly,
  the number EvalScope's logistic regression converges to.
- :func:`prompt_bootstrap`: the interval that respects how the data were drawn. One prompt gives up
  to six correlated rows (two games, strong verdicts tripled), so prompts are resampled, each taking
  all its games; 1,000 seeded rounds; percentile interval.
- :func:`row_bootstrap`: EvalScope 1.14.1's interval, for parity: its battle rows resampled with
  ``numpy.random.default_rng(seed).choice`` (what ``DataFrame.sample(frac=1, replace=True)`` calls),
  100 rounds, 2.5/97.5 percentiles taken on its Elo scale (400, base 10, baseline 1000) and turned
  into win rates, its one-class rounds included (the winner gets +400, unanchored). Treating correlated
  rows as independent makes this interval too narrow; test_arena_stats.py measures by how much.
- :func:`position_stats`: position consistency (the share of swapped pairs whose two verdicts agree
  on win, tie or loss) and the first slot's share of decisive games.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
STRONG_WEIGHT = 3
_OUTCOME = {"A>>B": (1.0, STRONG_WEIGHT), "A>B": (1.0, 1), "A=B": (0.5, 1), "B>A": (0.0, 1), "B>>A": (0.0, STRONG_WEIGHT)}
_CLIP = 12.0  # a model that wins every game has no finite MLE; its rating stops at e^12 odds
ELO_SCALE, ELO_BASE, ELO_INIT = 400.0, 10.0, 1000.0


@dataclass(frozen=True)
class Game:
    """One judge verdict: `a` held slot A, `b` slot B, on prompt `prompt` (a stable id)."""

    prompt: str
    a: str
    b: str
    verdict: str


@dataclass
class Games:
    """Games as arrays: prompt index, model indices in slots A and B, A's outcome (1, 0.5, 0), weight."""

    models: list[str]
    prompts: list[str]
    prompt: np.ndarray
    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    w: np.ndarray

    @classmethod
    def of(cls, games: Sequence[Game], models: Sequence[str] | None = None) -> Games:
        names = list(models) if models is not None else list(dict.fromkeys(m for g in games for m in (g.a, g.b)))
        prompts = list(dict.fromkeys(g.prompt for g in games))
        where, at = {m: i for i, m in enumerate(names)}, {p: i for i, p in enumerate(prompts)}
        outcome = np.array([_OUTCOME[g.verdict] for g in games], dtype=float).reshape(-1, 2)
        return cls(names, prompts, np.array([at[g.prompt] for g in games], dtype=int),
                   np.array([where[g.a] for g in games], dtype=int), np.array([where[g.b] for g in games], dtype=int),
                   outcome[:, 0], outcome[:, 1])

    def per_prompt(self) -> tuple[np.ndarray, np.ndarray]:
        """(wins, counts), each (prompts, P, P): weighted wins of i over j and games between them."""
        n, p = len(self.prompts), len(self.models)
        wins, counts = np.zeros((n, p, p)), np.zeros((n, p, p))
        np.add.at(wins, (self.prompt, self.a, self.b), self.w * self.y)
        np.add.at(wins, (self.prompt, self.b, self.a), self.w * (1 - self.y))
        np.add.at(counts, (self.prompt, self.a, self.b), self.w)
        np.add.at(counts, (self.prompt, self.b, self.a), self.w)
        return wins, counts


def bradley_terry(wins: np.ndarray, counts: np.ndarray, anchor: int = 0, iterations: int = 50) -> np.ndarray:
    """Ratings θ (natural-log odds scale, θ[anchor] = 0) maximising Σ W_ij log σ(θ_i − θ_j).

    `wins` and `counts` are (P, P) or a batch (R, P, P); the result is (P,) or (R, P)."""
    single = wins.ndim == 2
    W, N = (wins[None], counts[None]) if single else (wins, counts)
    rounds, p = W.shape[0], W.shape[1]
    theta = np.zeros((rounds, p))
    if p == 2:  # closed form: the weighted win fraction
        other = 1 - anchor
        share = np.divide(W[:, other, anchor], N[:, other, anchor], out=np.full(rounds, 0.5), where=N[:, other, anchor] > 0)
        with np.errstate(divide="ignore"):
            theta[:, other] = np.clip(np.log(share) - np.log1p(-share), -_CLIP, _CLIP)
        return theta[0] if single else theta
    free = [i for i in range(p) if i != anchor]
    for _ in range(iterations):
        d = theta[:, :, None] - theta[:, None, :]
        prob = 1 / (1 + np.exp(-d))
        grad = (W - N * prob).sum(axis=2)
        curv = N * prob * (1 - prob)
        hess = curv.copy()
        hess[:, np.arange(p), np.arange(p)] -= curv.sum(axis=2)
        h = hess[:, free][:, :, free] - 1e-9 * np.eye(p - 1)
        step = np.linalg.solve(h, grad[:, free][..., None])[..., 0]
        theta[:, free] = np.clip(theta[:, free] - np.clip(step, -2, 2), -_CLIP, _CLIP)
        if np.abs(step).max() < 1e-10:
            break
    return theta[0] if single else theta


def win_matrix(theta: np.ndarray) -> np.ndarray:
    """P(i beats j) under ratings θ: (P, P), or (R, P, P) for a batch."""
    return 1 / (1 + np.exp(theta[..., None, :] - theta[..., :, None]))


@dataclass
class Estimate:
    """Win rates against the baseline with their interval, plus what they came from."""

    models: list[str]
    baseline: str
    win_rate: dict[str, float]
    lower: dict[str, float]
    upper: dict[str, float]
    theta: dict[str, float]
    method: str  # prompt_bootstrap | row_bootstrap
    rounds: int
    seed: int | None
    samples: np.ndarray  # (rounds, models): the bootstrap's ratings

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "samples"}


def prompt_bootstrap(games: Games, baseline: str, rounds: int = 1000, seed: int | None = 42,
                     level: float = 0.95) -> Estimate:
    """Bradley–Terry win rates against `baseline`, with the percentile interval of `rounds` resamples of
    the prompts (each prompt keeps all of its games)."""
    anchor = games.models.index(baseline)
    wins, counts = games.per_prompt()
    theta = bradley_terry(wins.sum(0), counts.sum(0), anchor)
    rng = np.random.default_rng(seed)
    n = len(games.prompts)
    boot = np.empty((rounds, len(games.models)))
    chunk = max(1, 4_000_000 // max(1, n * len(games.models) ** 2))
    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        idx = rng.integers(0, n, size=(size, n))
        boot[start:start + size] = bradley_terry(wins[idx].sum(1), counts[idx].sum(1), anchor)
    rates = 1 / (1 + np.exp(-boot))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(rates, [tail, 100 - tail], axis=0)
    point = 1 / (1 + np.exp(-theta))
    return Estimate(games.models, baseline, _by(games.models, point), _by(games.models, low), _by(games.models, high),
                    _by(games.models, theta), "prompt_bootstrap", rounds, seed, boot)


def _by(models: list[str], values: np.ndarray) -> dict[str, float]:
    return {m: float(v) for m, v in zip(models, values, strict=True)}


# ---------------------------------------------------------------- EvalScope's row bootstrap (parity)


def battle_rows(games: Sequence[Game], candidate: str) -> np.ndarray:
    """EvalScope's battle rows for one candidate against the baseline, in its order: per prompt, game 1
    then game 2, a strong verdict three rows; 1 = the candidate won, 0.5 tie, 0 lost."""
    rows: list[float] = []
    for game in games:
        y, weight = _OUTCOME[game.verdict]
        rows += [y if game.a == candidate else 1 - y] * int(weight)
    return np.array(rows)


def _elo_pair(rows: np.ndarray) -> tuple[float, float]:
    """(candidate, baseline) Elo as compute_mle_elo gives them for rows oriented candidate-as-model_a."""
    wins = float(rows.sum())
    if wins == len(rows) and not (rows == 0.5).any():  # one class: every row a candidate win
        return ELO_INIT + ELO_SCALE, ELO_INIT
    if wins == 0:
        return ELO_INIT, ELO_INIT + ELO_SCALE
    share = wins / len(rows)
    return ELO_INIT + ELO_SCALE * math.log10(share / (1 - share)), ELO_INIT


def _rate(candidate_elo: float, baseline_elo: float) -> float:
    return 1 / (1 + ELO_BASE ** ((baseline_elo - candidate_elo) / ELO_SCALE))


def row_bootstrap(rows: np.ndarray, rounds: int = 100, seed: int | None = 42) -> tuple[float, float, float]:
    """EvalScope 1.14.1's (win_rate, win_rate_lower, win_rate_upper) for one candidate, rounded as it
    rounds them (4 places)."""
    rng = np.random.default_rng(seed)
    point = _elo_pair(rows)
    boot = np.array([_elo_pair(rows[rng.choice(len(rows), size=len(rows), replace=True)]) for _ in range(rounds)])
    low, high = np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)
    return round(float(_rate(*point)), 4), round(float(_rate(*low)), 4), round(float(_rate(*high)), 4)


def row_bootstrap_shares(rows_by_arena: Sequence[np.ndarray], rounds: int, seed: int) -> np.ndarray:
    """Percentile intervals ((arenas, 2), on the win-rate scale) of resampled rows, one arena at a time:
    the row bootstrap for the coverage comparison (two models, so the win rate is the row mean)."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(rows_by_arena), 2))
    for k, rows in enumerate(rows_by_arena):
        means = rows[rng.integers(0, len(rows), size=(rounds, len(rows)))].mean(1)
        out[k] = np.percentile(means, [2.5, 97.5])
    return out


# ---------------------------------------------------------------- position bias


def position_stats(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """From each swapped pair's two verdicts (game 1: candidate in slot A; game 2: candidate in slot B):
    how often they agree on the candidate's result, and how often slot A wins a decisive game."""
    agree, first, decisive = 0, 0, 0
    for one, two in pairs:
        agree += _result(one, True) == _result(two, False)
        for verdict in (one, two):
            if verdict != "A=B":
                decisive += 1
                first += verdict.startswith("A")
    n = len(pairs)
    return {"pairs": n, "position_consistency": round(agree / n, 4) if n else None,
            "first_slot_win_rate": round(first / decisive, 4) if decisive else None, "decisive_games": decisive}


def _result(verdict: str, candidate_is_a: bool) -> str:
    if verdict == "A=B":
        return "tie"
    return "win" if verdict.startswith("A") == candidate_is_a else "loss"


def prompt_result(one: str, two: str | None) -> tuple[str, str]:
    """EvalScope's per-prompt outcome for the candidate (result, strength) from game 1 (candidate in
    slot A) and game 2 (swapped): the agreed result, else a tie; strong when an agreeing game was."""
    results = [(_result(one, True), one in ("A>>B", "B>>A"))]
    if two is not None:
        results.append((_result(two, False), two in ("A>>B", "B>>A")))
    kinds = {r for r, _ in results}
    result = results[0][0] if len(kinds) == 1 else "tie"
    strong = result != "tie" and any(r == result and s for r, s in results)
    return result, "strong" if strong else "weak"


def prompt_score(result: str, strength: str) -> float:
    """EvalScope's PairwiseOutcome.score: 1 / 0.75 for a strong / weak win, 0.5 tie, 0.25 / 0 losses."""
    if result == "tie":
        return 0.5
    if result == "win":
        return 1.0 if strength == "strong" else 0.75
    return 0.0 if strength == "strong" else 0.25
