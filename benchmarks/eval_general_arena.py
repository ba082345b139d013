"""General arena (EvalScope protocol: earlier runs judged pairwise against a baseline, twice with positions swapped; Bradley-Terry win rates). Collected when a model is set."""

from pytest_evalscope import Suite

general_arena = Suite("general_arena")
