"""MMLU-Redux 2.0 from the authors' raw CSVs: what reading them normalises, EvalScope 1.14.1's corrections
(how many rows each rule touched), its prompts and golds for all 5,700 questions (fixture rendered by
EvalScope from the same records), inclusion scoring, and the whole set run against the oracle server,
serial and with xdist, with exact per-subject scores."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pytest_evalscope.benchmarks.mmlu import CATEGORIES
from pytest_evalscope.benchmarks.mmlu_redux import corrected, decode, normalise_error_type
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.answer_formats import mcq_oracle
from pytest_evalscope.testing.oracle_runs import mcq_items, read_report, report_subsets, subset_scores
from pytest_evalscope.testing.prompt_fixtures import mismatches
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

DATA = SHARED / "datasets" / "mmlu_redux"
FIXTURE = Path(__file__).parent / "fixtures" / "evalscope_prompts" / "mmlu_redux.json"
ARGS = {"local_path": str(DATA)}


@pytest.fixture(scope="module")
def bench():  # type: ignore[no-untyped-def]
    return create_benchmark("mmlu_redux", ARGS)


def test_all_prompts_and_golds_are_evalscope_byte_for_byte(bench) -> None:  # type: ignore[no-untyped-def]
    assert mismatches(bench, FIXTURE) == []
    assert bench.subset_list == list(CATEGORIES) and bench.few_shot_num == 0


def test_raw_files_are_normalised_and_corrections_counted(bench) -> None:  # type: ignore[no-untyped-def]
    samples = [s for subject in bench.subset_list for s in bench.load_samples(subject, None, 1)]
    assert len(samples) == 5700
    assert dict(bench.normalisation) == {"non-UTF-8 bytes read as MacRoman": 1, "files with ';' delimiters": 9,
                                         "files with CRLF line endings": 50, "error_type labels normalised": 2923}
    assert Counter(s.metadata["error_type"] for s in samples) == {
        "ok": 5330, "bad_question_clarity": 132, "wrong_groundtruth": 107, "multiple_correct_answers": 39,
        "no_correct_answer": 35, "expert": 32, "bad_options_clarity": 25}
    assert bench.correction_counts() == {"none": 5544, "wrong_groundtruth": 102, "no_correct_answer": 21,
                                         "multiple_correct_answers": 29, "multiple_correct_answers: every option": 4}
    assert any("sister’s" in s.input for s in samples) and not any("\r" in s.input for s in samples)


@pytest.mark.parametrize(("error_type", "fix", "target", "choice0"), [
    ("ok", "2", [0], "a"),
    ("Wrong Groundtruth ", "2", [2], "a"),
    ("wrong_groundtruth", "C", [2], "a"),
    ("wrong_groundtruth", "", [0], "a"),  # nothing given: the answer stands
    ("no_correct_answer", "42", [0], "42"),
    ("multiple_correct_answers", "(0, 1)", [0, 1], "a"),
    ("multiple_correct_answers", "2 and 3", [2, 3], "a"),
    ("multiple_correct_answers", "A,D", [0, 3], "a"),
    ("multiple_correct_answers", "two,three", [1, 2], "a"),  # option texts
    ("multiple_correct_answers", "depends on interpretation", [0, 1, 2, 3], "a"),  # EvalScope: every option
])
def test_corrections(error_type: str, fix: str, target: list[int], choice0: str) -> None:
    choices, right, _ = corrected({"choices": ["a", "two", "three", "d"], "answer": 0, "error_type": error_type,
                                   "correct_answer": fix})
    assert (right, choices[0]) == (target, choice0)


def test_decode_and_labels() -> None:
    assert decode(b"sister\xd5s caf\xc3\xa9") == ("sister’s café", 1)
    assert normalise_error_type(" Bad Question Clarity ") == "bad_question_clarity"


def test_a_letter_among_several_right_ones_is_right(bench) -> None:  # type: ignore[no-untyped-def]
    sample = bench.record_to_sample({"question": "q", "choices": list("abcd"), "answer": 0,
                                     "error_type": "multiple_correct_answers", "correct_answer": "1, 3"}, 0, "anatomy")
    assert sample.target == "BD"
    assert [bench.score(sample, f"ANSWER: {x}").correct for x in "ABCD"] == [False, True, False, True]


def test_whole_set_scores_exactly_serial_and_xdist(pytester: pytest.Pytester, bench) -> None:  # type: ignore[no-untyped-def]
    oracle, verdicts, unparsed = mcq_oracle(mcq_items(bench))
    passed = sum(verdicts.values())
    assert len(verdicts) == 5700 and unparsed > 0
    pytester.makepyfile(eval_mmlu_redux="from pytest_evalscope import Suite\n\nmmlu_redux = Suite('mmlu_redux')\n")
    reports = {}
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=300)) as server:
        for n in ("0", "2"):
            result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                        f"--evalscope-work-dir=out{n}", "-n", n, "--evalscope-eval-batch-size=16",
                                        "-p", "no:cacheprovider", "--evalscope-dataset-args=" + json.dumps({"mmlu_redux": ARGS}))
            result.assert_outcomes(passed=passed, failed=5700 - passed)
            reports[n] = read_report(pytester.path / f"out{n}", "mmlu_redux")
    assert reports["0"] == reports["2"]
    assert report_subsets(reports["0"]) == subset_scores(verdicts)
    categories = {c["name"][0] for c in reports["0"]["metrics"][0]["categories"]}
    assert categories == {"STEM", "Humanities", "Social Science", "Other"}
