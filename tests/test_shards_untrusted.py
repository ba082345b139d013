"""A part folder given to `pytest-evalscope merge` may come from anywhere (a CI artifact): what it holds
is data, never options, code or paths. Each test tampers with one real part (the mock model on three
GSM8K samples) and checks that the merge refuses it with one line, or ignores what it may not decide,
and writes nothing outside OUT."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GSM8K_DIR


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def part(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("part")
    done = _run([sys.executable, "-m", "pytest_evalscope.cli", "eval", "--model", "m", "--eval-type", "mock",
                 "--datasets", "gsm8k", "--limit", "3", "--dataset-args",
                 json.dumps({"gsm8k": {"local_path": str(GSM8K_DIR)}}), "--work-dir", "p1", "--no-timestamp",
                 "--shard", "1/1"], root)
    assert (root / "p1" / "shard" / "part.json").is_file(), done.stdout + done.stderr
    return root / "p1"


@pytest.fixture
def tampered(part: Path, tmp_path: Path) -> Path:
    """A copy of the part, in tmp_path/parts/p1, for a test to change; the merge runs in tmp_path/work."""
    copy = tmp_path / "parts" / "p1"
    shutil.copytree(part, copy)
    (tmp_path / "work").mkdir()
    return copy


def _edit_marker(folder: Path, change: dict[str, object], task: dict[str, object] | None = None) -> None:
    path = folder / "shard" / "part.json"
    marker = json.loads(path.read_text(encoding="utf-8"))
    marker.update(change)
    marker["task"].update(task or {})
    path.write_text(json.dumps(marker), encoding="utf-8")


def _merge(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pytest_evalscope.cli", "merge", "../out", "../parts/p1", *extra],
                tmp_path / "work")


def _written_outside_out(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if not p.is_relative_to(tmp_path / "out") and not p.is_relative_to(tmp_path / "parts")
                  and p != tmp_path / "work")


def test_an_untouched_part_merges(tampered: Path, tmp_path: Path) -> None:
    done = _merge(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr  # no gate: wrong answers fail items, not the run
    assert (tmp_path / "out" / "reports" / "m" / "gsm8k.json").is_file()
    assert _written_outside_out(tmp_path) == []


def test_a_parts_junit_settings_are_junit_settings_only(tampered: Path, tmp_path: Path) -> None:
    # -o addopts=... would add any pytest option: a report file anywhere, or a conftest.py to import
    (tampered / "shard" / "conftest.py").write_text(f"open({str(tmp_path / 'PWNED')!r}, 'w').write('x')\n")
    _edit_marker(tampered, {"junit": {"junit_family": "xunit2",
                                      "addopts": f"--junitxml={tmp_path / 'evil.xml'} ../parts/p1/shard"}})
    done = _merge(tmp_path)
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "evil.xml").exists()
    assert "addopts" in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.returncode == 4 and not (tmp_path / "out").exists()


def test_a_parts_output_paths_are_not_the_merges(tampered: Path, tmp_path: Path, part: Path) -> None:
    # compare_md names a file the part wrote; the merge would write it wherever the part said
    _edit_marker(tampered, {}, {"baseline": str(part), "compare_md": str(tmp_path / "evil.md")})
    done = _merge(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _written_outside_out(tmp_path) == []


def test_a_record_naming_a_path_is_refused_and_nothing_is_written_outside_out(tampered: Path, tmp_path: Path) -> None:
    path = next((tampered / "shard").glob("reports-*.jsonl.gz"))
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    for entry in lines:
        text = entry["report"].get("evalscope_record")
        if text:
            record = json.loads(text)
            record["suite"] = "../../../escaped"
            entry["report"]["evalscope_record"] = json.dumps(record)
    path.write_bytes(gzip.compress("".join(json.dumps(e) + "\n" for e in lines).encode()))
    done = _merge(tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "INTERNALERROR" not in done.stdout + done.stderr
    assert "'../../../escaped'" in done.stdout + done.stderr
    assert _written_outside_out(tmp_path) == []


@pytest.mark.parametrize(("change", "error"), [
    ({"part": "one"}, "part.json: 'part' must be"),
    ({"selection": {"nodeids": ["a"], "positions": [], "hash": "h", "items": 1, "samples": 1}}, "positions"),
    ({"selection": ["a"]}, "'selection' must be"),
])
def test_a_malformed_marker_is_one_line(tampered: Path, tmp_path: Path, change: dict[str, object], error: str) -> None:
    _edit_marker(tampered, change)
    done = _merge(tmp_path)
    assert done.returncode == 4 and error in done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_a_report_journal_is_read_as_a_stream_and_only_the_selections_reports_are_kept(tmp_path: Path) -> None:
    """A journal that inflates to far more than it holds (a gzip bomb: 1 GiB of newlines in 1 MiB) is read a
    piece at a time, and only the last report of each phase of each selected node id stays in memory."""
    import resource
    import zlib

    from pytest_evalscope.shards.marker import read_reports

    def report(nodeid: str, when: str, pad: str = "") -> bytes:
        return (json.dumps({"session": 1, "report": {"nodeid": nodeid, "when": when, "pad": pad}}) + "\n").encode()

    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    out = [packer.compress(b"".join(report("a", w) for w in ("setup", "call", "teardown")))]
    blanks = b"\n" * (16 << 20)
    out += [packer.compress(blanks) for _ in range(64)]  # 1 GiB of nothing
    out += [packer.compress(report("not-selected", "teardown", "x" * 1000)) for _ in range(1000)]
    out += [packer.compress(report("a", "call", "again"))]
    out.append(packer.flush())
    (tmp_path / "shard").mkdir()
    (tmp_path / "shard" / "reports-1.jsonl.gz").write_bytes(b"".join(out))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finished = read_reports(tmp_path, {"a"})
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert set(finished) == {"a"}
    assert [(r["when"], r["pad"]) for r in finished["a"]] == [("setup", ""), ("call", "again"), ("teardown", "")]
    assert grown_mib < 200, grown_mib  # the whole inflated text was 1 GiB


def test_a_report_line_too_long_to_be_one_is_one_line(tampered: Path, tmp_path: Path) -> None:
    from pytest_evalscope.params import ConfigError
    from pytest_evalscope.shards import marker

    path = next((tampered / "shard").glob("reports-*.jsonl.gz"))
    path.write_bytes(gzip.compress(b"{" + b" " * (marker.MAX_LINE_BYTES + 10)))
    with pytest.raises(ConfigError, match="longer than"):
        marker.read_reports(tampered)
