"""LiveCodeBench code generation with EvalScope 1.14.1's protocol, judged in the sandbox.

`evalscope/livecodebench_code_generation_lite_parquet` (HF `marianna13/livecodebench_code_generation_lite_parquet`),
split test, EvalScope's 28 subsets (`release_latest`, `release_v1` ... `v6`, `v1_v2` ... `v5_v6`), 0-shot.
Records are in the public `code_generation_lite` format: `question_content`, `starter_code`,
`contest_date` (ISO), `public_test_cases` and `private_test_cases` (JSON lists of `{input, output,
testtype}`; the private ones may be base64 of zlib of a pickled JSON string, as published: read here by
an unpickler that accepts a plain string and nothing else) and `metadata` (JSON; `func_name` for
LeetCode-style problems).

- Prompt: LiveCodeBench's generic system message and `### Question:` / `### Format:` user message
  (with the starter code, or "read the inputs from stdin" without).
- Extraction: the code between the last two lines holding three backticks (`extract_last_fenced`);
  none is a parse error.
- Judging: every public and private test, in order, stopping at the first failure; a problem passes
  when all do (`acc`, `mean_and_pass_at_k`, pass@1). Problems with `func_name` are call-based: the
  code (after LiveCodeBench's star imports) is run, `Solution().<func_name>` (or the function) is
  called with the test's JSON lines as arguments, a tuple counts as a list, and the result must equal
  the JSON output. Others read stdin: the code's imports are hoisted and the rest wrapped in a
  function, called with stdin (and `open(...)`) serving the input; the output matches when, line by
  line after stripping, each line is equal or its numbers are equal as decimals.
- Time: `review_timeout` (or `extra_params.timeout`) is EvalScope's 6 s *per test*, enforced by an
  alarm in the program and checked by the tests; the whole program has (timeout + 1) s per test.
- `extra_params.start_date` / `end_date` (`YYYY-MM-DD`, inclusive) keep the problems whose contest
  date falls between them, as EvalScope's date filter; `debug` is accepted and has no effect.

The program (untrusted) holds the model's code and a small runner; the tests (trusted) hold the
inputs and expected outputs and compare what the runner returns, as data.

The hub's data was not reachable where this adapter was written: it is tested on a handful of
problems written in the public format (`tests/fixtures/live_code_bench/`).
"""

from __future__ import annotations

import base64
import io
import json
import math
import pickle
import zlib
from datetime import datetime
from typing import Any, ClassVar

from ..params import ConfigError
from ..registry import register_benchmark
from ..scoring.code_extract import extract_last_fenced
from ..scoring.sandbox import Limits, Verdict, run_tests
from .base import Sample
from .code_common import CodeBenchmark

# EvalScope's (LiveCodeBench's) prompt pieces, equal byte for byte (tests/fixtures/evalscope_prompts/live_code_bench.json)
SYSTEM_PROMPT = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
                 "generate a correct Python program that matches the specification and passes all tests. You will NOT "
                 "return anything except for the program.")
PROMPT = "### Question:\n{question_content}\n\n{format_prompt} ### Answer: (use the provided format with backticks)\n\n"
WITH_STARTER = ("### Format: You will use the following starter code to write the solution to the problem and enclose "
                "your code within delimiters.\n```python\n{starter_code}\n```\n\n")
WITHOUT_STARTER = ("### Format: Read the inputs from stdin solve the problem and write the answer to stdout (do not "
                   "directly test on the sample inputs). Enclose your code within delimiters as follows.\n"
                   "```python\n# YOUR CODE HERE\n```\n\n")
VERSIONS = ("v1", "v2", "v3", "v4", "v5", "v6")
SUBSETS = ["release_latest", *(f"release_{v}" for v in VERSIONS),
           *(f"{a}_{b}" if a != b else a for i, a in enumerate(VERSIONS) for b in VERSIONS[i:])]
# the names a LiveCodeBench solution may use unimported (its grader's star imports)
PRELUDE_MODULES = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random",
                   "statistics", "itertools", "functools", "operator", "io", "sys", "json", "builtins", "typing")
PRELUDE = "".join(f"from {m} import *\n" for m in PRELUDE_MODULES) + "".join(
    f"import {m}\n" for m in PRELUDE_MODULES if m not in ("builtins", "typing")) + "sys.setrecursionlimit(50000)\n"

