"""MT-Bench (EvalScope protocol: 80 two-turn questions, each turn rated 1-10 by a judge). Collected when a model is set."""

from pytest_evalscope import Suite

mt_bench = Suite("mt_bench")
