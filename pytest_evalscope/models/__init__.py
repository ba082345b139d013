"""Models by role (candidate, judge), each made by a registered backend (see models/registry.py)."""

from __future__ import annotations

from ..config import TaskConfig
from .base import ModelAPI, ModelError, ModelOutput
from .registry import ModelPool, ModelSpec, can, create, register_backend

__all__ = ["ModelAPI", "ModelError", "ModelOutput", "ModelPool", "ModelSpec", "candidate_spec", "create_model",
           "register_backend", "supports_images", "supports_loglikelihood", "validate_model_config"]


def candidate_spec(config: TaskConfig) -> ModelSpec:
    """The candidate model of a run, from its TaskConfig."""
    assert config.eval_type is not None
    return ModelSpec(config.eval_type, config.model or "mock", config.api_url, config.api_key or "EMPTY",
                     dict(config.model_args), dict(config.generation_config), config.eval_batch_size,
                     config.chat_template, config.dataset_hub, bool(config.dry_run))


def create_model(config: TaskConfig) -> ModelAPI:
    """Build the run's candidate model. Called once per process, lazily, inside the pipeline's event loop.

    Construction checks settings only: a checkpoint loads on its first request, never at collection.
    """
    return create(candidate_spec(config))


def supports_loglikelihood(config: TaskConfig) -> bool:
    """Whether the run's model can score continuations (multiple_choice_logits, continuous_logits)."""
    return config.eval_type is not None and can(config.eval_type, "loglikelihood")


def supports_images(config: TaskConfig) -> bool:
    """Whether the run's model takes image parts in its messages (a transformers checkpoint does not)."""
    return config.eval_type is not None and can(config.eval_type, "images")


def validate_model_config(config: TaskConfig) -> None:
    """Check model_args and generation_config of every role before anything runs (raises ConfigError)."""
    create_model(config)
    from ..judge.settings import judge_spec

    spec = judge_spec(config)
    if spec is not None:
        create(spec)
