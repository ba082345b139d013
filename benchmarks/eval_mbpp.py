"""MBPP (EvalScope protocol: fixed 3-shot prompt, the three asserts run in a sandbox, pass@1)."""

from pytest_evalscope import Suite

mbpp = Suite("mbpp")
