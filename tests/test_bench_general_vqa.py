"""general_vqa: EvalScope's example image questions rendered as EvalScope 1.14.1 renders them (fixture),
its data formats (jsonl, tsv with <image N> placeholders), one clear error per bad record, an oracle
run through the real openai client whose answers depend on the image the server received (serially
and under xdist, identical reports, no base64 in records or the page), and the refusals around it."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.datasets.local import DatasetError
from pytest_evalscope.models.image_wire import wire_messages
from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.scoring.text_overlap import overlap_scores
from pytest_evalscope.testing.images import image_tag
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

EXAMPLES = SHARED / "datasets" / "evalscope_rag_examples"
FIXTURE = Path(__file__).parent / "fixtures" / "evalscope_image_prompts.json"
IMAGES = EXAMPLES / "custom_eval" / "multimodal" / "images"


def hashed(value: Any) -> Any:
    """Data URIs as the fixture stores them: `data:<mime>;sha256:<hex of the decoded bytes>`."""
    if isinstance(value, dict):
        return {k: hashed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hashed(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and ";base64," in value:
        head, _, data = value.partition(";base64,")
        return f"{head};sha256:{hashlib.sha256(base64.b64decode(data)).hexdigest()}"
    return value


def evalscope_case(name: str) -> tuple[dict[str, Any], Any]:
    case = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"][name]
    bench = create_benchmark(case["benchmark"], {"local_path": str(EXAMPLES / case["local_path"]),
                                                 "subset_list": [case["subset"]],
                                                 "extra_params": {"image_root": str(EXAMPLES)}})
    return case, bench


def test_request_messages_equal_evalscope_on_its_example_data() -> None:
    case, bench = evalscope_case("general_vqa")
    samples = bench.load_samples(case["subset"], None, 1)
    assert len(samples) == len(case["samples"]) == 5
    for sample, expected in zip(samples, case["samples"], strict=True):
        assert hashed(wire_messages(bench.build_messages(sample, []))) == expected["messages"]
        assert sample.target == expected["target"]


@pytest.fixture
def tsv_data(tmp_path: Path) -> Path:
    (tmp_path / "pics").mkdir()
    shutil.copy(IMAGES / "dog.jpg", tmp_path / "pics" / "dog.jpg")
    rows = [{"messages": json.dumps([{"role": "user", "content": "<image 1> What animal is this?"}]),
             "image_1": "pics/dog.jpg", "answer": "Dog"},
            {"messages": json.dumps([{"role": "system", "content": "Answer in one word."},
                                     {"role": "user", "content": [{"type": "text", "text": "Hello?"}]}]),
             "image_1": "", "answer": "Hi"}]
    with (tmp_path / "default_test.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["messages", "image_1", "answer"], delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_tsv_messages_with_placeholders_and_the_system_prompt(tsv_data: Path) -> None:
    bench = create_benchmark("general_vqa", {"local_path": str(tsv_data), "system_prompt": "Be brief."})
    first, second = bench.load_samples("default", None, 1)
    image = bench.build_messages(first, [])[1]["content"][0]
    assert bench.build_messages(first, []) == [{"role": "system", "content": "Be brief."},
                                                {"role": "user", "content": [image, {"type": "text", "text": " What animal is this?"}]}]
    assert image["image_url"]["url"] == (tsv_data / "pics" / "dog.jpg").resolve().as_uri()
    assert first.input == " What animal is this?" and first.target == "Dog"
    assert bench.build_messages(second, [])[0] == {"role": "system", "content": "Answer in one word."}  # the record's own


def _write(folder: Path, records: list[dict[str, Any]]) -> None:
    (folder / "default.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


GOOD = {"messages": [{"role": "user", "content": [{"type": "text", "text": "What?"},
                                                   {"type": "image_url", "image_url": {"url": "pics/dog.jpg"}}]}], "answer": "Dog"}


@pytest.mark.parametrize(("record", "message"), [
    ({"answer": "x"}, "record 1: no 'messages'; general_vqa records need messages (OpenAI chat format) and answer"),
    ({"messages": "[{", "answer": "x"}, "record 1: 'messages' is not valid JSON"),
    ({"messages": [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "a.mp4"}}]}]},
     "record 1: content part of type 'video_url': general_vqa sends text and image_url parts only"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
     "record 1: 'messages' must end with the user's turn"),
    ({"messages": [{"role": "user", "content": "<image 2> what?"}], "image_1": "pics/dog.jpg"},
     "record 1: <image 2> has no image (no image_2 column"),
    ({"messages": [{"role": "user", "content": "<video 1> what?"}], "video_1": "a.mp4"},
     "record 1: <video 1> asks for a video; general_vqa sends images only"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "../../x.png"}}]}]},
     "record 1: image '../../x.png': resolves outside the image root"),
])
def test_each_bad_record_is_one_line_naming_file_and_record(tsv_data: Path, record: dict, message: str) -> None:
    _write(tsv_data, [GOOD, record])
    with pytest.raises(DatasetError) as info:
        create_benchmark("general_vqa", {"local_path": str(tsv_data)}).load_samples("default", None, 1)
    text = str(info.value)
    assert "\n" not in text and str(tsv_data / "default.jsonl") in text and message in text, text


def test_settings_that_do_not_apply_are_refused(tsv_data: Path) -> None:
    with pytest.raises(ConfigError, match="sends each record's messages as they are"):
        create_benchmark("general_vqa", {"local_path": str(tsv_data), "prompt_template": "Q: {question}"})
    with pytest.raises(ConfigError, match=r"max_image_bytes: expected a positive byte count"):
        create_benchmark("general_vqa", {"local_path": str(tsv_data), "max_image_bytes": "lots"})
    with pytest.raises(ConfigError, match="unknown key 'image_rot' \\(did you mean 'image_root'\\?\\)"):
        create_benchmark("general_vqa", {"local_path": str(tsv_data), "extra_params": {"image_rot": "x"}})
    with pytest.raises(ConfigError, match="unknown key 'max_image_bytes'"):  # only image benchmarks read it
        create_benchmark("general_qa", {"local_path": str(tsv_data), "max_image_bytes": 10})
    with pytest.raises(ConfigError, match="unknown key 'max_image_byte' \\(did you mean 'max_image_bytes'\\?\\)"):
        create_benchmark("general_vqa", {"local_path": str(tsv_data), "max_image_byte": 10})
    with pytest.raises(ConfigError, match="max_request_image_bytes: expected a positive byte count"):
        create_benchmark("general_vqa", {"local_path": str(tsv_data), "extra_params": {"max_request_image_bytes": -1}})
    missing = create_benchmark("general_vqa", {"local_path": str(tsv_data), "extra_params": {"image_root": "/nonexistent/x"}})
    with pytest.raises(DatasetError, match="image root '/nonexistent/x' is not a folder"):
        missing.load_samples("default", None, 1)


# ---------------------------------------------------------------- end to end

URL = "https://images.example.invalid/cat.png"  # passed on as a URL: nothing fetches it


@pytest.fixture
def e2e_data(tmp_path: Path) -> Path:
    """EvalScope's example file and images as they are, plus a subset whose question repeats with
    another image (so only the image tells the answers apart) and one remote URL."""
    root = tmp_path / "examples"
    shutil.copytree(EXAMPLES / "custom_eval" / "multimodal", root / "custom_eval" / "multimodal")
    vqa = root / "custom_eval" / "multimodal" / "vqa"

    def record(image: str, answer: str) -> dict[str, Any]:
        parts = [{"type": "text", "text": "What animal is this?"}, {"type": "image_url", "image_url": {"url": image}}]
        return {"messages": [{"role": "user", "content": parts}], "answer": answer}

    _write_subset(vqa / "mixed.jsonl", [record("custom_eval/multimodal/images/tesla.jpg", "Tesla"), record(URL, "Cat")])
    return root


def _write_subset(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _tag(name: str) -> str:
    return image_tag((IMAGES / name).read_bytes())


# question -> (the image's tag, the reply); running.jpg gets no oracle entry, so the default reply
ORACLE = {f"What animal is this?\n{_tag('dog.jpg')}": "Dog", f"What building is this?\n{_tag('AMNH.jpg')}": "Museum",
          f"Which city's skyline is this?\n{_tag('tokyo.jpg')}": "Tokyo",
          f"What is the brand of this car?\n{_tag('tesla.jpg')}": "BMW",
          f"What animal is this?\n{_tag('tesla.jpg')}": "Tesla", f"What animal is this?\n<image url:{URL}>": "Cat"}
REPLIES = {"example_openai": ["Dog", "Museum", "Tokyo", "BMW", "I am not sure."], "mixed": ["Tesla", "Cat"]}
TARGETS = {"example_openai": ["Dog", "Museum", "Tokyo", "Tesla", "Running"], "mixed": ["Tesla", "Cat"]}


def vmcq_oracle(bench: Any) -> dict[str, str]:
    """general_vmcq's prompts as the server sees them (parts joined by newlines, each image as the tag of
    the file read here), mapped to replies: right, right, wrong."""
    replies = ["ANSWER: A", "The building is a museum.\nANSWER: D", "ANSWER: C"]
    oracle = {}
    for sample, reply in zip(bench.load_samples("example", None, 1), replies, strict=True):
        parts = bench.build_messages(sample, [])[-1]["content"]
        shown = [p["text"] if p["type"] == "text" else _tag(p["image_url"]["url"].rsplit("/", 1)[1]) for p in parts]
        oracle["\n".join(shown).strip()] = reply
    return oracle


def test_oracle_answers_by_image_serial_and_xdist_alike(pytester: pytest.Pytester, e2e_data: Path) -> None:
    images = {"image_root": str(e2e_data)}
    vqa = {"local_path": str(e2e_data / "custom_eval" / "multimodal" / "vqa"), "subset_list": list(REPLIES),
           "extra_params": images}
    vmcq = {"local_path": str(e2e_data / "custom_eval" / "multimodal" / "mcq"), "subset_list": ["example"],
            "extra_params": images}
    pytester.makepyfile(eval_images=f"from pytest_evalscope import Suite\nvqa = Suite('general_vqa', dataset_args={vqa!r})\n"
                                    f"vmcq = Suite('general_vmcq', dataset_args={vmcq!r})\n")
    oracle = {**ORACLE, **vmcq_oracle(create_benchmark("general_vmcq", vmcq))}
    reports = []
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=120, max_requests=40)) as server:
        for workers in ("0", "2"):
            result = pytester.runpytest("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                        f"--evalscope-work-dir=out{workers}", "-p", "no:cacheprovider", "-n", workers)
            result.assert_outcomes(passed=5 + 2, failed=2 + 1)
            run = next((pytester.path / f"out{workers}").glob("2*"))
            both = [json.loads((run / "reports" / "oracle" / f"{name}.json").read_text()) for name in ("general_vqa", "general_vmcq")]
            for report in both:
                report.pop("perf_metrics")
            reports.append(both)
            _check_no_base64(run)
        assert server.stats()["requests"] == 20  # every sample asked once per run: 10 samples, two runs
    assert reports[0] == reports[1]
    vqa_report, vmcq_report = reports[0]
    subsets = {s["name"]: s for s in vqa_report["metrics"][0]["categories"][0]["subsets"]}
    for subset, replies in REPLIES.items():
        expected = [overlap_scores(r, t)["Rouge-L-R"] for r, t in zip(replies, TARGETS[subset], strict=True)]
        assert subsets[subset]["score"] == round(sum(expected) / len(expected), 4)
    assert vqa_report["primary_metric"] == "mean_Rouge-L-R"
    assert vmcq_report["score"] == round(2 / 3, 4) and vmcq_report["metrics"][0]["name"] == "mean_acc"


def _check_no_base64(run: Path) -> None:
    """Records and the page hold references and notes, never the images' bytes."""
    for path in [*run.glob("predictions/*/*.jsonl"), *run.glob("reviews/*/*.jsonl")]:
        text = path.read_text(encoding="utf-8")
        assert ";base64," not in text and "file://" in text, path
    html = (run / "report.html").read_text(encoding="utf-8")
    from .test_html import decode, rows

    prompts = {key: row["prompt"] for key, row in rows(decode(html)).items()}
    dog = prompts["general_vqa/example_openai/0#0"][0][1]
    digest = hashlib.sha256((IMAGES / "dog.jpg").read_bytes()).hexdigest()[:12]
    assert dog == f"What animal is this?\n[image dog.jpg, 112.3 KiB, sha256 {digest}]"
    assert prompts["general_vqa/mixed/1#0"][0][1] == f"What animal is this?\n[image {URL}]"
    assert len(html) < 200_000  # the five images alone are 247 KB


