"""The typed record and the import graph: records are checked at the boundary, and no module imports
another that imports it back (at import time, package __init__ files included)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from pytest_evalscope.schema import RECORD_VERSION, SampleRecord, SuiteFacts

BASE = {"suite": "gsm8k", "benchmark": "gsm8k", "subset": "main", "category": "default", "index": 3, "repeat": 0,
        "target": "18", "metadata": {}, "messages": [{"role": "user", "content": "q"}], "metric": "acc",
        "cached": False}


def test_a_record_round_trips_and_drops_only_unset_fields() -> None:
    record = SampleRecord.from_item({**BASE, "status": "correct", "score": {"acc": 1.0}, "extracted": "18",
                                     "output": {"content": "18"}, "judge": {"verdict": "A"}})
    text = record.to_json()
    assert json.loads(text)["v"] == RECORD_VERSION
    back = SampleRecord.from_json(text)
    assert back == record and "error" not in back.to_dict() and back.to_dict()["judge"] == {"verdict": "A"}


@pytest.mark.parametrize(("change", "words"), [
    ({"status": "maybe", "score": {"acc": 0.0}}, "status 'maybe'"),
    ({"status": "error"}, "needs its error"),
    ({"status": "wrong"}, "needs its score"),
    ({"status": "wrong", "score": {"acc": 0.0}, "colour": "red"}, "unknown record field(s): colour"),
])
def test_a_malformed_record_is_refused_not_written(change: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        SampleRecord.from_item({**BASE, **change})


def test_a_record_of_another_version_is_refused() -> None:
    text = json.dumps({"v": RECORD_VERSION + 1, **BASE, "status": "wrong", "score": {"acc": 0.0}})
    with pytest.raises(ValueError, match="this controller reads version"):
        SampleRecord.from_json(text)
    assert SuiteFacts("GSM8K", "math", ["main"]).to_dict() == {"pretty_name": "GSM8K", "description": "math",
                                                               "subset_list": ["main"]}


def _import_graph(root: Path) -> dict[str, set[str]]:
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.with_suffix("").relative_to(root.parent).parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # import-time imports only
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                targets.update(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        edges = set()
        for target in targets:  # importing a.b.c runs a/__init__ and a/b/__init__ first
            parts = target.split(".")
            edges.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        graph[module] = {t for t in edges if t in modules and t != module and not module.startswith(t + ".")}
    return graph


def test_the_import_graph_has_no_circle() -> None:
    graph = _import_graph(Path(__file__).resolve().parents[1] / "pytest_evalscope")
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert len(graph) > 50 and not circles, circles
