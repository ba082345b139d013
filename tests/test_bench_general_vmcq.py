"""general_vmcq: EvalScope's example visual multiple-choice questions rendered as EvalScope 1.14.1
renders them (fixture), options from lists and CSV cells, the shared letter extraction, and one clear
error per bad record. Its oracle run is in test_bench_general_vqa.py (one session runs both)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from pytest_evalscope.datasets.local import DatasetError
from pytest_evalscope.models.image_wire import wire_messages
from pytest_evalscope.params import ConfigError
from pytest_evalscope.registry import create_benchmark

from .test_bench_general_vqa import IMAGES, evalscope_case, hashed


def test_request_messages_equal_evalscope_on_its_example_data() -> None:
    case, bench = evalscope_case("general_vmcq")
    samples = bench.load_samples(case["subset"], None, 1)
    assert len(samples) == len(case["samples"]) == 3
    for sample, expected in zip(samples, case["samples"], strict=True):
        assert hashed(wire_messages(bench.build_messages(sample, []))) == expected["messages"]
        assert sample.target == expected["target"] and sample.metadata["choices"] == expected["choices"]


def test_the_letter_is_extracted_as_for_every_multiple_choice_benchmark() -> None:
    _, bench = evalscope_case("general_vmcq")
    sample = bench.load_samples("example", None, 1)[1]  # answer D
    assert bench.score(sample, "It is a museum.\nANSWER: D").correct
    wrong = bench.score(sample, "ANSWER: B")
    assert not wrong.correct and wrong.extracted == "B" and wrong.value == {"acc": 0.0}
    assert bench.score(sample, "no idea").status == "parse_error"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    shutil.copy(IMAGES / "dog.jpg", tmp_path / "dog.jpg")
    shutil.copy(IMAGES / "tesla.jpg", tmp_path / "tesla.jpg")
    return tmp_path


def test_csv_options_cells_and_an_images_list(data: Path) -> None:
    with (data / "pets_val.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["question", "options", "answer", "image_1"])
        writer.writeheader()
        writer.writerow({"question": "<image 1> Which animal?", "options": "['Cat', 'Dog']", "answer": "B",
                         "image_1": "dog.jpg"})
    (data / "cars.jsonl").write_text(json.dumps({"question": "Which is a car?", "options": ["<image 1>", "<image 2>"],
                                                 "images": ["dog.jpg", {"path": "tesla.jpg"}], "answer": "B"}) + "\n")
    bench = create_benchmark("general_vmcq", {"local_path": str(data), "subset_list": ["pets", "cars"]})
    pets = bench.load_samples("pets", None, 1)[0]
    assert pets.metadata["choices"] == ["Cat", "Dog"]
    content = bench.build_messages(pets, [])[0]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "text"]
    assert content[2]["text"] == " Which animal?\n\nA) Cat\nB) Dog"
    cars = bench.build_messages(bench.load_samples("cars", None, 1)[0], [])[0]["content"]
    assert [p["image_url"]["url"].rsplit("/", 1)[1] for p in cars if p["type"] == "image_url"] == ["dog.jpg", "tesla.jpg"]


@pytest.mark.parametrize(("record", "message"), [
    ({"options": ["a", "b"], "answer": "A"}, "record 0: no 'question'"),
    ({"question": "q", "options": "a, b", "answer": "A"}, "record 0: 'options' is neither a JSON nor a Python list"),
    ({"question": "q", "options": ["a"], "answer": "A"}, "record 0: 1 options; give 2 to 26"),
    ({"question": "q", "options": ["a", "b"], "answer": "C"}, "record 0: answer 'C' is not one of its option letters A, B"),
    ({"question": "<image 1> q", "options": ["a", "b"], "answer": "A"}, "record 0: <image 1> has no image"),
    ({"question": "<image 1> q", "options": ["a", "b"], "answer": "A", "image_1": "notes.txt"}, "image 'notes.txt': not an image"),
])
def test_each_bad_record_is_one_line_naming_file_and_record(data: Path, record: dict, message: str) -> None:
    (data / "notes.txt").write_text("hello")
    (data / "default.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(DatasetError) as info:
        create_benchmark("general_vmcq", {"local_path": str(data)}).load_samples("default", None, 1)
    text = str(info.value)
    assert "\n" not in text and str(data / "default.jsonl") in text and message in text, text


def test_modes_and_settings_it_cannot_take(data: Path) -> None:
    with pytest.raises(ConfigError, match="general_vmcq is scored by generation, not multiple_choice_logits"):
        create_benchmark("general_vmcq", {"local_path": str(data), "model_adapter": "multiple_choice_logits"})
    with pytest.raises(ConfigError, match="has no train split"):
        create_benchmark("general_vmcq", {"local_path": str(data), "few_shot_num": 2})
    (data / "default.jsonl").write_text(json.dumps({"question": "q", "options": ["a", "b"], "answer": "A"}) + "\n")
    bench = create_benchmark("general_vmcq", {"local_path": str(data), "prompt_template": "{question} {topic}"})
    with pytest.raises(ConfigError, match=r"a prompt template does not fit \(KeyError: 'topic'\); its fields are "
                                          "question, choices, letters"):
        bench.load_samples("default", None, 1)
