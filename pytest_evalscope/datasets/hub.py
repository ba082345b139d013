"""Loading a split from a dataset hub (Hugging Face through `datasets`, ModelScope through `modelscope`),
or from local files when the dataset id is a path or the hub is `local`.

Hub SDKs are imported only when a hub is used. When a hub cannot be reached, one error names the
dataset, the hub and how to point at local files instead.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .local import DatasetError, read_records


@dataclass(frozen=True)
class DatasetSource:
    """Where a benchmark's data comes from: hub ids per hub, or a local path."""

    benchmark: str
    dataset_id: str  # hub id or local path (EvalScope's dataset_id / local_path)
    hf_id: str | None = None  # the Hugging Face id when it differs from dataset_id
    hub: str | None = None
    cache_dir: str | None = None
    local: bool = False  # given as local_path: never looked up on a hub
    revision: str | None = None  # dataset_revision: a hub branch, tag or commit
    force_redownload: bool = False  # fetch again even when the hub cache holds it


def resolve_hub(requested: str | None) -> str:
    if requested:
        return requested
    return "modelscope" if importlib.util.find_spec("modelscope") else "huggingface"


def load_split(source: DatasetSource, subset: str, split: str) -> list[dict[str, Any]]:
    path = Path(source.dataset_id).expanduser()
    hub = resolve_hub(source.hub)
    if path.exists() or hub == "local" or source.local:
        for name, given in (("dataset_revision", source.revision), ("force_redownload", source.force_redownload)):
            if given:
                raise DatasetError(f"{source.benchmark}: {name} applies to hub datasets, and {source.dataset_id!r} "
                                   "is read from local files; leave it out")
    if path.exists():
        return read_records(path, subset, split)
    if hub == "local" or source.local:
        raise DatasetError(f"{source.benchmark}: local dataset path {source.dataset_id!r} does not exist")
    if hub == "huggingface":
        return _load_huggingface(source, subset, split)
    return _load_modelscope(source, subset, split)


def _hint(source: DatasetSource) -> str:
    return (
        f"to use local files, pass --evalscope-dataset-args "
        f"'{{\"{source.benchmark}\": {{\"local_path\": \"/path/to/{source.benchmark}\"}}}}'"
    )


def _failure(source: DatasetSource, hub_id: str, hub: str, subset: str, split: str, exc: BaseException) -> DatasetError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return DatasetError(
        f"{source.benchmark}: cannot load {hub_id!r} ({subset}/{split}) from {hub}: {reason}; {_hint(source)}"
    )


def _load_huggingface(source: DatasetSource, subset: str, split: str) -> list[dict[str, Any]]:
    hub_id = source.hf_id or source.dataset_id
    try:
        import datasets
    except ImportError:
        raise DatasetError(
            f"{source.benchmark}: loading {hub_id!r} from huggingface needs the datasets package "
            f"(pip install 'pytest-evalscope[hub]'); {_hint(source)}"
        ) from None
    try:
        loaded = datasets.load_dataset(hub_id, subset, split=split, cache_dir=source.cache_dir, revision=source.revision,
                                       download_mode="force_redownload" if source.force_redownload else None)
    except Exception as exc:  # network, auth and schema failures all arrive as different types
        raise _failure(source, hub_id, "huggingface", subset, split, exc) from None
    return [dict(row) for row in loaded]


def _load_modelscope(source: DatasetSource, subset: str, split: str) -> list[dict[str, Any]]:
    try:
        from modelscope import MsDataset
    except ImportError:
        raise DatasetError(
            f"{source.benchmark}: dataset_hub modelscope needs the modelscope package; "
            f"use --evalscope-dataset-hub=huggingface or {_hint(source)}"
        ) from None
    try:
        options: dict[str, Any] = {"download_mode": "force_redownload"} if source.force_redownload else {}
        if source.revision:
            options["version"] = source.revision
        loaded = MsDataset.load(source.dataset_id, subset_name=subset, split=split, cache_dir=source.cache_dir, **options)
    except Exception as exc:
        raise _failure(source, source.dataset_id, "modelscope", subset, split, exc) from None
    return [dict(row) for row in loaded]
