"""What EvalScope's image benchmarks share (its VisionLanguageAdapter): data files found as EvalScope's
local loader finds them, media columns, ``<image N>`` placeholders, and the image settings.

- Files: in the data folder (``local_path``), ``{subset}_{split}`` then ``{subset}``, each tried as
  .jsonl, .csv, .tsv, .parquet and .json, in that order (EvalScope's order, .json added).
- Media columns: ``image_1`` ... ``image_100``, else an ``images`` list; a value is a path, a ``data:``
  URI, an http(s) URL, or (parquet) ``{"path": ...}`` / ``{"bytes": ...}``.
- ``<image N>`` (or ``<image_N>``) in a text is replaced by image N, the text around it kept as text
  parts (whitespace-only pieces dropped, as EvalScope does). A placeholder without its image, and video
  or audio placeholders, are errors here: EvalScope drops the former with a warning and sends the latter,
  neither of which an OpenAI image endpoint can answer as the data meant.
- Settings: ``max_image_bytes`` (dataset_args, EvalScope's key; an integer or '5mb'), and in
  ``extra_params`` ``max_request_image_bytes`` and ``image_root`` (where relative image paths start, and
  which images may not leave; default: the data folder). EvalScope recompresses images over
  ``max_image_bytes``; here they are refused, since a recompressed image is not the one the data names.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, ClassVar

from ..datasets.images import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_REQUEST_IMAGE_BYTES,
    ImageLimits,
    ImageResolver,
    parse_size,
    sniff,
)
from ..datasets.local import DatasetError, read_file
from ..params import ConfigError
from .base import Benchmark, Sample

MEDIA_PLACEHOLDER = re.compile(r"<(image|video|audio)[_ ](\d+)>")
MAX_IMAGES = 100  # image_1 .. image_100, as EvalScope
DATA_SUFFIXES = (".jsonl", ".csv", ".tsv", ".parquet", ".json")


class VisionBenchmark(Benchmark):
    sends_images: ClassVar[bool] = True
    own_arg_keys: ClassVar[tuple[str, ...]] = ("max_image_bytes",)
    image_params: ClassVar[dict[str, Any]] = {"image_root": None, "max_request_image_bytes": DEFAULT_MAX_REQUEST_IMAGE_BYTES}

    def _apply_args(self) -> None:
        super()._apply_args()
        where = f"dataset_args.{self.name}"
        per_image = parse_size(self.args.get("max_image_bytes", DEFAULT_MAX_IMAGE_BYTES), f"{where}.max_image_bytes")
        per_request = parse_size(self.extra["max_request_image_bytes"], f"{where}.extra_params.max_request_image_bytes")
        self.image_limits = ImageLimits(per_image, per_request)
        root = self.extra["image_root"]
        if root is not None and (not isinstance(root, str) or not root.strip()):
            raise ConfigError(f"{where}.extra_params.image_root: expected a folder path, got {root!r}")
        self._resolver: ImageResolver | None = None

    @property
    def resolver(self) -> ImageResolver:
        if self._resolver is None:
            data = Path(self.dataset_id).expanduser()
            root = Path(self.extra["image_root"]).expanduser() if self.extra["image_root"] else \
                (data.parent if data.is_file() else data)
            if not root.is_dir():
                raise DatasetError(f"{self.name}: image root {str(root)!r} is not a folder; set "
                                   f"dataset_args.{self.name}.extra_params.image_root to the folder the image paths start from")
            self._resolver = ImageResolver(root, self.image_limits, f"dataset_args.{self.name}")
        return self._resolver

    # ------------------------------------------------------------ data

    def data_file(self, subset: str, split: str) -> Path:
        root = Path(self.dataset_id).expanduser()
        if root.is_file():
            return root
        if not root.is_dir():
            raise DatasetError(f"{self.name}: dataset folder {self.dataset_id!r} does not exist; {self.name} reads your "
                               f"own files: set dataset_args local_path to the folder holding {subset}.jsonl (or .tsv)")
        for suffix in DATA_SUFFIXES:
            for stem in (f"{subset}_{split}", subset):
                if (root / f"{stem}{suffix}").is_file():
                    return root / f"{stem}{suffix}"
        raise DatasetError(f"{self.name}: no file for subset {subset!r} in {str(root)!r}: expected {subset}_{split}.jsonl "
                           f"or {subset}.jsonl (or .csv, .tsv, .parquet, .json)")

    def load_records(self, subset: str, split: str) -> list[dict[str, Any]]:
        path = self.data_file(subset, split)
        records = read_file(path)
        if not records:
            raise DatasetError(f"{path}: no records")
        for number, record in enumerate(records):
            problem = self.record_problem(record)
            if problem:
                raise DatasetError(f"{path}: record {number}: {problem}")
        return records

    def record_problem(self, record: dict[str, Any]) -> str | None:
        """What is wrong with a record's fields (images are checked when the sample is made), or None."""
        return None

    def where(self, subset: str, index: int) -> str:
        return f"{self.data_file(subset, self.eval_split)}: record {index}"

    def load_samples(self, subset: str, limit: int | float | None, repeats: int) -> list[Sample]:
        samples = super().load_samples(subset, limit, repeats)
        for sample in samples:  # the size guard for whole requests, before any is sent
            if sample.repeat:
                continue
            try:
                messages = self.build_messages(sample, [])
            except (KeyError, IndexError) as exc:  # a template naming a field that does not exist
                raise ConfigError(f"dataset_args for {self.name}: a prompt template does not fit ({type(exc).__name__}: "
                                  f"{exc}); its fields are {', '.join(self.prompt_fields(sample))}") from None
            self.resolver.check_request(messages, self.where(subset, sample.index))
        return samples

    # ------------------------------------------------------------ media

    def media_map(self, record: dict[str, Any], where: str, wanted: set[int] | None = None) -> dict[int, dict[str, Any]]:
        """Image number -> image part, from the image_N columns, else the images list (only the `wanted`
        numbers, when given: EvalScope reads only the images a text refers to)."""
        values = {n: record[f"image_{n}"] for n in range(1, MAX_IMAGES + 1)
                  if record.get(f"image_{n}") not in (None, "")}
        if not values and record.get("images"):
            listed = record["images"]
            if not isinstance(listed, list):
                raise DatasetError(f"{where}: 'images' must be a list of images, got {type(listed).__name__}")
            values = {n: value for n, value in enumerate(listed, 1) if value not in (None, "")}
        if wanted is not None:
            values = {n: value for n, value in values.items() if n in wanted}
        return {n: self.resolver.part(_media_value(value, f"{where}: image {n}"), f"{where}: image_{n}")
                for n, value in values.items()}

    def parts_with_media(self, text: str, images: dict[int, dict[str, Any]], where: str) -> list[dict[str, Any]]:
        """`text` as content parts, each ``<image N>`` replaced by image N."""
        parts: list[dict[str, Any]] = []
        last = 0
        for match in MEDIA_PLACEHOLDER.finditer(text):
            kind, number = match.group(1), int(match.group(2))
            if kind != "image":
                raise DatasetError(f"{where}: {match.group(0)} asks for a {kind}; {self.name} sends images only")
            if number not in images:
                raise DatasetError(f"{where}: {match.group(0)} has no image (no image_{number} column, nor an "
                                   f"images list with {number} entries)")
            _text_part(parts, text[last:match.start()])
            parts.append(images[number])
            last = match.end()
        _text_part(parts, text[last:])
        return parts


def _text_part(parts: list[dict[str, Any]], text: str) -> None:
    if text.strip():
        parts.append({"type": "text", "text": text})


def _media_value(value: Any, where: str) -> Any:
    """A media cell as a string: Hugging Face's undecoded image dicts give their path or their bytes."""
    if isinstance(value, dict):
        if isinstance(value.get("bytes"), (bytes, bytearray)):
            mime = sniff(bytes(value["bytes"][:16])) or "application/octet-stream"  # refused as no image later
            return f"data:{mime};base64," + base64.b64encode(value["bytes"]).decode("ascii")
        for key in ("path", "url", "data", "image"):
            if isinstance(value.get(key), str):
                return value[key]
        raise DatasetError(f"{where}: an image dict needs 'path', 'bytes' or 'url', got keys {sorted(value)}")
    return value
