"""HumanEval+ (EvalScope protocol: 0-shot, HumanEval's prompt, EvalPlus's extended tests in a sandbox, pass@1)."""

from pytest_evalscope import Suite

humaneval_plus = Suite("humaneval_plus")