# The untrusted side: the model's code, loaded on first use, and one entry point per kind of test.
RUNNER = r'''
import ast as _ast, builtins as _builtins, io as _io, signal as _signal, sys as _sys
_SOURCE = {source!r}
_PRELUDE = {prelude!r}
_loaded = []

class _TimedOut(Exception):
    pass

def _ring(signum, frame):
    raise _TimedOut()

_signal.signal(_signal.SIGALRM, _ring)

def _stdio_source(source):
    tree = _ast.parse(source)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, _ast.If) and _ast.unparse(last.test).strip() == "__name__ == '__main__'":
        tree.body[-1:] = last.body
    imports = [s for s in tree.body if isinstance(s, (_ast.Import, _ast.ImportFrom))]
    rest = [s for s in tree.body if not isinstance(s, (_ast.Import, _ast.ImportFrom))] or [_ast.Pass()]
    function = _ast.FunctionDef(name="wrapped_function", args=_ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                kw_defaults=[], defaults=[]), body=rest, decorator_list=[], lineno=1)
    return _PRELUDE + "\n" + _ast.unparse(imports) + "\n" + _ast.unparse(function)

def _load(kind, timeout):
    if not _loaded:
        namespace = {{"__name__": "tmp_sol"}}
        source = _stdio_source(_SOURCE) if kind == "stdio" else _PRELUDE + "\n\n" + _SOURCE
        _signal.setitimer(_signal.ITIMER_REAL, timeout)
        try:
            exec(compile(source, "solution.py", "exec"), namespace)
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
        if kind == "stdio":
            _loaded.append(namespace["wrapped_function"])
        elif "class Solution" in _SOURCE:
            _loaded.append(namespace["Solution"]())
        else:
            _loaded.append(namespace)
    return _loaded[0]

def _outcome(run, timeout):
    _signal.setitimer(_signal.ITIMER_REAL, timeout)
    try:
        return ["ok", run()]
    except _TimedOut:
        return ["timeout", "time limit exceeded"]
    except SystemExit:
        return ["ok", None]
    except BaseException as exc:
        return ["error", repr(exc)[:300]]
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)

def lcb_stdio(given, timeout):
    loaded = _outcome(lambda: _load("stdio", timeout), timeout)
    if loaded[0] != "ok":
        return loaded
    lines = iter(given.split("\n"))
    stdin = _io.TextIOWrapper(_io.BytesIO(given.encode("utf-8")), encoding="utf-8")
    stdin.readline = lambda *args: next(lines)
    stdin.readlines = lambda *args: given.split("\n")
    stdin.read = lambda *args: given
    out = _io.StringIO()
    saved = _sys.stdin, _sys.stdout, _builtins.open
    _sys.stdin, _sys.stdout, _builtins.open = stdin, out, lambda *args, **kwargs: _io.StringIO(given)
    try:
        result = _outcome(loaded[1], timeout)
    finally:
        _sys.stdin, _sys.stdout, _builtins.open = saved
    return [result[0], out.getvalue() if result[0] == "ok" else result[1]]

def lcb_call(name, args, timeout):
    loaded = _outcome(lambda: _load("call", timeout), timeout)
    if loaded[0] != "ok":
        return loaded
    target = loaded[1]
    method = target.get(name) if isinstance(target, dict) else getattr(target, name, None)
    if method is None:
        return ["error", "no function %r" % name]
    result = _outcome(lambda: method(*args), timeout)
    if result[0] == "ok" and isinstance(result[1], tuple):
        result[1] = list(result[1])
    return result
'''

# The trusted side: the cases, the calls into the program and EvalScope's comparisons.
TESTS = r'''
import json, time
from decimal import Decimal
CASES = json.loads({cases!r})
TIMEOUT = {timeout!r}

def lines_of(text):
    return [line.strip() for line in text.strip().split("\n")]

def decimals(line):
    try:
        return [Decimal(item) for item in line.split()]
    except Exception:
        return None

for number, (given, expected) in enumerate(zip(CASES["inputs"], CASES["outputs"])):
    started = time.monotonic()
    if CASES["fn_name"] is None:
        status, out = lcb_stdio(given, TIMEOUT)
    else:
        status, out = lcb_call(CASES["fn_name"], [json.loads(line) for line in given.split("\n")], TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + 1, "test %d: time limit exceeded" % number
    assert status == "ok", "test %d: %s" % (number, out)
    if CASES["fn_name"] is not None:
        assert out == json.loads(expected), "test %d: wrong answer" % number
        continue
    got, want = lines_of(out if isinstance(out, str) else ""), lines_of(expected)
    assert len(got) == len(want), "test %d: wrong answer (%d lines, expected %d)" % (number, len(got), len(want))
    for a, b in zip(got, want):
        assert a == b or (decimals(a) is not None and decimals(a) == decimals(b)), "test %d: wrong answer" % number
'''


