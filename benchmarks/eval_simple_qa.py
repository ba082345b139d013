"""SimpleQA (EvalScope protocol: 0-shot, graded by a judge into correct / incorrect / not attempted). Collected when a model is set."""

from pytest_evalscope import Suite

simple_qa = Suite("simple_qa")
