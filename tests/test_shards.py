"""Sharded runs and their merge (issue 18): the split, the part markers, and end to end, four parts of a
GSM8K + MMLU run against the loopback test server (the real openai client), merged, against the same run
unsharded: the same reports, reviews, predictions, JUnit testcases and exit status."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_evalscope.cli import main
from pytest_evalscope.params import ConfigError, parse_shard
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.runlock import RunLock
from pytest_evalscope.shards.marker import read_reports
from pytest_evalscope.shards.spec import assign_parts, default_run_id, first_difference, identity
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, read_records
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import GSM8K_DIR, SHARED

MMLU_CSV = SHARED / "datasets" / "mmlu"
SUBJECTS = ("anatomy", "astronomy", "virology")
LIMIT = 8  # per subset
PARTS = 4

# ---------------------------------------------------------------- the shard option and the split


@pytest.mark.parametrize(("text", "error"), [
    ("0/4", "parts are numbered 1 to 4"), ("5/4", "parts are numbered 1 to 4"), ("2", "expected I/N such as 2/4"),
    ("a/b", "expected I/N"), ("1/0", "between 1 and"), ("1/4/2", "expected I/N"),
])
def test_a_bad_shard_is_one_line_saying_what_would_be_right(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_shard(text, "shard")


def test_a_shard_is_normalized() -> None:
    assert parse_shard(" 2 / 4 ", "shard") == "2/4"


@given(st.lists(st.integers(1, 5), min_size=0, max_size=60), st.integers(0, 8), st.integers(1, 9))
def test_every_item_lands_in_exactly_one_contiguous_part_with_its_repeats(sizes: list[int], others: int, count: int) -> None:
    groups: list[Any] = [None] * others + [g for g, size in enumerate(sizes) for _ in range(size)]
    parts = assign_parts(groups, count)
    assert len(parts) == len(groups) and all(1 <= p <= count for p in parts)
    assert all(p == 1 for g, p in zip(groups, parts, strict=True) if g is None)  # not samples: part 1
    of_group = {g: p for g, p in zip(groups, parts, strict=True) if g is not None}
    assert all(of_group[g] == p for g, p in zip(groups, parts, strict=True) if g is not None)  # repeats together
    sample_parts = [p for g, p in zip(groups, parts, strict=True) if g is not None]
    assert sample_parts == sorted(sample_parts)  # contiguous blocks, in collection order
    # balanced: a part holds the even share, give or take the largest group
    total, largest = len(sample_parts), max(sizes, default=0)
    for part in range(1, count + 1):
        assert abs(sample_parts.count(part) - total / count) <= largest


def test_the_identity_leaves_out_where_parts_run_and_names_what_differs() -> None:
    base = {"model": "m", "api_url": "http://a:1/v1", "eval_batch_size": 8, "shard": "1/4", "work_dir": "w",
            "generation_config": {"temperature": 0.0, "timeout": 30}, "model_args": {"max_retries": 5}, "limit": 10}
    elsewhere = {**base, "api_url": "http://b:2/v1", "eval_batch_size": 32, "shard": "3/4", "work_dir": "v",
                 "generation_config": {"temperature": 0.0, "timeout": 60}, "model_args": {"max_retries": 9}}
    assert identity(base) == identity(elsewhere)
    assert default_run_id(identity(base)) == default_run_id(identity(elsewhere))
    hotter = {**base, "generation_config": {"temperature": 0.7}}
    assert default_run_id(identity(hotter)) != default_run_id(identity(base))
    assert first_difference(identity(hotter), identity(base)) == ("generation_config.temperature", 0.7, 0.0)


def test_a_merge_takes_each_items_last_finished_session_and_reads_a_journal_cut_short(tmp_path: Path) -> None:
    def line(session: int, nodeid: str, when: str) -> bytes:
        return (json.dumps({"session": session, "report": {"nodeid": nodeid, "when": when}}) + "\n").encode()

    (tmp_path / "shard").mkdir()
    first = b"".join(line(1, "a", w) for w in ("setup", "call", "teardown")) + line(1, "b", "setup") + line(1, "c", "setup")
    (tmp_path / "shard" / "reports-1.jsonl.gz").write_bytes(gzip.compress(first))
    stream = io.BytesIO()
    cut = gzip.GzipFile(fileobj=stream, mode="wb")
    cut.write(b"".join(line(2, "b", w) for w in ("setup", "call", "teardown")) + line(2, "a", "setup")[:30])
    cut.flush()  # what a SIGKILL after a flush leaves: no end of stream, a last line cut in two
    (tmp_path / "shard" / "reports-2.jsonl.gz").write_bytes(stream.getvalue())
    finished = read_reports(tmp_path)
    assert set(finished) == {"a", "b"}  # c never finished; a's second session never did either
    assert [(r["when"], r["nodeid"]) for r in finished["a"]] == [("setup", "a"), ("call", "a"), ("teardown", "a")]
    assert [r["when"] for r in finished["b"]] == ["setup", "call", "teardown"]
    (tmp_path / "shard" / "reports-2.jsonl.gz").write_bytes(stream.getvalue()[:25])  # cut inside the gzip header
    assert set(read_reports(tmp_path)) == {"a"}


# ---------------------------------------------------------------- end to end: GSM8K + MMLU in four parts


def _mmlu_data(root: Path) -> Path:
    """Three MMLU subjects of the shared CSVs in the hub schema, one folder per subject."""
    for subject in SUBJECTS:
        for split in ("test", "dev"):
            with (MMLU_CSV / split / f"{subject}_{split}.csv").open(encoding="utf-8", newline="") as handle:
                rows = [{"question": r["question"], "subject": subject, "choices": [r[f"choice{i}"] for i in range(4)],
                         "answer": int(r["answer"])} for r in csv.DictReader(handle)]
            (root / subject).mkdir(parents=True, exist_ok=True)
            (root / subject / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def _oracle(mmlu: Path) -> dict[str, str]:
    oracle, _ = build_oracle(read_records(GSM8K_DIR / "test.jsonl")[:LIMIT])
    bench = create_benchmark("mmlu", {"local_path": str(mmlu), "subset_list": list(SUBJECTS)})
    for subject in SUBJECTS:
        for n, sample in enumerate(bench.load_samples(subject, LIMIT, 1)):
            letter = sample.target if n % 3 else "ABCD"[("ABCD".index(sample.target) + 1) % 4]  # a third wrong
            oracle[bench.build_messages(sample, bench.fewshot_samples(subject))[-1]["content"].strip()] = f"ANSWER: {letter}"
    return oracle


class Runs:
    """The scenario's folders and results, run once for the module (each run is a real pytest process)."""

    def __init__(self, root: Path, url: str, mmlu: Path) -> None:
        self.root, self.url, self.mmlu = root, url, mmlu
        (root / "eval_suites.py").write_text("from pytest_evalscope import Suite\n\ngsm8k = Suite('gsm8k')\n"
                                             "mmlu = Suite('mmlu')\n", encoding="utf-8")
        self.results: dict[str, subprocess.CompletedProcess[str]] = {}

    def args(self, *extra: str) -> list[str]:
        data = {"gsm8k": {"local_path": str(GSM8K_DIR)},
                "mmlu": {"local_path": str(self.mmlu), "subset_list": list(SUBJECTS)}}
        return ["--evalscope-model=oracle", f"--evalscope-api-url={self.url}", "--evalscope-eval-batch-size=4",
                f"--evalscope-limit={LIMIT}", "--evalscope-dataset-args=" + json.dumps(data),
                "--evalscope-threshold=gsm8k=0.5", "--evalscope-threshold=mmlu=0.9", "-p", "no:cacheprovider", *extra]

    def pytest(self, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        done = _run([sys.executable, "-m", "pytest", "eval_suites.py", *self.args(*extra)], self.root)
        self.results[name] = done
        return done

    def merge(self, name: str, *folders: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        done = _run([sys.executable, "-m", "pytest_evalscope.cli", "merge", name, *folders, *extra], self.root)
        self.results[name] = done
        return done


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False)


def _folder(name: str) -> tuple[str, str]:
    return f"--evalscope-work-dir={name}", "--evalscope-no-timestamp"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("shards")
    mmlu = _mmlu_data(root / "mmlu_data")
    with serve_in_subprocess(ServerConfig(oracle=_oracle(mmlu), max_seconds=300)) as server:
        runs = Runs(root, server.url, mmlu)
        runs.pytest("whole", *_folder("whole"), "--junitxml=whole.xml")
        before = server.stats()["requests"]
        for part in (1, 2, 4):  # part 2 under xdist: a part's outputs must not depend on -n
            runs.pytest(f"part{part}", *_folder(f"part{part}"), f"--evalscope-shard={part}/{PARTS}",
                        *(["-n", "2"] if part == 2 else []))
        runs.pytest("part3-stopped", *_folder("part3"), f"--evalscope-shard=3/{PARTS}", "-x")  # stops at its first wrong answer
        runs.merge("merged-incomplete", "part1", "part2", "part3", "part4")
        runs.pytest("part3", f"--evalscope-use-cache={runs.root / 'part3'}", f"--evalscope-shard=3/{PARTS}")
        runs.requests_for_parts = server.stats()["requests"] - before  # type: ignore[attr-defined]
        runs.merge("merged", "part1", "part2", "part3", "part4", extra=("--", "--junitxml=merged.xml"))
    return runs


def _reports(folder: Path) -> dict[str, Any]:
    out = {}
    for path in sorted(folder.glob("reports/*/*.json")):
        report = json.loads(path.read_text())
        report.pop("perf_metrics", None)  # timings
        report["execution_summary"].pop("cached")  # part 3 was resumed: its replies came from its journal
        out[path.name] = report
    return out


def _lines(folder: Path, kind: str) -> dict[str, list[dict[str, Any]]]:
    """A run's reviews or predictions, without the timings and the server's reply ids."""
    out = {}
    for path in sorted((folder / kind / "oracle").glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for line in lines:
            output = line.get("model_output") or {}
            for key in ("time", "perf_metrics", "id"):
                output.pop(key, None)
            ((line.get("sample_score") or {}).get("score") or {}).get("metadata", {}).pop("cached", None)
        out[path.name] = lines
    return out


def _testcases(path: Path, run: Path) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    """The testsuite's counts, and each testcase: name, outcome with its message (the run's folder named
    RUN), properties without latency."""
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    counts = {k: v for k, v in suite.attrib.items() if k not in ("time", "timestamp", "hostname")}
    cases = []
    for case in root.iter("testcase"):
        outcome = [(child.tag, (child.get("message") or "").replace(str(run), "RUN")) for child in case
                   if child.tag in ("failure", "error", "skipped")]
        props = [(p.get("name"), p.get("value")) for p in case.iter("property") if p.get("name") != "latency_s"]
        cases.append((case.get("classname"), case.get("name"), outcome, props))
    return counts, cases


def test_four_parts_merged_give_the_unsharded_run(runs: Runs) -> None:
    whole, merged = runs.root / "whole", runs.root / "merged"
    assert runs.results["merged"].returncode == runs.results["whole"].returncode == 1, runs.results["merged"].stderr
    assert _reports(merged) == _reports(whole) and set(_reports(whole)) == {"gsm8k.json", "mmlu.json"}
    assert _reports(whole)["mmlu.json"]["num"] == len(SUBJECTS) * LIMIT
    for kind in ("reviews", "predictions"):
        assert _lines(merged, kind) == _lines(whole, kind)
    journals = sorted(path.name.split("-")[1] for path in (merged / ".cache").glob("replies-*.jsonl"))
    assert set(journals) == {f"part{n}" for n in range(1, PARTS + 1)}  # use_cache on the merged folder finds them
    assert "evalscope threshold mmlu:" in runs.results["merged"].stdout and "MISSED" in runs.results["merged"].stdout
    settings = [(folder / "configs" / "suite_settings.json").read_text() for folder in (whole, merged)]
    assert settings[0] == settings[1] and '"mmlu"' in settings[0]
    verdicts = [{k: v for k, v in json.loads((folder / "run_summary.json").read_text()).items() if k in ("exitstatus", "reason", "gates")}
                for folder in (whole, merged)]
    assert verdicts[0] == verdicts[1] and [g["verdict"] for g in verdicts[0]["gates"]] == ["met", "missed"]


def test_the_merged_junit_xml_has_the_unsharded_testcases_in_order(runs: Runs) -> None:
    counts, cases = _testcases(runs.root / "whole.xml", runs.root / "whole")
    merged_counts, merged_cases = _testcases(runs.root / "merged.xml", runs.root / "merged")
    assert merged_counts == counts and int(counts["failures"]) > 0
    assert merged_cases == cases
    names = [name for _, name, _, _ in cases]
    assert {"gsm8k", "gsm8k/main", "mmlu", "mmlu/anatomy"} <= set(names)
    assert len(names) == LIMIT + len(SUBJECTS) * LIMIT + 2 + 1 + len(SUBJECTS)


def test_each_part_reports_its_own_share_and_does_not_gate(runs: Runs) -> None:
    samples = []
    for part in range(1, PARTS + 1):
        result = runs.results[f"part{part}"]
        assert result.returncode == 0, result.stdout[-2000:]  # mmlu=0.9 is missed, but only the merged run gates
        assert f"evalscope shard {part}/{PARTS} of run cfg-" in result.stdout
        marker = json.loads((runs.root / f"part{part}" / "shard" / "part.json").read_text())
        assert (marker["part"], marker["of"], marker["state"]) == (part, PARTS, "finished")
        samples.append(marker["selection"]["nodeids"])
    _, cases = _testcases(runs.root / "whole.xml", runs.root / "whole")
    whole = [name for _, name, _, _ in cases if "[" in name]
    flat = [nodeid.split("::")[-1] for part in samples for nodeid in part]
    assert flat == whole  # every sample in exactly one part, the parts in the unsharded order
    assert max(map(len, samples)) - min(map(len, samples)) <= 1


def test_a_stopped_part_is_refused_and_use_cache_finishes_it_asking_nothing_twice(runs: Runs) -> None:
    refused = runs.results["merged-incomplete"]
    assert refused.returncode == 4 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith(f"ERROR: merge: part 3/{PARTS} (part3) is incomplete:")
    assert f"resume it with --evalscope-use-cache=part3 --evalscope-shard=3/{PARTS}" in refused.stderr
    assert not (runs.root / "merged-incomplete").exists()
    assert runs.results["part3-stopped"].returncode == 1  # stopped early: its scores cover part of its part
    # every sample of the four parts was asked once: part 3's resumed session asked only what it lacked
    assert runs.requests_for_parts == LIMIT + len(SUBJECTS) * LIMIT  # type: ignore[attr-defined]


def _refusal(runs: Runs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *folders: str) -> str:
    """The merge's one line, from the console script's main in this process (it stops before any session)."""
    monkeypatch.chdir(runs.root)
    capsys.readouterr()
    assert main(["merge", "refused", *folders]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not (runs.root / "refused").exists(), err
    return err


@pytest.mark.parametrize(("folders", "error"), [
    (("part1", "part2", "part4"), f"ERROR: merge: missing part 3/{PARTS} (given: 1, 2, 4); give every part's folder"),
    (("part1", "part2", "part2", "part3", "part4"), f"ERROR: merge: part 2/{PARTS} is given twice: part2 and part2"),
    (("part1", "whole"), "ERROR: merge: whole is not a shard's outputs folder (no shard/part.json)"),
    (("part1", "nowhere"), "ERROR: merge: nowhere is not a folder"),
])
def test_missing_duplicate_and_foreign_folders_are_refused(runs: Runs, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch, folders: tuple[str, ...],
                                                           error: str) -> None:
    assert _refusal(runs, capsys, monkeypatch, *folders).startswith(error)


def test_parts_of_another_run_or_selection_are_refused(runs: Runs, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def variant(name: str, change: dict[str, Any]) -> str:
        shutil.copytree(runs.root / "part4", runs.root / name)
        marker_path = runs.root / name / "shard" / "part.json"
        marker = json.loads(marker_path.read_text())
        for key, value in change.items():
            target = marker
            *path, last = key.split(".")
            for step in path:
                target = target[step]
            target[last] = value
        marker_path.write_text(json.dumps(marker))
        return name

    cases = {
        variant("other-run", {"run_id": "nightly-7"}): "is a part of run 'nightly-7', part1 (part 1/4) of run 'cfg-",
        variant("other-cut", {"of": 5}): "cut the run into different numbers of parts",
        variant("other-items", {"selection.hash": "0" * 16}): "selected other items than part1 (part 1/4)",
        variant("other-settings", {"settings.generation_config": {"temperature": 0.7}, "settings_hash": "x"}):
            "was run with other settings than part1 (part 1/4): generation_config.temperature is 0.7 there and None here",
    }
    for folder, error in cases.items():
        assert error in _refusal(runs, capsys, monkeypatch, "part1", "part2", "part3", folder), folder


def test_a_merge_never_writes_into_a_folder_that_holds_something(runs: Runs, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(runs.root)
    capsys.readouterr()
    assert main(["merge", "whole", "part1", "part2", "part3", "part4"]) == 4
    assert capsys.readouterr().err == ("ERROR: merge: whole already exists and is not an empty folder; give a new "
                                       "folder for the merged run\n")


def test_a_merge_runs_no_workers_and_a_bad_option_leaves_out_untouched(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(runs.root)
    assert main(["merge", "with-workers", "part1", "part2", "part3", "part4", "--", "-n", "2"]) == 4
    assert not (runs.root / "with-workers").exists()


def test_a_part_a_session_still_writes_is_refused(runs: Runs, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(runs.root / "part4", runs.root / "part4-running")
    lock = RunLock(runs.root / "part4-running")
    lock.acquire()  # what the controller of a running session holds
    try:
        error = _refusal(runs, capsys, monkeypatch, "part1", "part2", "part3", "part4-running")
    finally:
        lock.release()
    assert error == f"ERROR: merge: part4-running is in use by a running session (pid {os.getpid()}); merge when it has ended\n"


def test_allow_partial_merges_what_is_there_says_what_is_missing_and_fails(runs: Runs) -> None:
    done = runs.merge("partial", "part1", "part2", "part4", extra=("--allow-partial",))
    assert done.returncode == 1, done.stdout[-2000:]
    assert f"evalscope merge: missing part 3/{PARTS} (given: 1, 2, 4)" in done.stdout
    assert done.stderr.startswith(f"evalscope merge: missing part 3/{PARTS} (given: 1, 2, 4)\n")
    merged = json.loads((runs.root / "partial" / "merge.json").read_text())
    assert merged["missing"] == [f"part 3/{PARTS} (given: 1, 2, 4)"] and [p["part"] for p in merged["parts"]] == [1, 2, 4]
    report = json.loads((runs.root / "partial" / "reports" / "oracle" / "gsm8k.json").read_text())
    assert report["num"] < LIMIT or json.loads((runs.root / "partial" / "reports" / "oracle" / "mmlu.json").read_text())["num"] < len(SUBJECTS) * LIMIT


def test_a_shard_gates_its_own_part_only_when_asked(runs: Runs) -> None:
    shutil.copytree(runs.root / "part4", runs.root / "part4-gated")
    gated = runs.pytest("gated", f"--evalscope-use-cache={runs.root / 'part4-gated'}", "--evalscope-shard=4/4",
                        "--evalscope-shard-gates")  # every reply is in its journal: the server is gone
    assert gated.returncode == 1 and "evalscope threshold mmlu:" in gated.stdout, gated.stdout[-2000:]
    assert "its own gates apply (shard_gates)" in gated.stdout
    assert "evalscope threshold" not in runs.results["part4"].stdout


def test_use_cache_continues_a_part_only_as_that_part(runs: Runs) -> None:
    resumed = runs.pytest("wrong-part", f"--evalscope-use-cache={runs.root / 'part4'}", "--evalscope-shard=1/4")
    assert resumed.returncode == 4
    assert f"use_cache: {runs.root / 'part4'} is part 4/4 of run 'cfg-" in resumed.stderr
    assert "continue it with --evalscope-shard=4/4, not 1/4" in resumed.stderr
    unsharded = runs.pytest("no-part", f"--evalscope-use-cache={runs.root / 'part4'}")
    assert unsharded.returncode == 4 and "continue it with --evalscope-shard=4/4\n" in unsharded.stderr
    hotter = runs.pytest("hotter", f"--evalscope-use-cache={runs.root / 'part4'}", "--evalscope-shard=4/4",
                         "--evalscope-generation-config=temperature=0.5")
    assert hotter.returncode == 4 and "is a part of run 'cfg-" in hotter.stderr and ", this would be run 'cfg-" in hotter.stderr


# ---------------------------------------------------------------- in-process: repeats, and the error budget


def _ids(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line]


def test_repeats_of_a_sample_stay_in_one_part_and_parts_rebuild_the_selection(pytester: pytest.Pytester, suite_file: Path,
                                                                              gsm8k_args: str) -> None:
    pytester.makepyfile(test_other="def test_ok():\n    pass\n")  # not a sample: it runs in part 1 only
    args = ["--evalscope-eval-type=mock", "--evalscope-limit=5", "--evalscope-repeats=3", gsm8k_args, "--collect-only",
            "-q", "-p", "no:cacheprovider"]
    whole = _ids(pytester.runpytest(*args))
    parts = [_ids(pytester.runpytest(*args, f"--evalscope-shard={part}/{PARTS}")) for part in range(1, PARTS + 1)]
    flat = [nodeid for part in parts for nodeid in part]
    assert len(whole) == 16 and len(flat) == len(set(flat)) and sorted(flat, key=whole.index) == whole
    assert [nodeid for nodeid in flat if "[" in nodeid] == [nodeid for nodeid in whole if "[" in nodeid]  # in blocks
    assert "test_other.py::test_ok" in parts[0]
    for part in [[nodeid for nodeid in part if "[" in nodeid] for part in parts]:
        samples = {nodeid.split("[")[1].split("-r")[0].rstrip("]") for nodeid in part}
        assert len(part) == 3 * len(samples) and part  # every repeat of each of its samples


def test_a_part_holds_its_errors_against_the_whole_runs_budget(pytester: pytest.Pytester, suite_file: Path,
                                                                gsm8k_args: str) -> None:
    """Two of 8 samples fail for good with a budget of 30%: 2.4 errors for the run, so neither the run nor its
    part 1/2 (which holds both errors: 2 of its 4 samples) is over it, and the merge agrees."""
    records = read_records(GSM8K_DIR / "test.jsonl")
    broken = {records[i]["question"].strip(): "500" for i in (0, 1)}
    oracle, _ = build_oracle(records[:8])
    with serve_in_subprocess(ServerConfig(oracle=oracle, persistent_faults=broken, max_seconds=120)) as server:
        args = ["--evalscope-model=oracle", f"--evalscope-api-url={server.url}", gsm8k_args, "--evalscope-limit=8",
                '--evalscope-model-args={"max_retries": 0}', "--evalscope-max-errors=0.3", "-p", "no:cacheprovider"]
        whole = pytester.runpytest(*args, "--evalscope-work-dir=whole", "--evalscope-no-timestamp")
        parts = [pytester.runpytest(*args, f"--evalscope-work-dir=p{n}", "--evalscope-no-timestamp",
                                    f"--evalscope-shard={n}/2") for n in (1, 2)]
    assert whole.ret == parts[0].ret == parts[1].ret == 0
    assert parts[0].parseoutcomes()["errors"] == 2
    parts[0].stdout.fnmatch_lines(["*2 sample(s) ended in an error, within the error budget*"])
    assert main(["merge", str(pytester.path / "merged"), str(pytester.path / "p1"), str(pytester.path / "p2")]) == 0
    assert _reports(pytester.path / "merged") == _reports(pytester.path / "whole")


def test_the_shard_is_an_option_an_ini_key_and_a_config_key(pytester: pytest.Pytester, suite_file: Path,
                                                            gsm8k_args: str) -> None:
    args = ["--evalscope-eval-type=mock", "--evalscope-limit=8", gsm8k_args, "--collect-only", "-q", "-p", "no:cacheprovider"]
    by_option = _ids(pytester.runpytest(*args, "--evalscope-shard=3/4"))
    pytester.path.joinpath("task.yaml").write_text("shard: 3/4\n", encoding="utf-8")
    by_config = _ids(pytester.runpytest(*args, "--evalscope-config=task.yaml"))
    pytester.makeini("[pytest]\nevalscope_shard = 3/4\n")
    by_ini = _ids(pytester.runpytest(*args))
    assert by_option == by_config == by_ini == ["eval_gsm8k.py::gsm8k[main-4]", "eval_gsm8k.py::gsm8k[main-5]"]
    bad = pytester.runpytest(*args, "--evalscope-shard=4/3")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: shard: 4/3: parts are numbered 1 to 3, e.g. 1/3"])


def test_the_console_script_documents_shards_and_merge(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["eval", "--help"], ["merge", "--help"]):
        with pytest.raises(SystemExit) as stopped:
            main(command)
        assert stopped.value.code == 0
    shown = capsys.readouterr().out
    assert "--shard SHARD" in shown and "--run-id RUN_ID" in shown and "--allow-partial" in shown
    assert "95% interval" in shown  # a % in a help text once broke eval --help


def test_more_parts_than_samples_leaves_parts_empty_and_they_still_merge(pytester: pytest.Pytester, suite_file: Path,
                                                                         gsm8k_args: str) -> None:
    args = ["--evalscope-eval-type=mock", "--evalscope-limit=2", gsm8k_args, "-p", "no:cacheprovider"]
    whole = pytester.runpytest(*args, "--evalscope-work-dir=whole", "--evalscope-no-timestamp")
    parts = [pytester.runpytest(*args, f"--evalscope-work-dir=p{n}", "--evalscope-no-timestamp",
                                f"--evalscope-shard={n}/{PARTS}") for n in range(1, PARTS + 1)]
    assert whole.ret == 0 and [part.ret for part in parts] == [0] * PARTS  # an empty part is not "no tests collected"
    assert [len(json.loads((pytester.path / f"p{n}" / "shard" / "part.json").read_text())["selection"]["nodeids"])
            for n in range(1, PARTS + 1)] == [1, 0, 1, 0]
    folders = [str(pytester.path / f"p{n}") for n in range(1, PARTS + 1)]
    assert main(["merge", str(pytester.path / "merged"), *folders]) == 0
    assert _reports(pytester.path / "merged") == _reports(pytester.path / "whole")
