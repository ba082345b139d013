"""AlpacaEval 2.0 (EvalScope protocol: 805 instructions against GPT-4 Turbo, the judge naming the better output). Collected when a model is set."""

from pytest_evalscope import Suite

alpaca_eval = Suite("alpaca_eval")
