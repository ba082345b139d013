"""The mock model: no network, a fixed reply. Used by dry runs and tests.

model_args: `response` (the reply, default "This is a mock response."), `latency` (seconds to wait).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..datasets.images import content_text
from ..params import ConfigError, did_you_mean
from .base import ModelAPI, ModelOutput

MOCK_ARGS = ("response", "latency")


class MockModel(ModelAPI):
    def __init__(self, name: str, model_args: dict[str, Any]) -> None:
        for key in model_args:
            if key not in MOCK_ARGS:
                raise ConfigError(f"model_args: unknown key {key!r} for the mock model{did_you_mean(key, MOCK_ARGS)}; valid: {', '.join(MOCK_ARGS)}")
        self.name = name
        self.response = str(model_args.get("response", "This is a mock response."))
        self.latency = float(model_args.get("latency", 0.0))

    def with_generation(self, generation_config: dict[str, Any]) -> MockModel:
        return self  # the mock's reply does not depend on generation settings

    async def generate(self, messages: list[dict[str, Any]]) -> ModelOutput:
        if self.latency:
            await asyncio.sleep(self.latency)
        prompt_tokens = sum(len(content_text(m["content"]).split()) for m in messages)
        output_tokens = len(self.response.split())
        return ModelOutput(
            content=self.response,
            finish_reason="stop",
            usage={"input_tokens": prompt_tokens, "output_tokens": output_tokens, "total_tokens": prompt_tokens + output_tokens},
            latency=self.latency,
            model=self.name,
        )
