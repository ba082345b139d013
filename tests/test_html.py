"""The report page's data, without a browser: runs read from disk (ours and EvalScope 1.14.1's), flips
against a baseline, the size budget, the page's self-containment, the plugin's options end to end
(serially and under xdist, with identical sample data) and `pytest-evalscope view`.
The page in a real browser: test_html_browser.py."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_evalscope.cli import main as cli_main
from pytest_evalscope.reporting.gates import Gate
from pytest_evalscope.reporting.html import page_data, permalink, render, write_page
from pytest_evalscope.reporting.html.plugin import write_summary
from pytest_evalscope.reporting.html.samples import add_flips, apply_budget
from pytest_evalscope.reporting.outputs import OutputWriter, write_report
from pytest_evalscope.reporting.report import build_report

from .conftest import SHARED

EVALSCOPE_RUN = SHARED / "datasets" / "evalscope_examples" / "qwen-plus"
XSS = "<script>alert(1)</script> and </script><img src=x onerror=alert(2)>"

# sample index -> (status, reply, extracted) of the run; the baseline flips some of them
GSM8K = {
    0: ("correct", "2 + 2 = 4. \\boxed{4}", "4"),
    1: ("wrong", "I think it is \\boxed{5}", "5"),
    2: ("wrong", XSS, None),  # unparsed
    3: ("correct", "Counting carefully: \\boxed{7}", "7"),
    4: ("error", "", None),
    5: ("wrong", "The answer is long and was cut off because", None),  # truncated
    6: ("correct", "\\boxed{9}", "9"),
    7: ("wrong", "Perhaps \\boxed{11}", "11"),
}
BASELINE = {0: "correct", 1: "correct", 2: "wrong", 3: "wrong", 4: "correct", 5: "wrong", 6: "correct", 7: "correct"}


def _record(suite: str, subset: str, index: int, status: str, reply: str, extracted: str | None, target: str,
            repeat: int = 0, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "suite": suite, "benchmark": suite, "subset": subset, "index": index, "repeat": repeat, "category": "default",
        "metric": "acc", "status": status, "target": target, "extracted": extracted,
        "score": {"acc": 1.0 if status == "correct" else 0.0},
        "score_status": "parse_error" if status == "wrong" and extracted is None else "success",
        "messages": [{"role": "system", "content": "Solve it."},
                     {"role": "user", "content": "Examples:\n" + "Q: 1 + 1?\nA: 2\n" * 20 + f"Q: question {index}?"}],
    }
    if status == "error":
        record["error"] = {"message": "HTTP 503 after 5 attempts", "kind": "status"}
    else:
        record["output"] = {"content": reply, "latency": 0.1 + index / 100, "model": "m",
                            "finish_reason": "length" if "cut off" in reply else "stop",
                            "usage": {"input_tokens": 50 + index, "output_tokens": 10 + index}}
    if index == 1:
        record["reasoning"] = "Let me think: 2 + 3 is 5."
    record.update(extra)
    return record


def make_run(root: Path, name: str, statuses: dict[int, str] | None = None, gates: list[Gate] | None = None,
             exitstatus: int = 1) -> Path:
    """A finished run of ours on disk: gsm8k (8 samples, one with two repeats) and a two-subset suite."""
    run = root / name
    records = []
    for index, ours in GSM8K.items():
        status, reply, extracted = ours
        if statuses is not None:
            status = statuses[index]
            reply, extracted = (f"Baseline says \\boxed{{{index}}}", str(index)) if status == "correct" else (f"no idea {index}", None)
        records.append(_record("gsm8k", "main", index, status, reply, extracted, str(index)))
    records.append(_record("gsm8k", "main", 6, "wrong", "\\boxed{8}", "8", "6", repeat=1))
    for subset, category in (("algebra", "math"), ("biology", "science")):
        for index in range(3):
            records.append(_record("mmlu", subset, index, "correct" if index else "wrong", f"ANSWER: {'ABC'[index]}",
                                   "ABC"[index], "B" if index == 0 else "ABC"[index], category=category))
    writer = OutputWriter(run, "m")
    for record in records:
        writer.append(record)
    writer.finish()
    for suite in ("gsm8k", "mmlu"):
        own = sorted((r for r in records if r["suite"] == suite), key=lambda r: (r["subset"], r["index"], r["repeat"]))
        write_report(run, "m", suite, build_report(suite, {"pretty_name": suite.upper()}, "m", own, []))
    (run / "configs").mkdir(parents=True, exist_ok=True)
    (run / "configs" / "task_config.yaml").write_text(yaml.safe_dump(
        {"model": "m", "model_id": "m", "api_url": "http://user:pw@127.0.0.1:9/v1", "api_key": "sk-secret",
         "datasets": ["gsm8k", "mmlu"], "thresholds": {"gsm8k": 0.9}}))
    (run / "progress.json").write_text(json.dumps({"state": "finished", "total": len(records), "done": len(records)}))
    gates = gates if gates is not None else [Gate("gsm8k", 0.9, 0.375, 8, [0.1368, 0.6943])]
    write_summary(run, gates, exitstatus, 1_800_000_000.0)
    return run


def decode(html: str) -> dict[str, Any]:
    payload = re.search(r'<script id=evalscope-data type="application/octet-stream">([^<]*)</script>', html)
    assert payload is not None
    return json.loads(gzip.decompress(base64.b64decode(payload.group(1))))


def rows(data: dict[str, Any], run: int = 0) -> dict[str, dict[str, Any]]:
    """A run's samples by `suite/subset/index#repeat`."""
    cols, names = data["runs"][run]["samples"], data["names"]
    out = {}
    for i in range(len(cols["index"])):
        row = {k: v[i] for k, v in cols.items()}
        out[f"{names[row['suite']]}/{names[row['subset']]}/{row['index']}#{row['repeat']}"] = row
    return out


