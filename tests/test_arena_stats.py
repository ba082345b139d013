"""Arena statistics: Bradley–Terry, the prompt bootstrap's coverage against EvalScope's row bootstrap in
simulated arenas, parity with EvalScope 1.14.1's figures, strict pairwise verdicts, prompts and the
leaderboard's layout."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from pytest_evalscope.judge import Unparseable, parse_verdict
from pytest_evalscope.judge.contract import PROMPTS
from pytest_evalscope.judge.pairwise import alpaca_eval_definition, arena_hard_definition
from pytest_evalscope.reporting.arena import leaderboard_text
from pytest_evalscope.scoring.arena_stats import (
    Game,
    Games,
    battle_rows,
    bradley_terry,
    position_stats,
    prompt_bootstrap,
    row_bootstrap,
    row_bootstrap_shares,
)

FIXTURE = Path(__file__).parent / "fixtures" / "evalscope_arena_parity.json"
ARENA = arena_hard_definition("q", "a", "b")


def simulate(arenas: int, n: int, p_cand: float, p_base: float, bias: float, seed: int) -> dict[str, np.ndarray]:
    """Games of the oracle judge: the marked answer wins strongly; with both or neither marked, slot A
    wins weakly with probability `bias`, else a tie. Per arena and prompt: game 1 (candidate in A) and
    game 2 (candidate in B), as A's outcome and weight."""
    rng = np.random.default_rng(seed)
    cand, base = rng.random((arenas, n)) < p_cand, rng.random((arenas, n)) < p_base
    only_c, only_b = cand & ~base, base & ~cand
    lean = rng.random((2, arenas, n)) < bias
    y1 = np.where(only_c, 1.0, np.where(only_b, 0.0, np.where(lean[0], 1.0, 0.5)))
    y2 = np.where(only_c, 0.0, np.where(only_b, 1.0, np.where(lean[1], 1.0, 0.5)))
    w = np.where(only_c | only_b, 3.0, 1.0)
    return {"y1": y1, "y2": y2, "w": w, "lean": lean, "only": only_c | only_b}


def truth(p_cand: float, p_base: float) -> float:
    decided_c, decided_b = p_cand * (1 - p_base), p_base * (1 - p_cand)
    rest = 1 - decided_c - decided_b  # two games with expected one win in two, whatever the bias
    return (6 * decided_c + rest) / (6 * decided_c + 6 * decided_b + 2 * rest)


def arena_games(sim: dict[str, np.ndarray], k: int) -> Games:
    n = sim["w"].shape[1]
    prompt = np.repeat(np.arange(n), 2)
    a = np.tile([1, 0], n)  # model 1 = candidate in slot A in game 1; model 0 = baseline in A in game 2
    y = np.stack([sim["y1"][k], sim["y2"][k]], 1).ravel()
    w = np.repeat(sim["w"][k], 2)
    return Games(["base", "cand"], [str(i) for i in range(n)], prompt, a, 1 - a, y, w)


def test_prompt_bootstrap_covers_the_true_win_rate_and_row_bootstrap_covers_less() -> None:
    arenas, n, p_cand, p_base, bias = 500, 100, 0.6, 0.35, 0.3
    sim = simulate(arenas, n, p_cand, p_base, bias, seed=7)
    target = truth(p_cand, p_base)
    prompt_hits, rows = 0, []
    for k in range(arenas):
        estimate = prompt_bootstrap(arena_games(sim, k), "base", rounds=1000, seed=k)
        prompt_hits += estimate.lower["cand"] <= target <= estimate.upper["cand"]
        cand_y = np.concatenate([np.repeat(sim["y1"][k], sim["w"][k].astype(int)),
                                 np.repeat(1 - sim["y2"][k], sim["w"][k].astype(int))])
        rows.append(cand_y)
    intervals = row_bootstrap_shares(rows, rounds=1000, seed=11)
    row_hits = int(((intervals[:, 0] <= target) & (target <= intervals[:, 1])).sum())
    print(f"coverage of the 95% interval over {arenas} arenas: prompt bootstrap {prompt_hits / arenas:.3f}, "
          f"row bootstrap {row_hits / arenas:.3f} (true win rate {target:.4f})")
    assert prompt_hits / arenas >= 0.93
    assert row_hits < prompt_hits and row_hits / arenas < 0.90


def test_planted_position_bias_is_measured() -> None:
    bias, p_cand, p_base = 0.3, 0.6, 0.35
    sim = simulate(1, 4000, p_cand, p_base, bias, seed=3)
    label = {1.0: "A>B", 0.5: "A=B", 0.0: "B>A"}
    pairs = [(label[a], label[b]) for a, b in zip(sim["y1"][0], sim["y2"][0], strict=True)]
    facts = position_stats(pairs)
    only = sim["only"][0]
    lean = sim["lean"][:, 0]
    agree = only | (~only & ~lean[0] & ~lean[1])
    assert facts["position_consistency"] == round(float(agree.mean()), 4)
    decided = 1 - p_cand * (1 - p_base) - p_base * (1 - p_cand)
    assert abs(facts["position_consistency"] - ((1 - decided) + decided * (1 - bias) ** 2)) < 0.02
    assert facts["first_slot_win_rate"] > 0.5  # the planted bias shows in the first slot's share


