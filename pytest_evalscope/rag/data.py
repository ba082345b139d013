"""EvalScope's RAGAS input files: one row per RAG interaction, as a JSON array or JSON Lines.

Each row holds ``user_input`` (the question), ``response`` (the RAG system's answer),
``retrieved_contexts`` (a list of passages) and ``reference`` (the ground-truth answer), or the keys
RAGAS used before 0.2 and EvalScope still reads: ``question``, ``answer``, ``contexts`` and
``ground_truth`` (``ground_truths``, a list, is joined). A row that mixes both namings takes the current
key, as EvalScope's loader does. A metric's required fields must be present and non-empty in every row:
a missing reference is a data error named with the row, not a NaN in the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets.local import DatasetError

# current key -> the legacy keys read in its place
KEYS = {"user_input": ("question",), "response": ("answer",), "retrieved_contexts": ("contexts",),
        "reference": ("ground_truth", "ground_truths")}


@dataclass(frozen=True)
class RagRow:
    user_input: str
    response: str
    retrieved_contexts: tuple[str, ...]
    reference: str | None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The file's raw rows (a JSON array, one JSON object, or JSON Lines), or a one-line DatasetError."""
    if path.is_dir():
        raise DatasetError(f"{path}: a folder; testset_file / dataset_id must name the RAGAS JSON or JSONL file itself")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (the RAGAS input: a JSON array of rows with user_input, "
                           "response, retrieved_contexts and reference)")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise DatasetError(f"{path} line {number}: not JSON ({exc})") from None
        return rows
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DatasetError(f"{path}: not JSON ({exc}); expected an array of rows with user_input, response, "
                           "retrieved_contexts and reference") from None
    return data if isinstance(data, list) else [data]


def to_row(raw: Any, where: str, needs: tuple[str, ...]) -> RagRow:
    """One row read by current or legacy keys; `needs` are the fields the requested metrics use."""
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: expected an object with user_input, response, retrieved_contexts, reference; "
                           f"got {type(raw).__name__}")
    values = {key: _pick(raw, key) for key in KEYS}
    contexts = values["retrieved_contexts"]
    if contexts is None:
        contexts = []
    elif isinstance(contexts, str):
        contexts = [contexts]
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        raise DatasetError(f"{where}: retrieved_contexts must be a list of strings")
    reference = values["reference"]
    if isinstance(reference, list):
        reference = " ".join(str(r) for r in reference)
    row = RagRow(_text(values["user_input"], where, "user_input"), _text(values["response"], where, "response"),
                 tuple(contexts), None if reference is None else str(reference))
    for field in needs:
        if not getattr(row, field):
            legacy = " or ".join(KEYS[field])
            raise DatasetError(f"{where}: {field} (or {legacy}) is missing or empty, and the metrics asked for need it")
    return row


def _pick(raw: dict[str, Any], key: str) -> Any:
    if raw.get(key) is not None:
        return raw[key]
    return next((raw[old] for old in KEYS[key] if raw.get(old) is not None), None)


def _text(value: Any, where: str, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)):
        raise DatasetError(f"{where}: {field} must be a string, got {type(value).__name__}")
    return str(value)
