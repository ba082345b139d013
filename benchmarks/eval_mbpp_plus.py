"""MBPP+ (EvalScope protocol: 0-shot, the asserts and EvalPlus's extended tests run in a sandbox, pass@1)."""

from pytest_evalscope import Suite

mbpp_plus = Suite("mbpp_plus")
