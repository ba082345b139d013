"""The built-in model backends: an OpenAI-compatible service, a local transformers checkpoint, and the
mock. Each factory imports its library only when a model is made."""

from __future__ import annotations

from .base import ModelAPI
from .registry import ModelSpec, register_backend


@register_backend("service", aliases=("openai_api", "server"), abilities=("generate", "images", "generation_variants"))
def service(spec: ModelSpec) -> ModelAPI:
    from ..params import ConfigError
    from .openai_api import OpenAIServiceModel

    if not spec.api_url:
        raise ConfigError(f"the {spec.model!r} service model needs api_url, e.g. http://127.0.0.1:8000/v1")
    return OpenAIServiceModel(spec.model, spec.api_url, spec.api_key or "EMPTY", spec.model_args, spec.generation_config)


@register_backend("checkpoint", aliases=("llm_ckpt",), abilities=("generate", "loglikelihood"))
def checkpoint(spec: ModelSpec) -> ModelAPI:
    from .checkpoint import TransformersModel

    args = dict(spec.model_args)
    if spec.chat_template is not None:
        args["chat_template"] = spec.chat_template
    return TransformersModel(spec.model, args, spec.generation_config, batch_size=spec.batch_size,
                             hub=spec.hub if spec.hub != "local" else None)


@register_backend("mock", aliases=("mock_llm",), abilities=("generate", "images", "generation_variants"))
def mock(spec: ModelSpec) -> ModelAPI:
    from .mock import MockModel

    # a dry run keeps the real model's settings in the config; they are not the mock's
    return MockModel(spec.model or "mock", {} if spec.dry_run else spec.model_args)
