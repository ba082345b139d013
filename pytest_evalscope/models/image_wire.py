"""Image references into request bodies: a ``file:`` image part (datasets/images.py) becomes the
``data:`` URI an OpenAI-compatible server takes, at the moment the request is built, so the bytes live
only as long as that request.

The file is read again and must still hold the bytes collection checked (same size and sha256): an
image replaced during the run would otherwise be answered under the fingerprint of the old one. A
file that changed or vanished is a ModelError of kind ``image_changed``, the sample's error, never a score.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ..datasets.images import file_path, sniff
from .base import ModelError

_REFERENCE_KEYS = ("sha256", "bytes")  # ours, not OpenAI's: left out of the wire form


def wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` as sent: image references inlined; messages without content parts returned as they are."""
    if all(isinstance(m.get("content"), str) for m in messages):
        return messages  # the text-only fast path: no copy
    return [{**m, "content": [_wire_part(p) for p in m["content"]]} if isinstance(m.get("content"), list) else m
            for m in messages]


def _wire_part(part: Any) -> Any:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return part
    ref = dict(part["image_url"])
    path = file_path(str(ref.get("url") or ""))
    if path is not None:
        ref["url"] = _data_uri(path, ref.get("sha256"), ref.get("bytes"))
    for key in _REFERENCE_KEYS:
        ref.pop(key, None)
    return {**part, "image_url": ref}


def _data_uri(path: Any, sha256: str | None, size: int | None) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError("image_changed", f"image {str(path)!r} cannot be read any more ({exc.strerror or exc})") from None
    if (size is not None and len(data) != size) or (sha256 and hashlib.sha256(data).hexdigest() != sha256):
        raise ModelError("image_changed", f"image {str(path)!r} changed since the run read it; rerun to ask with the new image")
    mime = sniff(data[:16]) or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
