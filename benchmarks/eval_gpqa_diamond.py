"""GPQA-Diamond: 198 expert questions, 0-shot CoT, options shuffled per question as EvalScope 1.14.1."""

from pytest_evalscope import Suite

gpqa_diamond = Suite("gpqa_diamond")
