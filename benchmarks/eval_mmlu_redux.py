"""MMLU-Redux 2.0: 57 subjects x 100 re-annotated MMLU questions, 0-shot CoT, corrections applied."""

from pytest_evalscope import Suite

mmlu_redux = Suite("mmlu_redux")
