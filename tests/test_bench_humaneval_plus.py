"""HumanEval+: EvalScope 1.14.1's prompts for all 164 problems (fixture rendered by EvalScope), its settings,
and the whole dataset end to end against the oracle server with the canonical solutions in the shapes models
write and deliberately wrong replies (`-n 2`; its first 30 problems again with `-n 0`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring import sandbox
from pytest_evalscope.testing.code_oracle import code_oracle, run_whole_and_slice
from pytest_evalscope.testing.prompt_fixtures import mismatches

from .conftest import SHARED

DATA = SHARED / "datasets" / "humaneval_plus" / "HumanEvalPlus-OriginFmt.jsonl.gz"
FIXTURES = Path(__file__).parent / "fixtures" / "evalscope_prompts"
SLOWEST = {"HumanEval/130", "HumanEval/139", "HumanEval/15", "HumanEval/100", "HumanEval/83"}  # 2-23 s each
BROKEN_TEST = {"HumanEval/32"}  # its plus test unpacks the float the function returns: fails for every reply


def bench(**args: object):
    return create_benchmark("humaneval_plus", {"local_path": str(DATA), **args})


def test_prompts_and_settings_are_evalscopes() -> None:
    b = bench()
    assert mismatches(b, FIXTURES / "humaneval_plus.json") == []
    assert (type(b).dataset_id, type(b).hf_dataset_id, b.subset_list, b.eval_split, b.few_shot_num) == (
        "evalscope/humanevalplus", "evalplus/humanevalplus", ["default"], "test", 0)
    assert (b.aggregation, b.primary_metric, b.timeout, b.runs_code) == ("mean_and_pass_at_k", "pass@1", 300.0, True)
    assert b.isolation == sandbox.strongest_isolation()
    assert bench(review_timeout=30).timeout == 30.0
    with pytest.raises(ConfigError, match="extra_params.isolation: the sandbox isolation is the operator's setting"):
        bench(extra_params={"isolation": "process"})


def test_broken_plus_test_fails_the_canonical_solution_as_in_evalscope() -> None:
    b = bench()
    (sample,) = [s for s in b.load_samples("default", 40, 1) if s.metadata["task_id"] == "HumanEval/32"]
    score = b.score(sample, "```python\n" + sample.metadata["prompt"] + sample.target + "\n```")
    assert not score.correct and "Value after * must be an iterable, not float" in str(score.explanation)


def test_whole_dataset_scores_exactly(pytester: pytest.Pytester) -> None:
    b = bench()
    samples = b.load_samples("default", None, 1)
    replies, verdicts = code_oracle(b, samples, lambda s: s.metadata["prompt"] + s.target, wrong=SLOWEST,
                                    never_passes=BROKEN_TEST)
    assert len(replies) == 164 and list(verdicts.values()).count("passed") == 106
    scores = run_whole_and_slice(pytester, "humaneval_plus", {"local_path": str(DATA), "review_timeout": 60},
                                 replies, verdicts, slice_size=30)
    assert [scores["humaneval_plus_default"][s.index] for s in samples] == [float(verdicts[s.key] == "passed") for s in samples]
