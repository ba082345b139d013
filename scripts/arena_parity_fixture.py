"""Writes tests/fixtures/evalscope_arena_parity.json: EvalScope 1.14.1's general_arena figures (win_rate,
win_rate_lower, win_rate_upper) for seeded verdict sets. Run with EvalScope's interpreter, never the project's:

    /work/evalscope-venv/bin/python scripts/arena_parity_fixture.py

Each case is a list of (game 1, game 2) verdicts, the candidate in slot A of game 1 and slot B of game 2,
as general_arena plays them; the figures come from EvalScope's own compute_mle_elo, get_bootstrap_result
(100 rounds, seed 42) and get_win_rate_column, exactly as its aggregate_scores calls them.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from evalscope.benchmarks.general_arena.utils import (
    compute_mle_elo,
    get_battles_from_row,
    get_bootstrap_result,
    get_win_rate_column,
)

VERDICTS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]


def figures(pairs, seed=42):
    rows = [{"games": [{"model_a": "cand", "model_b": "base", "judgment": one},
                       {"model_a": "base", "model_b": "cand", "judgment": two}]} for one, two in pairs]
    battles = pd.concat([get_battles_from_row(r) for r in rows])
    coef = compute_mle_elo(battles, baseline_model="base")
    boot = get_bootstrap_result(battles, func_compute_elo=compute_mle_elo, num_round=100, baseline_model="base", seed=seed)
    stats = pd.DataFrame()
    stats["results"] = None
    stats["results"] = stats["results"].astype("object")
    for i, model in enumerate(coef.index):
        stats.at[i, "model"] = model
        stats.at[i, "score"] = coef[model]
        stats.at[i, "lower"] = np.percentile(boot[model], 2.5)
        stats.at[i, "upper"] = np.percentile(boot[model], 97.5)
    return {k: float(get_win_rate_column(stats, c, "base").to_dict()["cand"])
            for k, c in (("win_rate", "score"), ("win_rate_lower", "lower"), ("win_rate_upper", "upper"))}


def main() -> None:
    cases = []
    for seed, n, lean in ((1, 20, 0.5), (2, 60, 0.3), (3, 120, 0.7), (4, 40, 0.9), (5, 200, 0.45), (6, 8, 0.95)):
        rng = np.random.default_rng(seed)
        probs = np.array([lean**2, lean * (1 - lean), 0.15, (1 - lean) * lean, (1 - lean) ** 2])
        probs /= probs.sum()
        one = rng.choice(VERDICTS, size=n, p=probs)
        two = rng.choice(VERDICTS[::-1], size=n, p=probs)  # the swapped game, so its A is the baseline
        pairs = [[str(a), str(b)] for a, b in zip(one, two, strict=True)]
        cases.append({"seed": 42, "pairs": pairs, "evalscope": figures(pairs)})
    pairs = [["A>>B", "B>>A"]] * 6  # every row a candidate win: EvalScope's one-class branch
    cases.append({"seed": 42, "pairs": pairs, "evalscope": figures(pairs)})
    out = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "evalscope_arena_parity.json"
    import evalscope

    out.write_text(json.dumps({"evalscope_version": evalscope.__version__, "cases": cases}, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
