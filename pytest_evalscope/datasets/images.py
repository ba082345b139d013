"""Images named by a dataset: resolved, checked and turned into OpenAI ``image_url`` message parts at
collection, before any request.

A record names an image three ways, as in EvalScope's image benchmarks:

- a local path, relative to the image root (the data folder unless ``extra_params.image_root`` says
  otherwise). It must exist, be readable, start with an image format's magic bytes (PNG, JPEG, GIF,
  WebP, BMP, TIFF) and, symbolic links resolved, lie under the root. Its part holds a *reference*,
  ``{"url": "file:///abs/dog.jpg", "detail": "auto", "sha256": ..., "bytes": ...}``, never the bytes:
  the model backend reads the file into a ``data:`` URI when it sends the request
  (models/image_wire.py). The hash puts the image's content in the reply journal's fingerprint, so a
  changed image is asked again, and the records and report page stay small.
- a ``data:image/...;base64,`` URI: decoded and checked the same way, sent as it is.
- an ``http(s)://`` URL: passed through as a URL, never fetched here; the server fetches it.

Size guard: ``max_image_bytes`` bounds each image (decoded bytes) and ``max_request_image_bytes`` the
images of one request together. Every refusal is one DatasetError line naming the record, the image
and the limit or the problem.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..params import ConfigError
from .local import DatasetError

# OpenAI's documented per-image limit; a request's images together stay under 50 MB of JSON once base64
# has made them 4/3 as large.
DEFAULT_MAX_IMAGE_BYTES = 20 * 2**20
DEFAULT_MAX_REQUEST_IMAGE_BYTES = 36 * 2**20
MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
         (b"GIF89a", "image/gif"), (b"BM", "image/bmp"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 2**10, "mb": 2**20, "gb": 2**30, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_DATA_URI = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*),", re.IGNORECASE)


def sniff(head: bytes) -> str | None:
    """The image MIME type its first bytes announce, or None when they are no image format's."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in MAGIC if head.startswith(magic)), None)


