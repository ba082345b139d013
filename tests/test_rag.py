"""RAG metrics on the judge layer: a RAGAS input file scored by the scripted RAG judge (testing/rag_oracle.py)
through the test server, with the hashing encoder for answer relevancy; the values are the ones the rules
give by hand; -n 0 and -n 2 give the same report; judge failures are errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_evalscope.datasets.local import DatasetError
from pytest_evalscope.judge.contract import Unparseable, parse_verdict
from pytest_evalscope.models.base import ModelError
from pytest_evalscope.params import ConfigError
from pytest_evalscope.rag import prompts
from pytest_evalscope.rag.data import read_rows, to_row
from pytest_evalscope.rag.metrics import average_precision, cosines
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.rag_encoder import vector
from pytest_evalscope.testing.rag_oracle import GARBAGE, generated_question
from pytest_evalscope.testing.server import ServerConfig, ServerHandle, serve_in_subprocess

TESTSET = Path(__file__).parent / "fixtures" / "rag" / "testset.json"
ENCODER = {"provider": "python", "model_name_or_path": "pytest_evalscope.testing.rag_encoder:HashingEncoder"}
ALL = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]
# by the oracle's word rules, row by row (testset.json): statements supported / statements; the precision of
# the useful contexts' positions ([1,0], [0,1], [1], [0,1,1]); reference sentences the contexts hold
FAITHFULNESS = [1.0, 1 / 3, 0.0, 1.0]
PRECISION = [1.0, 0.5, 1.0, (1 / 2 + 2 / 3) / 2]
RECALL = [1.0, 0.5, 1.0, 1.0]


def relevancy(question: str, answer: str) -> float:
    if "don't know" in answer:
        return 0.0  # noncommittal
    q, g = vector(question).astype(float), vector(generated_question(answer)).astype(float)
    return float(q @ g / np.linalg.norm(q) / np.linalg.norm(g))


ROWS = json.loads(TESTSET.read_text())
RELEVANCY = [relevancy(r.get("user_input") or r["question"], r.get("response") or r["answer"]) for r in ROWS]


@pytest.fixture(scope="module")
def judge() -> Iterator[ServerHandle]:
    with serve_in_subprocess(ServerConfig(judge=True, max_seconds=300)) as handle:
        yield handle


def rag_args(judge: ServerHandle, testset: Path, metrics: list[str] = ALL, **extra: Any) -> list[str]:
    args = {"ragas": {"dataset_id": str(testset), "extra_params": {"metrics": metrics, "embeddings": ENCODER, **extra}}}
    return ["-p", "no:cacheprovider", "--evalscope-model=my-rag", "--evalscope-eval-type=mock",
            "--evalscope-dataset-args=" + json.dumps(args), "--evalscope-eval-batch-size=4",
            "--evalscope-judge-model-args=" + json.dumps({"model_id": "judge", "api_url": judge.url})]


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    pytester.makepyfile(eval_rag="from pytest_evalscope import Suite\n\nragas = Suite('ragas')\n")
    shutil.rmtree(pytester.path / "out", ignore_errors=True)
    result = pytester.runpytest("--evalscope-work-dir=out", *args)
    return result, sorted((pytester.path / "out").iterdir())[-1]


def stable(report: dict[str, Any]) -> dict[str, Any]:
    report = dict(report)
    report.pop("perf_metrics", None)
    report["execution_summary"] = {k: v for k, v in report["execution_summary"].items() if k != "cached"}
    return report


def reviews(run_dir: Path, model: str = "my-rag") -> list[dict[str, Any]]:
    lines = (run_dir / "reviews" / model / "ragas_default.jsonl").read_text().splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda r: r["index"])


def test_the_four_metrics_have_the_scripted_values_and_xdist_changes_nothing(pytester: pytest.Pytester, judge: ServerHandle) -> None:
    reports = []
    for workers in ("0", "2"):
        result, run_dir = run(pytester, *rag_args(judge, TESTSET), "-n", workers)
        result.assert_outcomes(passed=2, failed=2)
        reports.append(stable(json.loads((run_dir / "reports/my-rag/ragas.json").read_text())))
        # a failed row says which metrics missed the threshold, and by how much
        reasons = {line.partition("; reply ends")[0] for line in result.stdout.lines if line.startswith("failed: ")}
        assert reasons == {"failed: faithfulness 0.333 < 0.5, answer_relevancy 0.321 < 0.5; reached: context_precision 0.5, "
                           "context_recall 0.5",
                           "failed: faithfulness 0 < 0.5, answer_relevancy 0 < 0.5; reached: context_precision 1, context_recall 1"}
    assert reports[0] == reports[1]
    values = [r["sample_score"]["score"]["value"] for r in reviews(run_dir)]
    for name, expected in (("faithfulness", FAITHFULNESS), ("answer_relevancy", RELEVANCY),
                           ("context_precision", PRECISION), ("context_recall", RECALL)):
        assert [v[name] for v in values] == pytest.approx(expected, abs=1e-6), name
    metrics = {m["name"]: m["score"] for m in reports[0]["metrics"]}
    assert metrics["mean_faithfulness"] == round(sum(FAITHFULNESS) / 4, 4)
    assert metrics["mean_context_precision"] == round(sum(PRECISION) / 4, 4)
    assert metrics["mean_context_recall"] == round(sum(RECALL) / 4, 4)
    assert metrics["mean_answer_relevancy"] == round(sum(RELEVANCY) / 4, 4)
    assert reports[0]["primary_metric"] == "mean_faithfulness"
    summary = reports[0]["judge_summary"]
    # per row: 2 faithfulness calls, 3 questions, one per context, 1 recall call
    assert summary["judged"] == 4 and summary["calls"] == sum(2 + 3 + len(r.get("retrieved_contexts") or r["contexts"]) + 1 for r in ROWS)
    assert summary["verdicts"] == {"fail": 2, "pass": 2}


def test_a_judge_reply_without_a_verdict_is_an_error_not_a_score(pytester: pytest.Pytester, judge: ServerHandle,
                                                                 tmp_path: Path) -> None:
    rows = json.loads(TESTSET.read_text())[:2]
    rows[1]["response"] += " " + GARBAGE
    testset = tmp_path / "broken.json"
    testset.write_text(json.dumps(rows))
    result, run_dir = run(pytester, *rag_args(judge, testset, ["faithfulness"]), "--evalscope-max-errors=1")
    result.assert_outcomes(passed=1, errors=1)
    report = json.loads((run_dir / "reports/my-rag/ragas.json").read_text())
    assert report["execution_summary"]["errored"] == 1 and report["num"] == 1
    assert report["metrics"][0]["score"] == 1.0  # the judged row only; the error is not a 0
    broken = reviews(run_dir)[1]
    assert "judge_unparsed" in json.dumps(broken)


def test_rows_by_current_and_legacy_keys() -> None:
    rows = read_rows(TESTSET)
    current, legacy = to_row(rows[0], "r0", ()), to_row(rows[3], "r3", ("reference",))
    assert current.user_input.startswith("When were") and len(current.retrieved_contexts) == 2
    assert legacy.user_input == rows[3]["question"] and legacy.reference == rows[3]["ground_truth"]
    assert to_row({"question": "q", "answer": "a", "ground_truths": ["x", "y"]}, "r", ()).reference == "x y"
    with pytest.raises(DatasetError, match=r"^r9: reference \(or ground_truth or ground_truths\) is missing"):
        to_row({"user_input": "q", "response": "a", "retrieved_contexts": ["c"]}, "r9", ("reference",))
    with pytest.raises(DatasetError, match="retrieved_contexts must be a list of strings"):
        to_row({"user_input": "q", "response": "a", "retrieved_contexts": [1]}, "r", ())
    with pytest.raises(DatasetError, match="a folder; testset_file / dataset_id must name"):
        read_rows(TESTSET.parent)


def test_readers_accept_exactly_the_verdict_asked_for() -> None:
    support = prompts.support("ctx", ["a", "b"])
    assert parse_verdict('```json\n{"verdicts": [{"verdict": 1}, {"verdict": 0}]}\n```', support) == [1, 0]
    assert parse_verdict('<think>{"x": 1}</think>{"verdicts": [1, "1"]}', support) == [1, 1]
    for reply, why in (('{"verdicts": [1]}', "list of 2 entries"), ('{"verdicts": [1, 2]}', "expected 0 or 1"),
                       ('{"verdicts": [true, 0]}', "expected 0 or 1"), ("supported, supported", "no JSON object"),
                       ('{"verdicts": [1, 0]} {"verdicts": [1, 0]}', "2 JSON objects")):
        with pytest.raises(Unparseable, match=why):
            parse_verdict(reply, support)
    with pytest.raises(Unparseable, match="non-empty list"):
        parse_verdict('{"statements": []}', prompts.statements("q", "a"))
    assert parse_verdict('{"question": " Why? ", "noncommittal": 0}', prompts.question("a")) == ("Why?", 0)


def test_average_precision_and_cosine() -> None:
    assert average_precision([1, 0]) == 1.0 and average_precision([0, 1]) == 0.5 and average_precision([0, 0]) == 0.0
    assert average_precision([1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    assert cosines(np.array([1.0, 0.0]), np.array([[2.0, 0.0], [0.0, 3.0]])).tolist() == [1.0, 0.0]
    with pytest.raises(ModelError, match="zero vector"):
        cosines(np.array([1.0, 0.0]), np.array([[0.0, 0.0]]))


@pytest.mark.parametrize(("extra", "message"), [
    ({"metrics": ["faithfullness"]}, "'faithfullness' is not computed here (did you mean 'faithfulness'?)"),
    ({"metrics": ["AnswerCorrectness"]}, "other RAGAS metrics run through eval_backend RAGEval"),
    ({"metrics": ["answer_relevancy"], "embeddings": None}, "answer_relevancy needs an embedding model"),
    ({"embeddings": {"model_name": "bge"}}, "'model_name' (EvalScope 1.9 renamed it model_name_or_path)"),
    ({"embeddings": {"model_name_or_path": "bge", "provider": "huggingfaces"}}, "no encoder backend serves 'huggingfaces'"),
    ({"strictness": 0}, "strictness: expected an integer from 1 to 10"),
])
def test_bad_settings_are_one_line_errors(extra: dict[str, Any], message: str) -> None:
    params = {"metrics": ALL, "embeddings": ENCODER, **extra}
    with pytest.raises(ConfigError) as info:
        create_benchmark("ragas", {"dataset_id": str(TESTSET), "extra_params": params})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_resuming_reuses_every_journaled_judge_call(pytester: pytest.Pytester, judge: ServerHandle) -> None:
    result, run_dir = run(pytester, *rag_args(judge, TESTSET, ["faithfulness", "context_recall"]))
    result.assert_outcomes(passed=2, failed=2)
    first = json.loads((run_dir / "reports/my-rag/ragas.json").read_text())
    again = pytester.runpytest(*rag_args(judge, TESTSET, ["faithfulness", "context_recall"]), f"--evalscope-use-cache={run_dir}")
    again.assert_outcomes(passed=2, failed=2)
    second = json.loads((run_dir / "reports/my-rag/ragas.json").read_text())
    assert second["judge_summary"]["calls"] == 0 and second["judge_summary"]["cached"] == 4
    assert [m["score"] for m in second["metrics"]] == [m["score"] for m in first["metrics"]]


class ScriptedJudge:
    """Judge.grade's interface with replies fixed per call key: RAGAS's rules on mixed answers, unit-tested."""

    def __init__(self, verdicts: dict[str, Any]) -> None:
        self.verdicts = verdicts

    async def grade(self, key: str, definition: Any) -> Any:
        from pytest_evalscope.judge.judge import Verdict

        return Verdict(self.verdicts[key.rsplit("#", 1)[1]], {}, True, "", [], "scripted")


def test_answer_relevancy_is_zero_only_when_every_question_call_says_noncommittal() -> None:
    import asyncio

    from pytest_evalscope.rag.data import RagRow
    from pytest_evalscope.rag.metrics import Steps, answer_relevancy
    from pytest_evalscope.testing.rag_encoder import HashingEncoder

    row = RagRow("Who designed the rings?", "Coubertin did.", ("c",), None)
    same = ("Who designed the rings?", 0)
    mixed = ScriptedJudge({"answer_relevancy.q1": ("Who designed the rings?", 1), "answer_relevancy.q2": same,
                           "answer_relevancy.q3": ("What is a ring?", 0)})
    encoder = HashingEncoder()
    value = asyncio.run(answer_relevancy(mixed, "s", row, Steps(), encoder, 3))
    cos = float(cosines(vector(row.user_input).astype(float), np.stack([vector("What is a ring?")]).astype(float))[0])
    assert value == pytest.approx((1 + 1 + cos) / 3)
    assert encoder.calls[0] == ((row.user_input,), "query") and encoder.calls[1][1] == "passage"
    silent = ScriptedJudge({f"answer_relevancy.q{n}": ("Who designed the rings?", 1) for n in (1, 2, 3)})
    assert asyncio.run(answer_relevancy(silent, "s", row, Steps(), encoder, 3)) == 0.0


def test_evalscopes_embedding_providers_map_to_model_backends_that_embed(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_evalscope.models import registry
    from pytest_evalscope.rag import embedder
    from pytest_evalscope.testing.rag_encoder import HashingEncoder

    made: list[Any] = []

    def factory(spec: Any) -> HashingEncoder:
        made.append(spec)
        return HashingEncoder()

    registry.backend_names()
    monkeypatch.delitem(registry._BACKENDS, "embedding", raising=False)  # as in a build without embedding backends
    monkeypatch.setattr(embedder, "_PROVIDERS", {"python": embedder._python_factory})
    with pytest.raises(ConfigError, match="no encoder backend serves 'openai' in this installation"):
        embedder.check_embeddings({"model_name_or_path": "bge-m3", "provider": "openai"}, "embeddings")
    monkeypatch.setitem(registry._BACKENDS, "embedding", registry.Backend("embedding", factory, (), frozenset({"embed"})))
    block = embedder.check_embeddings({"model_name_or_path": "bge-m3", "provider": "openai", "api_base": "http://127.0.0.1:9/v1"},
                                      "embeddings")
    assert isinstance(embedder.encoder_from(block), HashingEncoder)
    assert (made[0].backend, made[0].model, made[0].api_url, made[0].api_key) == ("embedding", "bge-m3", "http://127.0.0.1:9/v1", "EMPTY")


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                     max_leaves=12)
_KEYS = st.sampled_from(["statements", "verdicts", "question", "noncommittal", "verdict", "classifications", "x"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, max_size=3), st.lists(st.integers(0, 1), min_size=0, max_size=6))
def test_readers_never_guess_and_precision_stays_in_range(data: dict[str, Any], useful: list[int]) -> None:
    """Any reply object is either read as a well-formed verdict or refused as Unparseable; nothing else."""
    for definition in (prompts.statements("q", "a"), prompts.support("c", ["s1", "s2"]), prompts.question("a"),
                       prompts.useful("q", "r", "c"), prompts.attributed("q", "c", "r")):
        try:
            verdict = parse_verdict(json.dumps(data), definition)
        except Unparseable:
            continue
        flat = verdict if isinstance(verdict, list) else [verdict]
        assert flat and all(v in (0, 1) or isinstance(v, (str, tuple)) for v in flat)
    assert 0.0 <= average_precision(useful) <= 1.0
