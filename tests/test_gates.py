"""A point gate whose threshold lies inside the score's 95% interval warns (AIME's 30 questions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_evalscope.reporting.gates import Gate


def test_the_warning_names_the_interval_and_the_remedy() -> None:
    inside = Gate("aime24", 0.5, 0.5333, 30, [0.3614, 0.6977])
    assert inside.met and inside.warning and "[0.3614, 0.6977]" in inside.warning and "--evalscope-gate-on lower" in inside.warning
    assert Gate("gsm8k", 0.6, 0.7036, 1319, [0.6784, 0.7276]).warning is None  # clearly above
    assert Gate("aime24", 0.5, 0.5333, 30, [0.3614, 0.6977], gate_on="lower").warning is None  # already on the interval


def test_a_run_prints_it_beside_the_gate(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    result = pytester.runpytest("--evalscope-model=mock", "--evalscope-eval-type=mock", gsm8k_args, "--evalscope-limit=30",
                                '--evalscope-model-args={"response": "\\\\boxed{18}"}', "--evalscope-threshold", "gsm8k=0.02",
                                "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["evalscope threshold gsm8k: * met",
                                 "evalscope warning: gsm8k: the threshold 0.02 lies inside the 95% interval*"])
