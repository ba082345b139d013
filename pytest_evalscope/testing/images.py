"""Images as the loopback test server sees them: each ``image_url`` part checked and turned into a tag
naming the exact bytes, which is what an oracle key holds in its place."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from ..datasets.images import sniff

__all__ = ["BadImage", "image_tag", "image_text"]


def image_tag(data: bytes) -> str:
    """How an image stands in the prompt text the oracle matches: the sha256 of its bytes, so an oracle key
    names the exact image and a reply depends on which image arrived (a damaged one matches nothing)."""
    return f"<image sha256:{hashlib.sha256(data).hexdigest()}>"


class BadImage(Exception):
    """An image part the server refuses with 400."""


_DATA_URI = re.compile(r"^data:(image/[A-Za-z0-9.+-]+);base64,")


def image_text(part: dict[str, Any]) -> str:
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, dict) else None
    if not isinstance(url, str):
        raise BadImage("an image_url part needs image_url.url")
    if url.startswith(("http://", "https://")):
        return f"<image url:{url}>"  # never fetched: tests run offline
    match = _DATA_URI.match(url)
    if match is None:
        raise BadImage(f"image_url.url must be a data:image/...;base64 URI or an http(s) URL, got {url[:40]!r}")
    try:
        data = base64.b64decode(url[match.end():], validate=True)
    except ValueError:
        raise BadImage("image data is not valid base64") from None
    if sniff(data[:16]) != match.group(1).lower():
        raise BadImage(f"the image bytes are not the {match.group(1)} the data URI declares")
    return image_tag(data)
