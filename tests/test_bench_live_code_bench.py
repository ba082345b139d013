"""LiveCodeBench on problems written in the public format (tests/fixtures/live_code_bench; the hub's data is not
reachable here): EvalScope 1.14.1's prompts and system message (rendered by EvalScope), packed private tests,
the date filter, stdin and call-based judging with the per-test time limit, and the fixture end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_evalscope.benchmarks.live_code_bench import SUBSETS, read_test_cases
from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring.code_extract import extract_last_fenced
from pytest_evalscope.testing.code_oracle import LAST_BLOCK_SHAPES, code_oracle, run_whole_and_slice
from pytest_evalscope.testing.prompt_fixtures import mismatches

HERE = Path(__file__).parent / "fixtures"
DATA = HERE / "live_code_bench"
SOLUTIONS = json.loads((DATA / "solutions.json").read_text(encoding="utf-8"))
FIXTURE_SUBSETS = ["release_latest", "release_v1", "v6"]


def bench(**args: object):
    return create_benchmark("live_code_bench", {"local_path": str(DATA), "subset_list": ["release_latest"], **args})


def test_prompts_are_evalscopes() -> None:
    b = bench(subset_list=FIXTURE_SUBSETS)
    assert mismatches(b, HERE / "evalscope_prompts" / "live_code_bench.json") == []
    fixture = json.loads((HERE / "evalscope_prompts" / "live_code_bench.json").read_text(encoding="utf-8"))
    assert b.build_messages(b.load_samples("v6", None, 1)[0], [])[0] == {"role": "system", "content": fixture["system_prompt"]}
    assert (len(SUBSETS), SUBSETS[:2], SUBSETS[-1], b.timeout, b.aggregation) == (28, ["release_latest", "release_v1"], "v6", 6.0,
                                                                                   "mean_and_pass_at_k")


def test_private_tests_packed_as_published_and_nothing_else() -> None:
    rows = [json.loads(line) for line in (DATA / "release_latest" / "test.jsonl").read_text().splitlines()]
    assert read_test_cases(rows[1]["private_test_cases"])[0]["output"] == "1.000\n"
    import base64
    import pickle
    import zlib
    hostile = base64.b64encode(zlib.compress(pickle.dumps(Path("x")))).decode()
    with pytest.raises(pickle.UnpicklingError, match="a pickle may hold a string only"):
        read_test_cases(hostile)


def test_date_filter_and_subsets() -> None:
    assert len(bench().load_samples("release_latest", None, 1)) == 6
    kept = bench(extra_params={"start_date": "2024-04-20", "end_date": "2024-09-28"}).load_samples("release_latest", None, 1)
    assert [s.metadata["task_id"] for s in kept] == ["abc350_b", "1", "3000"]
    with pytest.raises(ConfigError, match="start_date: expected a date such as 2024-08-01"):
        bench(extra_params={"start_date": "May 2024"})
    with pytest.raises(ConfigError, match="unknown subset 'v7'"):
        bench(subset_list=["v7"])


def test_extraction_is_the_last_fenced_block() -> None:
    assert extract_last_fenced("```python\na\n```\ntext\n```python\nb\nc\n```") == "b\nc"
    assert extract_last_fenced("```python\nno end") == ""


@pytest.mark.parametrize(("code", "passed", "why"), [
    ("import time\ntime.sleep(30)\n", False, "time limit exceeded"),  # 6 s per test, not the whole budget
    ("print(max(map(int, open(0).read().split())))\n", False, "empty sequence"),  # as in EvalScope: open is the real one
    ("import sys\nprint(max(map(int, sys.stdin.read().split())))\n", True, "passed"),
    ("raise SystemExit(print(max(map(int, input().split()))))\n", True, "passed"),
])
def test_stdin_judging(code: str, passed: bool, why: str) -> None:
    b = bench(review_timeout=1)
    (sample,) = [s for s in b.load_samples("release_latest", None, 1) if s.metadata["task_id"] == "abc390_a"]
    score = b.score(sample, f"```python\n{code}```")
    assert score.correct is passed and why in str(score.explanation)


def test_fixture_end_to_end(pytester: pytest.Pytester) -> None:
    b = bench()
    samples = b.load_samples("release_latest", None, 1)
    replies, verdicts = code_oracle(b, samples, lambda s: SOLUTIONS[s.metadata["task_id"]], shapes=LAST_BLOCK_SHAPES)
    assert list(verdicts.values()) == ["passed", "passed", "passed", "failed", "failed", "passed"]
    run_whole_and_slice(pytester, "live_code_bench", {"local_path": str(DATA), "subset_list": ["release_latest"]},
                        replies, verdicts, slice_size=3)
