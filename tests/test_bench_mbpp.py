"""MBPP and MBPP+: EvalScope 1.14.1's prompts for every test problem (fixtures rendered by EvalScope), its
extraction rule, the names tests take from the program, the problems this sandbox cannot judge, and each
whole dataset end to end against the oracle server (`-n 2`; the first 40 again with `-n 0`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_evalscope.benchmarks.code_common import NotJudgeable, bind_tests
from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring.code_extract import extract_freeform
from pytest_evalscope.testing.code_oracle import code_oracle, run_whole_and_slice
from pytest_evalscope.testing.prompt_fixtures import mismatches

from .conftest import SHARED

DATA = {"mbpp": SHARED / "datasets" / "mbpp" / "mbpp.jsonl",
        "mbpp_plus": SHARED / "datasets" / "mbpp_plus" / "MbppPlus-OriginFmt.jsonl.gz"}
FIXTURES = Path(__file__).parent / "fixtures" / "evalscope_prompts"
SLOWEST = {"mbpp": {123}, "mbpp_plus": {599, 630, 392, 271, 123, 592, 603}}  # 2-24 s each
NEVER_PASSES = {"mbpp": {367}, "mbpp_plus": set()}  # 367: EvalScope runs its setup (Node(...)) before the code defining Node


def bench(name: str, **args: object):
    return create_benchmark(name, {"local_path": str(DATA[name]), **args})


@pytest.mark.parametrize("name", list(DATA))
def test_prompts_and_settings_are_evalscopes(name: str) -> None:
    b = bench(name)
    assert mismatches(b, FIXTURES / f"{name}.json") == []
    assert (b.aggregation, b.primary_metric, b.timeout, b.runs_code) == (
        "mean_and_pass_at_k", "pass@1", {"mbpp": 20.0, "mbpp_plus": 60.0}[name], True)
    with pytest.raises(ConfigError, match="extra_params.isolation"):
        bench(name, extra_params={"isolation": "process"})


def test_mbpp_is_fixed_three_shot_or_zero_shot() -> None:
    assert bench("mbpp").build_messages(bench("mbpp").load_samples("full", 1, 1)[0], [])[0]["content"].startswith(
        "You are an expert Python programmer, and here is your task: Write a function to find the similar elements")
    zero = bench("mbpp", few_shot_num=0)
    assert zero.build_messages(zero.load_samples("full", 1, 1)[0], [])[0]["content"].startswith(
        "You are an expert Python programmer, and here is your task: Write a python function to remove first and last")
    with pytest.raises(ConfigError, match="fixed 3-shot or 0-shot; got 5"):
        bench("mbpp", few_shot_num=5)
    assert [s.metadata["task_id"] for s in bench("mbpp").load_samples("full", None, 1)] == list(range(11, 511))


@pytest.mark.parametrize(("reply", "code"), [
    ("[BEGIN]\ndef f(x):\r\n  return x\n[DONE]\nmore", "def f(x):\n  return x\n"),
    ("Sure:\n```python\ndef f(x):\n    return x\nassert f(1) == 1\n```", "def f(x):\n    return x"),
    ("```js\nx\n```\n```python\ndef f(): pass\n```", "x"),  # EvalScope takes the first block, any language
    ("```python\ndef f(x):\n    return x\n", "def f(x):\n    return x\n"),  # unclosed
    ('def f(x):\n    return x\n\nif __name__ == "__main__":\n    print(f(1))', "def f(x):\n    return x\n"),
    ("No code here.", ""),
])
def test_extraction_is_evalscopes(reply: str, code: str) -> None:
    assert extract_freeform(reply) == code


def test_tests_reach_the_programs_modules_and_redefined_builtins() -> None:
    program, tests = bind_tests("import sys\ndef sum(a, b):\n    return a - b\n", "assert sum(3, 1) == 2\nsys.getsizeof(1)\n")
    assert tests == "import sys\nassert _program_sum(3, 1) == 2\nsys.getsizeof(1)\n"
    assert program.endswith("_program_sum = sum\n")
    assert bind_tests("def f(:\n", "assert f()\n") == ("def f(:\n", "assert f()\n")  # the sandbox reports the error
    assert bind_tests("import antigravity as sys\n", "sys.x\n")[1] == "sys.x\n"


def test_problems_the_sandbox_cannot_judge_are_errors() -> None:
    b = bench("mbpp_plus")
    samples = {s.metadata["task_id"]: s for s in b.load_samples("default", None, 1)}
    with pytest.raises(NotJudgeable, match="mbpp_plus 737: the data-only RPC cannot carry the re.Match"):
        b.score(samples[737], f"```python\n{samples[737].target}\n```")
    as_bool = samples[737].target.replace("return re.search(regex, string)", "return bool(re.search(regex, string))")
    assert b.score(samples[737], f"```python\n{as_bool}\n```").correct  # a bool crosses: judged as usual
    assert not b.score(samples[737], "```python\ndef check_str(s):\n    return 1 / 0\n```").correct


@pytest.mark.parametrize("name", list(DATA))
def test_whole_dataset_scores_exactly(pytester: pytest.Pytester, name: str) -> None:
    b = bench(name)
    subset = b.subset_list[0]
    samples = b.load_samples(subset, None, 1)
    replies, verdicts = code_oracle(b, samples, lambda s: s.target, wrong=SLOWEST[name], never_passes=NEVER_PASSES[name])
    expected = {"mbpp": (500, 332, 0), "mbpp_plus": (378, 242, 3)}[name]
    assert (len(replies), list(verdicts.values()).count("passed"), list(verdicts.values()).count("error")) == expected
    scores = run_whole_and_slice(pytester, name, {"local_path": str(DATA[name])}, replies, verdicts, slice_size=40)
    judged = [s for s in samples if verdicts[s.key] != "error"]
    assert [scores[f"{name}_{subset}"][s.index] for s in judged] == [float(verdicts[s.key] == "passed") for s in judged]
