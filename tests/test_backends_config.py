"""eval_backend / eval_config: every backend config of EvalScope's documentation (fixtures/backend_configs)
runs natively, is delegated or is refused in one line; a delegated run goes through the backend's own
interpreter (here a stand-in that writes the files the backend documents) and becomes reports without
per-sample records, the same with -n 0 and -n 2; a RAGAS config runs natively as the ragas suite."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.backends_config import Delegation, NativePlan, convert
from pytest_evalscope.config import TaskConfig
from pytest_evalscope.params import ConfigError
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = json.loads((FIXTURES / "backend_configs" / "examples.json").read_text())["examples"]
MTEB_RESULT = {"task_name": "TNews", "scores": {"validation": [{"main_score": 0.4744, "accuracy": 0.4744, "f1": 0.4456}]}}
# A stand-in for the backend's interpreter: it answers the install probe ("every module importable") and,
# for the run, writes what EvalScope's MTEB backend documents (outputs/<model>/<revision>/<task>.json).
STANDIN = f"""import json, pathlib, sys
args = sys.argv[1:]
if "find_spec" in args[1]:
    print("")
    sys.exit(0)
cfg = json.load(open(args[2]))
if "Crash" in cfg["eval_config"]["eval"]["task_names"]:
    print("backend crashed")
    sys.exit(3)
