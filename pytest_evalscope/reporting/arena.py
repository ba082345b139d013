"""Arena reports, built on the controller from every prompt's games when the run ends.

Registered by plugin.py; implements ``pytest_evalscope_aggregate`` for suites whose records carry
``arena`` settings (benchmarks/arena.py, general_arena.py). The report keeps EvalScope's schema:
``metrics`` are ``win_rate``, ``win_rate_lower`` and ``win_rate_upper`` (EvalScope 1.14.1's names), one
subset per pair (``<benchmark>&<subset>@<candidate>&<baseline>`` in general_arena). Additions:

- each subset's ``ci95`` ([lower, upper]) and ``gate_score`` (the lower bound unless ``gate_on: point``),
  so the console table, JUnit properties and threshold gates show and use the interval;
- ``arena``: the protocol, bootstrap (``prompt`` or EvalScope's ``row``), rounds and seed, the leaderboard
  per (benchmark, subset) and overall, position consistency and first-slot win rate per subset, and in
  all-pairs mode the Bradley–Terry win-rate matrix beside the observed one.

``reports/<model>/leaderboard.txt`` is written as EvalScope writes it (overall, per benchmark, per subset).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ..scoring.arena_stats import (
    Game,
    Games,
    battle_rows,
    position_stats,
    prompt_bootstrap,
    row_bootstrap,
    win_matrix,
)
from .outputs import atomic_write

METRICS = ("win_rate", "win_rate_lower", "win_rate_upper")


@pytest.hookimpl
def pytest_evalscope_aggregate(suite: str, records: list[dict[str, Any]], report: dict[str, Any], run_dir: Path,
                               config: pytest.Config) -> None:
    settings = next(((r.get("metadata") or {})["arena"] for r in records if (r.get("metadata") or {}).get("arena")), None)
    if settings is None:
        return
    model_id = report["model_name"]
    rows = arena_rows(records, settings, model_id)
    entries = [_metric(name, rows, i) for i, name in enumerate(METRICS)]
    head = entries[0]
    report.update(score=head["score"], metrics=entries, num=head["num"], primary_metric="win_rate",
                  ci95=[entries[1]["score"], entries[2]["score"]] if rows else None)
    report["gate_score"] = entries[1]["score"] if settings.get("gate_on", "lower") == "lower" else head["score"]
    boards = leaderboards(rows, settings)
    report["arena"] = {k: settings.get(k) for k in ("protocol", "bootstrap", "rounds", "seed", "baseline", "pairs",
                                                    "position_swap", "gate_on")}
    report["arena"].update(leaderboard=boards, subsets={r["name"]: r["facts"] for r in rows})
    if boards:
        atomic_write(run_dir / "reports" / model_id / "leaderboard.txt", leaderboard_text(boards, settings))


def _games(record: dict[str, Any], settings: dict[str, Any], model_id: str) -> list[Game]:
    meta = record.get("metadata") or {}
    candidate, opponent = meta.get("candidate") or model_id, meta.get("opponent") or settings["baseline"]
    group = record["subset"].split("@")[0]
    prompt = f"{group}#{meta.get('sample_id', record['index'])}#{record.get('repeat', 0)}"
    out = []
    for game in (record.get("judge") or {}).get("games") or []:
        a, b = (candidate, opponent) if game["candidate_slot"] == "A" else (opponent, candidate)
        out.append(Game(prompt, a, b, game["verdict"]))
    return out


def arena_rows(records: list[dict[str, Any]], settings: dict[str, Any], model_id: str) -> list[dict[str, Any]]:
    """One row per subset: its pair, win rate with interval, counts and position figures."""
    by_subset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_subset[record["subset"]].append(record)
    groups: dict[str, list[Game]] = defaultdict(list)  # all-pairs: one joint fit per (benchmark, subset)
    for name, recs in by_subset.items():
        for record in recs:
            if record["status"] != "error":
                groups[name.split("@")[0]].extend(_games(record, settings, model_id))
    joint = {g: _fit(games, settings) for g, games in groups.items()} if settings.get("pairs") == "all" else {}
    rows = []
    for name in by_subset:
        recs = by_subset[name]
        scored = [r for r in recs if r["status"] != "error"]
        games = [g for r in scored for g in _games(r, settings, model_id)]
        meta = (scored or recs)[0].get("metadata") or {}
        candidate, opponent = meta.get("candidate") or model_id, meta.get("opponent") or settings["baseline"]
        oriented = []
        for record in scored:
            games_of = (record.get("judge") or {}).get("games") or []
            if len(games_of) == 2:
                slot = {g["candidate_slot"]: g["verdict"] for g in games_of}
                oriented.append((slot["A"], slot["B"]))
        facts = {"candidate": candidate, "opponent": opponent, **position_stats(oriented)}
        if not games:
            value = (None, None, None)
        elif name.split("@")[0] in joint:
            value = joint[name.split("@")[0]](candidate, opponent)
        else:
            value = _fit(games, settings)(candidate, opponent)
        rows.append({"name": name, "num": len(scored), "errors": len(recs) - len(scored),
                     "passed": sum(r["status"] == "correct" for r in scored),
                     "failed": sum(r["status"] == "wrong" for r in scored), "value": value, "facts": facts,
                     "group": name.split("@")[0]})
    return rows


def _fit(games: list[Game], settings: dict[str, Any]) -> Any:
    """A function (a, b) -> (win rate of a over b, lower, upper) under the suite's protocol."""
    rounds, seed = int(settings.get("rounds") or 1000), settings.get("seed", 42)
    if settings.get("protocol") == "arena_hard_v2":
        return lambda a, b: _v2(games, a, b, 100, seed)  # upstream's 100 rounds
    if settings.get("bootstrap") == "row":
        return lambda a, b: row_bootstrap(battle_rows([g for g in games if {g.a, g.b} == {a, b}], a), rounds, seed)
    table = Games.of(games)
    anchor = table.models[0]
    estimate = prompt_bootstrap(table, anchor, rounds, seed)
    theta = np.array([estimate.theta[m] for m in table.models])
    samples = estimate.samples

    def pair(a: str, b: str) -> tuple[float, float, float]:
        i, j = table.models.index(a), table.models.index(b)
        point = float(win_matrix(theta)[i, j])
        boot = 1 / (1 + np.exp(samples[:, j] - samples[:, i]))
        low, high = np.percentile(boot, [2.5, 97.5])
        return round(point, 4), round(float(low), 4), round(float(high), 4)

    return pair


