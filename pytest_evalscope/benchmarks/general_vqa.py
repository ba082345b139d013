"""General-VQA (EvalScope protocol): the user's own questions about images, in OpenAI chat format,
scored like general_qa by overlap with a reference answer.

- Data: ``{subset}_test`` or ``{subset}`` .jsonl/.csv/.tsv/.parquet/.json in the data folder
  (benchmarks/vision.py); the default subset list is ``["default"]``. Each record is
  ``{"messages": [...], "answer": ...}``; in a TSV, ``messages`` is a JSON string.
- Messages: roles system, user, assistant, ending with the user's turn. A content is a string, or a
  list of ``{"type": "text", "text": ...}`` and ``{"type": "image_url", "image_url": {"url": ...}}``
  parts. A user's string content may hold ``<image N>`` placeholders filled from ``image_N`` columns.
  Images are local paths (under the image root), ``data:`` URIs or http(s) URLs (datasets/images.py).
- Prompt: the record's messages as they are (EvalScope applies no template to them), after
  dataset_args' system_prompt when the record has no system message of its own.
- Metrics (scoring/text_overlap.py, as general_qa): Rouge-1/2/L R/P/F and BLEU-1..4; the primary
  metric is Rouge-L-R, EvalScope's. An item passes at ``extra_params.pass_threshold`` (0.5).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..params import ConfigError
from ..registry import register_benchmark
from .base import Sample
from .general_qa import GeneralQA
from .vision import MEDIA_PLACEHOLDER, VisionBenchmark

ROLES = ("system", "user", "assistant")
PART_TYPES = ("text", "image_url")


@register_benchmark
class GeneralVQA(VisionBenchmark, GeneralQA):
    name = "general_vqa"
    pretty_name = "General-VQA"
    description = "Your own questions about images (OpenAI chat messages with image_url parts), scored by BLEU and Rouge."
    dataset_id = "general_vqa"
    subset_list: ClassVar[list[str]] = ["default"]
    eval_split = "test"
    prompt_template = "{question}"
    extra_params: ClassVar[dict[str, Any]] = {**GeneralQA.extra_params, **VisionBenchmark.image_params}
    needs_setup = "general_vqa reads your own files: give dataset_args.general_vqa.local_path"

    def _apply_args(self) -> None:
        super()._apply_args()
        for key in ("prompt_template", "query_template", "few_shot_prompt_template"):
            if key in self.args:
                raise ConfigError(f"dataset_args.{self.name}.{key}: {self.name} sends each record's messages as they "
                                  "are (EvalScope applies no template to them); leave it out")

    def record_problem(self, record: dict[str, Any]) -> str | None:
        messages = _messages_of(record)
        if isinstance(messages, str):
            return messages
        for message in messages:
            problem = _message_problem(message)
            if problem:
                return problem
        if messages[-1]["role"] != "user":
            return "'messages' must end with the user's turn (the question to answer)"
        answer = record.get("answer")
        if answer is not None and not isinstance(answer, (str, int, float)):
            return f"'answer' must be text, got {type(answer).__name__}"
        return None

    def record_to_sample(self, record: dict[str, Any], index: int, subset: str) -> Sample:
        where = self.where(subset, index)
        messages = _messages_of(record)
        assert isinstance(messages, list)  # record_problem checked it
        wanted = {int(n) for m in messages if m["role"] == "user" and isinstance(m["content"], str)
                  for kind, n in MEDIA_PLACEHOLDER.findall(m["content"]) if kind == "image"}
        images = self.media_map(record, where, wanted) if wanted else {}
        resolved = [{"role": m["role"], "content": self._content(m, images, where)} for m in messages]
        question = resolved[-1]["content"]
        text = question if isinstance(question, str) else "\n".join(p["text"] for p in question if p["type"] == "text")
        answer = record.get("answer")
        return Sample(index=index, subset=subset, input=text, target="" if answer is None else str(answer),
                      metadata={"id": record.get("id")}, messages=resolved)

    def _content(self, message: dict[str, Any], images: dict[int, dict[str, Any]], where: str) -> Any:
        content = message["content"]
        if isinstance(content, str):
            if message["role"] == "user" and MEDIA_PLACEHOLDER.search(content):
                return self.parts_with_media(content, images, where)
            return content
        parts = []
        for part in content:
            if part["type"] == "text":
                parts.append({"type": "text", "text": part["text"]})
                continue
            ref = part["image_url"] if isinstance(part["image_url"], dict) else {"url": part["image_url"]}
            parts.append(self.resolver.part(ref.get("url"), where, ref.get("detail")))
        return parts

    def build_messages(self, sample: Sample, fewshot: list[Sample]) -> list[dict[str, Any]]:
        messages = list(sample.messages or [])
        if self.system_prompt and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return messages


def _messages_of(record: dict[str, Any]) -> list[dict[str, Any]] | str:
    """The record's messages (a TSV carries them as a JSON string), or what is wrong with them."""
    messages = record.get("messages")
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except ValueError as exc:
            return f"'messages' is not valid JSON ({exc})"
    if not isinstance(messages, list) or not messages:
        return "no 'messages'; general_vqa records need messages (OpenAI chat format) and answer"
    return messages


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        return "each message must be {role: system|user|assistant, content: text or parts}"
    content = message.get("content")
    if isinstance(content, str):
        return None
    if not isinstance(content, list) or not content:
        return f"a {message['role']} message's content must be text or a list of parts"
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in PART_TYPES:
            return (f"content part of type {kind!r}: general_vqa sends text and image_url parts only"
                    if isinstance(kind, str) else "each content part must be {type: text|image_url, ...}")
        if kind == "text" and not isinstance(part.get("text"), str):
            return "a text part needs 'text'"
        ref = part.get("image_url")
        if kind == "image_url" and not (isinstance(ref, str) or (isinstance(ref, dict) and isinstance(ref.get("url"), str))):
            return "an image_url part needs {\"image_url\": {\"url\": path, data: URI or http(s) URL}}"
    return None