out = pathlib.Path(cfg["work_dir"]) / "m3e-base" / "master"
out.mkdir(parents=True, exist_ok=True)
(out / "TNews.json").write_text(json.dumps({MTEB_RESULT!r}))
"""


def plan(task_config: dict[str, Any]) -> Any:
    return TaskConfig.from_layers([("task_cfg", task_config)]).backend_plan


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_every_documented_config_runs_is_delegated_or_is_refused(example: dict[str, Any]) -> None:
    if example["expect"] == "refused":
        with pytest.raises(ConfigError) as info:
            plan(example["task_config"])
        assert example["says"] in str(info.value) and "\n" not in str(info.value)
        return
    result = plan(example["task_config"])
    if example["expect"] == "native":
        assert isinstance(result, NativePlan) and result.settings["datasets"] == [example["says"]]
    else:
        assert isinstance(result, Delegation) and example["says"] in result.reason + result.backend + str(result.tool)


@pytest.mark.parametrize(("eval_config", "message"), [
    ({"tool": "mtb"}, "'mtb' is not a RAGEval tool (did you mean 'mteb'?)"),
    ({"tool": "mteb", "models": [{"model_name_or_path": "m"}], "eval": {"task_name": ["TNews"]}},
     "eval_config.eval: unknown key 'task_name' (did you mean 'task_names'?)"),
    ({"tool": "mteb", "models": [{"model_name_or_path": "m"}], "eval": {"task_names": ["TNews"], "topk": 5}},
     "eval_config.eval.topk: EvalScope 1.9 renamed eval.topk to eval.top_k"),
    ({"tool": "mteb", "models": [{"model_name_or_path": "m", "dimension": 8}], "eval": {"task_names": ["TNews"]}},
     "eval_config.models[0].dimension: the key is dimensions"),
    ({"tool": "ragas", "eval": {"testset_file": "t.json", "critic_llm": {"model_name": "q"}}},
     "eval_config.eval.embeddings: required"),
    ({"tool": "ragas", "eval": {"testset_file": "t.json", "critic_llm": {"model": "q"}, "embeddings": {"model_name_or_path": "e"}}},
     "eval_config.eval.critic_llm: unknown key 'model' (did you mean 'model_name'?)"),
])
def test_misspellings_and_old_names_are_named(eval_config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan({"eval_backend": "RAGEval", "eval_config": eval_config})
    assert message in str(info.value)


def test_eval_config_as_a_file_or_json_and_the_backend_name(tmp_path: Path) -> None:
    config = EXAMPLES[[e["id"] for e in EXAMPLES].index("opencompass_yaml_json")]["task_config"]["eval_config"]
    (tmp_path / "oc.yaml").write_text(json.dumps(config))  # JSON is YAML
    assert isinstance(plan({"eval_backend": "opencompass", "eval_config": str(tmp_path / "oc.yaml")}), Delegation)
    assert plan({"eval_backend": "OpenCompass", "eval_config": json.dumps(config)}).config == config
    with pytest.raises(ConfigError, match="eval_backend: unknown value 'opencompas' \\(did you mean 'opencompass'\\?\\)"):
        plan({"eval_backend": "OpenCompas", "eval_config": config})
    with pytest.raises(ConfigError, match="eval_config is read only with eval_backend RAGEval, OpenCompass or VLMEvalKit"):
        plan({"eval_config": config})
    with pytest.raises(ConfigError, match="eval_backend VLMEvalKit needs eval_config"):
        plan({"eval_backend": "VLMEvalKit"})


def _config_file(path: Path, task_config: dict[str, Any]) -> str:
    path.write_text(json.dumps(task_config))
    return str(path)


def test_a_backend_that_is_not_installed_stops_the_run_with_the_pip_line(pytester: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALSCOPE_BACKEND_PYTHON", sys.executable)  # this project's venv: no evalscope, no vlmeval
    example = EXAMPLES[[e["id"] for e in EXAMPLES].index("vlmevalkit_api_service")]["task_config"]
    result = pytester.runpytest("-p", "no:cacheprovider", "--evalscope-work-dir=out",
                                           "--evalscope-config", _config_file(pytester.path / "cfg.json", example))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = next(line for line in result.stderr.lines if line.startswith("ERROR: "))
    assert "eval_backend VLMEvalKit is delegated" in line and "pip install 'evalscope[vlmeval]'" in line
    assert "EVALSCOPE_BACKEND_PYTHON" in line and not (pytester.path / "out").exists()


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "standin.py"
    script.write_text(STANDIN)
    launcher = tmp_path / "backend-python"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    launcher.chmod(0o755)
    monkeypatch.setenv("EVALSCOPE_BACKEND_PYTHON", str(launcher))
    return launcher


SECRET = "sk-do-not-write-me"


def _mteb_config(**extra: Any) -> dict[str, Any]:
    model = {"model_name_or_path": "AI-ModelScope/m3e-base", "api_key": SECRET}
    return {"eval_backend": "RAGEval", "eval_config": {"tool": "mteb", "models": [model],
                                                      "eval": {"task_names": ["TNews"], "limits": 500}, **extra}}


def test_a_delegated_run_becomes_reports_without_records_serial_and_xdist(pytester: pytest.Pytester, standin: Path) -> None:
    reports = []
    for workers in ("0", "2"):
        shutil.rmtree(pytester.path / "out", ignore_errors=True)
        result = pytester.runpytest("-p", "no:cacheprovider", "--evalscope-work-dir=out", "-n", workers,
                                               "--evalscope-config", _config_file(pytester.path / "cfg.json", _mteb_config()))
        result.assert_outcomes(passed=1)
        run_dir = sorted((pytester.path / "out").iterdir())[-1]
        report = json.loads((run_dir / "reports/m3e-base/TNews_validation.json").read_text())
        report["backend"]["source"] = Path(report["backend"]["source"]).name
        reports.append(report)
        task = json.loads((run_dir / "backend/task_config.json").read_text())
        assert task["eval_backend"] == "RAGEval" and task["work_dir"] == str((run_dir / "backend").resolve())
        assert task["eval_config"]["models"][0]["api_key"] == "***"
        leaked = [p for p in run_dir.rglob("*") if p.is_file() and SECRET in p.read_text(errors="replace")]
        assert not leaked, leaked
    assert reports[0] == reports[1]
    report = reports[0]
    assert report["per_sample_records"] is False and report["num"] is None
    assert report["score"] == 0.4744 and [m["name"] for m in report["metrics"]] == ["main_score", "accuracy", "f1"]
    assert report["backend"]["eval_backend"] == "RAGEval" and "no native benchmark" in report["backend"]["reason"]


def test_a_failing_backend_is_an_error_naming_its_log(pytester: pytest.Pytester, standin: Path) -> None:
    config = _mteb_config()
    config["eval_config"]["eval"]["task_names"] = ["Crash"]
    result = pytester.runpytest("-p", "no:cacheprovider", "--evalscope-work-dir=out",
                                           "--evalscope-config", _config_file(pytester.path / "cfg.json", config))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*BackendError: RAGEval exited with status 3; its output is in *logs/backend.log*"])
    run_dir = sorted((pytester.path / "out").iterdir())[-1]
    assert "backend crashed" in (run_dir / "logs/backend.log").read_text()
    assert not list(run_dir.glob("reports/*/*.json"))


@pytest.fixture(scope="module")
def judge() -> Iterator[ServerHandle]:
    with serve_in_subprocess(ServerConfig(judge=True, max_seconds=300)) as handle:
        yield handle


def test_a_ragas_config_runs_natively_with_the_critic_as_judge(pytester: pytest.Pytester, judge: ServerHandle) -> None:
    from .test_rag import FAITHFULNESS, PRECISION, TESTSET

    config = {"eval_backend": "RAGEval", "eval_config": {"tool": "RAGAS", "eval": {
        "testset_file": str(TESTSET), "critic_llm": {"model_name": "judge", "api_base": judge.url},
        "embeddings": {"model_name_or_path": "AI-ModelScope/m3e-base"}, "metrics": ["Faithfulness", "ContextPrecision"]}}}
    pytester.makepyfile(eval_rag="from pytest_evalscope import Suite\n\nragas = Suite('ragas')\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--evalscope-work-dir=out",
                                "--evalscope-config", _config_file(pytester.path / "cfg.json", config))
    result.assert_outcomes(passed=2, failed=2)
    run_dir = sorted((pytester.path / "out").iterdir())[-1]
    report = json.loads((run_dir / "reports/testset/ragas.json").read_text())  # model_id: the testset file's name
    scores = {m["name"]: m["score"] for m in report["metrics"]}
    assert scores == {"mean_faithfulness": round(sum(FAITHFULNESS) / 4, 4), "mean_context_precision": round(sum(PRECISION) / 4, 4)}
    assert report["judge_summary"]["model"] == "judge"


def test_documented_result_files_convert(tmp_path: Path) -> None:
    delegation = Delegation("OpenCompass", None, {}, (), "", "why")
    summary = tmp_path / "oc" / "20240101_000000" / "summary"
    summary.mkdir(parents=True)
    # the summary table of EvalScope's OpenCompass page, as OpenCompass writes it (CSV)
    (summary / "summary_20240101_000000.csv").write_text(
        "dataset,version,metric,mode,Qwen2-0.5B-Instruct\n--------- 考试 Exam ---------,-,-,-,-\n"
        "ceval,-,naive_average,gen,30.00\nagieval,-,-,-,-\nARC-c,1e0de5,accuracy,gen,60.00\ngsm8k,1d7fe4,accuracy,gen,40.00\n")
    reports = convert.opencompass(tmp_path / "oc", delegation)
    assert [(r["dataset_name"], r["primary_metric"], r["score"]) for r in reports] == [
        ("ceval", "naive_average", 0.3), ("ARC-c", "accuracy", 0.6), ("gsm8k", "accuracy", 0.4)]
    clip = tmp_path / "clip" / "chinese-clip-vit-large-patch14-336px"
    clip.mkdir(parents=True)
    (clip / "muge_zeroshot_retrieval.json").write_text(json.dumps({  # clip_benchmark.md's output example
        "dataset": "muge", "model": "AI-ModelScope/chinese-clip-vit-large-patch14-336px", "task": "zeroshot_retrieval",
        "metrics": {"image_retrieval_recall@5": 0.8935546875, "text_retrieval_recall@5": 0.876953125}}))
    (report,) = convert.clip_benchmark(tmp_path / "clip", delegation)
    assert report["dataset_name"] == "muge_zeroshot_retrieval" and report["score"] == 0.8935546875
    vlm = tmp_path / "vlm" / "Qwen2.5-VL-3B-Instruct"
    vlm.mkdir(parents=True)  # VLMEvalKit's <model>/<model>_<dataset>_acc.csv: a split column, then accuracies
    (vlm / "Qwen2.5-VL-3B-Instruct_SEEDBench_IMG_acc.csv").write_text("split,Overall,Instance Attributes\nnone,0.7,0.65\n")
    (report,) = convert.vlmevalkit(tmp_path / "vlm", delegation)
    assert report["dataset_name"] == "Qwen2.5-VL-3B-Instruct_SEEDBench_IMG_acc" and report["score_scale"] == "backend"
    assert {m["name"]: m["score"] for m in report["metrics"]} == {"Overall": 0.7, "Instance Attributes": 0.65}
    testset = tmp_path / "testset.json"
    (tmp_path / "testset_score.json").write_text(json.dumps([
        {"user_input": "q", "faithfulness": 1.0, "answer_relevancy": 0.5}, {"user_input": "r", "faithfulness": 0.0,
                                                                            "answer_relevancy": None}]))
    (report,) = convert.ragas(testset, delegation)
    assert {m["name"]: m["score"] for m in report["metrics"]} == {"faithfulness": 0.5, "answer_relevancy": 0.5}


def test_mteb_tasks_with_a_native_benchmark_run_natively(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_evalscope import registry
    from pytest_evalscope.benchmarks.base import Benchmark

    class TNews(Benchmark):  # what an embedding task adapter declares: the MTEB task it runs
        name = "tnews_native"
        mteb_name = "TNews"

    registry.benchmark_names()
    monkeypatch.setitem(registry._BENCHMARKS, "tnews_native", TNews)
    config = _mteb_config()
    config["eval_config"]["models"] = [{"model_name": "bge-m3", "api_base": "http://127.0.0.1:9/v1"}]
    result = plan(config)
    assert isinstance(result, NativePlan)
    assert result.settings == {"datasets": ["tnews_native"], "model": "bge-m3", "api_url": "http://127.0.0.1:9/v1", "limit": 500,
                               "eval_type": "embedding"}  # the /v1/embeddings backend (embedding/backends.py)
    config["eval_config"]["eval"]["task_names"] = ["TNews", "T2Retrieval"]
    assert "T2Retrieval have no native benchmark" in plan(config).reason


def test_the_service_refuses_backends_but_not_evalscopes_defaults() -> None:
    from pytest_evalscope.service.policy import RequestError, check_operator_keys

    check_operator_keys({"model": "m", "eval_backend": "Native", "eval_config": None})
    with pytest.raises(RequestError, match="a service request cannot run another backend"):
        check_operator_keys({"model": "m", "eval_backend": "RAGEval", "eval_config": {"tool": "ragas"}})


def test_the_cli_runs_the_native_plans_suite_or_every_suite_file_for_a_delegation(tmp_path: Path) -> None:
    from pytest_evalscope.cli import build_parser, eval_args

    native = EXAMPLES[[e["id"] for e in EXAMPLES].index("ragas_faithfulness_only_v1.9")]["task_config"]
    args = eval_args(build_parser().parse_args(["eval", "--config", _config_file(tmp_path / "n.json", native)]), [])
    assert Path(args[0]).name == "eval_ragas.py"
    delegated = EXAMPLES[[e["id"] for e in EXAMPLES].index("opencompass_yaml_json")]["task_config"]
    args = eval_args(build_parser().parse_args(["eval", "--config", _config_file(tmp_path / "d.json", delegated)]), [])
    assert Path(args[0]).is_dir() and args[0].endswith(("benchmarks", "suites"))


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e["task_config"]["eval_backend"] == "RAGEval"],
                         ids=[e["id"] for e in EXAMPLES if e["task_config"]["eval_backend"] == "RAGEval"])
def test_we_refuse_exactly_the_rag_configs_evalscope_refuses(example: dict[str, Any]) -> None:
    """EvalScope 1.14.1's verdicts were recorded with its own models (scripts/backend_config_parity.py)."""
    assert (example["expect"] == "refused") == example["evalscope_1_14_1"].startswith("refuses")


