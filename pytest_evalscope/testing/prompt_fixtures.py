"""Compare a benchmark's prompts with EvalScope's, rendered once where EvalScope is installed and stored
as fixtures (`tests/fixtures/evalscope_prompts/<bench>.json`, written by `render.py` beside them).

A fixture holds, per subset, the count and a sha256 over every (prompt, gold) pair in order, and some
prompts in full, so a mismatch is shown as a diff of the first differing prompt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..benchmarks.base import Benchmark


def digest(pairs: list[tuple[str, str]]) -> str:
    """The fixture's digest of (prompt, gold) pairs (the same function as render.py's)."""
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode("utf-8")).hexdigest()


def our_pairs(bench: Benchmark, subset: str) -> list[tuple[str, str]]:
    """Every (prompt, gold) of a subset as our adapter renders them: the user message's text."""
    fewshot = bench.fewshot_samples(subset)
    return [(bench.build_messages(s, fewshot)[-1]["content"], s.target) for s in bench.load_samples(subset, None, 1)]


def mismatches(bench: Benchmark, fixture_path: Path, gold: Any = None) -> list[str]:
    """What differs from the fixture, one line per subset (empty: every prompt and gold is EvalScope's).

    `gold` maps EvalScope's gold to ours where the forms differ on purpose (AIME's `025` is 25)."""
    fixture = json.loads(fixture_path.read_text(encoding="utf-8"))
    problems = []
    if list(fixture["subsets"]) != bench.subset_list:
        problems.append(f"subsets {bench.subset_list} != EvalScope's {list(fixture['subsets'])}")
    examples = {(e["subset"], e["index"]): e for e in fixture["examples"]}
    for subset, expected in fixture["subsets"].items():
        pairs = our_pairs(bench, subset)
        if len(pairs) != expected["count"]:
            problems.append(f"{subset}: {len(pairs)} samples, EvalScope {expected['count']}")
            continue
        for (subset_, index), example in examples.items():
            theirs = (example["prompt"], gold(example["target"]) if gold else example["target"])
            if subset_ == subset and pairs[index] != theirs:
                problems.append(f"{subset}[{index}]: ours {pairs[index]!r}\nEvalScope's {theirs!r}")
        if "targets" in expected and "".join(t for _, t in pairs) != expected["targets"]:
            problems.append(f"{subset}: gold letters differ from EvalScope's")
        if not gold and digest(pairs) != expected["sha256"]:
            problems.append(f"{subset}: prompts or golds differ from EvalScope's (sha256)")
    return problems
