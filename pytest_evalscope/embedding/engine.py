"""A process's embedding work: its event loop, its encoder and reranker, and memoised per-subset state.

Items run on pytest's thread; the models are async and made on a loop thread of their own (as the chat
pipeline does), so a model's connections stay on one loop. Work shared by a subset's items (a corpus
encoded, classifiers fitted) is computed once per process (:meth:`memo`) and its embeddings once per
run (store.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from ..models.embedding import EncoderAPI, RerankerAPI, TextKind
from ..models.registry import ModelSpec, can, create
from ..params import ConfigError
from ..pipeline import stop_loop
from .store import cached_matrix, matrix_key

T = TypeVar("T")
CHUNK = 2048  # texts per stored matrix: the work an interruption can lose
ENGINE_KEY = pytest.StashKey["EmbedEngine"]()


class EmbedEngine:
    def __init__(self, spec: ModelSpec, run_dir: Path) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._models: dict[str, Any] = {}
        self._memo: dict[Any, Any] = {}
        self.encoded = {"texts": 0, "matrices_read": 0, "matrices_encoded": 0}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="evalscope-embed", daemon=True)
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def model(self, role: str, spec: ModelSpec) -> Any:
        """The model of `role` (``encoder``, ``reranker``), made on the loop on first use."""
        if role not in self._models:
            async def make() -> Any:
                return create(spec)
            self._models[role] = self.run(make())
        return self._models[role]

    def encoder(self) -> EncoderAPI:
        if not can(self.spec, "embed"):
            raise ConfigError(f"eval_type {self.spec.backend} cannot embed texts; use embedding or encoder")
        return self.model("encoder", self.spec)

    def reranker(self, spec: ModelSpec | None = None) -> RerankerAPI:
        spec = spec or self.spec
        if not can(spec, "rerank"):
            raise ConfigError(f"eval_type {spec.backend} cannot rerank; use rerank")
        return self.model(f"reranker:{spec.model}@{spec.api_url}", spec)

    def embed(self, texts: Sequence[str], kind: TextKind) -> np.ndarray:
        """`texts` embedded, from the run's store when any process of this run encoded them already. Texts
        go in chunks of CHUNK, each stored as soon as it is encoded: an interrupted run keeps every finished
        chunk, and resuming it (use_cache) encodes only the rest."""
        chunks = [self._chunk(list(texts[i: i + CHUNK]), kind) for i in range(0, len(texts), CHUNK)]
        return np.vstack(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)

    def _chunk(self, texts: list[str], kind: TextKind) -> np.ndarray:
        encoder = self.encoder()
        key = matrix_key(self.spec.backend, self.spec.model, self.spec.model_args, kind, texts)

        def compute() -> np.ndarray:
            matrix = self.run(encoder.embed(texts, kind=kind))
            if matrix.shape[0] != len(texts):
                from ..models.base import ModelError
                raise ModelError("malformed_reply", f"the encoder returned {matrix.shape[0]} rows for {len(texts)} texts")
            self.encoded["texts"] += len(texts)
            return matrix

        matrix, read = cached_matrix(self.run_dir, key, compute)
        self.encoded["matrices_read" if read else "matrices_encoded"] += 1
        return matrix

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """`compute()` once per process per key; a failure is not kept, so the next item tries again."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def stats(self) -> dict[str, Any]:
        figures: dict[str, Any] = dict(self.encoded)
        for role, model in self._models.items():
            if hasattr(model, "stats"):
                figures[role.split(":")[0]] = model.stats()
        return figures

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        stop_loop(loop, self._thread, self._models.values())
        self._loop = None


def engine_for(config: pytest.Config, spec: ModelSpec, run_dir: Path) -> EmbedEngine:
    engine = config.stash.get(ENGINE_KEY, None)
    if engine is None:
        store = run_dir
        if (getattr(config, "workerinput", None) or {}).get("evalscope_remote"):
            # a worker on another host must not touch the run folder (remote.py): its embeddings stay in a
            # folder of its own, shared by nothing, encoded again by each such worker
            import shutil
            import tempfile

            store = Path(tempfile.mkdtemp(prefix="evalscope-embeddings-"))
            config.add_cleanup(lambda: shutil.rmtree(store, ignore_errors=True))
        engine = config.stash[ENGINE_KEY] = EmbedEngine(spec, store)
        config.add_cleanup(engine.close)
    return engine
