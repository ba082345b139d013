"""MMLU-Pro: 12,032 questions with up to 10 options in 14 categories, 5-shot CoT from validation."""

from pytest_evalscope import Suite

mmlu_pro = Suite("mmlu_pro")