def _v2(games: list[Game], a: str, b: str, rounds: int, seed: int | None) -> tuple[float, float, float]:
    """Arena-Hard v2: the mean of every game's score for `a` (a strong verdict three rows), with the 5th
    and 95th percentiles of resampled rows."""
    rows = battle_rows([g for g in games if {g.a, g.b} == {a, b}], a)
    rng = np.random.default_rng(seed)
    means = rows[rng.integers(0, len(rows), size=(rounds, len(rows)))].mean(1)
    low, high = np.quantile(means, [0.05, 0.95])
    return round(float(rows.mean()), 4), round(float(low), 4), round(float(high), 4)


def _metric(name: str, rows: list[dict[str, Any]], which: int) -> dict[str, Any]:
    subsets = []
    for row in rows:
        entry = {"name": row["name"], "score": row["value"][which], "num": row["num"], "passed": row["passed"],
                 "failed": row["failed"], "errors": row["errors"], "unparsed": 0}
        if which == 0 and row["value"][0] is not None:
            entry["ci95"] = [row["value"][1], row["value"][2]]
            entry["gate_score"] = row["value"][1]
        subsets.append(entry)
    scored = [s for s in subsets if s["score"] is not None]
    num = sum(s["num"] for s in scored)
    micro = round(sum(s["score"] * s["num"] for s in scored) / num, 4) if num else None
    macro = round(sum(s["score"] for s in scored) / len(scored), 4) if scored else None
    return {"name": name, "num": num, "score": micro, "macro_score": macro,
            "categories": [{"name": ["default"], "num": num, "score": micro, "macro_score": macro, "subsets": subsets}]}


# ---------------------------------------------------------------- leaderboards


