"""Chinese SimpleQA (EvalScope protocol: 0-shot, six subsets, graded by a judge). Collected when a model is set."""

from pytest_evalscope import Suite

chinese_simpleqa = Suite("chinese_simpleqa")
