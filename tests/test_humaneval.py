"""HumanEval: EvalScope's prompt, settings, every canonical solution passing through the sandbox, and all
164 problems end to end against the loopback server with replies whose verdicts are known by design
(the shapes models write, wrong code, and hostile code that must be contained), serial and under xdist."""

from __future__ import annotations

import gzip
import json
import os
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring import sandbox
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

GZ = SHARED / "datasets" / "humaneval" / "HumanEval.jsonl.gz"
ROWS = [json.loads(line) for line in gzip.open(GZ, "rt", encoding="utf-8") if line.strip()]
SUBSET = "openai_humaneval"
INSTRUCTION = ("Read the following function signature and docstring, and fully implement the function described. "
               "Your response should only contain the code for this function.\n")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HumanEval.jsonl.gz in the hub layout the local loader reads (`<root>/<subset>/<split>.jsonl`)."""
    root = tmp_path_factory.mktemp("humaneval")
    (root / SUBSET).mkdir()
    (root / SUBSET / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return root


def test_prompt_and_metadata_are_evalscopes(data_dir: Path) -> None:
    bench = create_benchmark("humaneval", {"local_path": str(data_dir)})
    samples = bench.load_samples(SUBSET, None, 1)
    assert len(samples) == 164 and [s.metadata["task_id"] for s in samples] == [r["task_id"] for r in ROWS]
    sample = samples[0]
    assert bench.build_messages(sample, []) == [{"role": "user", "content": INSTRUCTION + ROWS[0]["prompt"]}]
    assert sample.target == ROWS[0]["canonical_solution"]
    cls = type(bench)
    assert (cls.dataset_id, cls.hf_dataset_id, cls.subset_list, cls.eval_split, cls.few_shot_num) == (
        "opencompass/humaneval", "openai/openai_humaneval", [SUBSET], "test", 0)
    assert (cls.metric_list, cls.aggregation, cls.primary_metric, bench.timeout) == (
        ["acc"], "mean_and_pass_at_k", "pass@1", 4.0)


@pytest.mark.parametrize(
    ("args", "timeout"),
    [({"review_timeout": 2}, 2.0), ({"extra_params": {"timeout": 3.5}}, 3.5),
     ({"review_timeout": 5, "extra_params": {"timeout": 5}}, 5.0)],
)
def test_timeout_settings(args: dict, timeout: float) -> None:
    bench = create_benchmark("humaneval", args)
    assert bench.timeout == timeout and bench.limits.cpu_seconds == int(timeout) + 1 + (timeout % 1 > 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"review_timeout": 0}, "review_timeout: expected a positive number of seconds such as 4, got 0"),
        ({"extra_params": {"timeout": "soon"}}, "extra_params.timeout: expected a positive number of seconds"),
        ({"review_timeout": 2, "extra_params": {"timeout": 3}}, "review_timeout (2) and extra_params.timeout (3) disagree"),
        ({"extra_params": {"isolation": "process"}}, "dataset_args.humaneval.extra_params.isolation: the sandbox isolation "
         "is the operator's setting, not a dataset argument; set sandbox_isolation (--evalscope-sandbox-isolation)"),
        ({"extra_params": {"num_workers": 4}}, "unknown key 'num_workers'; valid keys: timeout"),
    ],
)
def test_bad_settings_fail_early(args: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        create_benchmark("humaneval", args)
    assert message in str(info.value)


def test_isolation_is_the_operators_setting_resolved_before_any_model_call() -> None:
    assert create_benchmark("humaneval").isolation == sandbox.strongest_isolation()
    for level in sandbox.available_isolations():
        assert create_benchmark("humaneval", sandbox_isolation=level).isolation == level
    with pytest.raises(ConfigError, match="'docker' is unknown"):
        create_benchmark("humaneval", sandbox_isolation="docker")
    for level in set(sandbox.ISOLATIONS) - set(sandbox.available_isolations()):
        with pytest.raises(ConfigError, match=f"'{level}' is not available here: "):
            create_benchmark("humaneval", sandbox_isolation=level)


FORGED = ("import sys\nm = sys.modules['__main__']\nm.status.write(m.token + '\\n'); m.status.flush()\n"
          "import os; os._exit(0)\n")


@pytest.mark.parametrize(
    "hack",
    [
        FORGED,  # a forged pass ahead of failing code
        "class Yes:\n    def __eq__(self, other):\n        return True\n",  # equal to everything ...
        "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.AssertionError = type('No', (Exception,), {})\n",
    ],
)
def test_reward_hacks_score_zero(data_dir: Path, hack: str) -> None:
    bench = create_benchmark("humaneval", {"local_path": str(data_dir)})
    for sample in bench.load_samples(SUBSET, 3, 1):
        entry = sample.metadata["entry_point"]
        reply = f"```python\n{hack}\ndef {entry}(*args, **kwargs):\n    return {'Yes()' if 'Yes' in hack else 'None'}\n```"
        score = bench.score(sample, reply)
        assert (score.value, score.correct, score.status) == ({"acc": 0.0}, False, "success"), score.explanation


def test_score_explains_the_verdict_and_the_isolation(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = create_benchmark("humaneval", {"local_path": str(data_dir)})
    sample = bench.load_samples(SUBSET, 1, 1)[0]
    right = bench.score(sample, "```python\n" + ROWS[0]["prompt"] + ROWS[0]["canonical_solution"] + "```")
    isolation = sandbox.detect_isolation()
    assert (right.value, right.correct, right.explanation) == ({"acc": 1.0}, True, f"passed: passed (isolation: {isolation})")
    wrong = bench.score(sample, "    return None\n")
    assert (wrong.value, wrong.correct, wrong.status) == ({"acc": 0.0}, False, "success")
    assert wrong.explanation == f"failed: AssertionError (isolation: {isolation})"
    painted = bench.score(sample, "    raise ValueError('\\x1b[2J\\x1b[31mred')\n")
    assert painted.explanation == f"failed: ValueError: \\x1b[2J\\x1b[31mred (isolation: {isolation})"
    empty = bench.score(sample, "   ")
    assert (empty.status, empty.extracted, empty.explanation) == ("parse_error", None, "no code in the reply")

    def broken(*args: object, **kwargs: object) -> None:
        raise sandbox.SandboxError("the bwrap sandbox did not start the program")

    monkeypatch.setattr("pytest_evalscope.benchmarks.humaneval.run_tests", broken)
    with pytest.raises(sandbox.SandboxError):  # an infrastructure failure is an error, never a wrong answer
        bench.score(sample, "    return None\n")


def test_every_canonical_solution_passes_in_the_sandbox(data_dir: Path) -> None:
    bench = create_benchmark("humaneval", {"local_path": str(data_dir)})
    samples = bench.load_samples(SUBSET, None, 1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda s: bench.run(s, s.target), samples))
    failing = [(s.metadata["task_id"], v.status, v.reason) for s, v in zip(samples, verdicts, strict=True) if not v.passed]
    assert failing == []
    assert {v.isolation for v in verdicts} == {sandbox.detect_isolation()}


# ------------------------------------------------------------------ end to end

def _full(row: dict) -> str:
    return row["prompt"] + row["canonical_solution"]


def _column_zero(row: dict) -> str:
    return textwrap.dedent(row["canonical_solution"])


# (reply writer, right by design); the writers cycle over the problems
WRITERS = [
    (lambda r: f"```python\n{_full(r)}```", True),  # full definition with the prompt's imports
    (lambda r: r["canonical_solution"], True),  # a bare continuation of the prompt
    (lambda r: f"<think>Maybe ```python\ndef {r['entry_point']}(*a):\n    return 0\n```? No.</think>\n"
               f"```python\n{_full(r)}```", True),
    (lambda r: f"```python\ndef {r['entry_point']}(*args, **kwargs):\n    raise NotImplementedError\n```", False),
    (lambda r: f"Here is the implementation:\n\n```python\n{_full(r)}```\n\nIt handles the edge cases.", True),
    (_column_zero, True),  # the body written at column 0
    (lambda r: f"```python\nimport os\nos._exit(0)\n{_full(r)}```", False),  # quits before the tests run
    (lambda r: "", False),  # an empty reply: unparsed
]
UNPARSED = 7


def _hostile(canary: Path) -> dict[int, tuple[str, bool]]:
    """Hostile replies for a few problems: contained, they fail or (when they also solve it) pass."""
    attempt = "try:\n    {}\nexcept Exception:\n    pass\n"
    forkbomb = ("import os, time\nfor _ in range(500):\n    if os.fork() == 0:\n        time.sleep(20)\n"
                "        os._exit(0)")
    return {
        9: ("while True:\n    pass\n", False),  # a timeout
        19: ("x = bytearray(8 << 30)\n", False),  # MemoryError
        29: (attempt.format(forkbomb.replace("\n", "\n    ")), True),
        39: (attempt.format(f"os.kill({os.getpid()}, 9)") + attempt.format("os.kill(os.getppid(), 9)"), True),
        49: (attempt.format(f"open({str(canary)!r}, 'w').write('pwned')"), True),
        59: (attempt.format("__import__('socket').create_connection(('127.0.0.1', 9), timeout=1)"), True),
    }


def humaneval_oracle(canary: Path) -> tuple[dict[str, str], list[bool], int]:
    bench = create_benchmark("humaneval")
    hostile = _hostile(canary)
    oracle, verdicts, unparsed = {}, [], 0
    for n, row in enumerate(ROWS):
        write, right = WRITERS[n % len(WRITERS)]
        reply = write(row)
        if n in hostile:
            prefix, right = hostile[n]
            reply = "```python\nimport os\n" + prefix + _full(row) + "```"
        unparsed += n % len(WRITERS) == UNPARSED and n not in hostile
        sample = bench.record_to_sample(row, n, SUBSET)
        oracle[bench.build_messages(sample, [])[-1]["content"].strip()] = reply
        verdicts.append(right)
    return oracle, verdicts, unparsed


def _report_and_reviews(run: Path) -> tuple[dict, dict[str, list[dict]]]:
    report = json.loads((run / "reports/oracle/humaneval.json").read_text())
    report.pop("perf_metrics")
    report["execution_summary"].pop("cached")
    reviews = {}
    for path in sorted((run / "reviews/oracle").glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        reviews[path.name] = sorted(lines, key=lambda line: line["index"])
    return report, reviews


def test_humaneval_scores_exactly_serial_and_xdist(pytester: pytest.Pytester, data_dir: Path, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("original")
    oracle, verdicts, unparsed = humaneval_oracle(canary)
    passed = sum(verdicts)
    # 20 cycles of 8 writers (5 right) + 3 right of the last 4 = 103; hostile replies at 9 (-1), 39 and 59 (+1 each)
    assert (passed, unparsed) == (104, 19)
    pytester.makepyfile(eval_humaneval="from pytest_evalscope import Suite\nhumaneval = Suite('humaneval')\n")
    args = json.dumps({"humaneval": {"local_path": str(data_dir)}})
    outputs = []
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=300)) as server:
        for workers in (["-n", "0"], ["-n", "2"]):
            before = set((pytester.path / "out").glob("*"))
            result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                        "--evalscope-work-dir=out", "--evalscope-dataset-args=" + args,
                                        "--evalscope-eval-batch-size=16", "-p", "no:cacheprovider", *workers)
            result.assert_outcomes(passed=passed, failed=164 - passed)
            (run,) = set((pytester.path / "out").glob("*")) - before
            outputs.append(_report_and_reviews(run))
    assert canary.read_text() == "original"
    report, reviews = outputs[0]
    assert outputs[1] == outputs[0]  # the same report and reviews serial and under xdist
    assert [m["name"] for m in report["metrics"]] == ["pass@1", "mean_acc"]  # pass@1, the primary metric, first
    for metric in report["metrics"]:
        (subset,) = metric["categories"][0]["subsets"]
        assert (subset["name"], subset["num"], subset["unparsed"]) == (SUBSET, 164, unparsed)
        assert metric["score"] == subset["score"] == round(passed / 164, 4)
    assert report["score"] == round(passed / 164, 4)
    lines = reviews[f"humaneval_{SUBSET}.jsonl"]
    assert [line["sample_score"]["score"]["value"]["acc"] for line in lines] == [float(v) for v in verdicts]
