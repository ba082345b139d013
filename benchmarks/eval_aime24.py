"""AIME 2024: 30 problems, 0-shot, the boxed integer answer; run with repeats (avg@k, pass@k)."""

from pytest_evalscope import Suite

aime24 = Suite("aime24")