def test_a_run_of_ours_reads_back_with_gates_counts_and_every_field(tmp_path: Path) -> None:
    data = page_data([make_run(tmp_path, "run")])
    run = data["runs"][0]
    assert run["model"] == "m" and run["endpoint"] == "http://***@127.0.0.1:9/v1"
    assert "sk-secret" not in run["config"] and "pw@" not in run["config"]
    assert run["exitstatus"] == 1 and run["reason"].startswith("Exit 1: 1 gate(s) missed: gsm8k")
    assert [(g["name"], g["verdict"], g["n"], g["interval"]) for g in run["gates"]] == [("gsm8k", "missed", 8, [0.1368, 0.6943])]
    board = {b["suite"]: b for b in run["scoreboard"]}
    main = board["gsm8k"]["categories"][0]["subsets"][0]
    assert (main["samples"], main["errors"], main["unparsed"], main["truncated"]) == (9, 1, 2, 1)
    assert [c["name"] for c in board["mmlu"]["categories"]] == ["math", "science"]
    samples = rows(data)
    assert samples["gsm8k/main/2#0"]["reply"] == XSS and samples["gsm8k/main/2#0"]["unparsed"] == 1
    assert samples["gsm8k/main/5#0"]["truncated"] == 1
    assert samples["gsm8k/main/4#0"]["status"] == "error" and "503" in samples["gsm8k/main/4#0"]["error"]
    assert samples["gsm8k/main/1#0"]["reasoning"] == "Let me think: 2 + 3 is 5."
    assert samples["gsm8k/main/6#1"]["status"] == "wrong"  # repeats stay apart
    prompt = samples["gsm8k/main/3#0"]["prompt"]
    assert [m[0] for m in prompt] == ["system", "user"]
    user = prompt[1]
    assert data["prefixes"][user[2]] + user[1] == "Examples:\n" + "Q: 1 + 1?\nA: 2\n" * 20 + "Q: question 3?"
    assert run["perf"]["points"][0]["percentiles"]["latency"]["n"] == 14


def test_an_evalscope_run_reads_with_its_own_report_format() -> None:
    data = page_data([EVALSCOPE_RUN])
    run = data["runs"][0]
    assert run["model"] == "qwen-plus" and run["source"] == "evalscope" and run["exitstatus"] is None
    assert {b["suite"] for b in run["scoreboard"]} == {"gsm8k", "ifeval", "iquiz"}
    samples = rows(data)
    assert len(samples) == 40 and {k.rsplit("/", 1)[0] for k in samples} == {"gsm8k/main", "ifeval/default", "iquiz/IQ", "iquiz/EQ"}
    assert all(r["latency"] is not None and r["tokens_out"] for r in samples.values())
    assert "api_key" not in run["config"] or "***" in run["config"]


def test_flips_align_attempts_by_suite_subset_index_and_repeat(tmp_path: Path) -> None:
    data = page_data([make_run(tmp_path, "run")], baseline=make_run(tmp_path, "base", BASELINE))
    samples = rows(data)
    flips = {k: r["flip"] for k, r in samples.items() if k.startswith("gsm8k")}
    assert flips == {"gsm8k/main/0#0": "unchanged", "gsm8k/main/1#0": "regressed", "gsm8k/main/2#0": "failing",
                     "gsm8k/main/3#0": "fixed", "gsm8k/main/4#0": "regressed", "gsm8k/main/5#0": "failing",
                     "gsm8k/main/6#0": "unchanged", "gsm8k/main/6#1": "failing", "gsm8k/main/7#0": "regressed"}
    assert data["baseline"]["counts"]["regressed"] == 3
    assert samples["gsm8k/main/1#0"]["base_reply"] == "Baseline says \\boxed{1}"
    assert add_flips([], []) == {"regressed": 0, "fixed": 0, "failing": 0, "unchanged": 0, "new": 0}


def test_past_the_budget_long_fields_are_cut_and_say_where_the_full_text_is(tmp_path: Path) -> None:
    run = make_run(tmp_path, "run")
    data = page_data([run], cap=300, samples=5)
    cut = data["runs"][0]["cut"]
    assert cut["fields"] == 15 and cut["cap"] == 300  # every sample's user prompt
    prompt = rows(data)["gsm8k/main/3#0"]["prompt"][1]
    text = data["prefixes"][prompt[2]] + prompt[1] if prompt[2] >= 0 else prompt[1]
    assert "the full text is in reviews/m/gsm8k_main.jsonl, line 4" in text and text.endswith("Q: question 3?")
    assert apply_budget([{"prompt": [], "reply": "x"}], samples=5) is None


