"""A small deterministic EncoderAPI for tests: hashed bag of words, the same vector in every process.

Each lower-cased word (letters and digits) adds +1 or -1 (by a CRC32 bit) to one of :data:`DIM` slots
(by another CRC32 of the word). Texts with the same words get the same vector (cosine 1), texts sharing
no word are nearly orthogonal; an empty text is the zero vector. Used by ``provider: python`` with
``model_name_or_path: "pytest_evalscope.testing.rag_encoder:HashingEncoder"``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from ..models.embedding import EncoderAPI, TextKind

DIM = 256
_WORD = re.compile(r"[0-9a-z]+")


def vector(text: str) -> np.ndarray:
    out = np.zeros(DIM, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        code = zlib.crc32(word.encode("utf-8"))
        out[code % DIM] += 1.0 if (code >> 16) & 1 else -1.0
    return out


class HashingEncoder(EncoderAPI):
    name = "hashing-bow"

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str]] = []  # what was embedded, for tests that check it

    async def embed(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        self.calls.append((tuple(texts), kind))
        return np.stack([vector(t) for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)
