"""The plugin black-box, with the mock model: collection, ids, selection, outputs, gates, JUnit, exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

MOCK = ["--evalscope-eval-type=mock", "--evalscope-work-dir=out"]
BOXED_18 = '--evalscope-model-args={"response": "so the total is \\\\boxed{18}"}'  # gold of main-0


def run_dirs(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / "out").glob("*"))


def test_without_a_model_suites_are_left_out(pytester: pytest.Pytester, suite_file: Path) -> None:
    pytester.makepyfile(test_other="def test_ok():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "out").exists()


def test_collect_only_lists_readable_ids_and_asks_nothing(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    result = pytester.runpytest("--collect-only", "-q", *MOCK, gsm8k_args, "--evalscope-limit=3")
    result.stdout.fnmatch_lines(["eval_gsm8k.py::gsm8k[[]main-0[]]", "eval_gsm8k.py::gsm8k[[]main-1[]]", "eval_gsm8k.py::gsm8k[[]main-2[]]"])
    assert result.ret == 0
    assert run_dirs(pytester) == []


def test_fraction_limit_and_repeats(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    result = pytester.runpytest("--collect-only", "-q", *MOCK, gsm8k_args, "--evalscope-limit=0.01", "--evalscope-repeats=2")
    ids = [line for line in result.stdout.lines if "::gsm8k[" in line]
    assert len(ids) == 2 * 13  # int(1319 * 0.01) samples, twice
    assert "eval_gsm8k.py::gsm8k[main-0-r1]" in ids


def test_keyword_and_deselect_selection(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    result = pytester.runpytest("-q", *MOCK, gsm8k_args, "--evalscope-limit=4", "-k", "gsm8k and main",
                                "--deselect", "eval_gsm8k.py::gsm8k[main-1]")
    result.assert_outcomes(failed=3, deselected=1)
    reviews = run_dirs(pytester)[0] / "reviews" / "mock" / "gsm8k_main.jsonl"
    assert [json.loads(line)["index"] for line in reviews.read_text().splitlines()] == [0, 2, 3]


def test_collected_samples_are_frozen_out_of_the_garbage_collectors_sight(pytester: pytest.Pytester, suite_file: Path,
                                                                       gsm8k_args: str) -> None:
    import gc

    gc.unfreeze()
    pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=3").assert_outcomes(failed=3)
    assert gc.get_freeze_count() > 1000  # items, samples and prompts, kept out of every later full collection
    gc.unfreeze()
    pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=3", "--collect-only")
    assert gc.get_freeze_count() == 0  # nothing is frozen when no sample runs


@pytest.mark.parametrize("workers", ["0", "2"])
def test_wrong_answers_fail_items_but_not_the_session(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                                      workers: str) -> None:
    result = pytester.runpytest_subprocess(*MOCK, gsm8k_args, "--evalscope-limit=3", BOXED_18, "-n", workers)
    result.assert_outcomes(passed=1, failed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*wrong answer: gold '3', extracted '18'*", "*| mock *| gsm8k *| mean_acc *| main *| 3 *| 0.3333 *"])
    # each wrong answer is one whole line in the failures section (pytest's line style used to print it
    # twice, the second time cut to 50 characters), also under xdist
    lines = [line for line in result.outlines if "wrong answer: gold" in line]
    assert len(lines) == 2 and all("reply ends:" in line for line in lines), lines


@pytest.mark.parametrize(("threshold", "code"), [("gsm8k=0.3", 0), ("gsm8k=0.5", 1), ("gsm8k/main=0.9", 1)])
def test_thresholds_decide_the_exit_status(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                           threshold: str, code: int) -> None:
    result = pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=3", BOXED_18, f"--evalscope-threshold={threshold}")
    assert result.ret == code
    verdict = "met" if code == 0 else "MISSED"
    result.stdout.fnmatch_lines([f"evalscope threshold {threshold.split('=')[0]}: 0.3333 * {verdict}"])


def test_suite_threshold_and_other_tests_keep_their_meaning(pytester: pytest.Pytester, gsm8k_args: str) -> None:
    pytester.makepyfile(eval_gsm8k="from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k', threshold=0.3)\n")
    pytester.makepyfile(test_other="def test_broken():\n    assert False\n")
    result = pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=3", BOXED_18, "eval_gsm8k.py", "test_other.py")
    assert result.ret == 1  # the gate is met, but an ordinary test failed
    result.stdout.fnmatch_lines(["*threshold gsm8k: 0.3333 >= 0.3 over 3 samples met*"])


def test_outputs_tree_matches_evalscope_layout(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=3", BOXED_18)
    (run,) = run_dirs(pytester)
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and ".cache" not in p.parts)
    assert files == ["configs/suite_settings.json", "configs/task_config.yaml", "logs/eval_log.log",
                     "predictions/mock/gsm8k_main.jsonl",
                     "progress.json", "report.html", "reports/mock/gsm8k.json", "reviews/mock/gsm8k_main.jsonl",
                     "run_summary.json"]
    example = Path(__file__).resolve().parents[2] / "shared/datasets/evalscope_examples/qwen-plus"
    ours = json.loads((run / "reports/mock/gsm8k.json").read_text())
    theirs = json.loads((example / "reports/qwen-plus/gsm8k.json").read_text())
    assert set(theirs) <= set(ours)
    assert set(theirs["metrics"][0]) <= set(ours["metrics"][0])
    assert set(theirs["metrics"][0]["categories"][0]["subsets"][0]) <= set(ours["metrics"][0]["categories"][0]["subsets"][0])
    pred = json.loads((run / "predictions/mock/gsm8k_main.jsonl").read_text().splitlines()[0])
    their_pred = json.loads((example / "predictions/qwen-plus/gsm8k_main.jsonl").read_text().splitlines()[0])
    assert set(their_pred) <= set(pred) and set(their_pred["model_output"]) <= set(pred["model_output"])
    review = json.loads((run / "reviews/mock/gsm8k_main.jsonl").read_text().splitlines()[0])
    assert review["sample_score"]["score"]["value"] == {"acc": 1.0}
    assert review["sample_score"]["score"]["extracted_prediction"] == "18"


def test_prompts_are_byte_identical_to_evalscope(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=10")
    (run,) = run_dirs(pytester)
    ours = {json.loads(line)["index"]: json.loads(line) for line in (run / "reviews/mock/gsm8k_main.jsonl").read_text().splitlines()}
    example = Path(__file__).resolve().parents[2] / "shared/datasets/evalscope_examples/qwen-plus/reviews/qwen-plus/gsm8k_main.jsonl"
    for line in example.read_text().splitlines():
        theirs = json.loads(line)
        assert ours[theirs["index"]]["messages"][0]["content"] == theirs["messages"][0]["content"]
        assert ours[theirs["index"]]["target"] == theirs["target"]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_junit_xml_has_sample_properties_and_suite_cases(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                                         workers: list[str]) -> None:
    result = pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=4", BOXED_18, "--junitxml=results.xml",
                                "--evalscope-threshold=gsm8k=0.5", *workers)
    assert result.ret == 1
    root = ET.parse(pytester.path / "results.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    sample = cases["gsm8k[main-0]"]
    props = {p.get("name"): p.get("value") for p in sample.iter("property")}
    assert props["gold"] == "18" and props["extracted_answer"] == "18" and props["score"] == "1.0"
    assert {"prediction", "latency_s", "input_tokens", "output_tokens"} <= set(props)
    suite = cases["gsm8k"]
    suite_props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert suite_props["score"] == "0.25" and suite_props["num"] == "4" and suite_props["threshold"] == "0.5"
    assert "ci95_low" in suite_props and suite.find("failure") is not None
    subset = cases["gsm8k/main"]  # no gate of its own: it carries its score and passes
    assert subset.find("failure") is None
    assert "threshold" not in {p.get("name") for p in subset.iter("property")}


def test_reports_are_identical_serial_and_xdist(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    reports = []
    for workers in ([], ["-n", "2"]):
        pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=30", BOXED_18, "--evalscope-work-dir=out", *workers)
        run = run_dirs(pytester)[-1]
        report = json.loads((run / "reports/mock/gsm8k.json").read_text())
        report.pop("perf_metrics")
        reviews = (run / "reviews/mock/gsm8k_main.jsonl").read_text()
        reports.append((report, reviews))
    assert reports[0] == reports[1]


@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        ({"eval_a": "from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k')\n",
          "eval_b": "from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k', dataset_args={'few_shot_num': 0})\n"},
         [], "two suites are named 'gsm8k'"),
        ({"eval_a": "from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k', threshold={'mian': 0.5})\n"}, [],
         "threshold gsm8k/mian: no subset 'mian'; subsets: main"),
        ({"eval_a": "from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k', threshold=80)\n"}, [], "80.0 is outside [0, 1]"),
        ({"eval_a": "from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k', dataset_args={'prompt_template': '{q}', 'few_shot_num': 0})\n"},
         [], "a prompt template does not fit (KeyError: 'q'); its fields are question"),
        ({"eval_a": "from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k')\n"}, ["--evalscope-generation-config=n=two"],
         "generation_config.n: expected an integer"),
        ({"eval_a": "from pytest_evalscope import Suite\ngsm8k = Suite('gsm8k')\n"}, ["--evalscope-datasets=gsm9k"],
         "unknown benchmark 'gsm9k' (did you mean 'gsm8k'?)"),
    ],
)
def test_suite_mistakes_stop_with_one_line_and_exit_4(pytester: pytest.Pytester, gsm8k_args: str, files: dict[str, str],
                                                      extra: list[str], message: str) -> None:
    pytester.makepyfile(**files)
    result = pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=2", *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and message in errors[0], result.stderr.lines


def test_gates_over_an_empty_selection_are_missed(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    result = pytester.runpytest(*MOCK, gsm8k_args, "-k", "nothing_matches", "--evalscope-threshold=gsm8k=0.1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_stopping_at_the_first_wrong_answer_is_a_failure(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str,
                                                         workers: list[str]) -> None:
    result = pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=6", "-x", *workers)
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED)
    assert result.ret != pytest.ExitCode.OK


def test_generation_config_secrets_and_url_userinfo_are_redacted(pytester: pytest.Pytester, suite_file: Path, gsm8k_args: str) -> None:
    pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=1", "--evalscope-dry-run", "--evalscope-api-url=http://bob:pw-SECRET@127.0.0.1:9/v1",
                       '--evalscope-generation-config={"extra_headers": {"Authorization": "Bearer tok-SECRET"}}')
    (run,) = run_dirs(pytester)
    for path in run.rglob("*"):
        if path.is_file():
            assert b"SECRET" not in path.read_bytes(), path


def test_use_cache_with_a_narrower_selection_keeps_the_earlier_samples(pytester: pytest.Pytester, suite_file: Path,
                                                                         gsm8k_args: str) -> None:
    first = pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=20", BOXED_18)
    assert sum(first.parseoutcomes().get(k, 0) for k in ("passed", "failed")) == 20
    (run,) = run_dirs(pytester)
    before = json.loads((run / "reports/mock/gsm8k.json").read_text())
    again = pytester.runpytest(*MOCK, gsm8k_args, "--evalscope-limit=20", BOXED_18, f"--evalscope-use-cache={run}", "-k", "main-1")
    outcomes = again.parseoutcomes()  # main-1 and main-10 .. main-19
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 11 and outcomes["deselected"] == 9
    assert run_dirs(pytester) == [run]
    for kind in ("predictions", "reviews"):
        assert [json.loads(line)["index"] for line in (run / kind / "mock/gsm8k_main.jsonl").read_text().splitlines()] == list(range(20))
    after = json.loads((run / "reports/mock/gsm8k.json").read_text())
    assert (after["num"], after["score"], after["metrics"]) == (before["num"], before["score"], before["metrics"])


def test_eval_without_pytests_cache_plugin_prints_no_config_warning(tmp_path: Path) -> None:
    # session_args sets cache_dir; with -p no:cacheprovider pytest would warn it is an unknown ini key
    import subprocess
    import sys

    from .conftest import GSM8K_DIR

    args = json.dumps({"gsm8k": {"local_path": str(GSM8K_DIR)}})
    done = subprocess.run([sys.executable, "-m", "pytest_evalscope.cli", "eval", "--model", "m", "--api-url",
                           "http://127.0.0.1:9/v1", "--datasets", "gsm8k", "--limit", "2", "--dataset-args", args,
                           "--", "--collect-only", "-q", "-p", "no:cacheprovider"],
                          check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 tests collected" in done.stdout
    assert "Unknown config option" not in done.stdout + done.stderr
    assert not (tmp_path / ".pytest_cache").exists()