def parse_size(value: Any, where: str) -> int:
    """A byte count: an integer, or EvalScope's strings such as '5mb', '500kb', '1.5gb' (binary units)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"{where}: expected a positive byte count such as 20971520 or '20mb', got {value!r}")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def show_size(count: int) -> str:
    return f"{count} bytes" if count < 2**10 else f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.1f} KiB"


@dataclass(frozen=True)
class ImageLimits:
    per_image: int = DEFAULT_MAX_IMAGE_BYTES
    per_request: int = DEFAULT_MAX_REQUEST_IMAGE_BYTES


class ImageResolver:
    """Turns a record's image values into message parts, confined to `root` and within `limits`."""

    def __init__(self, root: Path, limits: ImageLimits, setting: str) -> None:
        self.root = Path(os.path.realpath(root))
        self.limits = limits
        self.setting = setting  # where the limits are set, for the messages: dataset_args.general_vqa
        self._files: dict[tuple[str, int, int], tuple[str, int]] = {}  # (path, size, mtime) -> (sha256, bytes)

    def part(self, value: Any, where: str, detail: str | None = None) -> dict[str, Any]:
        """The ``image_url`` part for one image value (path, data URI or http(s) URL)."""
        if not isinstance(value, str) or not value.strip():
            raise DatasetError(f"{where}: an image must be a path, a data: URI or an http(s) URL, got {value!r}")
        shown = value if len(value) <= 80 else value[:60] + "..."
        if value.startswith(("http://", "https://")):
            return _image_part({"url": value}, detail)  # the server fetches it; nothing is downloaded here
        if value[:5].lower() == "data:":
            return _image_part({"url": value, **self._data_uri(value, f"{where}: image {shown!r}")}, detail)
        return _image_part(self._file(value, f"{where}: image {value!r}"), detail)

    def _data_uri(self, value: str, where: str) -> dict[str, Any]:
        match = _DATA_URI.match(value)
        if match is None or ";base64" not in match.group(2).lower():
            raise DatasetError(f"{where}: not a base64 data URI; expected data:image/<type>;base64,<data>")
        try:
            data = base64.b64decode(value[match.end():], validate=True)
        except (binascii.Error, ValueError):
            raise DatasetError(f"{where}: its base64 data does not decode") from None
        self._check_bytes(data[:16], len(data), where)
        declared, found = match.group(1).lower(), sniff(data[:16])
        if declared != found and not (declared == "image/jpg" and found == "image/jpeg"):
            raise DatasetError(f"{where}: declares {declared or 'no type'} but its bytes are {found}; servers trust the "
                               "declared type, so fix the URI's type")
        return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    def _file(self, value: str, where: str) -> dict[str, Any]:
        given = Path(os.path.expanduser(value))
        path = Path(os.path.realpath(given if given.is_absolute() else self.root / given))
        if path != self.root and self.root not in path.parents:
            raise DatasetError(f"{where}: resolves outside the image root {str(self.root)!r}; images must lie under "
                               f"it (set {self.setting}.extra_params.image_root to the folder they are in)")
        try:
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in self._files:
                with path.open("rb") as handle:
                    data = handle.read(self.limits.per_image + 1)
                self._check_bytes(data[:16], max(len(data), stat.st_size), where)
                self._files[key] = (hashlib.sha256(data).hexdigest(), len(data))
        except FileNotFoundError:
            raise DatasetError(f"{where}: no such file {str(path)!r}{self._hint(value)}") from None
        except IsADirectoryError:
            raise DatasetError(f"{where}: {str(path)!r} is a folder, not an image file") from None
        except OSError as exc:
            raise DatasetError(f"{where}: cannot be read ({exc.strerror or exc})") from None
        digest, size = self._files[key]
        return {"url": path.as_uri(), "sha256": digest, "bytes": size}

    def _check_bytes(self, head: bytes, size: int, where: str) -> None:
        if size > self.limits.per_image:
            raise DatasetError(f"{where}: {show_size(size)} is over the per-image limit of "
                               f"{show_size(self.limits.per_image)} ({self.setting}.max_image_bytes)")
        if sniff(head) is None:
            raise DatasetError(f"{where}: not an image (its first bytes are no PNG, JPEG, GIF, WebP, BMP or TIFF "
                               "signature)")

    def _hint(self, value: str) -> str:
        """Where a relative path does resolve, when it is not under the root: EvalScope opens relative paths
        from the working directory, so data written for it often names them from a folder above the data."""
        if Path(value).is_absolute():
            return ""
        for folder in (Path.cwd(), *self.root.parents):
            if (folder / value).is_file():
                return f"; it exists under {str(folder)!r}: set {self.setting}.extra_params.image_root to that folder"
        return ""

    def check_request(self, messages: list[dict[str, Any]], where: str) -> None:
        """The images of one request together within the per-request limit."""
        total = sum(int(part["image_url"].get("bytes") or 0) for part in image_parts(messages))
        if total > self.limits.per_request:
            raise DatasetError(f"{where}: its images total {show_size(total)}, over the per-request limit of "
                               f"{show_size(self.limits.per_request)} ({self.setting}.extra_params.max_request_image_bytes)")


def _image_part(image_url: dict[str, Any], detail: str | None) -> dict[str, Any]:
    # EvalScope sends detail "auto" with every image; the order url, detail matches its request bodies
    return {"type": "image_url", "image_url": {"url": image_url.pop("url"), "detail": detail or "auto", **image_url}}


def image_parts(messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            yield from (p for p in content if isinstance(p, dict) and p.get("type") == "image_url")


def has_images(messages: list[dict[str, Any]]) -> bool:
    return next(image_parts(messages), None) is not None


def file_path(url: str) -> Path | None:
    """The local path of a ``file:`` reference, else None."""
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def describe(part: dict[str, Any]) -> str:
    """A short note standing for an image part in text views (the report page, comparisons): the file's
    name, size and hash, or the URL; never the base64 data. EvalScope's own records
    (``{"type": "image", "image": ...}``) are described too."""
    ref = part.get("image_url") if isinstance(part.get("image_url"), dict) else {"url": part.get("image")}
    url = str(ref.get("url") or "")
    path = file_path(url)
    if url[:5].lower() == "data:":
        size = ref.get("bytes") or len(url.partition(",")[2]) * 3 // 4
        name = url.partition(";")[0] or "data:"
    elif path is not None:
        size, name = ref.get("bytes"), path.name
    else:
        return f"[image {url[:200]}]"
    digest = f", sha256 {ref['sha256'][:12]}" if ref.get("sha256") else ""
    return f"[image {name}{', ' + show_size(int(size)) if size else ''}{digest}]"


def content_text(content: Any) -> str:
    """A message content as text: a string as it is; content parts joined, each image as its short note."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else str(content)
    pieces: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            pieces.append(str(part.get("text", "")))
        elif part.get("type") in ("image_url", "image"):
            gap = "\n" if pieces and pieces[-1] and not pieces[-1][-1].isspace() else ""
            pieces.append(gap + describe(part))
    return "".join(pieces)
