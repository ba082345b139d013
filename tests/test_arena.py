"""The arena end to end: earlier runs of the test server with different oracles, judged pairwise by the
oracle judge (marker preference, planted position bias), serial and -n 2; arena_hard and alpaca_eval
against their reference answers."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_evalscope.scoring.arena_stats import Game, Games, bradley_terry, win_matrix
from pytest_evalscope.testing.judge_oracle import MARKER, arena_verdict
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess

from .conftest import SHARED

QUESTIONS = [f"Arena question {k}: describe item {k * 7 % 13} briefly." for k in range(40)]
STRENGTH = {"strong": 0.85, "middle": 0.5, "weak": 0.15}  # share of prompts each model's reply is marked on


def replies(model: str) -> dict[str, str]:
    rng = random.Random(f"arena-{model}")
    return {q: f"{model} answers {q[:16]}" + (f" {MARKER}" if rng.random() < STRENGTH[model] else "") for q in QUESTIONS}


@pytest.fixture(scope="module")
def judge() -> Iterator[ServerHandle]:
    with serve_in_subprocess(ServerConfig(judge=True, max_seconds=600)) as handle:
        yield handle


def _run(pytester: pytest.Pytester, *args: str) -> Path:
    pytester.runpytest("-p", "no:cacheprovider", "--evalscope-work-dir=out", *args)
    return sorted((pytester.path / "out").iterdir())[-1]


@pytest.fixture(scope="module")
def earlier_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three runs of general_qa, one per oracle model, as the arena's inputs."""
    folder = tmp_path_factory.mktemp("arena_runs")
    data = folder / "data"
    data.mkdir()
    (data / "default.jsonl").write_text("".join(json.dumps({"query": q, "response": "x"}) + "\n" for q in QUESTIONS))
    (folder / "eval_qa.py").write_text("from pytest_evalscope import Suite\n\ngeneral_qa = Suite('general_qa')\n")
    import subprocess
    import sys

    runs = {}
    for model in STRENGTH:
        with serve_in_subprocess(ServerConfig(oracle=replies(model), max_seconds=300)) as server:
            args = [f"--evalscope-model={model}", f"--evalscope-api-url={server.url}", f"--evalscope-work-dir=runs_{model}",
                    "--evalscope-dataset-args=" + json.dumps({"general_qa": {"local_path": str(data), "prompt_template": "{question}"}}),
                    "-p", "no:cacheprovider", "-q"]
            subprocess.run([sys.executable, "-m", "pytest", "eval_qa.py", *args], cwd=folder, capture_output=True, check=False)
        runs[model] = sorted((folder / f"runs_{model}").iterdir())[-1] / "reports" / model
        assert (runs[model] / "general_qa.json").is_file()
    return runs


def arena_args(judge: ServerHandle, runs: dict[str, Path], **extra: Any) -> list[str]:
    params = {"models": [{"name": m, "report_path": str(p)} for m, p in runs.items()], "baseline": "weak", **extra}
    return ["--evalscope-model=arena", "--evalscope-eval-type=mock_llm", "--evalscope-dataset-args=" + json.dumps({"general_arena": {"extra_params": params}}),
            "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": judge.url}),
            "--evalscope-eval-batch-size=16"]


def expected_games(candidate: str, opponent: str) -> list[tuple[str, str]]:
    """The oracle's (game 1, game 2) verdicts for each question: candidate in A, then in B."""
    mine, theirs = replies(candidate), replies(opponent)
    from pytest_evalscope.judge.pairwise import arena_hard_definition

    out = []
    for q in QUESTIONS:
        one = arena_hard_definition(q, mine[q], theirs[q]).messages()[-1]["content"]
        two = arena_hard_definition(q, theirs[q], mine[q]).messages()[-1]["content"]
        out.append((arena_verdict(mine[q], theirs[q], one), arena_verdict(theirs[q], mine[q], two)))
    return out


def planted_win_rate(p_a: float, p_b: float) -> float:
    """The Bradley–Terry win rate of a over b that the oracle judge plants: a prompt where only one answer
    is marked is won strongly (weight 3) in both games; elsewhere the position bias gives slot A a weak win
    with probability POSITION_BIAS (judge_oracle.py), else a tie: over the two games each model expects one
    win in two, whatever the bias."""
    only_a, only_b = p_a * (1 - p_b), p_b * (1 - p_a)
    rest = 1 - only_a - only_b
    return (6 * only_a + rest) / (6 * only_a + 6 * only_b + 2 * rest)


def _report(run: Path) -> dict[str, Any]:
    data = json.loads((run / "reports/arena/general_arena.json").read_text())
    data.pop("perf_metrics", None)
    data["execution_summary"].pop("cached", None)
    return data


