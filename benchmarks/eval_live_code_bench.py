"""LiveCodeBench (EvalScope protocol: 0-shot, the last fenced block, 6 s per test in a sandbox, date filter, pass@1)."""

from pytest_evalscope import Suite

live_code_bench = Suite("live_code_bench")
