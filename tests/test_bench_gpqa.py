"""GPQA-Diamond: EvalScope 1.14.1's prompts and gold letters for all 198 questions (a fixture of digests and
letters only: GPQA's questions are not to be published in plain text), an option order that depends on the
question alone, and the whole set run against the oracle server, serial and with xdist, scored exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.answer_formats import mcq_oracle
from pytest_evalscope.testing.oracle_runs import mcq_items, read_report, report_subsets, subset_scores
from pytest_evalscope.testing.prompt_fixtures import mismatches
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

CSV = SHARED / "datasets" / "gpqa_diamond" / "gpqa_diamond.csv"
FIXTURE = Path(__file__).parent / "fixtures" / "evalscope_prompts" / "gpqa_diamond.json"
ARGS = {"local_path": str(CSV)}


def test_prompts_and_gold_letters_are_evalscope_byte_for_byte() -> None:
    bench = create_benchmark("gpqa_diamond", ARGS)
    assert mismatches(bench, FIXTURE) == []
    assert (type(bench).dataset_id, bench.eval_split, bench.subset_list) == ("AI-ModelScope/gpqa_diamond", "train", ["default"])
    letters = "".join(s.target for s in bench.load_samples("default", None, 1))
    assert len(letters) == 198 and set(letters) == set("ABCD")  # the correct option is not always last


def test_option_order_depends_on_the_question_only() -> None:
    runs = [create_benchmark("gpqa_diamond", {**ARGS, "shuffle": shuffle}, seed=seed).load_samples("default", None, 1)
            for seed, shuffle in ((42, False), (7, False), (7, True))]
    by_question = [{s.input: (s.metadata["choices"], s.target) for s in run} for run in runs]
    assert by_question[0] == by_question[1] == by_question[2]
    sample = runs[0][0]
    assert sample.metadata["choices"][ord(sample.target) - 65] == sample.metadata["choices"][ord(sample.target) - 65].strip()


def test_few_shot_is_refused_with_its_reason() -> None:
    with pytest.raises(ConfigError, match="only 0-shot is implemented"):
        create_benchmark("gpqa_diamond", {**ARGS, "few_shot_num": 5})


def test_whole_set_scores_exactly_serial_and_xdist(pytester: pytest.Pytester) -> None:
    bench = create_benchmark("gpqa_diamond", ARGS)
    oracle, verdicts, unparsed = mcq_oracle(mcq_items(bench))
    passed = sum(verdicts.values())
    assert len(oracle) == 198 and 0 < passed < 198 and unparsed > 0
    pytester.makepyfile(eval_gpqa="from pytest_evalscope import Suite\n\ngpqa_diamond = Suite('gpqa_diamond')\n")
    reports = {}
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=120)) as server:
        for n in ("0", "2"):
            result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                        f"--evalscope-work-dir=out{n}", "-p", "no:cacheprovider", "-n", n,
                                        "--evalscope-dataset-args=" + json.dumps({"gpqa_diamond": ARGS}))
            result.assert_outcomes(passed=passed, failed=198 - passed)
            reports[n] = read_report(pytester.path / f"out{n}", "gpqa_diamond")
    assert reports["0"] == reports["2"]
    assert report_subsets(reports["0"]) == subset_scores(verdicts)
    assert sum(s["unparsed"] for c in reports["0"]["metrics"][0]["categories"] for s in c["subsets"]) == unparsed
