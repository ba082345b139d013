"""Score gates: `NAME=VALUE` thresholds on a suite (`gsm8k`) or one of its subsets (`gsm8k/main`).

A gate is met when the score is at least the threshold. A gate whose suite or subset produced no
scored sample is missed, so a typo or an empty selection never passes silently.

``gate_on`` chooses what is compared with the threshold, using the 95% interval every report carries:

- ``point`` (default, EvalScope's): the score; met or missed;
- ``lower``: met only when the interval's lower bound reaches the threshold (confidently above it);
  a threshold inside the interval is *inconclusive*, and fails;
- ``upper``: missed only when even the upper bound is below the threshold (confidently below it);
  a threshold inside the interval is *inconclusive*, and passes.

Gated on the point, a threshold inside the interval is met or missed as EvalScope does, with a warning
(:attr:`Gate.warning`) in the terminal summary and the log.
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
    gate_on: str = "point"

    @property
    def verdict(self) -> str:
        """met | missed | inconclusive (gate_on lower or upper, with the threshold inside the interval)."""
        if self.score is None:
            return "missed"
        if self.gate_on == "point" or not self.ci95:
            return "met" if self.score >= self.threshold else "missed"
        low, high = self.ci95
        if low >= self.threshold:
            return "met"
        return "missed" if high < self.threshold else "inconclusive"

    @property
    def met(self) -> bool:
        verdict = self.verdict
        return verdict == "met" or (verdict == "inconclusive" and self.gate_on == "upper")

    @property
    def warning(self) -> str | None:
        """With the point estimate gated, a threshold inside the 95% interval is a verdict a rerun may flip
        (AIME's 30 questions: about ±17 points): say so, and how to gate on the interval instead."""
        if self.gate_on != "point" or self.score is None or not self.ci95:
            return None
        low, high = self.ci95
        if not low <= self.threshold <= high:
            return None
        return (f"{self.name}: the threshold {self.threshold:g} lies inside the 95% interval [{low:.4f}, {high:.4f}] "
                f"of {self.num} samples, so this verdict may flip on a rerun; --evalscope-gate-on lower gates on "
                "the interval (or evaluate with repeats)")

    def describe(self) -> str:
        if self.score is None:
            return f"{self.name}: no scored samples (threshold {self.threshold:g}) MISSED"
        if self.gate_on == "point" or not self.ci95:
            verdict = "met" if self.met else "MISSED"
            return f"{self.name}: {self.score:.4f} {'>=' if self.met else '<'} {self.threshold:g} over {self.num} samples {verdict}"
        low, high = self.ci95
        verdict = {"met": "met", "missed": "MISSED"}.get(self.verdict, "INCONCLUSIVE")
        if self.verdict == "inconclusive":
            verdict += " (passes: gate on the upper bound)" if self.met else " (fails: gate on the lower bound)"
        return (f"{self.name}: {self.score:.4f} [{low:.4f}, {high:.4f}] against {self.threshold:g} on the "
                f"{self.gate_on} bound over {self.num} samples {verdict}")


def find_score(reports: dict[str, dict[str, Any]], name: str) -> tuple[float | None, int, list[float] | None]:
    suite, _, subset = name.partition("/")
    report = reports.get(suite)
    if report is None:
        return None, 0, None
    # gate_score: what a gate compares when it is not the score (an arena's win rate: its lower bound)
    if not subset:
        return _scaled(report, report.get("gate_score", report["score"]), report["num"], report.get("ci95"))
    for category in report["metrics"][0]["categories"]:
        for entry in category["subsets"]:
            if entry["name"] == subset:
                return _scaled(report, entry.get("gate_score", entry["score"]), entry["num"], entry.get("ci95"))
    return None, 0, None


def _scaled(report: dict[str, Any], score: float | None, num: int,
            ci95: list[float] | None) -> tuple[float | None, int, list[float] | None]:
    """Thresholds are fractions: a score on another scale (``score_scale``, MT-Bench's 10) is divided by it."""
    scale = float(report.get("score_scale") or 1.0)
    if scale == 1.0:
        return score, num, ci95
    return (None if score is None else round(score / scale, 6)), num, (None if ci95 is None else [v / scale for v in ci95])


def evaluate_gates(thresholds: dict[str, float], reports: dict[str, dict[str, Any]], gate_on: str = "point") -> list[Gate]:
    return [Gate(name, value, *find_score(reports, name), gate_on=gate_on) for name, value in sorted(thresholds.items())]
