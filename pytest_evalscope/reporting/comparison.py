"""A candidate run against a baseline: paired statistics per benchmark (on its primary metric) and per
subset, and the verdicts of the regression gates (``--evalscope-regression NAME[=MARGIN]``).

Verdicts of a gate (:class:`RegressionCheck`):

- ``regressed`` (mode regression; fails): the gate's upper bound of Δ is below -margin, Holm-corrected
  across the gated benchmarks;
- ``passed`` (regression) / ``noninferior`` (noninferior mode; lower bound at least -margin): met;
- ``not_noninferior`` (noninferior; fails): non-inferiority was not shown;
- ``underpowered``: passed, but its minimum detectable effect exceeds its margin, so a drop the size of
  the margin would likely pass too (a warning; fails with ``--evalscope-strict``);
- ``inconclusive`` (fails): a subset in its scope has under 90% of its samples aligned, or none scored.

The report's ``comparison`` section (:func:`section`) documents every field where it is built.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..scoring.paired import ALPHA, Paired, compare, holm
from .alignment import RunData, SubsetAlignment, align
from .report import pass_at_k, pass_hat_k

MIN_ALIGNED = 0.9
MAX_IDS = 1000  # regressed / fixed sample ids kept per section


@dataclass
class Scope:
    """The paired values of one benchmark or subset, ready for the statistics."""

    suite: str
    subset: str | None
    metric: str
    base: np.ndarray
    cand: np.ndarray
    binary: bool
    keys: list[tuple[str, int]]  # (subset, candidate index) of each sample
    pairs: list[list[tuple[dict[str, Any], dict[str, Any]]]]  # the aligned records of each sample
    alignment: dict[str, SubsetAlignment]
    errored: int

    @property
    def name(self) -> str:
        return self.suite if self.subset is None else f"{self.suite}/{self.subset}"


@dataclass
class RegressionCheck:
    """One regression gate's result. The recorder fails the run when `met` is False."""

    name: str
    mode: str
    margin: float
    verdict: str
    met: bool
    estimate: float | None = None  # Δ, candidate minus baseline
    interval: list[float] | None = None  # the gate's (1 - 2α) interval of Δ
    ci95: list[float] | None = None
    p: float | None = None  # two-sided test of no difference (mid-p McNemar, or sign-flip)
    p_gate: float | None = None  # the gate's one-sided p, and Holm's adjustment of it
    p_holm: float | None = None
    b: int | None = None
    c: int | None = None
    n: int = 0
    mde: float | None = None
    base_score: float | None = None
    candidate_score: float | None = None
    aligned: int = 0
    missing: int = 0
    new: int = 0
    reason: str = ""
    kind: str = "regression"
    regressed: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    nodeids: list[str] = field(default_factory=list)  # the regressed samples' pytest node ids

    def describe(self) -> str:
        if self.estimate is None or self.interval is None:
            return f"{self.name}: {self.verdict.upper()} ({self.reason})"
        lo, hi = self.interval
        line = (f"{self.name}: Δ {self.estimate:+.4f} [{lo:+.4f}, {hi:+.4f}] p {self.p:.3g} (b {self.b}, c {self.c}, "
                f"n {self.n}, MDE {self.mde:.4f}, {self.mode} margin {self.margin:g}) {self.verdict.upper()}")
        return line + (f": {self.reason}" if self.reason else "")

    def junit_properties(self) -> list[tuple[str, object]]:
        props = [("verdict", self.verdict), ("mode", self.mode), ("margin", self.margin), ("delta", self.estimate),
                 ("p", self.p), ("p_gate", self.p_gate), ("p_holm", self.p_holm), ("b", self.b), ("c", self.c),
                 ("n", self.n), ("mde", self.mde), ("aligned", self.aligned), ("missing", self.missing), ("new", self.new)]
        if self.interval:
            props += [("interval_low", self.interval[0]), ("interval_high", self.interval[1])]
        return [(k, v) for k, v in props if v is not None]

    def junit_text(self) -> str:
        return "\n".join(["regressed samples:", *self.nodeids] if self.nodeids else ["no regressed sample"])


