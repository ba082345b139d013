"""The delegated backend in the pytest session: one item, ``<backend>[<tool>]``, in place of the suites.

Registered by the main plugin when ``eval_backend`` routes to a delegation. The item runs the backend in
setup, so a backend that fails or leaves no readable results is an error, never a score, and writes each
converted report atomically to ``reports/<model>/<dataset>.json``. Under xdist one worker runs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..reporting.outputs import atomic_write
from . import delegate
from .route import Delegation


class DelegatedItem(pytest.Item):
    def __init__(self, *, delegation: Delegation, run_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delegation = delegation
        self.run_dir = run_dir
        self.written: list[Path] = []

    def setup(self) -> None:
        reports = delegate.run(self.delegation, self.run_dir)
        for report in reports:
            path = self.run_dir / "reports" / _plain(report["model_name"]) / f"{_plain(report['dataset_name'])}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, json.dumps(report, ensure_ascii=False, indent=2))
            self.written.append(path)
        self.user_properties.append(("backend_reports", ", ".join(str(p) for p in self.written)))

    def runtest(self) -> None:
        assert self.written, "the backend wrote no report"

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


def _plain(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in str(name)).strip(".") or "unnamed"


class DelegationPlugin:
    def __init__(self, delegation: Delegation, run_dir: Path) -> None:
        self.delegation = delegation
        self.run_dir = run_dir

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        name = f"{self.delegation.backend}[{self.delegation.tool or 'eval_config'}]"
        items.append(DelegatedItem.from_parent(session, name=name, delegation=self.delegation, run_dir=self.run_dir))
