"""AIME 2024 and 2025: EvalScope 1.14.1's prompts for all 60 problems (fixtures rendered by EvalScope), golds
read as integers from every copy of the data, integer answer matching, and both benchmarks run whole with
four repeats against the oracle server, serial and with xdist: exact avg@4 (mean_acc) and pass@1..4."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_evalscope.benchmarks.aime import integer_of
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.answer_formats import Item, integer_oracle
from pytest_evalscope.testing.prompt_fixtures import mismatches
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

DATA = SHARED / "datasets"
FIXTURES = Path(__file__).parent / "fixtures" / "evalscope_prompts"
LOCAL = {"aime24": DATA / "aime24", "aime25": DATA / "aime25" / "math-ai_format"}
REPEATS = 4


@pytest.mark.parametrize("name", list(LOCAL))
def test_prompts_are_evalscope_byte_for_byte(name: str) -> None:
    bench = create_benchmark(name, {"local_path": str(LOCAL[name])})
    assert mismatches(bench, FIXTURES / f"{name}.json", gold=lambda gold: str(int(gold))) == []
    assert (type(bench).dataset_id, bench.subset_list, bench.eval_split, bench.few_shot_num, bench.aggregation) == \
        (f"evalscope/{name}", ["default"], "test", 0, "mean_and_pass_at_k")


def test_golds_are_integers_in_every_copy() -> None:
    aime24 = create_benchmark("aime24", {"local_path": str(LOCAL["aime24"])}).load_samples("default", None, 1)
    raw = [json.loads(line)["answer"] for line in (LOCAL["aime24"] / "test.jsonl").read_text().splitlines()]
    assert [s.target for s in aime24] == [str(int(a)) for a in raw] and "025" in raw and "25" in [s.target for s in aime24]
    math_ai = create_benchmark("aime25", {"local_path": str(LOCAL["aime25"])}).load_samples("default", None, 1)
    opencompass = create_benchmark("aime25", {"local_path": str(DATA / "aime25" / "opencompass_format" / "aime_2025.jsonl")})
    assert [s.target for s in opencompass.load_samples("default", None, 1)] == [s.target for s in math_ai]  # "336^\\circ" is 336


@pytest.mark.parametrize(("reply", "gold", "right"), [
    ("so the answer is $\\boxed{25}$", "25", True),
    ("\\boxed{025}", "25", True),
    ("Final Answer: The final answer is $1,000$. I hope it is correct.", "1000", True),
    ("\\boxed{25.0}", "25", True),
    ("\\boxed{\\text{25}}", "25", True),
    ("\\boxed{33.5}", "33", False),
    ("\\boxed{480^\\circ}", "480", False),  # EvalScope: not an integer literal
    ("\\boxed{\\frac{50}{2}}", "25", False),  # not an integer literal, as EvalScope's integer_only decides
    ("I could not finish.", "7", False),
])
def test_integer_answers(reply: str, gold: str, right: bool) -> None:
    bench = create_benchmark("aime24")
    sample = bench.record_to_sample({"problem": "q", "answer": gold}, 0, "default")
    assert bench.score(sample, reply).correct is right


def test_integer_of() -> None:
    assert [integer_of(x) for x in ("025", 7, "336^\\circ", "1{,}000", "-3", "2.5", "x", True)] == \
        [25, 7, None, 1000, -3, None, None, None]
    assert [integer_of(x, degrees=True) for x in ("336^\\circ", "336^{\\circ}")] == [336, 336]


def expected(right: dict[str, int]) -> dict[str, float]:
    counts = list(right.values())
    metrics = {"mean_acc": sum(counts) / (REPEATS * len(counts))}
    for k in range(1, REPEATS + 1):
        metrics[f"pass@{k}"] = sum(1 - math.comb(REPEATS - c, k) / math.comb(REPEATS, k) for c in counts) / len(counts)
    return metrics


def test_both_years_whole_with_repeats_serial_and_xdist(pytester: pytest.Pytester) -> None:
    oracle, right = {}, {}
    for name, where in LOCAL.items():
        bench = create_benchmark(name, {"local_path": str(where)})
        items = [Item(f"{name}:{s.key}", bench.build_messages(s, [])[-1]["content"], s.target)
                 for s in bench.load_samples("default", None, 1)]
        part, counts = integer_oracle(items, REPEATS)
        oracle.update(part)
        right[name] = {k.split(":", 1)[1]: c for k, c in counts.items()}
    assert len(oracle) == 60 and {0, REPEATS} <= set(right["aime24"].values())
    pytester.makepyfile(eval_aime="from pytest_evalscope import Suite\n\naime24 = Suite('aime24')\naime25 = Suite('aime25')\n")
    args = json.dumps({name: {"local_path": str(where)} for name, where in LOCAL.items()})
    reports = {}
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=120)) as server:
        for n in ("0", "2"):
            result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                        f"--evalscope-work-dir=out{n}", f"--evalscope-dataset-args={args}",
                                        f"--evalscope-repeats={REPEATS}", "-p", "no:cacheprovider", "-n", n)
            passed = sum(sum(c.values()) for c in right.values())
            result.assert_outcomes(passed=passed, failed=60 * REPEATS - passed)
            reports[n] = {name: json.loads(next((pytester.path / f"out{n}").glob(f"*/reports/oracle/{name}.json")).read_text())
                          for name in LOCAL}
    for name in LOCAL:
        serial, xdist = ({k: v for k, v in reports[n][name].items() if k != "perf_metrics"} for n in ("0", "2"))
        assert serial == xdist
        got = {m["name"]: m["score"] for m in serial["metrics"]}
        assert serial["primary_metric"] == "mean_acc" and serial["num"] == 30 * REPEATS and serial["repeats"] == REPEATS
        assert got == pytest.approx(expected(right[name]), abs=1e-4)
        low, high = serial["ci95"]
        assert high - low > 0.1  # 30 problems: the interval is wide, and the report shows it
