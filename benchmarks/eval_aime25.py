"""AIME 2025: 30 problems (I and II), 0-shot, the boxed integer answer; run with repeats (avg@k, pass@k)."""

from pytest_evalscope import Suite

aime25 = Suite("aime25")