def test_the_page_is_one_file_that_asks_for_nothing(tmp_path: Path) -> None:
    html = render(page_data([make_run(tmp_path, "run")]))
    assert "default-src 'none'" in html  # the browser refuses any request the page could make
    assert not re.search(r"<(link|iframe|img|object|embed)\b|\bsrc=|@import|url\(", html.split("<script id=evalscope-data")[0])
    script = html.split("<script id=evalscope-data")[1]
    assert XSS not in html and "alert(1)" not in html  # model text travels only compressed
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    assert permalink("gsm8k", "main", 12) == "#s=gsm8k/main/12" and permalink("a/b", "c d", 1) == "#s=a%2Fb/c%20d/1"


def test_the_plugin_writes_the_page_when_a_run_finishes_alike_serially_and_under_xdist(
        pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    pages = []
    for workers in ("0", "2"):
        result = pytester.runpytest("--evalscope-eval-type=mock", "--evalscope-model=mock", gsm8k_args,
                                    "--evalscope-limit=6", "--evalscope-threshold=gsm8k=0.5", "-p", "no:cacheprovider",
                                    "-n", workers, f"--evalscope-work-dir=out{workers}")
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        run = next((pytester.path / f"out{workers}").iterdir())
        result.stdout.fnmatch_lines([f"evalscope report: {run / 'report.html'} (written in * s)"])
        summary = json.loads((run / "run_summary.json").read_text())
        assert summary["exitstatus"] == 1 and summary["gates"][0]["verdict"] == "missed" and summary["versions"]["pytest"]
        data = decode((run / "report.html").read_text())
        assert data["runs"][0]["reason"] == summary["reason"]
        pages.append({k: {f: v for f, v in r.items() if f != "latency"} for k, r in rows(data).items()})
    assert len(pages[0]) == 6 and {r["status"] for r in pages[0].values()} == {"wrong"}
    assert pages[0] == pages[1]


def test_options_move_or_skip_the_page(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    common = ["--evalscope-eval-type=mock", "--evalscope-model=mock", gsm8k_args, "--evalscope-limit=2", "-p", "no:cacheprovider"]
    pytester.runpytest(*common, "--evalscope-work-dir=a", "--no-evalscope-html")
    run = next((pytester.path / "a").iterdir())
    assert not (run / "report.html").exists() and (run / "run_summary.json").is_file()
    pytester.runpytest(*common, "--evalscope-work-dir=b", "--evalscope-html=pages/r.html", f"--evalscope-html-baseline={run}")
    data = decode((pytester.path / "pages" / "r.html").read_text())
    assert data["baseline"]["id"] == run.name and {r["flip"] for r in rows(data).values()} == {"failing"}
    result = pytester.runpytest(*common, "--evalscope-work-dir=c", "--evalscope-html-baseline=nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--evalscope-html-baseline*nowhere*no run folder*"])


def test_view_writes_several_runs_side_by_side_with_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ours, base = make_run(tmp_path, "run"), make_run(tmp_path, "base", BASELINE)
    target = tmp_path / "both.html"
    assert cli_main(["view", str(ours), str(EVALSCOPE_RUN), "--baseline", str(base), "-o", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {target}"
    data = decode(target.read_text())
    assert [r["model"] for r in data["runs"]] == ["m", "qwen-plus"] and data["baseline"]["counts"]["regressed"] == 3
    assert cli_main(["view", str(tmp_path / "missing")]) == 4
    write_page([EVALSCOPE_RUN], tmp_path / "evalscope.html")
    assert len(rows(decode((tmp_path / "evalscope.html").read_text()))) == 40


def test_a_perf_run_gets_the_same_timings_section(tmp_path: Path) -> None:
    from pytest_evalscope.perf.api import run_perf
    from pytest_evalscope.testing.server import ServerConfig, serve_in_thread

    with serve_in_thread(ServerConfig(latency_ms=2)) as server:
        result = run_perf(url=f"{server.url}/chat/completions", model="m", number=12, parallel=2, dataset="random",
                          max_tokens=8, min_prompt_length=5, max_prompt_length=10, outputs_dir=str(tmp_path / "perf"),
                          plots=False, echo=False)
    target = tmp_path / "perf.html"
    assert cli_main(["view", result["output_dir"], "-o", str(target)]) == 0
    run = decode(target.read_text())["runs"][0]
    assert run["kind"] == "perf" and run["scoreboard"] == [] and "samples" in run
    point = run["perf"]["points"][0]
    assert point["label"] == "parallel_2_number_12" and point["scalars"]["succeeded"] == 12
    assert point["percentiles"]["ttft"]["unit"] == "ms" and sum(point["hists"]["e2e"]["counts"]) == 12
