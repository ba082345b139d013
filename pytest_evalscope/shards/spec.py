"""What a shard is: part I of N of one run's selection, and what makes parts belong to one run.

**The split.** The selection (after `-k`, `--deselect`, `--lf`, `datasets`) is cut into N contiguous
blocks of sample groups, balanced by item count. A group is a sample with all its repeats, so pass@k
and vote@k see every attempt of a sample in one place; blocks are contiguous, so the samples of a
subset (which share its few-shot context, and so a server's prefix cache) sit in one or two parts,
where a hash split would scatter every subset over every part. The cut depends only on the ordered
list of collected items, which every process of every shard collects identically, so it does not
depend on `-n`, on the machine or on timing. Items that are not samples (a project's own tests) go to
part 1, so every item runs in exactly one part.

**The run's identity.** :func:`identity` keeps the settings that shape what a run scores and gates
(model, generation, data, limits, thresholds, judge); it leaves out where outputs go, how requests
travel (api_url, eval_batch_size, timeouts, headers) and the shard itself, since parts may run on
different machines against different endpoints. Its hash names the run when `run_id` is not given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from typing import Any

# settings that differ between the parts of one run without changing its results
_PER_PART = frozenset({
    "shard", "run_id", "shard_gates", "use_cache", "work_dir", "no_timestamp", "api_key", "api_url",
    "eval_batch_size", "judge_worker_num", "debug", "judge_cache", "dataset_dir", "sandbox_isolation", "compare_md",
})
_MODEL_TRANSPORT = frozenset({"timeout", "max_retries", "default_headers", "http_client", "device", "device_map",
                              "num_threads"})
_GENERATION_TRANSPORT = frozenset({"stream", "timeout", "batch_size", "stream_options", "max_retries"})
_JUDGE_TRANSPORT = frozenset({"api_url", "api_key", "timeout", "max_retries", "default_headers"})


def parse_spec(text: str) -> tuple[int, int]:
    """(part, count) of a normalized `I/N` (params.parse_shard checked it)."""
    part, _, count = text.partition("/")
    return int(part), int(count)


def assign_parts(groups: Sequence[Hashable | None], count: int) -> list[int]:
    """The part (1..count) of each item, given each item's group (None: not a sample, part 1).

    Groups take the place of their first item; a group goes to the part in which its first item falls
    when the sample items are laid out evenly over `count` parts."""
    sizes: dict[Hashable, int] = {}
    for group in groups:
        if group is not None:
            sizes[group] = sizes.get(group, 0) + 1
    total = sum(sizes.values())
    part_of: dict[Hashable, int] = {}
    before = 0
    for group, size in sizes.items():
        part_of[group] = 1 + before * count // total
        before += size
    return [1 if group is None else part_of[group] for group in groups]


def selection_hash(nodeids: Sequence[str]) -> str:
    """A fingerprint of the whole selection, in order: parts that selected other items cannot merge."""
    digest = hashlib.sha256()
    for nodeid in nodeids:
        digest.update(nodeid.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()[:16]


def identity(task: dict[str, Any]) -> dict[str, Any]:
    """The settings of a run (TaskConfig.to_dict(redact=True)) that all its parts must share."""
    from ..params import PARAMS_BY_NAME

    kept = {k: v for k, v in task.items() if k in PARAMS_BY_NAME and k not in _PER_PART}
    kept["model_args"] = {k: v for k, v in (kept.get("model_args") or {}).items() if k not in _MODEL_TRANSPORT}
    kept["generation_config"] = {k: v for k, v in (kept.get("generation_config") or {}).items()
                                 if k not in _GENERATION_TRANSPORT}
    kept["judge_model_args"] = {k: v for k, v in (kept.get("judge_model_args") or {}).items()
                                if k not in _JUDGE_TRANSPORT}
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def identity_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def default_run_id(settings: dict[str, Any]) -> str:
    return f"cfg-{identity_hash(settings)[:12]}"


def first_difference(a: dict[str, Any], b: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """The first (dotted name, value in a, value in b) where two identities differ, or None."""
    flat_a, flat_b = _flatten(a), _flatten(b)
    for name in sorted(set(flat_a) | set(flat_b)):
        if flat_a.get(name) != flat_b.get(name):
            return name, flat_a.get(name), flat_b.get(name)
    return None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):  # an empty mapping adds no name: {} and an absent key are the same setting
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}
