"""Embeddings kept under the run's ``.cache/embeddings/``, so a corpus is encoded once per run (in chunks,
engine.py, so an interrupted run keeps what it finished).

A matrix is named by the sha256 of what decides it (backend, model, the model_args that change vectors,
the text kind and every text). The first process to need it takes an exclusive lock on
``<name>.lock``, encodes, writes ``<name>.npy`` through a temporary file and ``os.replace``; other
xdist workers wait on the lock and read the file, and a resumed run (``use_cache``) reads it too. Every
process thus ranks against the very same float32 bytes, which keeps ``-n 0`` and ``-n N`` identical.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import CACHE_DIR

# model_args that change how texts travel, not the vectors that come back
TRANSPORT_KEYS = {"batch_size", "concurrency", "timeout", "max_retries", "default_headers", "num_threads"}


def matrix_key(backend: str | None, model: str | None, model_args: dict[str, Any], kind: str, texts: Sequence[str]) -> str:
    settings = {k: v for k, v in model_args.items() if k not in TRANSPORT_KEYS}
    digest = hashlib.sha256(json.dumps([backend, model, settings, kind], sort_keys=True, default=str).encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8"))
    return digest.hexdigest()[:40]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_matrix(run_dir: Path, key: str, compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """The matrix stored under `key`, computed (and stored) by the first process that asks.
    Returns (matrix, whether it was read from the store)."""
    folder = run_dir / CACHE_DIR / "embeddings"
    target = folder / f"{key}.npy"
    with _locked(folder / f"{key}.lock"):
        if target.is_file():
            try:
                return np.load(target, allow_pickle=False), True
            except (OSError, ValueError):  # a torn file from a killed run: encode again
                target.unlink(missing_ok=True)
        matrix = np.ascontiguousarray(compute(), dtype=np.float32)
        temp = folder / f".{key}.{os.getpid()}.tmp.npy"
        np.save(temp, matrix, allow_pickle=False)
        os.replace(temp, target)
        return matrix, False
