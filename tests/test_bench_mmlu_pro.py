"""MMLU-Pro: EvalScope 1.14.1's 5-shot prompts and golds for all 12,032 questions (fixture rendered by
EvalScope), ten-option answers (A-J), the whole test set scored through the adapter against oracle replies,
and 30 questions of every category run against the oracle server, serial and with xdist, with exact
per-category scores. (The whole set end to end is `scripts/bench_mmlu_pro.py`: ~40 s, too long for CI.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_evalscope.benchmarks.mmlu_pro import CATEGORIES, fewshot_answer
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.answer_formats import mcq_oracle
from pytest_evalscope.testing.oracle_runs import mcq_items, read_report, report_subsets, subset_scores
from pytest_evalscope.testing.prompt_fixtures import mismatches
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

DATA = SHARED / "datasets" / "mmlu_pro"
FIXTURE = Path(__file__).parent / "fixtures" / "evalscope_prompts" / "mmlu_pro.json"
ARGS = {"local_path": str(DATA)}
LIMIT = 30


@pytest.fixture(scope="module")
def bench():  # type: ignore[no-untyped-def]
    return create_benchmark("mmlu_pro", ARGS)


def test_all_prompts_and_golds_are_evalscope_byte_for_byte(bench) -> None:  # type: ignore[no-untyped-def]
    assert mismatches(bench, FIXTURE) == []
    assert (bench.subset_list, bench.eval_split, bench.train_split, bench.few_shot_num) == \
        (CATEGORIES, "test", "validation", 5)
    assert sum(len(bench.load_samples(c, None, 1)) for c in CATEGORIES) == 12032


def test_fewshot_answers_are_rewritten_as_evalscope_does() -> None:
    assert fewshot_answer("A: Let's think. The answer is (C).") == "A: Let's think. ANSWER: C."
    assert fewshot_answer("No marker here.") == "No marker here."


@pytest.mark.parametrize(("reply", "count", "extracted"), [
    ("Reasoning...\nANSWER: J", 10, "J"),
    ("ANSWER: (I)", 10, "I"),
    ("ANSWER: J", 4, None),  # J is not an option of a four-option question: the last capital is J, not valid
    ("The answer is **H**.", 10, "H"),
    ("ANSWER: A or J", 10, None),
])
def test_ten_option_answers(bench, reply: str, count: int, extracted: str | None) -> None:  # type: ignore[no-untyped-def]
    sample = bench.record_to_sample({"question": "q", "options": [f"o{i}" for i in range(count)], "answer": "A",
                                     "category": "math"}, 0, "math")
    assert bench.score(sample, reply).extracted == extracted


def test_whole_test_set_scored_through_the_adapter(bench) -> None:  # type: ignore[no-untyped-def]
    items = mcq_items(bench)
    oracle, verdicts, unparsed = mcq_oracle(items)
    samples = {s.key: s for c in CATEGORIES for s in bench.load_samples(c, None, 1)}
    got = {item.key: bench.score(samples[item.key], oracle[item.prompt.strip()]).correct for item in items}
    wrong = [(k, oracle[i.prompt.strip()], i.gold) for k, i in zip(got, items, strict=True) if got[k] != verdicts[k]]
    assert wrong == [] and len(got) == 12032 and unparsed > 0


def test_every_category_scores_exactly_serial_and_xdist(pytester: pytest.Pytester, bench) -> None:  # type: ignore[no-untyped-def]
    oracle, verdicts, _ = mcq_oracle(mcq_items(bench, LIMIT))
    passed = sum(verdicts.values())
    pytester.makepyfile(eval_mmlu_pro="from pytest_evalscope import Suite\n\nmmlu_pro = Suite('mmlu_pro')\n")
    reports = {}
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=120)) as server:
        for n in ("0", "2"):
            result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                        f"--evalscope-work-dir=out{n}", f"--evalscope-limit={LIMIT}", "-n", n,
                                        "--evalscope-eval-batch-size=16", "-p", "no:cacheprovider",
                                        "--evalscope-dataset-args=" + json.dumps({"mmlu_pro": ARGS}))
            result.assert_outcomes(passed=passed, failed=14 * LIMIT - passed)
            reports[n] = read_report(pytester.path / f"out{n}", "mmlu_pro")
    assert reports["0"] == reports["2"]
    assert report_subsets(reports["0"]) == subset_scores(verdicts)
    assert list(report_subsets(reports["0"])) == CATEGORIES  # one report row per category, in EvalScope's order


def test_categories_are_selectable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(eval_mmlu_pro="from pytest_evalscope import Suite\n\nmmlu_pro = Suite('mmlu_pro')\n")
    args = json.dumps({"mmlu_pro": {**ARGS, "subset_list": ["law", "computer science"]}})
    result = pytester.runpytest("--collect-only", "-q", "--evalscope-eval-type=mock", f"--evalscope-dataset-args={args}",
                                "-k", "computer and science", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*mmlu_pro[[]computer science-0[]]", "410/1511 tests collected*"])
