"""Oracle replies for code benchmarks: the canonical solution in the shapes models write it, and a few
deliberately wrong replies, so a whole-dataset run's pass count is known exactly (`testing.server`).

    replies, verdicts = code_oracle(bench, samples, solution_of, shapes=FENCED_SHAPES, wrong={"HumanEval/130"})

`verdicts[sample.key]` is "passed", "failed" or "error" by design: a right reply passes unless its task
cannot pass at all (`never_passes`: a broken test, EvalScope's own order of setup code) or cannot be
judged by this sandbox (`not_judgeable`, the benchmark's `known_limits`: an error). Tasks in `wrong`
(the slowest to test) always get a wrong reply, which fails at its first test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..benchmarks.base import Benchmark, Sample

WRONG = "def _nothing():\n    raise NotImplementedError\n"

# (writer, right by design): writer(code) is a reply; code is a complete program
FENCED_SHAPES: list[tuple[Callable[[str], str], bool]] = [
    (lambda c: f"```python\n{c}\n```", True),
    (lambda c: f"Here is the implementation:\n\n```python\n{c}\n```\n\nIt handles the edge cases.", True),
    (lambda c: f"<think>Maybe a loop? No, a comprehension.</think>\n```python\n{c}\n```", True),
    (lambda c: f"```python\n{WRONG}```", False),
    (lambda c: f"```py\n{c}\n```\nDone.", True),
    (lambda c: "I am not able to solve this.", False),
]
# LiveCodeBench reads the last fenced block: a draft before it is ignored
LAST_BLOCK_SHAPES: list[tuple[Callable[[str], str], bool]] = [
    (lambda c: f"```python\n{c}\n```", True),
    (lambda c: f"A first draft:\n```python\nprint(0)\n```\nFixed:\n```python\n{c}\n```\n", True),
    (lambda c: f"<think>Read all input at once?</think>\n```python\n{c}```", True),
    (lambda c: f"```python\n{c}\n```\nand a wrong second try:\n```python\nprint(-1)\n```", False),
    (lambda c: c, False),  # no fence: no code, a parse error
]


def code_oracle(bench: Benchmark, samples: Iterable[Sample], solution_of: Callable[[Sample], str],
                shapes: list[tuple[Callable[[str], str], bool]] = FENCED_SHAPES, wrong: set[Any] = frozenset(),  # type: ignore[assignment]
                never_passes: set[Any] = frozenset()) -> tuple[dict[str, str], dict[str, str]]:  # type: ignore[assignment]
    """(stripped prompt -> reply, sample key -> "passed" | "failed" | "error")."""
    replies: dict[str, str] = {}
    verdicts: dict[str, str] = {}
    limits = getattr(bench, "known_limits", {})
    for n, sample in enumerate(samples):
        task = sample.metadata["task_id"]
        write, right = shapes[n % len(shapes)]
        if task in wrong:
            write, right = shapes[0][0], False
            reply = write(WRONG)
        else:
            reply = write(solution_of(sample))
        prompt = bench.build_messages(sample, [])[-1]["content"].strip()
        replies[prompt] = reply
        if right and str(task) in limits:
            verdicts[sample.key] = "error"
        else:
            verdicts[sample.key] = "passed" if right and task not in never_passes else "failed"
    return replies, verdicts


def outcomes(verdicts: dict[str, str]) -> dict[str, int]:
    """The pytest outcomes a run of these samples must end with."""
    return {"passed": sum(v == "passed" for v in verdicts.values()), "failed": sum(v == "failed" for v in verdicts.values()),
            "errors": sum(v == "error" for v in verdicts.values())}


def run_whole_and_slice(pytester: Any, suite: str, dataset_args: dict[str, Any], replies: dict[str, str],
                        verdicts: dict[str, str], slice_size: int, max_seconds: int = 300) -> dict[str, dict[int, float]]:
    """The whole dataset with `-n 2`, then its first `slice_size` samples per subset with `-n 0` (a whole
    second run costs too much for a code benchmark); each run must end with the designed outcomes, and
    the slice's scores must equal the whole run's. Returns each run's `subset -> {index: acc}`."""
    import json

    from .server import ServerConfig, serve_in_subprocess

    pytester.makepyfile(**{f"eval_{suite}": f"from pytest_evalscope import Suite\n{suite} = Suite({suite!r})\n"})
    scores: dict[str, dict[str, dict[int, float]]] = {}
    with serve_in_subprocess(ServerConfig(oracle=replies, max_seconds=max_seconds)) as server:
        for workers, limit in (("2", None), ("0", slice_size)):
            out = f"out{workers}"
            extra = [f"--evalscope-limit={limit}"] if limit else []
            result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                        f"--evalscope-work-dir={out}", f"--evalscope-dataset-args={json.dumps({suite: dataset_args})}",
                                        "--evalscope-max-errors=8", "-p", "no:cacheprovider", "-n", workers, *extra)
            expected = verdicts if limit is None else {k: v for k, v in verdicts.items() if int(k.rsplit("-", 1)[1]) < limit}
            result.assert_outcomes(**outcomes(expected))
            scores[workers] = {}
            for path in sorted((pytester.path / out).glob("*/reviews/oracle/*.jsonl")):
                lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
                scores[workers][path.stem] = {line["index"]: line["sample_score"]["score"]["value"]["acc"] for line in lines}
    for subset, part in scores["0"].items():
        assert part == {i: v for i, v in scores["2"][subset].items() if i in part}
    return scores["2"]