def test_a_checkpoint_model_is_refused_in_one_line(pytester: pytest.Pytester, tsv_data: Path) -> None:
    pytester.makepyfile(eval_vqa=f"from pytest_evalscope import Suite\nvqa = Suite('general_vqa', "
                                 f"dataset_args={{'local_path': {str(tsv_data)!r}}})\n")
    result = pytester.runpytest_subprocess("--evalscope-eval-type=checkpoint", f"--evalscope-model={tsv_data}",
                                           "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == ["ERROR: general_vqa sends images, and eval_type checkpoint models take text only (transformers checkpoints "
                      "here have no image input); serve the model behind an OpenAI-compatible API and pass api_url"]


def test_a_bad_image_stops_the_run_before_any_request(pytester: pytest.Pytester, tsv_data: Path) -> None:
    _write(tsv_data, [GOOD, {**GOOD, "messages": [{"role": "user", "content": "<image 1> and?"}], "image_1": "pics/cat.jpg"}])
    pytester.makepyfile(eval_vqa=f"from pytest_evalscope import Suite\nvqa = Suite('general_vqa', "
                                 f"dataset_args={{'local_path': {str(tsv_data)!r}}})\n")
    with serve_in_subprocess(ServerConfig(max_seconds=60, max_requests=5)) as server:
        result = pytester.runpytest_subprocess("--evalscope-model=oracle", f"--evalscope-api-url={server.url}",
                                               "-p", "no:cacheprovider")
        assert server.stats()["requests"] == 0
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and "default.jsonl: record 1: image_1: image 'pics/cat.jpg': no such file" in errors[0]


def test_the_service_confines_image_roots_to_its_read_roots(tmp_path: Path, tsv_data: Path) -> None:
    from pytest_evalscope.service.policy import confine_eval_reads
    from pytest_evalscope.service.schema import RequestError

    inside = {"datasets": ["general_vqa"], "dataset_args": {"general_vqa": {
        "local_path": str(tsv_data), "extra_params": {"image_root": str(tsv_data)}}}}
    confine_eval_reads(inside, [tsv_data])
    outside = json.loads(json.dumps(inside))
    outside["dataset_args"]["general_vqa"]["extra_params"]["image_root"] = "/etc"
    with pytest.raises(RequestError, match="dataset_args.general_vqa.extra_params.image_root: this path is outside"):
        confine_eval_reads(outside, [tsv_data])
    as_string = {**outside, "dataset_args": json.dumps(outside["dataset_args"])}  # sent as a JSON string
    with pytest.raises(RequestError, match="extra_params.image_root: this path is outside"):
        confine_eval_reads(as_string, [tsv_data])


def test_a_resumed_run_asks_again_only_for_images_whose_bytes_changed(pytester: pytest.Pytester, e2e_data: Path) -> None:
    vqa = {"local_path": str(e2e_data / "custom_eval" / "multimodal" / "vqa"), "subset_list": list(REPLIES),
           "extra_params": {"image_root": str(e2e_data)}}
    pytester.makepyfile(eval_vqa=f"from pytest_evalscope import Suite\nvqa = Suite('general_vqa', dataset_args={vqa!r})\n")
    options = ["--evalscope-model=oracle", "--evalscope-work-dir=out", "-p", "no:cacheprovider"]
    with serve_in_subprocess(ServerConfig(oracle=ORACLE, max_seconds=120, max_requests=20)) as server:
        pytester.runpytest(f"--evalscope-api-url={server.url}", *options).assert_outcomes(passed=5, failed=2)
        run = next((pytester.path / "out").glob("2*"))
        tesla = e2e_data / "custom_eval" / "multimodal" / "images" / "tesla.jpg"  # two samples show it
        tesla.write_bytes((IMAGES / "dog.jpg").read_bytes())  # same path, other bytes
        result = pytester.runpytest(f"--evalscope-api-url={server.url}", f"--evalscope-use-cache={run}", *options)
        # asked again: the car question (no oracle entry for it with a dog: fails) and "What animal" with
        # the dog's bytes (the oracle's dog answer, "Dog", against the target "Tesla": fails)
        result.assert_outcomes(passed=4, failed=3)
        assert server.stats()["requests"] == 7 + 2