# ---------------------------------------------------------------- per-sample values


def _metric_name(report: dict[str, Any] | None, records: list[dict[str, Any]]) -> str:
    if report:
        return str(report.get("primary_metric") or report["metrics"][0]["name"])
    first = next((r for r in records if r.get("metric")), None)
    return f"mean_{first['metric']}" if first else "mean_acc"


def _correct(record: dict[str, Any]) -> bool:
    if record.get("status") in ("correct", "wrong"):
        return record["status"] == "correct"
    score = record.get("score") or {}
    value = score.get(record.get("metric")) if record.get("metric") in score else next(iter(score.values()), 0.0)
    return float(value) >= 1.0


def sample_value(records: list[dict[str, Any]], metric: str) -> float:
    """A sample's value of `metric` over its attempts: mean_<m> averages score[m]; pass@k, pass^k and
    vote@k as the report computes them per sample."""
    records = sorted(records, key=lambda r: r["repeat"])
    n, c = len(records), sum(_correct(r) for r in records)
    for prefix, estimate in (("pass@", pass_at_k), ("pass^", pass_hat_k)):
        if metric.startswith(prefix):
            k = min(int(metric[len(prefix):]), n)
            return float(estimate(n, c, k))
    if metric.startswith("vote@"):
        first = records[:int(metric[5:])]
        votes = Counter(r.get("extracted") for r in first if r.get("extracted") is not None)
        if not votes:
            return 0.0
        answer = votes.most_common(1)[0][0]
        return float(any(_correct(r) for r in first if r.get("extracted") == answer))
    name = metric.removeprefix("mean_")
    values = []
    for r in records:
        score = r.get("score") or {}
        values.append(float(score[name]) if name in score else float(_correct(r)))
    return float(np.mean(values))


