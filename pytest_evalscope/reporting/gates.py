"""Score gates: `NAME=VALUE` thresholds on a suite (`gsm8k`) or one of its subsets (`gsm8k/main`).

A gate is met when the score is at least the threshold. A gate whose suite or subset produced no
scored sample is missed, so a typo or an empty selection never passes silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Gate:
    name: str
    threshold: float
    score: float | None
    num: int
    ci95: list[float] | None

    @property
    def met(self) -> bool:
        return self.score is not None and self.score >= self.threshold

    def describe(self) -> str:
        if self.score is None:
            return f"{self.name}: no scored samples (threshold {self.threshold:g}) MISSED"
        verdict = "met" if self.met else "MISSED"
        return f"{self.name}: {self.score:.4f} {'>=' if self.met else '<'} {self.threshold:g} over {self.num} samples {verdict}"


def find_score(reports: dict[str, dict[str, Any]], name: str) -> tuple[float | None, int, list[float] | None]:
    suite, _, subset = name.partition("/")
    report = reports.get(suite)
    if report is None:
        return None, 0, None
    # gate_score: what a gate compares when it is not the score (an arena's win rate: its lower bound)
    if not subset:
        return report.get("gate_score", report["score"]), report["num"], report.get("ci95")
    for category in report["metrics"][0]["categories"]:
        for entry in category["subsets"]:
            if entry["name"] == subset:
                return entry.get("gate_score", entry["score"]), entry["num"], entry.get("ci95")
    return None, 0, None


def evaluate_gates(thresholds: dict[str, float], reports: dict[str, dict[str, Any]]) -> list[Gate]:
    return [Gate(name, value, *find_score(reports, name)) for name, value in sorted(thresholds.items())]
