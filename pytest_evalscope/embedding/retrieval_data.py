"""Retrieval data from a folder: EvalScope's custom format or BEIR's.

    corpus.jsonl    {"_id", "text", "title"?}        (a title is put before the text, as EvalScope and BEIR do)
    queries.jsonl   {"_id", "text"}
    qrels.jsonl     {"query-id", "corpus-id", "score"}   EvalScope >= 1.9 custom_tasks data_path
    qrels/<split>.tsv  query-id <TAB> corpus-id <TAB> score, with a header line   (BEIR, older EvalScope)

A line that does not parse, a qrel naming an unknown query or document, or a score that is not an
integer stops the run with the file and line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets.local import DatasetError, read_file


@dataclass
class RetrievalData:
    corpus_ids: list[str]
    corpus_texts: list[str]
    queries: dict[str, str]  # id -> text, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def _jsonl(path: Path, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (read as every dataset file is), each holding `fields`."""
    rows = read_file(path)
    for number, row in enumerate(rows, 1):
        missing = [f for f in fields if f not in row]
        if missing:
            raise DatasetError(f"{path}: record {number} has no field {missing[0]!r}; a line needs {', '.join(fields)}")
    return rows


def _relevance(value: Any, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: relevance score {value!r} is not a number") from None
    if number != int(number):
        raise DatasetError(f"{where}: relevance score {value!r} is not an integer (trec_eval grades are integers)")
    return int(number)


def _qrels(folder: Path, split: str) -> list[tuple[str, str, int, str]]:
    jsonl, tsv = folder / "qrels.jsonl", folder / "qrels" / f"{split}.tsv"
    if jsonl.is_file():
        rows = _jsonl(jsonl, ("query-id", "corpus-id", "score"))
        return [(str(r["query-id"]), str(r["corpus-id"]), _relevance(r["score"], f"{jsonl}:{n}"), f"{jsonl}:{n}")
                for n, r in enumerate(rows, 1)]
    if tsv.is_file():
        out = []
        with tsv.open(encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
                if number == 1 and row and not row[-1].strip().lstrip("-").isdigit():
                    continue  # BEIR's header line: query-id corpus-id score
                if len(row) != 3:
                    raise DatasetError(f"{tsv}:{number}: expected query-id, corpus-id and score separated by tabs")
                out.append((row[0], row[1], _relevance(row[2], f"{tsv}:{number}"), f"{tsv}:{number}"))
        return out
    raise DatasetError(f"{folder}: no qrels.jsonl (EvalScope's custom format) or qrels/{split}.tsv (BEIR)")


def load_retrieval(folder: Path, split: str = "test") -> RetrievalData:
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / name).is_file():
            raise DatasetError(f"{folder}: no {name}; a retrieval folder holds corpus.jsonl, queries.jsonl and "
                               "qrels.jsonl (or BEIR's qrels/test.tsv)")
    corpus = _jsonl(folder / "corpus.jsonl", ("_id", "text"))
    ids = [str(r["_id"]) for r in corpus]
    texts = [(f"{r['title']} {r['text']}" if r.get("title") else str(r["text"])).strip() for r in corpus]
    queries = {str(r["_id"]): str(r["text"]) for r in _jsonl(folder / "queries.jsonl", ("_id", "text"))}
    known_docs = set(ids)
    qrels: dict[str, dict[str, int]] = {}
    for query, doc, score, where in _qrels(folder, split):
        if query not in queries:
            raise DatasetError(f"{where}: query {query!r} is not in queries.jsonl")
        if doc not in known_docs:
            raise DatasetError(f"{where}: document {doc!r} is not in corpus.jsonl")
        qrels.setdefault(query, {})[doc] = score
    if len(known_docs) != len(ids):
        raise DatasetError(f"{folder / 'corpus.jsonl'}: document ids repeat")
    return RetrievalData(ids, texts, queries, qrels)
