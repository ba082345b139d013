"""Model backends by name, and the models of a run by role.

A backend is a factory registered under a name (EvalScope's ``eval_type``) with the abilities its
models have::

    @register_backend("service", aliases=("openai_api", "server"), abilities=("generate",))
    def _service(spec: ModelSpec) -> ModelAPI:
        from .openai_api import OpenAIServiceModel
        return OpenAIServiceModel(...)

Adding a backend is one module with such a factory, imported by :data:`BUILTIN_BACKENDS` or found
through the ``pytest_evalscope.backends`` entry-point group; nothing else dispatches on its name.
Factories import their heavy libraries (openai, torch) only when called.

A run's models are kept by *role* (:class:`ModelPool`): ``candidate`` answers the benchmark, ``judge``
grades replies (arena adds more). Each role has its own :class:`ModelSpec`, so a judge can be another
backend, URL, key and generation_config than the candidate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from ..params import ConfigError, did_you_mean
from .base import ModelAPI

BUILTIN_BACKENDS = ("pytest_evalscope.models.backends", "pytest_evalscope.embedding.backends")
ENTRY_POINT_GROUP = "pytest_evalscope.backends"
ROLES = ("candidate", "judge")


@dataclass(frozen=True)
class ModelSpec:
    """One role's model: what the backend factory is given."""

    backend: str  # a registered backend name or alias (eval_type)
    model: str
    api_url: str | list[str] | None = None  # a list: several endpoints serving the same model
    api_key: str | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    generation_config: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1  # requests in flight (service) or rows per forward pass (checkpoint)
    chat_template: str | None = None
    hub: str | None = None  # where a checkpoint is fetched from when it is a hub id
    dry_run: bool = False


@dataclass(frozen=True)
class Backend:
    name: str
    factory: Callable[[ModelSpec], ModelAPI]
    aliases: tuple[str, ...] = ()
    # generate, loglikelihood, images (image_url parts), generation_variants (ModelAPI.with_generation:
    # settings per request), embed, rerank (embedding/backends.py)
    abilities: frozenset[str] = frozenset({"generate"})


_BACKENDS: dict[str, Backend] = {}
_STATE = {"loaded": False}


def register_backend(name: str, *, aliases: tuple[str, ...] = (),
                     abilities: tuple[str, ...] = ("generate",)) -> Callable[[Callable[[ModelSpec], ModelAPI]],
                                                                              Callable[[ModelSpec], ModelAPI]]:
    def decorate(factory: Callable[[ModelSpec], ModelAPI]) -> Callable[[ModelSpec], ModelAPI]:
        backend = Backend(name, factory, tuple(aliases), frozenset(abilities))
        for key in (name, *aliases):
            if key in _BACKENDS and _BACKENDS[key].factory is not factory:
                raise ValueError(f"model backend {key!r} is registered twice")
            _BACKENDS[key] = backend
        return factory
    return decorate


def _load() -> None:
    if _STATE["loaded"]:
        return
    _STATE["loaded"] = True
    for module in BUILTIN_BACKENDS:
        importlib.import_module(module)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        point.load()


def get_backend(name: str) -> Backend:
    _load()
    if name not in _BACKENDS:
        known = sorted(_BACKENDS)
        raise ConfigError(f"eval_type {name!r} is not a model backend{did_you_mean(name, known)}; known: {', '.join(known)}")
    return _BACKENDS[name]


def backend_names() -> list[str]:
    _load()
    return sorted(_BACKENDS)


def create(spec: ModelSpec) -> ModelAPI:
    """A model for `spec`; construction checks settings only (a checkpoint loads on first use)."""
    return get_backend(spec.backend).factory(spec)


def can(spec_or_backend: ModelSpec | str, ability: str) -> bool:
    name = spec_or_backend.backend if isinstance(spec_or_backend, ModelSpec) else spec_or_backend
    return ability in get_backend(name).abilities


class ModelPool:
    """The run's models by role, each created on first use (inside the event loop that uses it)."""

    def __init__(self, specs: dict[str, ModelSpec]) -> None:
        unknown = set(specs) - set(ROLES)
        if unknown:
            raise ConfigError(f"model role {sorted(unknown)[0]!r} is unknown; roles: {', '.join(ROLES)}")
        self.specs = dict(specs)
        self._models: dict[str, ModelAPI] = {}

    def __contains__(self, role: str) -> bool:
        return role in self.specs

    def get(self, role: str) -> ModelAPI:
        if role not in self._models:
            if role not in self.specs:
                raise ConfigError(f"this run has no {role} model")
            self._models[role] = create(self.specs[role])
        return self._models[role]

    def created(self) -> dict[str, ModelAPI]:
        return dict(self._models)

    async def aclose(self) -> None:
        for model in self._models.values():
            await model.aclose()