def scope_values(suite: str, subset: str | None, metric: str, alignment: dict[str, SubsetAlignment]) -> Scope:
    groups: dict[tuple[str, int], list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    errored = 0
    for name, result in alignment.items():
        for old, new in result.pairs:
            if old["status"] == "error" or new["status"] == "error":
                errored += 1
            else:
                groups[(name, new["index"])].append((old, new))
    keys = sorted(groups)
    base = np.array([sample_value([o for o, _ in groups[k]], metric) for k in keys])
    cand = np.array([sample_value([n for _, n in groups[k]], metric) for k in keys])
    binary = (not metric.startswith(("pass", "vote")) and all(len(groups[k]) == 1 for k in keys)
              and bool(np.all(np.isin(base, (0.0, 1.0))) and np.all(np.isin(cand, (0.0, 1.0)))))
    return Scope(suite, subset, metric, base, cand, binary, keys, [groups[k] for k in keys], alignment, errored)


# ---------------------------------------------------------------- statistics per scope


def analyse(scope: Scope, seed: int) -> Paired | None:
    if len(scope.keys) == 0:
        return None
    return compare(scope.base, scope.cand, scope.binary, seed + zlib.crc32(scope.name.encode()))


def stats_dict(scope: Scope, paired: Paired | None) -> dict[str, Any]:
    """One entry of a comparison section (see :func:`section`)."""
    aligned = sum(len(a.pairs) for a in scope.alignment.values())
    out: dict[str, Any] = {
        "name": scope.subset or scope.suite, "metric": scope.metric, "aligned": aligned,
        "aligned_by_index": sum(a.by_index for a in scope.alignment.values()),
        "missing": sum(a.missing for a in scope.alignment.values()), "new": sum(a.new for a in scope.alignment.values()),
        "errored": scope.errored, "inconclusive_subsets": [s for s, a in scope.alignment.items() if a.share < MIN_ALIGNED],
    }
    if paired is not None:
        out.update({"n": paired.n, "base": round(paired.base, 4), "candidate": round(paired.candidate, 4),
                    "delta": round(paired.delta, 4), "interval": [round(v, 4) for v in paired.interval],
                    "ci95": [round(v, 4) for v in paired.ci95], "p": round(paired.p, 6), "b": paired.b, "c": paired.c,
                    "mde": round(paired.mde, 4), "method": paired.method})
    return out


def sample_ids(scope: Scope, worse: bool) -> list[str]:
    """The regressed (candidate worse) or fixed samples' ids, worst first."""
    diffs = scope.cand - scope.base
    order = np.argsort(diffs if worse else -diffs, kind="stable")
    keep = [i for i in order if (diffs[i] < 0 if worse else diffs[i] > 0)]
    return [f"{scope.suite}/{scope.keys[i][0]}/{scope.keys[i][1]}" for i in keep[:MAX_IDS]]


# ---------------------------------------------------------------- a whole comparison


@dataclass
class Comparison:
    """Everything a run's comparison with its baseline found: sections by suite, checks by gate."""

    sections: dict[str, dict[str, Any]]
    checks: list[RegressionCheck]
    scopes: dict[str, Scope]
    warnings: list[str]


def run_comparison(base: RunData, cand: RunData, gates: dict[str, float], mode: str, seed: int,
                   strict: bool = False, modules: dict[str, str] | None = None) -> Comparison:
    aligned = align(base.records, cand.records)
    by_suite: dict[str, dict[str, SubsetAlignment]] = defaultdict(dict)
    suite_of = {(r["benchmark"], r["subset"]): r["suite"] for r in cand.records}
    for (bench, subset), result in aligned.items():
        if (bench, subset) in suite_of:
            by_suite[suite_of[(bench, subset)]][subset] = result
    scopes: dict[str, Scope] = {}
    sections: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    same_model = bool(base.model) and base.model == cand.model
    for suite, subsets in sorted(by_suite.items()):
        metric = _metric_name(cand.reports.get(suite), [r for r in cand.records if r["suite"] == suite])
        whole = scopes[suite] = scope_values(suite, None, metric, subsets)
        paired = analyse(whole, seed)
        section = {"baseline": base.path, "baseline_model": base.model, "alpha": ALPHA, **stats_dict(whole, paired),
                   "regressed": sample_ids(whole, True), "fixed": sample_ids(whole, False), "subsets": []}
        for subset, result in sorted(subsets.items()):
            part = scopes[f"{suite}/{subset}"] = scope_values(suite, subset, metric, {subset: result})
            section["subsets"].append(stats_dict(part, analyse(part, seed)))
        if whole.alignment and any(a.by_index for a in subsets.values()):
            warnings.append(f"{suite}: {section['aligned_by_index']} sample(s) aligned by index only (their rendered "
                            "input or target differs from the baseline's)")
        if paired is not None and same_model and paired.delta > 0 and paired.p < ALPHA:
            warnings.append(f"{suite}: significantly better than the baseline (Δ {paired.delta:+.4f}, p {paired.p:.3g}) "
                            f"with the same model {cand.model!r}: did the answer extraction or scoring change?")
        sections[suite] = section
    checks = _gate(gates, scopes, sections, mode, seed, strict, modules or {})
    for check in checks:
        for suite, section in sections.items():
            if check.name == suite or check.name.startswith(suite + "/"):
                section.setdefault("gates", []).append(check_dict(check))
    return Comparison(sections, checks, scopes, warnings)


def check_dict(check: RegressionCheck) -> dict[str, Any]:
    return {k: v for k, v in vars(check).items() if k not in ("nodeids",)} | {"text": check.describe()}


def _gate(gates: dict[str, float], scopes: dict[str, Scope], sections: dict[str, dict[str, Any]], mode: str,
          seed: int, strict: bool, modules: dict[str, str]) -> list[RegressionCheck]:
    names = dict(gates)
    if "all" in names:
        margin = names.pop("all")
        for suite in sections:
            names.setdefault(suite, margin)
    checks: list[RegressionCheck] = []
    tested: list[tuple[RegressionCheck, float]] = []
    for name, margin in sorted(names.items()):
        scope = scopes.get(name)
        if scope is None:
            checks.append(RegressionCheck(name, mode, margin, "inconclusive", False,
                                          reason="no aligned sample of it in both runs"))
            continue
        paired = analyse(scope, seed)
        check = _check(name, margin, mode, scope, paired, modules)
        checks.append(check)
        if paired is not None and check.verdict != "inconclusive":
            tested.append((check, paired.gate_p(margin, mode)))
    for (check, p), adjusted in zip(tested, holm([p for _, p in tested]), strict=True):
        check.p_gate, check.p_holm = round(p, 6), round(adjusted, 6)
        _decide(check, adjusted, strict)
    return checks


def _check(name: str, margin: float, mode: str, scope: Scope, paired: Paired | None,
           modules: dict[str, str]) -> RegressionCheck:
    stats = stats_dict(scope, paired)
    check = RegressionCheck(name, mode, margin, "pending", True, aligned=stats["aligned"], missing=stats["missing"],
                            new=stats["new"])
    if paired is None:
        check.verdict, check.met, check.reason = "inconclusive", False, "no sample scored in both runs"
        return check
    check.estimate, check.interval, check.ci95 = stats["delta"], stats["interval"], stats["ci95"]
    check.p, check.b, check.c, check.n, check.mde = stats["p"], paired.b, paired.c, paired.n, stats["mde"]
    check.base_score, check.candidate_score = stats["base"], stats["candidate"]
    check.regressed, check.fixed = sample_ids(scope, True), sample_ids(scope, False)
    check.nodeids = [nodeid(modules, sid) for sid in check.regressed]
    if stats["inconclusive_subsets"]:
        low = stats["inconclusive_subsets"]
        check.verdict, check.met = "inconclusive", False
        check.reason = (f"under {MIN_ALIGNED:.0%} of the samples aligned in {', '.join(low)} "
                        f"({check.aligned} aligned, {check.missing} missing, {check.new} new)")
    return check


def _decide(check: RegressionCheck, p_holm: float, strict: bool) -> None:
    shown = p_holm < ALPHA
    weak = check.margin > 0 and (check.mde or 0.0) > check.margin
    if check.mode == "regression":
        if shown:
            check.verdict, check.met = "regressed", False
            check.reason = f"confidently worse than the baseline by more than {check.margin:g}"
        elif weak:
            check.verdict, check.met = "underpowered", not strict
            check.reason = (f"no regression shown, but this run detects only drops of {check.mde:.4f} beyond the "
                            f"margin {check.margin:g}; more samples or repeats would")
        else:
            check.verdict, check.met = "passed", True
    elif shown:
        check.verdict, check.met = "noninferior", True
    else:
        check.verdict, check.met = "not_noninferior", False
        check.reason = (f"not shown to be within {check.margin:g} of the baseline"
                        + (f" (underpowered: MDE {check.mde:.4f} exceeds the margin)" if weak else ""))


def nodeid(modules: dict[str, str], sample_id: str) -> str:
    suite, subset, index = sample_id.split("/")
    return f"{modules.get(suite, suite)}::{suite}[{subset}-{index}]"


def summary_line(suite: str, section: dict[str, Any]) -> str:
    """The terminal's line for an ungated comparison."""
    if "delta" not in section:
        return f"{suite}: no sample scored in both runs"
    lo, hi = section["ci95"]
    return (f"{suite}: {section['base']:.4f} -> {section['candidate']:.4f}, Δ {section['delta']:+.4f} "
            f"[{lo:+.4f}, {hi:+.4f}] (95%) p {section['p']:.3g}, {section['c']} fixed, {section['b']} regressed "
            f"of {section['n']}")
