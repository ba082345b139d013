"""Images in prompts, unit level: resolving a dataset's image values into parts (root, magic bytes, size
guard), inlining them into request bodies, the short notes text views show, and the test server's
image handling. Real images: EvalScope's example JPEGs from ../shared."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from pathlib import Path

import openai
import pytest

from pytest_evalscope.cache import fingerprint
from pytest_evalscope.datasets.images import ImageLimits, ImageResolver, content_text, parse_size
from pytest_evalscope.datasets.local import DatasetError
from pytest_evalscope.models.base import ModelError
from pytest_evalscope.models.image_wire import wire_messages
from pytest_evalscope.params import ConfigError
from pytest_evalscope.testing.images import image_tag
from pytest_evalscope.testing.server import ServerConfig, serve_in_thread

from .conftest import SHARED

IMAGES = SHARED / "datasets" / "evalscope_rag_examples" / "custom_eval" / "multimodal" / "images"
SETTING = "dataset_args.general_vqa"
PNG_1PX = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "img").mkdir(parents=True)
    for name in ("dog.jpg", "tesla.jpg"):
        (folder / "img" / name).write_bytes((IMAGES / name).read_bytes())
    return folder


def resolver(root: Path, per_image: int = 10**7, per_request: int = 10**7) -> ImageResolver:
    return ImageResolver(root, ImageLimits(per_image, per_request), SETTING)


def test_sizes_parse_as_evalscope_writes_them() -> None:
    assert parse_size("5mb", "x") == 5 * 2**20 and parse_size("500KB", "x") == 500 * 2**10
    assert parse_size("1.5gb", "x") == int(1.5 * 2**30) and parse_size(1234, "x") == 1234
    for bad in ("five", 0, -3, True, "0mb"):
        with pytest.raises(ConfigError, match="expected a positive byte count"):
            parse_size(bad, "x")


def test_a_local_image_becomes_a_reference_holding_its_hash_not_its_bytes(root: Path) -> None:
    part = resolver(root).part("img/dog.jpg", "f.jsonl: record 0")
    data = (IMAGES / "dog.jpg").read_bytes()
    assert part == {"type": "image_url", "image_url": {
        "url": (root / "img" / "dog.jpg").resolve().as_uri(), "detail": "auto",
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}}
    assert len(json.dumps(part)) < 300


def test_data_uris_are_checked_and_kept_and_urls_pass_through_unfetched(root: Path) -> None:
    uri = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    part = resolver(root).part(uri, "w", "low")
    assert part["image_url"] == {"url": uri, "detail": "low", "sha256": hashlib.sha256(PNG_1PX).hexdigest(),
                                 "bytes": len(PNG_1PX)}
    url = "https://example.invalid/cat.png"  # .invalid never resolves: passing it on fetches nothing
    assert resolver(root).part(url, "w") == {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}


@pytest.mark.parametrize(("value", "message"), [
    ("img/cat.jpg", "image 'img/cat.jpg': no such file"),
    ("img", "is a folder, not an image file"),
    ("notes.jpg", "not an image (its first bytes are no PNG, JPEG, GIF, WebP, BMP or TIFF signature)"),
    ("../outside.png", "resolves outside the image root"),
    ("/etc/hostname", "resolves outside the image root"),
    ("link.png", "resolves outside the image root"),  # a symbolic link inside the root to a file outside
    ("data:image/png;base64,@@@", "its base64 data does not decode"),
    ("data:text/plain,hello", "not a base64 data URI"),
    ("data:image/png;base64," + base64.b64encode(b"just text").decode(), "not an image"),
    ("data:image/jpeg;base64," + base64.b64encode(PNG_1PX).decode(), "declares image/jpeg but its bytes are image/png"),
    ("", "an image must be a path, a data: URI or an http(s) URL"),
])
def test_each_bad_image_is_one_line_naming_record_and_image(root: Path, value: str, message: str) -> None:
    (root / "notes.jpg").write_text("not a picture")
    (root.parent / "outside.png").write_bytes(PNG_1PX)
    os.symlink(root.parent / "outside.png", root / "link.png")
    with pytest.raises(DatasetError) as info:
        resolver(root).part(value, "vqa.jsonl: record 3")
    text = str(info.value)
    assert "\n" not in text and text.startswith("vqa.jsonl: record 3: ") and message in text, text


def test_the_size_guard_names_the_file_and_the_limit(root: Path) -> None:
    size = (IMAGES / "dog.jpg").stat().st_size
    with pytest.raises(DatasetError) as info:
        resolver(root, per_image=100 * 2**10).part("img/dog.jpg", "vqa.jsonl: record 0")
    assert str(info.value) == (f"vqa.jsonl: record 0: image 'img/dog.jpg': {size / 2**10:.1f} KiB is over the per-image "
                               f"limit of 100.0 KiB ({SETTING}.max_image_bytes)")
    guard = resolver(root, per_request=140 * 2**10)
    parts = [guard.part("img/dog.jpg", "w"), guard.part("img/tesla.jpg", "w")]
    guard.check_request([{"role": "user", "content": parts[:1]}], "vqa.jsonl: record 1")  # one image fits
    with pytest.raises(DatasetError, match=r"record 1: its images total 146\.7 KiB, over the per-request limit of "
                                           rf"140\.0 KiB \({SETTING}\.extra_params\.max_request_image_bytes\)"):
        guard.check_request([{"role": "user", "content": parts}], "vqa.jsonl: record 1")


def test_a_relative_path_written_for_evalscope_gets_told_where_it_resolves(root: Path) -> None:
    (root / "sub").mkdir()
    with pytest.raises(DatasetError, match=f"it exists under '{root}': set {SETTING}.extra_params.image_root"):
        resolver(root / "sub").part("img/dog.jpg", "w")


def test_the_request_body_carries_the_exact_bytes_and_no_reference_keys(root: Path) -> None:
    part = resolver(root).part("img/dog.jpg", "w")
    text_only = [{"role": "user", "content": "hi"}]
    assert wire_messages(text_only) is text_only
    sent = wire_messages([{"role": "user", "content": [{"type": "text", "text": "What?"}, part]}])
    image = sent[0]["content"][1]["image_url"]
    assert set(image) == {"url", "detail"} and image["url"].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(image["url"].partition(",")[2]) == (IMAGES / "dog.jpg").read_bytes()
    assert part["image_url"]["url"].startswith("file:")  # the sample's own part is left as it was


def test_an_image_changed_after_collection_is_an_error_not_a_stale_prompt(root: Path) -> None:
    part = resolver(root).part("img/dog.jpg", "w")
    (root / "img" / "dog.jpg").write_bytes((IMAGES / "tesla.jpg").read_bytes())
    with pytest.raises(ModelError, match="changed since the run read it") as info:
        wire_messages([{"role": "user", "content": [part]}])
    assert info.value.kind == "image_changed"
    (root / "img" / "dog.jpg").unlink()
    with pytest.raises(ModelError, match="cannot be read any more"):
        wire_messages([{"role": "user", "content": [part]}])


def test_the_fingerprint_follows_the_image_content_not_its_path(root: Path) -> None:
    def prompt() -> str:
        parts = [{"type": "text", "text": "What?"}, resolver(root).part("img/dog.jpg", "w")]
        return fingerprint("m", "service", {}, [{"role": "user", "content": parts}])

    before = prompt()
    assert prompt() == before  # unchanged image: a resumed run reuses the reply
    (root / "img" / "dog.jpg").write_bytes((IMAGES / "tesla.jpg").read_bytes())
    assert prompt() != before  # same path, other bytes: asked again


def test_text_views_show_a_short_note_never_base64(root: Path) -> None:
    big = "data:image/png;base64," + base64.b64encode(PNG_1PX + b"\0" * 300_000).decode()
    parts = [{"type": "text", "text": "A) "}, resolver(root).part("img/dog.jpg", "w"), {"type": "text", "text": "\nB) "},
             resolver(root).part(big, "w"), {"type": "text", "text": "Which?"},
             {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}}]
    text = content_text(parts)
    digest = hashlib.sha256((IMAGES / "dog.jpg").read_bytes()).hexdigest()[:12]
    assert text == (f"A) [image dog.jpg, 112.3 KiB, sha256 {digest}]\nB) [image data:image/png, 293.0 KiB, sha256 "
                    f"{hashlib.sha256(PNG_1PX + bytes(300_000)).hexdigest()[:12]}]Which?\n[image https://example.invalid/a.png]")
    evalscope_part = {"type": "image", "image": big, "detail": "auto"}  # an EvalScope 1.14.1 review's form
    assert content_text([evalscope_part]).startswith("[image data:image/png, 293.0 KiB")


def _ask(url: str, content: list[dict]) -> tuple[int, str]:
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    try:
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": content}])
    except openai.BadRequestError as exc:
        return 400, str(exc)
    return 200, reply.choices[0].message.content or ""


def test_the_test_server_answers_by_the_image_it_received_and_refuses_bad_ones() -> None:
    dog, tesla = (IMAGES / "dog.jpg").read_bytes(), (IMAGES / "tesla.jpg").read_bytes()
    oracle = {f"What is this?\n{image_tag(dog)}": "Dog", f"What is this?\n{image_tag(tesla)}": "Tesla"}

    def image(data: bytes, mime: str = "image/jpeg") -> dict:
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{base64.b64encode(data).decode()}"}}

    question = {"type": "text", "text": "What is this?"}
    with serve_in_thread(ServerConfig(oracle=oracle, max_seconds=60, max_requests=10)) as server:
        assert _ask(server.url, [question, image(dog)]) == (200, "Dog")
        assert _ask(server.url, [question, image(tesla)]) == (200, "Tesla")
        assert _ask(server.url, [question, image(dog[:-1])])[1] == "I am not sure."  # one byte short: another image
        status, text = _ask(server.url, [question, image(dog, "image/png")])
        assert status == 400 and "not the image/png the data URI declares" in text
        status, text = _ask(server.url, [question, {"type": "image_url", "image_url": {"url": "file:///etc/hostname"}}])
        assert status == 400 and "must be a data:image/...;base64 URI" in text
        assert server.stats()["requests"] == 3  # refused requests are not chat answers


def test_requests_with_images_go_through_the_lean_transport(root: Path) -> None:
    from pytest_evalscope.models.http11 import lean_transport_applies
    from pytest_evalscope.models.openai_api import OpenAIServiceModel

    big = root / "img" / "big.png"
    big.write_bytes(PNG_1PX + os.urandom(3 * 2**20))  # 3 MiB: many socket writes, one request
    part = resolver(root).part("img/big.png", "w")
    key = f"Describe.\n{image_tag(big.read_bytes())}"
    with serve_in_thread(ServerConfig(oracle={key: "noise"}, max_seconds=60, max_requests=2)) as server:
        assert lean_transport_applies(server.url, {})
        model = OpenAIServiceModel("oracle", server.url, "x", {"max_retries": 0}, {})

        async def ask() -> str:
            try:
                return (await model.generate([{"role": "user", "content": [{"type": "text", "text": "Describe."}, part]}])).content
            finally:
                await model.aclose()

        assert asyncio.run(ask()) == "noise"
