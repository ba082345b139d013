"""The model contract: one async `generate(messages) -> ModelOutput`, or a `ModelError`.

A `ModelError` is an infrastructure failure (transport, HTTP status, timeout, malformed reply) after
retries. It makes its sample an *error*, never a wrong answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelOutput:
    """What a model returned for one sample."""

    content: str  # the full reply text, reasoning tags included
    reasoning: str | None = None  # a separate reasoning field (reasoning_content), if the server sent one
    finish_reason: str | None = None  # stop, length, ...
    usage: dict[str, int | None] = field(default_factory=dict)  # input_tokens, output_tokens, total_tokens
    latency: float = 0.0  # seconds from sending the request to the full reply
    ttft: float | None = None  # seconds to the first token (streaming only)
    attempts: int = 1  # requests it took, retries included
    model: str | None = None  # the model name the server reported
    id: str | None = None  # the server's completion id
    # log-likelihood modes: one ChoiceScore dict per choice (logprob, is_greedy, num_tokens, num_chars, num_bytes)
    choice_scores: list[dict[str, Any]] | None = None
    # multi-turn samples (MT-Bench): every turn's reply (to_dict), in order; the fields above are the last
    # turn's, except usage, latency and attempts, which add up the turns
    turns: list[dict[str, Any]] | None = None
    endpoint: str | None = None  # with several api_url endpoints: the one that answered (credentials redacted)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)  # dataclasses.asdict deep-copies; this runs once per sample
        data["usage"] = dict(self.usage)
        for optional in ("choice_scores", "turns", "endpoint"):  # absent when unused: records stay as they were
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def of_turns(cls, turns: list[ModelOutput]) -> ModelOutput:
        """One output for a conversation: the last turn's reply, with the turns' costs added up."""
        last = turns[-1]
        usage: dict[str, int | None] = {}
        for turn in turns:
            for name, value in turn.usage.items():
                if isinstance(value, int):
                    usage[name] = int(usage.get(name) or 0) + value
        return cls(last.content, last.reasoning, last.finish_reason, usage, sum(t.latency for t in turns), last.ttft,
                   sum(t.attempts for t in turns), last.model, last.id, turns=[t.to_dict() for t in turns],
                   endpoint=last.endpoint)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelOutput:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class ModelError(Exception):
    """A request that failed for good. `kind` groups errors in reports (http_429, timeout, ...)."""

    def __init__(self, kind: str, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.kind = kind
        self.attempts = attempts

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": str(self), "attempts": self.attempts}


class ModelAPI(ABC):
    """A model behind an API or in process. Instances are created and used inside one event loop."""

    name: str

    @abstractmethod
    async def generate(self, messages: list[dict[str, str]]) -> ModelOutput:
        """Answer one conversation, or raise ModelError."""

    def with_generation(self, generation_config: dict[str, Any]) -> ModelAPI | None:
        """A model like this one whose requests carry `generation_config` instead (MT-Bench's temperature by
        category); None when the backend cannot vary it per request. Backends that can declare the
        ``generation_variants`` ability (models/registry.py)."""
        return None

    async def aclose(self) -> None:  # noqa: B027  (optional hook)
        """Release connections."""
