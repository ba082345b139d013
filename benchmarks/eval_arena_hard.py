"""Arena-Hard v0.1 (EvalScope protocol: 500 prompts against gpt-4-0314, judged twice with positions swapped). Collected when a model is set."""

from pytest_evalscope import Suite

arena_hard = Suite("arena_hard")
