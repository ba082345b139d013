"""Regression gates against a baseline run, end to end: two runs against the loopback server whose
oracles differ on 30 known GSM8K samples, serial and with -n 2, the offline `compare`, an EvalScope
outputs folder as the baseline, and the comparability stop. Unit tests of alignment and identity."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pytest_evalscope.cli import main as cli_main
from pytest_evalscope.params import ConfigError, parse_regressions
from pytest_evalscope.reporting.alignment import align, content_hash, load_run
from pytest_evalscope.reporting.comparison import sample_value, scope_values
from pytest_evalscope.reporting.gates import Gate
from pytest_evalscope.reporting.identity import allowed, first_mismatch
from pytest_evalscope.testing.gsm8k_oracle import build_oracle, gold_int, read_records
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess

from .conftest import GSM8K_DIR, SHARED

EVALSCOPE_RUN = SHARED / "datasets" / "evalscope_examples" / "qwen-plus"
RECORDS = read_records(GSM8K_DIR / "test.jsonl") if GSM8K_DIR.is_dir() else []
ORACLE, VERDICTS = build_oracle(RECORDS)
LIMIT = 300
ANSWERED = [i for i in range(LIMIT) if RECORDS and RECORDS[i]["question"].strip() in ORACLE]
NEWLY_WRONG = [i for i in ANSWERED if VERDICTS[i]][5:25]  # 20 the baseline gets right
NEWLY_RIGHT = [i for i in ANSWERED if not VERDICTS[i]][:10]  # 10 it gets wrong


def candidate_oracle() -> dict:
    oracle = dict(ORACLE)
    for i in NEWLY_WRONG:
        oracle[RECORDS[i]["question"].strip()] = f"The answer is \\boxed{{{gold_int(RECORDS[i]['answer']) + 1}}}."
    for i in NEWLY_RIGHT:
        oracle[RECORDS[i]["question"].strip()] = f"The answer is \\boxed{{{gold_int(RECORDS[i]['answer'])}}}."
    return oracle


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerHandle, ServerHandle]]:
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=300)) as base, \
            serve_in_subprocess(ServerConfig(oracle=candidate_oracle(), max_seconds=300)) as cand:
        yield base, cand


def args(handle: ServerHandle, gsm8k_args: str, out: str, *extra: str) -> list[str]:
    return ["--evalscope-model=oracle", f"--evalscope-api-url={handle.url}", gsm8k_args, f"--evalscope-limit={LIMIT}",
            f"--evalscope-work-dir={out}", "--evalscope-eval-batch-size=16", "-p", "no:cacheprovider", *extra]


def run_dir(root: Path, out: str) -> Path:
    return sorted((root / out).glob("*"))[-1]


def comparison(run: Path) -> dict:
    return json.loads((run / "reports/oracle/gsm8k.json").read_text())["comparison"]


def test_the_gate_names_exactly_the_changed_samples_and_follows_the_margin(
        pytester: pytest.Pytester, suite_file: Path, servers: tuple[ServerHandle, ServerHandle], gsm8k_args: str) -> None:
    base_server, cand_server = servers
    assert pytester.runpytest(*args(base_server, gsm8k_args, "base")).ret == 0
    base = run_dir(pytester.path, "base")
    assert (base / "configs/suite_settings.json").is_file()

    strict = pytester.runpytest(*args(cand_server, gsm8k_args, "cand", f"--evalscope-baseline={base}",
                                      "--evalscope-regression=gsm8k", "--junitxml=cand.xml",
                                      "--evalscope-compare-md=pr.md"))
    assert strict.ret == 1
    strict.stdout.fnmatch_lines(["*evalscope regression gsm8k: Δ -0.0333 * (b 20, c 10, n 300, *) REGRESSED*"])
    serial = comparison(run_dir(pytester.path, "cand"))
    assert serial["regressed"] == sorted(f"gsm8k/main/{i}" for i in NEWLY_WRONG) or \
        sorted(serial["regressed"]) == sorted(f"gsm8k/main/{i}" for i in NEWLY_WRONG)
    assert sorted(serial["fixed"]) == sorted(f"gsm8k/main/{i}" for i in NEWLY_RIGHT)
    assert (serial["b"], serial["c"], serial["n"], serial["aligned"], serial["missing"], serial["new"]) == (20, 10, 300, 300, 0, 0)
    assert serial["gates"][0]["verdict"] == "regressed"

    case = next(c for c in ET.parse(pytester.path / "cand.xml").iter("testcase") if c.get("name") == "regression[gsm8k]")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert (props["verdict"], props["b"], props["c"]) == ("regressed", "20", "10")
    output = case.find("system-out").text
    assert sorted(line for line in output.splitlines() if "::" in line) == \
        sorted(f"eval_gsm8k.py::gsm8k[main-{i}]" for i in NEWLY_WRONG)
    markdown = (pytester.path / "pr.md").read_text()
    assert "| gsm8k | " in markdown and "REGRESSED" in markdown and markdown.count("#### gsm8k/main/") == 10

    tolerant = pytester.runpytest(*args(cand_server, gsm8k_args, "cand2", f"--evalscope-baseline={base}",
                                        "--evalscope-regression=gsm8k=0.05", "-n", "2"))
    assert tolerant.ret == 0
    tolerant.stdout.fnmatch_lines(["*evalscope regression gsm8k: * PASSED*"])
    xdist = comparison(run_dir(pytester.path, "cand2"))
    assert xdist.pop("gates")[0]["verdict"] == "passed"
    serial.pop("gates")
    assert xdist == serial  # -n 0 and -n 2 give the same comparison

    # the offline comparison of the two finished runs says the same, and its exit status follows the margin
    cand = str(run_dir(pytester.path, "cand"))
    assert cli_main(["compare", str(base), cand, "--regression", "gsm8k"]) == 1
    assert cli_main(["compare", str(base), cand, "--regression", "gsm8k=0.05"]) == 0
    assert cli_main(["compare", str(base), cand, "--regression", "gsm8k=0.05", "--regression-mode", "noninferior"]) == 1


def test_identical_oracles_pass_and_a_changed_prompt_template_stops(
        pytester: pytest.Pytester, suite_file: Path, servers: tuple[ServerHandle, ServerHandle], gsm8k_args: str) -> None:
    base_server, _ = servers
    assert pytester.runpytest(*args(base_server, gsm8k_args, "base")).ret == 0
    base = run_dir(pytester.path, "base")
    same = pytester.runpytest(*args(base_server, gsm8k_args, "same", f"--evalscope-baseline={base}",
                                    "--evalscope-regression=all"))
    assert same.ret == 0
    same.stdout.fnmatch_lines(["*evalscope regression gsm8k: Δ +0.0000 * (b 0, c 0, n 300, *) PASSED*"])

    requests = base_server.stats()["requests"]
    changed = json.loads(gsm8k_args.split("=", 1)[1])
    changed["gsm8k"]["prompt_template"] = "Question: {question}\nAnswer with \\boxed{{}}."
    changed["gsm8k"]["few_shot_num"] = 4
    stopped = pytester.runpytest(*args(base_server, f"--evalscope-dataset-args={json.dumps(changed)}", "changed",
                                       f"--evalscope-baseline={base}", "--evalscope-regression=gsm8k"))
    assert stopped.ret == pytest.ExitCode.USAGE_ERROR
    stopped.stderr.fnmatch_lines(["*not comparable with the baseline: gsm8k.prompt_template differs*"
                                  "--evalscope-compare-allow=gsm8k.prompt_template*"])
    assert base_server.stats()["requests"] == requests  # stopped before any model call
    changed["gsm8k"]["few_shot_num"] = 0  # now the rendered prompts differ too: samples pair by index
    allowed_run = pytester.runpytest(*args(base_server, f"--evalscope-dataset-args={json.dumps(changed)}", "changed",
                                           f"--evalscope-baseline={base}", "--evalscope-compare-allow=prompt_template",
                                           "--evalscope-compare-allow=gsm8k.few_shot_num", "--evalscope-limit=20",
                                           "--evalscope-regression=gsm8k"))
    assert allowed_run.ret == 1  # 20 of 300 aligned: inconclusive, never passed
    allowed_run.stdout.fnmatch_lines(["*evalscope regression gsm8k: * INCONCLUSIVE: under 90% of the samples aligned*"])
    allowed_run.stdout.fnmatch_lines(["*evalscope warning: gsm8k: 20 sample(s) aligned by index only*"])
    section = comparison(run_dir(pytester.path, "changed"))
    assert (section["aligned"], section["aligned_by_index"], section["missing"]) == (20, 20, 280)

    other = pytester.runpytest(*args(base_server, gsm8k_args, "temp", f"--evalscope-baseline={base}",
                                     "--evalscope-generation-config=temperature=0.7"))
    assert other.ret == pytest.ExitCode.USAGE_ERROR
    other.stderr.fnmatch_lines(["*generation_config.temperature differs (baseline unset, this run 0.7)*"])


def test_an_evalscope_outputs_folder_is_a_baseline(pytester: pytest.Pytester, suite_file: Path,
                                                   servers: tuple[ServerHandle, ServerHandle], gsm8k_args: str) -> None:
    base_server, _ = servers
    result = pytester.runpytest(*args(base_server, gsm8k_args, "cand", "--evalscope-limit=10",
                                      f"--evalscope-baseline={EVALSCOPE_RUN}", "--evalscope-regression=gsm8k",
                                      "--evalscope-generation-config=temperature=0.7"))
    section = comparison(run_dir(pytester.path, "cand"))
    wrong = [i for i in range(10) if not VERDICTS[i]]
    assert (section["aligned"], section["aligned_by_index"], section["n"]) == (10, 0, 10)  # aligned by content
    assert section["b"] == len(wrong) and section["c"] == 0 and section["baseline_model"] == "qwen-plus"
    assert sorted(section["regressed"]) == sorted(f"gsm8k/main/{i}" for i in wrong)
    assert result.ret in (0, 1)
    result.stdout.fnmatch_lines(["*evalscope regression gsm8k: *"])


# ---------------------------------------------------------------- units


def record(index: int, target: str, question: str, value: float, repeat: int = 0, subset: str = "main") -> dict:
    return {"suite": "gsm8k", "benchmark": "gsm8k", "subset": subset, "index": index, "repeat": repeat,
            "status": "correct" if value == 1 else "wrong", "score": {"acc": value}, "metric": "acc", "target": target,
            "messages": [{"role": "user", "content": question}]}


def test_alignment_by_content_survives_a_reordered_split_and_falls_back_to_the_index() -> None:
    base = [record(0, "1", "q0", 1), record(1, "2", "q1", 0), record(2, "3", "q2", 1), record(3, "4", "q3", 1)]
    cand = [record(5, "1", "q0", 1), record(1, "2", "q1 (reworded)", 1), record(7, "9", "q9", 0)]
    result = align(base, cand)[("gsm8k", "main")]
    pairs = {(old["index"], new["index"]) for old, new in result.pairs}
    assert pairs == {(0, 5), (1, 1)} and result.by_index == 1
    assert (result.missing, result.new) == (2, 1) and result.share == pytest.approx(2 / 5)
    reply = {**base[0], "messages": base[0]["messages"] + [{"role": "assistant", "content": "x"}]}
    assert content_hash(reply) == content_hash(base[0])  # the reply a review line appends is not input


def test_repeats_are_averaged_within_a_sample_and_pass_at_k_is_per_sample() -> None:
    base = [record(i, str(i), f"q{i}", v, r) for i, vs in enumerate([(1, 0), (0, 0), (1, 1)]) for r, v in enumerate(vs)]
    cand = [record(i, str(i), f"q{i}", v, r) for i, vs in enumerate([(1, 1), (0, 1), (0, 0)]) for r, v in enumerate(vs)]
    alignment = {"main": align(base, cand)[("gsm8k", "main")]}
    scope = scope_values("gsm8k", None, "mean_acc", alignment)
    assert not scope.binary and list(scope.base) == [0.5, 0.0, 1.0] and list(scope.cand) == [1.0, 0.5, 0.0]
    assert list(scope_values("gsm8k", None, "pass@2", alignment).cand) == [1.0, 1.0, 0.0]
    assert sample_value([record(0, "1", "q", 1, 0), record(0, "1", "q", 0, 1)], "pass^2") == 0.0


def test_comparability_names_the_field_and_allows_it_knowingly() -> None:
    base = {"gsm8k.prompt_template": "{question}", "generation_config.temperature": 0.0}
    cand = {"gsm8k.prompt_template": "Q: {question}", "generation_config.temperature": 0.0}
    line = first_mismatch(base, cand, [])
    assert line is not None and "gsm8k.prompt_template differs" in line and line.count("\n") == 0
    assert first_mismatch(base, cand, ["prompt_template"]) is None
    assert allowed("generation_config.max_tokens", ["generation_config"]) and not allowed("gsm8k.filters", ["gsm8k.f"])


def test_regression_settings_parse_at_once() -> None:
    assert parse_regressions(["gsm8k=0.02", "mmlu/abstract_algebra", "all=0.01"], "r") == \
        {"gsm8k": 0.02, "mmlu/abstract_algebra": 0.0, "all": 0.01}
    with pytest.raises(ConfigError, match="fractions"):
        parse_regressions("gsm8k=2", "--evalscope-regression")
    with pytest.raises(ConfigError, match="NAME=MARGIN"):
        parse_regressions("gsm8k=", "--evalscope-regression")


def test_gate_on_bounds_reports_inconclusive() -> None:
    inside = dict(name="gsm8k", threshold=0.8, score=0.81, num=300, ci95=[0.76, 0.85])
    assert Gate(**inside).verdict == "met" and Gate(**inside).met
    assert Gate(**inside, gate_on="lower").verdict == "inconclusive" and not Gate(**inside, gate_on="lower").met
    assert Gate(**inside, gate_on="upper").verdict == "inconclusive" and Gate(**inside, gate_on="upper").met
    assert "INCONCLUSIVE" in Gate(**inside, gate_on="lower").describe()
    above = dict(inside, ci95=[0.805, 0.85])
    assert Gate(**above, gate_on="lower").met
    assert not Gate(**dict(inside, score=0.7, ci95=[0.65, 0.75]), gate_on="upper").met


def test_load_run_reads_evalscope_reviews() -> None:
    run = load_run(EVALSCOPE_RUN)
    gsm8k = [r for r in run.records if r["suite"] == "gsm8k"]
    assert len(gsm8k) == 10 and {r["subset"] for r in gsm8k} == {"main"} and run.model == "qwen-plus"
    assert run.settings["gsm8k"]["few_shot_num"] == 4
    assert np.mean([sample_value([r], "mean_acc") for r in gsm8k]) == 1.0
    with pytest.raises(ConfigError, match="not the folder of a finished run"):
        load_run(EVALSCOPE_RUN / "nowhere")
