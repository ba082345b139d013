"""What the code benchmarks after HumanEval share (humaneval_plus, mbpp, mbpp_plus, live_code_bench).

- `CodeBenchmark`: HumanEval's settings (`review_timeout` or `extra_params.timeout`, the operator's
  `sandbox_isolation`, `extra_params.isolation` refused) with each benchmark's own default timeout, and a
  `score` made of three steps a benchmark overrides: `code_of` (the reply's code), `run` (the sandbox's
  verdict) and `judged` (the score, or `NotJudgeable` for a verdict this sandbox cannot give).
- `bind_tests`: EvalScope runs a benchmark's tests in the same file as the model's code, so the tests see
  every name the code binds at module level. Here the tests run in the sandbox's trusted harness, where a
  name the tests do not bind is already a function of the program's; two kinds of name need more:
  a module the code imports (`sys.getsizeof(...)` in MBPP+/596's tests) is imported by the harness too
  (standard library and numpy only), and a builtin the code redefines (MBPP/126 defines `sum`) is reached
  through an alias the program exports, since the harness would otherwise call the builtin.
"""

from __future__ import annotations

import ast
import builtins
import sys
from typing import Any, ClassVar

from ..scoring.code_extract import extract_code
from ..scoring.filters import apply_filters
from ..scoring.sandbox import Verdict
from .base import Sample, Score
from .humaneval import HumanEval

ALIAS_PREFIX = "_program_"
# modules the harness may import on the program's behalf: trusted code, imported for its names only
HARNESS_MODULES = frozenset(sys.stdlib_module_names) - {"antigravity", "this", "turtle", "tkinter", "idlelib"} | {"numpy"}


class NotJudgeable(RuntimeError):
    """A verdict this sandbox cannot give for a known reason (a limit of the data-only RPC or of the
    resources it allows): the sample is an error, neither a pass nor a wrong answer."""


class CodeBenchmark(HumanEval):
    """A code benchmark judged in the sandbox; `extra_params["timeout"]` is its EvalScope default."""

    explain_failures = True
    runs_code = True
    # task id -> (a phrase of the failing verdict's reason, why no program can pass here)
    known_limits: ClassVar[dict[str, tuple[str, str]]] = {}

    def _timeout(self, where: str) -> float:
        value = super()._timeout(where)
        given = self.args.get("review_timeout") is not None or \
            (self.args.get("extra_params") or {}).get("timeout") is not None
        return value if given else float(type(self).extra_params["timeout"])

    def code_of(self, sample: Sample, text: str) -> str:
        return extract_code(text)

    def judged(self, sample: Sample, code: str, verdict: Verdict) -> Score:
        limit = self.known_limits.get(str(sample.metadata.get("task_id")))
        if limit and not verdict.passed and limit[0] in verdict.reason:
            raise NotJudgeable(f"{self.name} {sample.metadata['task_id']}: {limit[1]} ({verdict.status}: {verdict.reason})")
        return Score({"acc": 1.0 if verdict.passed else 0.0}, code, verdict.passed,
                     explanation=f"{verdict.status}: {verdict.reason} (isolation: {verdict.isolation})")

    def score(self, sample: Sample, answer_text: str) -> Score:
        code = self.code_of(sample, apply_filters(answer_text, self.filters))
        if not code.strip():
            return Score({"acc": 0.0}, None, False, status="parse_error", explanation="no code in the reply")
        return self.judged(sample, code, self.run(sample, code))


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except Exception:  # SyntaxError, and RecursionError/MemoryError on pathological input: the sandbox says why
        return None


def _module_bindings(tree: ast.Module) -> tuple[dict[str, ast.stmt], set[str]]:
    """The imports (name -> statement) and the other names a module binds at its top level, inside `if`,
    `try`, `with` and loops too (an over-approximation is harmless: an alias of an unbound builtin is the builtin)."""
    imports: dict[str, ast.stmt] = {}
    names: set[str] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                one = ast.ImportFrom(module=node.module, names=[alias], level=node.level) \
                    if isinstance(node, ast.ImportFrom) else ast.Import(names=[alias])
                imports.setdefault((alias.asname or alias.name).split(".")[0], one)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    todo.append(child)
                else:
                    names.update(n.id for n in ast.walk(child) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return imports, names


def _free_names(tree: ast.Module) -> set[str]:
    """The names the tests read and never bind themselves."""
    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return read - bound


def _harness_import(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.ImportFrom):
        return statement.level == 0 and (statement.module or "").split(".")[0] in HARNESS_MODULES
    return all(alias.name.split(".")[0] in HARNESS_MODULES for alias in statement.names)  # type: ignore[attr-defined]


def bind_tests(program: str, tests: str) -> tuple[str, str]:
    """`program` and `tests` with the names the tests take from the program made reachable (module docstring)."""
    code, checks = _parse(program), _parse(tests)
    if code is None or checks is None:
        return program, tests
    imports, names = _module_bindings(code)
    free = _free_names(checks)
    prelude = [ast.unparse(imports[n]) for n in sorted(free) if n in imports and _harness_import(imports[n])]
    shadowed = sorted(n for n in free if n in names and hasattr(builtins, n) and not n.startswith("__"))
    if shadowed:
        for node in ast.walk(checks):
            if isinstance(node, ast.Name) and node.id in shadowed:
                node.id = ALIAS_PREFIX + node.id
        tests = ast.unparse(checks) + "\n"
        program = program + "\n" + "".join(f"{ALIAS_PREFIX}{n} = {n}\n" for n in shadowed)
    return program, "".join(line + "\n" for line in prelude) + tests


def string_list(value: Any, what: str) -> list[str]:
    """A record's list of strings (test_list, test_imports), as numpy arrays from parquet come too."""
    items = list(value) if value is not None and not isinstance(value, str) else None
    if items is None or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{what} is not a list of strings")
    return items
