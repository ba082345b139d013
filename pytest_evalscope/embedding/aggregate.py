"""Report aggregation of embedding suites whose main score is not a mean over items.

STS's main score (MTEB's ``cosine_spearman``) is a correlation over all pairs: each pair's record carries
its cosine (score) and gold score (metadata), and this hook puts Spearman's rho, per subset and over the suite, in place of
the placeholder mean the generic report made, with Fisher's interval as ``ci95``. Registered by plugin.py
on the controller, so it sees every worker's records (identical under ``-n 0`` and ``-n N``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CORRELATION_METRIC = "cosine_spearman"


def _rho(records: list[dict[str, Any]]) -> tuple[float | None, int]:
    from .stats import spearman

    scored = [r for r in records if r["status"] != "error"]
    rho = spearman([r["score"]["cosine"] for r in scored], [r["metadata"]["gold_score"] for r in scored])
    return (None if rho is None else round(rho, 4)), len(scored)


def pytest_evalscope_aggregate(suite: str, records: list[dict[str, Any]], report: dict[str, Any], run_dir: Path,
                               config: pytest.Config) -> None:
    if not records or records[0].get("metric") != CORRELATION_METRIC:
        return
    from .stats import spearman_interval  # numpy, for STS suites only

    entry = next(e for e in report["metrics"] if e["name"] == f"mean_{CORRELATION_METRIC}")
    entry["name"] = CORRELATION_METRIC
    for category in entry["categories"]:
        for subset in category["subsets"]:
            subset["score"], num = _rho([r for r in records if r["subset"] == subset["name"]])
            subset["ci95"] = spearman_interval(subset["score"], num)
        scores = [s["score"] for s in category["subsets"] if s["score"] is not None]
        category["score"], _ = _rho([r for r in records if r["subset"] in {s["name"] for s in category["subsets"]}])
        category["macro_score"] = round(sum(scores) / len(scores), 4) if scores else None
    entry["score"], num = _rho(records)
    subsets = [s["score"] for c in entry["categories"] for s in c["subsets"] if s["score"] is not None]
    entry["macro_score"] = round(sum(subsets) / len(subsets), 4) if subsets else None
    report["metrics"].remove(entry)
    report["metrics"].insert(0, entry)
    report.update(score=entry["score"], ci95=spearman_interval(entry["score"], num), primary_metric=CORRELATION_METRIC)