def test_bradley_terry_is_the_weighted_win_fraction_for_two_and_a_maximum_for_three() -> None:
    games = [Game("1", "x", "y", "A>>B"), Game("1", "y", "x", "A=B"), Game("2", "x", "y", "B>A"), Game("2", "y", "x", "B>A")]
    table = Games.of(games, ["y", "x"])
    wins, counts = table.per_prompt()
    theta = bradley_terry(wins.sum(0), counts.sum(0))
    share = (3 + 0.5 + 0 + 1) / (3 + 1 + 1 + 1)
    assert 1 / (1 + np.exp(-theta[1])) == pytest.approx(share, abs=1e-12)
    rng = np.random.default_rng(0)
    three = [Game(str(i), a, b, str(rng.choice(["A>>B", "A>B", "A=B", "B>A"])))
             for i in range(200) for a, b in (("p", "q"), ("q", "r"), ("r", "p"))]
    table = Games.of(three)
    wins, counts = table.per_prompt()
    W, N = wins.sum(0), counts.sum(0)
    theta = bradley_terry(W, N)
    prob = 1 / (1 + np.exp(theta[None, :] - theta[:, None]))
    assert np.abs((W - N * prob).sum(1)).max() < 1e-8  # the likelihood's gradient vanishes


def test_row_bootstrap_equals_evalscope_1_14_1_on_the_same_verdicts() -> None:
    data = json.loads(FIXTURE.read_text())
    assert data["evalscope_version"] == "1.14.1"
    for case in data["cases"]:
        games = [g for i, (one, two) in enumerate(case["pairs"])
                 for g in (Game(str(i), "cand", "base", one), Game(str(i), "base", "cand", two))]
        ours = row_bootstrap(battle_rows(games, "cand"), rounds=100, seed=case["seed"])
        theirs = case["evalscope"]
        assert ours == (theirs["win_rate"], theirs["win_rate_lower"], theirs["win_rate_upper"])


@pytest.mark.parametrize(("reply", "verdict"), [
    ('{"reasoning": "x", "verdict": "A>>B"}', "A>>B"), ('{"verdict": "[[B>A]]"}', "B>A"),
    ("Both are fine.\n\nMy final verdict is tie: [[A=B]]", "A=B"), ("[[B>>A]] ... as said, [[B>>A]]", "B>>A"),
])
def test_a_pairwise_verdict_is_read_when_it_is_unambiguous(reply: str, verdict: str) -> None:
    assert parse_verdict(reply, ARENA) == verdict


@pytest.mark.parametrize("reply", ["[[A>B]] or maybe [[B>A]]", "A>B", "[[A<B]]", '{"verdict": "A>>>B"}',
                                   "Assistant A is better", ""])
def test_anything_else_is_unparseable(reply: str) -> None:
    with pytest.raises(Unparseable):
        parse_verdict(reply, ARENA)


def test_prompts_are_evalscopes_and_mt_benchs_byte_for_byte() -> None:
    digests = {name: hashlib.sha256((PROMPTS / f"{name}.txt").read_bytes()).hexdigest()[:16]
               for name in ("arena_hard", "arena_hard_system", "alpaca_eval", "alpaca_eval_system", "mt_bench_single_v1")}
    assert digests == EXPECTED_DIGESTS
    assert ARENA.messages()[-1]["content"].endswith(
        '- "verdict": exactly one of "A>>B" or "A>B" or "A=B" or "B>A" or "B>>A"')
    assert alpaca_eval_definition("i", "x", "y").messages()[-1]["content"].endswith(
        'containing these required keys (additional keys are allowed):\n- "verdict": exactly one of "m" or "M"')


# sha256 (first 16 hex) of EvalScope 1.14.1's GRADER_TEMPLATE / GRADER_SYSTEM_PROMPT strings and of
# judge_prompts.jsonl's single-v1 prompt_template, computed from the sources
EXPECTED_DIGESTS = {"arena_hard": "884b5a242301d1d8", "arena_hard_system": "6d40e2d25e14677e",
                    "alpaca_eval": "e0b1f051a73a551e", "alpaca_eval_system": "4c93a9a9d5102753",
                    "mt_bench_single_v1": "0935c7ff79f38d3f"}


def test_leaderboard_is_laid_out_as_evalscope_writes_it() -> None:
    boards = [{"title": "=== OVERALL LEADERBOARD ===", "entries": [
        {"model": "qwen-plus", "win_rate": 0.821, "win_rate_lower": 0.79, "win_rate_upper": 0.85},
        {"model": "b", "win_rate": 0.05, "win_rate_lower": 0.05, "win_rate_upper": 0.05},
        {"model": "c", "win_rate": 1.0, "win_rate_lower": 0.9, "win_rate_upper": 1.0}]}]
    # tabulate 0.9's output for the same rows (EvalScope 1.14.1's _on_generate_report_end)
    assert leaderboard_text(boards, {}) == ("=== OVERALL LEADERBOARD ===\n"
                                            "Model        WinRate (%)  CI (%)\n---------  -------------  --------------\n"
                                            "qwen-plus           82.1  (-3.1 / +2.9)\nb                    5    (+0.0 / +0.0)\n"
                                            "c                  100    (-10.0 / +0.0)\n")