def test_three_runs_ordering_matrix_and_position_figures_serial_and_xdist(
        pytester: pytest.Pytester, judge: ServerHandle, earlier_runs: dict[str, Path]) -> None:
    pytester.makepyfile(eval_arena="from pytest_evalscope import Suite\n\ngeneral_arena = Suite('general_arena')\n")
    outputs = []
    for workers in ("0", "2"):
        run = _run(pytester, *arena_args(judge, earlier_runs, pairs="all"), "-n", workers)
        outputs.append((_report(run), (run / "reports/arena/leaderboard.txt").read_text()))
    assert outputs[0] == outputs[1]
    report, board = outputs[0]
    assert [m["name"] for m in report["metrics"]] == ["win_rate", "win_rate_lower", "win_rate_upper"]
    subsets = {s["name"]: s for s in report["metrics"][0]["categories"][0]["subsets"]}
    assert set(subsets) == {"general_qa&default@strong&middle", "general_qa&default@strong&weak",
                            "general_qa&default@middle&weak"}
    games = [Game(f"{i}", a if k == 0 else b, b if k == 0 else a, v)
             for a, b in (("strong", "middle"), ("strong", "weak"), ("middle", "weak"))
             for i, pair in enumerate(expected_games(a, b)) for k, v in enumerate(pair)]
    table = Games.of(games, ["weak", "middle", "strong"])
    wins, counts = table.per_prompt()
    expected = win_matrix(bradley_terry(wins.sum(0), counts.sum(0), 0))
    for name, entry in subsets.items():
        a, b = name.split("@")[1].split("&")
        assert entry["score"] == round(float(expected[table.models.index(a), table.models.index(b)]), 4)
        assert entry["ci95"][0] <= entry["score"] <= entry["ci95"][1] and entry["num"] == len(QUESTIONS)
        pairs = expected_games(a, b)
        consistent = sum((("tie" if one == "A=B" else "win" if one.startswith("A") else "loss")
                          == ("tie" if two == "A=B" else "loss" if two.startswith("A") else "win")) for one, two in pairs)
        assert report["arena"]["subsets"][name]["position_consistency"] == round(consistent / len(pairs), 4)
        # the planted win rate (each model marks a share STRENGTH of its answers) lies within the interval
        assert entry["ci95"][0] <= planted_win_rate(STRENGTH[a], STRENGTH[b]) <= entry["ci95"][1], name
    overall = report["arena"]["leaderboard"][0]["entries"]
    assert [e["model"] for e in overall] == ["strong", "middle", "weak"]
    assert board.startswith("=== OVERALL LEADERBOARD ===\nModel   ")
    assert "=== SUBSET LEADERBOARD: general_qa - default ===" in board


def test_candidates_against_the_baseline_items_and_gates(pytester: pytest.Pytester, judge: ServerHandle,
                                                         earlier_runs: dict[str, Path]) -> None:
    pytester.makepyfile(eval_arena="from pytest_evalscope import Suite\n\ngeneral_arena = Suite('general_arena')\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--evalscope-work-dir=out", *arena_args(judge, earlier_runs),
                                "--evalscope-threshold=general_arena/general_qa&default@strong&weak=0.6",
                                "--junitxml=junit.xml")
    not_worse = sum(_result(one, two) != "loss" for one, two in expected_games("strong", "weak")) + \
        sum(_result(one, two) != "loss" for one, two in expected_games("middle", "weak"))
    result.assert_outcomes(passed=not_worse, failed=2 * len(QUESTIONS) - not_worse)
    run = sorted((pytester.path / "out").iterdir())[-1]
    report = json.loads((run / "reports/arena/general_arena.json").read_text())
    subsets = {s["name"]: s for s in report["metrics"][0]["categories"][0]["subsets"]}
    strong = subsets["general_qa&default@strong&weak"]
    assert strong["gate_score"] == strong["ci95"][0] > 0.6  # the gate compares the lower bound
    review = json.loads((run / "reviews/arena/general_arena_general_qa&default@strong&weak.jsonl").read_text().splitlines()[0])
    games = review["sample_score"]["score"]["metadata"]["judge"]["games"]
    assert [g["candidate_slot"] for g in games] == ["A", "B"] and all(g["reasoning"] for g in games)
    assert "ci95_low" in (pytester.path / "junit.xml").read_text()
    assert "95% CI" in result.stdout.str() and "evalscope threshold" in result.stdout.str()


def _result(one: str, two: str) -> str:
    first = "tie" if one == "A=B" else "win" if one.startswith("A") else "loss"
    second = "tie" if two == "A=B" else "loss" if two.startswith("A") else "win"
    return first if first == second else "tie"


ARENA_HARD = SHARED / "datasets" / "arena_hard"


@pytest.mark.skipif(not ARENA_HARD.is_dir(), reason="arena_hard data not present")
def test_arena_hard_recovers_the_planted_win_rate(pytester: pytest.Pytester, judge: ServerHandle) -> None:
    rows = [json.loads(line) for line in (ARENA_HARD / "data/arena-hard-v0.1/question.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(3)
    marked = rng.random(len(rows)) < 0.7
    oracle = {r["turns"][0]["content"].strip(): f"My answer.{' ' + MARKER if m else ''}" for r, m in zip(rows, marked, strict=True)}
    pytester.makepyfile(eval_ah="from pytest_evalscope import Suite\n\narena_hard = Suite('arena_hard', limit=120)\n")
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=300)) as candidate:
        run = _run(pytester, "--evalscope-model=cand", f"--evalscope-api-url={candidate.url}",
                   "--evalscope-dataset-args=" + json.dumps({"arena_hard": {"local_path": str(ARENA_HARD)}}),
                   "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": judge.url}),
                   "--evalscope-eval-batch-size=16")
    report = json.loads((run / "reports/cand/arena_hard.json").read_text())
    entry = report["metrics"][0]["categories"][0]["subsets"][0]
    # the gpt-4-0314 answers hold no marker: a marked candidate wins strongly, an unmarked one meets the bias
    p = float(marked[:120].mean())
    truth = (6 * p + 1 * (1 - p)) / (6 * p + 2 * (1 - p))
    assert entry["ci95"][0] <= truth <= entry["ci95"][1]
    assert report["judge_summary"]["calls"] == 240