class _OnlyStrings(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"private_test_cases: a pickle may hold a string only, not {module}.{name}")


def read_test_cases(value: Any) -> list[dict[str, Any]]:
    """Test cases from their JSON text, or from base64(zlib(pickle(JSON text))) as the hub stores private ones."""
    if isinstance(value, list):
        return value
    try:
        return list(json.loads(value))
    except (TypeError, ValueError):
        text = _OnlyStrings(io.BytesIO(zlib.decompress(base64.b64decode(str(value).encode("utf-8"))))).load()
        if not isinstance(text, str):
            raise ValueError("private_test_cases: the pickle holds no string") from None
        return list(json.loads(text))


def _date(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%d")
    except ValueError:
        raise ConfigError(f"{where}: expected a date such as 2024-08-01 (YYYY-MM-DD), got {value!r}") from None


@register_benchmark
class LiveCodeBench(CodeBenchmark):
    name = "live_code_bench"
    pretty_name = "Live-Code-Bench"
    description = ("Competitive programming problems from LeetCode, AtCoder and Codeforces, collected after "
                   "their contest dates, judged on public and private tests in a sandbox.")
    dataset_id = "evalscope/livecodebench_code_generation_lite_parquet"
    hf_dataset_id = "marianna13/livecodebench_code_generation_lite_parquet"
    subset_list: ClassVar[list[str]] = SUBSETS
    default_subset = "release_latest"
    eval_split = "test"
    system_prompt = SYSTEM_PROMPT
    prompt_template = PROMPT
    required_fields = ("question_content", "starter_code", "public_test_cases", "private_test_cases",
                       "metadata", "contest_date")
    extra_params: ClassVar[dict[str, Any]] = {"timeout": 6.0, "start_date": None, "end_date": None, "debug": False}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        where = f"dataset_args.{self.name}.extra_params"
        self.start_date = _date(self.extra.get("start_date"), f"{where}.start_date")
        self.end_date = _date(self.extra.get("end_date"), f"{where}.end_date")

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        return [r for r in super().load_records(subset, split) if self.in_dates(str(r["contest_date"]))]

    def in_dates(self, contest_date: str) -> bool:
        when = datetime.fromisoformat(contest_date)
        return not ((self.start_date and self.start_date > when) or (self.end_date and self.end_date < when))

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        cases = read_test_cases(record["public_test_cases"]) + read_test_cases(record["private_test_cases"])
        metadata = json.loads(record["metadata"]) if isinstance(record["metadata"], str) else dict(record["metadata"] or {})
        starter = record["starter_code"]
        evaluation = {"inputs": [c["input"] for c in cases], "outputs": [c["output"] for c in cases],
                      "fn_name": metadata.get("func_name")}
        return Sample(index=index, subset=subset, input=str(record["question_content"]), target="",
                      metadata={"task_id": str(record.get("question_id", index)), "contest_date": str(record["contest_date"]),
                                "format_prompt": WITH_STARTER.format(starter_code=starter) if starter else WITHOUT_STARTER,
                                "evaluation_sample": json.dumps(evaluation)})

    def prompt_fields(self, sample: Sample) -> dict[str, str]:
        return {"question_content": sample.input, "format_prompt": sample.metadata["format_prompt"]}

    def code_of(self, sample: Sample, text: str) -> str:
        return extract_last_fenced(text)

    def check_for(self, sample: Sample, code: str) -> tuple[str, str]:
        program = RUNNER.format(source=code, prelude=PRELUDE)
        return program, TESTS.format(cases=sample.metadata["evaluation_sample"], timeout=self.timeout)

    def run(self, sample: Sample, code: str) -> Verdict:
        program, tests = self.check_for(sample, code)
        count = len(json.loads(sample.metadata["evaluation_sample"])["inputs"])
        budget = (self.timeout + 1) * max(count, 1)
        return run_tests(program, tests, timeout=budget, limits=Limits(cpu_seconds=math.ceil(budget) + 1),
                         isolation=self.isolation, label=f"{self.name}:{sample.metadata['task_id']}")
