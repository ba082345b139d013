"""Reading benchmark records from local files in the hub schema: jsonl, json, csv (each also gzipped,
as HumanEval ships), parquet, and tsv (EvalScope's image benchmarks).

A local dataset folder holds one file per split, either directly (`test.jsonl`) or in a folder per
subset (`main/test.jsonl`), in any of the supported formats; Hugging Face's parquet shards
(`main/test-00000-of-00001.parquet`) work as they are. Errors name the file and line.
"""

from __future__ import annotations

import csv
import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from ..params import ConfigError

FORMATS = (".jsonl", ".json", ".csv", ".parquet", ".jsonl.gz", ".json.gz", ".csv.gz", ".tsv")


class DatasetError(ConfigError):
    """A dataset cannot be found or read; the message names the file and what is wrong."""


def find_split_files(root: Path, subset: str, split: str) -> list[Path]:
    """The files that hold `split` of `subset` under `root`; the subset folder is preferred."""
    if root.is_file():
        return [root]
    for folder in (root / subset, root / "data" / subset, root, root / "data"):
        if not folder.is_dir():
            continue
        for suffix in FORMATS:
            exact = folder / f"{split}{suffix}"
            if exact.is_file():
                return [exact]
            shards = sorted(folder.glob(f"{split}-*{suffix}"))
            if shards:
                return shards
    return []


def read_records(root: Path, subset: str, split: str) -> list[dict[str, Any]]:
    files = find_split_files(root, subset, split)
    if not files:
        shown = ", ".join(f"{split}{s}" for s in FORMATS)
        raise DatasetError(f"no {split!r} split under {str(root)!r}: expected one of {shown} (or in a {subset}/ folder)")
    records: list[dict[str, Any]] = []
    for file in files:
        records.extend(_read_cached(str(file), file.stat().st_mtime_ns))
    return records


@lru_cache(maxsize=64)
def _read_cached(path: str, mtime_ns: int) -> tuple[dict[str, Any], ...]:
    # Collection reads each file once per process, however many suites use it.
    return tuple(read_file(Path(path)))


def _open(path: Path) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def read_file(path: Path) -> list[dict[str, Any]]:
    gz = path.suffix.lower() == ".gz"
    suffix = Path(path.stem).suffix.lower() if gz else path.suffix.lower()
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv, ".tsv": _read_tsv}
    if suffix in readers:
        try:
            return readers[suffix](path)
        except (OSError, EOFError, UnicodeDecodeError) as exc:  # gzip.BadGzipFile is an OSError
            raise DatasetError(f"{path}: cannot be read ({exc})") from None
    if suffix == ".parquet" and not gz:
        return _read_parquet(path)
    raise DatasetError(f"{path}: unsupported format {suffix!r}; expected one of {', '.join(FORMATS)}")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    with _open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            except RecursionError:
                raise DatasetError(f"{path}:{number}: nested too deeply to be a record") from None
            if not isinstance(record, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object per line, got {type(record).__name__}")
            if "\\u" in line:  # only an escape can hold a lone surrogate; raw UTF-8 cannot
                _check_unicode(record, f"{path}:{number}")
            records.append(record)
    if not records:
        raise DatasetError(f"{path}: holds no records (the file is empty)")
    return records


def _read_json(path: Path) -> list[dict[str, Any]]:
    try:
        with _open(path) as handle:
            text = handle.read()
        data = json.loads(text)
    except ValueError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise DatasetError(f"{path}: nested too deeply to be a dataset") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DatasetError(f"{path}: expected a JSON list of objects (or {{\"data\": [...]}})")
    if not data:
        raise DatasetError(f"{path}: holds no records (an empty list)")
    if "\\u" in text:
        for number, record in enumerate(data):
            _check_unicode(record, f"{path}: record {number}")
    return data


def _check_unicode(record: dict[str, Any], where: str) -> None:
    """A lone surrogate (an escape such as \\ud800 without its pair) is not Unicode: no output file could hold it."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DatasetError(f"{where}: holds a lone surrogate {exc.object[exc.start]!r}, which is not valid Unicode; "
                           "fix the record's text") from None


def _read_tsv(path: Path) -> list[dict[str, Any]]:
    return _read_csv(path, "\t")  # EvalScope's image benchmarks read .tsv: csv with tabs


def _read_csv(path: Path, delimiter: str = ",") -> list[dict[str, Any]]:
    with _open(path) as handle:
        try:
            rows = [dict(row) for row in csv.DictReader(handle, delimiter=delimiter)]
        except csv.Error as exc:
            raise DatasetError(f"{path}: not valid {'CSV' if delimiter == ',' else 'TSV'} ({exc})") from None
    if not rows:
        raise DatasetError(f"{path}: holds no records (no rows under the header)")
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(f"{path}: reading parquet needs pyarrow (pip install 'pytest-evalscope[hub]')") from None
    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DatasetError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0]})") from None


def require_fields(records: list[dict[str, Any]], fields: tuple[str, ...], where: str, bench: str) -> None:
    for number, record in enumerate(records):
        missing = [f for f in fields if f not in record]
        if missing:
            raise DatasetError(
                f"{where}: record {number} lacks {', '.join(map(repr, missing))}; "
                f"{bench} records need {', '.join(fields)}"
            )


def find_user_file(benchmark: str, folder: str, stem: str, subset: str, kind: str = "") -> Path:
    """``<folder>/<stem><format>`` for EvalScope's custom datasets (general_mcq ``{subset}_{split}``,
    general_qa ``{subset}``), in FORMATS order; one DatasetError line when the folder or file is missing.
    `kind` names the file in the message (``'val' file``)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{benchmark}: dataset folder {folder!r} does not exist; {benchmark} reads your own files: "
                           f"set dataset_args local_path to the folder holding {stem}.jsonl (or .csv)")
    for suffix in FORMATS:
        if (root / f"{stem}{suffix}").is_file():
            return root / f"{stem}{suffix}"
    shown = ", ".join(f"{stem}{s}" for s in FORMATS)
    raise DatasetError(f"{benchmark}: no {kind + ' ' if kind else ''}file for subset {subset!r} in {str(root)!r}: "
                       f"expected one of {shown}")