def leaderboards(rows: list[dict[str, Any]], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Win rates against the baseline: per (benchmark, subset), per benchmark and overall (the mean over
    subsets, as EvalScope's leaderboard takes it)."""
    baseline = settings["baseline"]
    models = list(settings.get("models") or dict.fromkeys(r["facts"]["candidate"] for r in rows)) or []
    if baseline not in models:
        models.append(baseline)
    per_group: dict[str, dict[str, tuple[float, float, float]]] = defaultdict(dict)
    for row in rows:
        facts = row["facts"]
        if row["value"][0] is None:
            continue
        if facts["opponent"] == baseline:
            per_group[row["group"]][facts["candidate"]] = row["value"]
        elif facts["candidate"] == baseline:
            per_group[row["group"]][facts["opponent"]] = tuple(round(1 - v, 4) for v in row["value"][::-1])  # type: ignore[assignment]
    boards = [_board("=== OVERALL LEADERBOARD ===", list(per_group.values()), models, baseline)]
    datasets = sorted({g.split("&", 1)[0] for g in per_group})
    for dataset in datasets:
        parts = [v for g, v in per_group.items() if g.split("&", 1)[0] == dataset]
        boards.append(_board(f"=== DATASET LEADERBOARD: {dataset} ===", parts, models, baseline))
    for group, values in per_group.items():
        dataset, _, subset = group.partition("&")
        title = f"=== SUBSET LEADERBOARD: {dataset} - {subset} ===" if subset else f"=== SUBSET LEADERBOARD: {group} ==="
        boards.append(_board(title, [values], models, baseline))
    return boards


def _board(title: str, parts: list[dict[str, tuple[float, float, float]]], models: list[str], baseline: str) -> dict[str, Any]:
    entries = []
    for model in models:
        values = [p[model] for p in parts if model in p]
        if model == baseline:
            rate = (0.5, 0.5, 0.5)
        elif values:
            rate = tuple(float(np.mean([v[k] for v in values])) for k in range(3))  # type: ignore[assignment]
        else:
            continue
        entries.append({"model": model, "win_rate": rate[0], "win_rate_lower": rate[1], "win_rate_upper": rate[2]})
    entries.sort(key=lambda e: float(f"{e['win_rate'] * 100:.1f}"), reverse=True)
    return {"title": title, "entries": entries}


def leaderboard_text(boards: list[dict[str, Any]], settings: dict[str, Any]) -> str:
    """EvalScope's leaderboard.txt: each board a title and a tabulate 'simple' table."""
    out = []
    for board in boards:
        cells = [(e["model"], f"{e['win_rate'] * 100:.1f}",
                  f"({(e['win_rate_lower'] - e['win_rate']) * 100:+.1f} / {(e['win_rate_upper'] - e['win_rate']) * 100:+.1f})")
                 for e in board["entries"]]
        out.append(f"{board['title']}\n{_simple_table(('Model', 'WinRate (%)', 'CI (%)'), cells)}\n")
    return "\n".join(out)


def _simple_table(header: tuple[str, str, str], cells: list[tuple[str, str, str]]) -> str:
    """tabulate's 'simple' format for (text, number, text) columns: numbers in 'g' form, aligned on the point."""
    numbers = [format(float(c[1]), "g") for c in cells]
    tail = max((len(n) - n.index(".") if "." in n else 0 for n in numbers), default=0)
    numbers = [n + " " * (tail - (len(n) - n.index(".") if "." in n else 0)) for n in numbers]
    widths = [max(len(header[0]) + 2, *(len(c[0]) for c in cells)), max(len(header[1]) + 2, *(len(n) for n in numbers)),
              max(len(header[2]) + 2, *(len(c[2]) for c in cells))]
    lines = [f"{header[0].ljust(widths[0])}  {header[1].rjust(widths[1])}  {header[2].ljust(widths[2])}",
             "  ".join("-" * w for w in widths)]
    lines += [f"{c[0].ljust(widths[0])}  {n.rjust(widths[1])}  {c[2].ljust(widths[2])}" for c, n in zip(cells, numbers, strict=True)]
    return "\n".join(line.rstrip() for line in lines)
