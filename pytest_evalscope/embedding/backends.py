"""The embedding and reranker backends, registered as model backends with abilities ``embed`` / ``rerank``.

    eval_type embedding (openai_embedding)  -> OpenAIEmbeddingModel  (api_url: .../v1)
    eval_type rerank    (openai_rerank)     -> RerankClient          (api_url: .../v1 or .../v1/rerank)
    eval_type encoder   (local_encoder)     -> LocalEncoder          (model: a sentence-transformers folder)
"""

from __future__ import annotations

import os
from typing import Any

from ..models.registry import ModelSpec, register_backend
from ..params import ConfigError


def _url(spec: ModelSpec, example: str) -> str:
    url = spec.api_url
    if isinstance(url, (list, tuple)):  # a fleet of endpoints is a chat backend's; one of them is one URL
        if len(url) != 1:
            raise ConfigError(f"eval_type {spec.backend} takes one api_url, not {len(url)}; several endpoints "
                              "serving one model are for chat models (eval_type service)")
        url = url[0]
    if not url:
        raise ConfigError(f"eval_type {spec.backend} needs api_url, e.g. {example}")
    return str(url)


@register_backend("embedding", aliases=("openai_embedding",), abilities=("embed",))
def embedding(spec: ModelSpec) -> Any:
    from .openai_embed import OpenAIEmbeddingModel

    return OpenAIEmbeddingModel(spec.model, _url(spec, "http://127.0.0.1:8000/v1"), spec.api_key or "EMPTY",
                                dict(spec.model_args))


@register_backend("rerank", aliases=("openai_rerank",), abilities=("rerank",))
def rerank(spec: ModelSpec) -> Any:
    from .rerank_api import RerankClient

    return RerankClient(spec.model, _url(spec, "http://127.0.0.1:8000/v1"), spec.api_key or "EMPTY", dict(spec.model_args))


@register_backend("encoder", aliases=("local_encoder",), abilities=("embed",))
def encoder(spec: ModelSpec) -> Any:
    from .local_encoder import LocalEncoder

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return LocalEncoder(spec.model, dict(spec.model_args), workers=workers)