def test_run_task_takes_evalscopes_ragas_task_config(judge: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_evalscope import run_task

    from .test_rag import FAITHFULNESS, TESTSET

    monkeypatch.chdir(tmp_path)
    reports = run_task({"eval_backend": "RAGEval", "work_dir": str(tmp_path / "out"), "eval_config": {"tool": "RAGAS", "eval": {
        "testset_file": str(TESTSET), "critic_llm": {"model_name": "judge", "api_base": judge.url},
        "embeddings": {"model_name_or_path": "unused"}, "metrics": ["Faithfulness"]}}}, ["-q", "-p", "no:cacheprovider"])
    assert list(reports) == ["ragas"] and reports["ragas"]["score"] == round(sum(FAITHFULNESS) / 4, 4)


def test_settings_eval_config_decides_are_not_silently_ignored() -> None:
    config = EXAMPLES[[e["id"] for e in EXAMPLES].index("opencompass_yaml_json")]["task_config"]
    with pytest.raises(ConfigError, match="^datasets: eval_backend OpenCompass takes its tasks from eval_config"):
        plan({**config, "datasets": ["gsm8k"]})
    assert isinstance(plan({**config, "datasets": [], "dataset_args": {}, "eval_type": None}), Delegation)  # EvalScope's dumped defaults
