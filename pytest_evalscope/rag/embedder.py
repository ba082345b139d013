"""The embedding model of answer relevancy, from EvalScope's RAGAS ``embeddings`` block.

EvalScope 1.14.1 reads ``{model_name_or_path, provider, api_base, api_key}`` (provider ``huggingface``,
its default, loads a local model; ``openai`` calls an OpenAI-compatible ``/v1/embeddings``). Each provider
makes an :class:`~..models.embedding.EncoderAPI`:

- ``openai`` and ``huggingface``: the model backend with the ``embed`` ability that serves them
  (:data:`BACKENDS`: eval_type ``embedding`` for ``/v1/embeddings``, ``encoder`` for a local model folder),
  when the embedding backends are installed; otherwise the provider is unavailable and the error says so;
- ``python``: ``model_name_or_path`` is ``"package.module:Factory"``, a class or function that takes no
  arguments and returns an EncoderAPI (your own model, or a test's deterministic encoder);
- any name registered with :func:`register_encoder_provider`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..models.embedding import EncoderAPI
from ..params import ConfigError, did_you_mean

EMBEDDING_KEYS = ("model_name_or_path", "provider", "api_base", "api_key")
BACKENDS = {"openai": "embedding", "huggingface": "encoder"}  # EvalScope's provider -> the model backend (eval_type)
_PROVIDERS: dict[str, Callable[[dict[str, Any]], EncoderAPI]] = {}


def register_encoder_provider(name: str) -> Callable[[Callable[[dict[str, Any]], EncoderAPI]], Callable[[dict[str, Any]], EncoderAPI]]:
    """Decorator: `factory(embeddings_block) -> EncoderAPI` serves ``provider: name``."""
    def register(factory: Callable[[dict[str, Any]], EncoderAPI]) -> Callable[[dict[str, Any]], EncoderAPI]:
        _PROVIDERS[name] = factory
        return factory
    return register


def _python_factory(block: dict[str, Any]) -> EncoderAPI:
    target = str(block["model_name_or_path"])
    module_name, _, attr = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"embeddings.model_name_or_path: cannot load {target!r} ({exc})") from None
    encoder = factory()
    if not isinstance(encoder, EncoderAPI):
        raise ConfigError(f"embeddings.model_name_or_path: {target!r} made a {type(encoder).__name__}, not an EncoderAPI")
    return encoder


_PROVIDERS["python"] = _python_factory


def check_embeddings(block: Any, where: str) -> dict[str, Any]:
    """The block, every key known and the provider available (raises a one-line ConfigError)."""
    if not isinstance(block, dict):
        raise ConfigError(f"{where}: expected a mapping such as {{\"model_name_or_path\": \"bge-m3\", \"provider\": \"openai\"}}")
    for key in block:
        if key not in EMBEDDING_KEYS:
            hint = " (EvalScope 1.9 renamed it model_name_or_path)" if key == "model_name" else did_you_mean(str(key), EMBEDDING_KEYS)
            raise ConfigError(f"{where}: unknown key {key!r}{hint}; valid: {', '.join(EMBEDDING_KEYS)}")
    if not block.get("model_name_or_path"):
        raise ConfigError(f"{where}.model_name_or_path: required (the embedding model's name, path or 'module:Factory')")
    _load_providers()
    provider = str(block.get("provider") or "huggingface")
    if provider not in _PROVIDERS:
        available = ", ".join(sorted(_PROVIDERS))
        raise ConfigError(f"{where}.provider: no encoder backend serves {provider!r} in this installation"
                          f"{did_you_mean(provider, list(_PROVIDERS))}; available: {available} "
                          "(python: model_name_or_path 'package.module:Factory' returning an EncoderAPI)")
    if provider == "python" and ":" not in str(block["model_name_or_path"]):
        raise ConfigError(f"{where}.model_name_or_path: provider python needs 'package.module:Factory', "
                          f"got {block['model_name_or_path']!r}")
    if provider != "python":
        # a backend's constructor checks its settings without loading anything (a local encoder needs a
        # sentence-transformers folder, not a hub id): an encoder that cannot be made here is not native
        _PROVIDERS[provider]({**block, "provider": provider})
    return {**block, "provider": provider}


def encoder_from(block: dict[str, Any]) -> EncoderAPI:
    _load_providers()
    return _PROVIDERS[block["provider"]](block)


def _load_providers() -> None:
    """EvalScope's providers, for each model backend that can embed (absent in a build without them)."""
    from ..models.registry import backend_names, can

    for provider, backend in BACKENDS.items():
        if provider not in _PROVIDERS and backend in backend_names() and can(backend, "embed"):
            _PROVIDERS[provider] = _backend_factory(backend)


def _backend_factory(backend: str) -> Callable[[dict[str, Any]], EncoderAPI]:
    def make(block: dict[str, Any]) -> EncoderAPI:
        from ..models.registry import ModelSpec, create

        model = create(ModelSpec(backend, str(block["model_name_or_path"]), block.get("api_base"),
                                 block.get("api_key") or "EMPTY"))
        if not isinstance(model, EncoderAPI):
            raise ConfigError(f"embeddings: eval_type {backend} made a {type(model).__name__}, not an EncoderAPI")
        return model
    return make
