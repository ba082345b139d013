"""The service model: an OpenAI-compatible chat-completions endpoint through the official `openai` client.

- model_args go to `AsyncOpenAI(...)` unchanged (default_headers, timeout, max_retries, ...); max_retries
  defaults to 5 (EvalScope's retries). The client retries 408/409/429/5xx, connection errors and
  timeouts with exponential backoff and honours Retry-After.
- A reply that arrives but cannot be used (invalid JSON, no choices) is retried here with the same
  budget and backoff.
- Non-streaming requests go through the client's documented low-level `client.post(...)` with the
  raw response, parsed and checked here: the typed `chat.completions.create` walks every message
  through its param transformer and builds pydantic models, about twice the CPU per request.
- On plain-http endpoints the client's bytes go through `Http11Transport` (models/http11.py), a lean
  keep-alive transport; the client's retries, timeouts and errors are unchanged.
- generation_config goes into the request; keys the OpenAI API does not define (top_k,
  repetition_penalty, min_p, ...) travel in `extra_body`. `stream: true` streams with usage.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import re
import socket
import ssl
import time
import urllib.parse
import urllib.request
from typing import Any

from ..config import redact_url
from ..params import ConfigError, bounded_int, check_headers, did_you_mean, parse_int, parse_seconds
from .base import ModelAPI, ModelError, ModelOutput
from .fleet_transport import FleetClient, FleetTransport, split_credentials
from .http11 import Http11Transport, lean_transport_applies
from .image_wire import wire_messages

REQUEST_KEYS = ("max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "presence_penalty",
                "frequency_penalty", "logprobs", "top_logprobs", "logit_bias", "reasoning_effort", "response_format")
EXTRA_BODY_KEYS = ("top_k", "repetition_penalty", "min_p", "min_tokens", "ignore_eos", "chat_template_kwargs")
PASS_KEYS = ("extra_body", "extra_headers", "extra_query")
# Accepted for EvalScope compatibility; they shape the run, not the request.
HARNESS_KEYS = ("stream", "timeout", "retries", "retry_interval", "batch_size", "do_sample", "n", "stop_seqs")
GENERATION_KEYS = REQUEST_KEYS + EXTRA_BODY_KEYS + PASS_KEYS + HARNESS_KEYS
DEFAULT_MAX_RETRIES = 5


def check_generation_config(config: dict[str, Any]) -> None:
    if config.get("extra_headers") is not None:
        check_headers(config["extra_headers"], "generation_config.extra_headers")
    for key in config:
        if key not in GENERATION_KEYS:
            raise ConfigError(f"generation_config: unknown key {key!r}{did_you_mean(key, GENERATION_KEYS)}; valid: {', '.join(GENERATION_KEYS)}")


# AsyncOpenAI's documented constructor arguments; a key outside this set is checked against the real
# signature, which costs importing openai (about a second) on the controller.
CLIENT_ARGS = {"organization", "project", "timeout", "max_retries", "default_headers", "default_query",
               "http_client", "webhook_secret", "websocket_base_url"}


def check_model_args(model_args: dict[str, Any]) -> None:
    if model_args.get("default_headers") is not None:
        check_headers(model_args["default_headers"], "model_args.default_headers")
    if set(model_args) <= CLIENT_ARGS:
        return
    from openai import AsyncOpenAI

    accepted = [n for n in inspect.signature(AsyncOpenAI.__init__).parameters if n not in ("self", "api_key", "base_url")]
    for key in model_args:
        if key not in accepted:
            raise ConfigError(f"model_args: {key!r} is not an OpenAI client argument{did_you_mean(key, accepted)}; valid: {', '.join(accepted)}")


def build_request(model: str, generation_config: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model}
    extra_body: dict[str, Any] = dict(generation_config.get("extra_body") or {})
    for key, value in generation_config.items():
        if key in REQUEST_KEYS:
            request[key] = value
        elif key in EXTRA_BODY_KEYS:
            extra_body[key] = value
        elif key in ("extra_headers", "extra_query"):
            request[key] = value
    if "stop_seqs" in generation_config and "stop" not in request:
        request["stop"] = generation_config["stop_seqs"]
    if extra_body:
        request["extra_body"] = extra_body
    if generation_config.get("timeout") is not None:
        request["timeout"] = parse_seconds(generation_config["timeout"], "generation_config.timeout")
    if generation_config.get("stream"):
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    return request


class OpenAIServiceModel(ModelAPI):
    def __init__(self, name: str, api_url: str | list[str], api_key: str, model_args: dict[str, Any],
                 generation_config: dict[str, Any]) -> None:
        check_model_args(model_args)
        check_generation_config(generation_config)
        self.name = name
        self._made_with = (name, api_url, api_key, dict(model_args))
        urls = [api_url] if isinstance(api_url, str) else list(api_url)
        # several endpoints: requests are spread over them under the client (models/fleet.py)
        self.fleet = FleetClient(urls, model_args) if len(urls) > 1 else None
        # a fleet's client is made without user:password: the transport gives each endpoint its own (fleet_transport)
        base = split_credentials(urls[0])[0] if self.fleet is not None else urls[0]
        self.client_args = {"base_url": base, "api_key": api_key, **model_args}
        if "max_retries" not in model_args:
            self.client_args["max_retries"] = parse_int(generation_config.get("retries", DEFAULT_MAX_RETRIES), "generation_config.retries", 0)
        self.client_args["max_retries"] = self.max_retries = bounded_int(0, 100)(self.client_args["max_retries"],
                                                                                 "model_args.max_retries")
        if "timeout" in model_args:
            self.client_args["timeout"] = parse_seconds(model_args["timeout"], "model_args.timeout")
        self.request = build_request(name, generation_config)
        self._options = {k: self.request.pop(k) for k in ("extra_headers", "extra_query", "timeout") if k in self.request}
        self._client: Any = None
        self._response_cls: Any = None
        self._reachable: asyncio.Future[None] | None = None  # the first request's reachability check

    @property
    def client(self) -> Any:
        if self._client is None:  # created lazily, inside the event loop that uses it
            import openai

            args = dict(self.client_args)
            if self.fleet is not None:
                args["http_client"] = self.fleet.http_client()
            elif lean_transport_applies(args["base_url"], args):
                args["http_client"] = openai.DefaultAsyncHttpxClient(transport=Http11Transport())
            self._client = openai.AsyncOpenAI(**args)
            # the HTTP library the client is built on (httpx, or httpx2 in openai 3.x)
            base = next(c for c in type(self._client._client).__mro__ if c.__name__ == "AsyncClient")
            self._response_cls = importlib.import_module(base.__module__.split(".")[0]).Response
        return self._client

    def with_generation(self, generation_config: dict[str, Any]) -> OpenAIServiceModel:
        # its own client: requests of one client share one request template
        return OpenAIServiceModel(*self._made_with, generation_config)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    def stats(self) -> dict[str, Any] | None:
        """A fleet's figures per endpoint (requests, errors, outages); nothing for one endpoint."""
        return {"endpoints": self.fleet.stats()} if self.fleet is not None and self.fleet.fleet is not None else None

    def _check(self) -> Any:
        if self.fleet is not None:
            self.client  # noqa: B018 - makes the fleet, which the check fills in
            return self.fleet.check(self.name, self.client_args, check_reachable)
        return check_reachable(self.client_args["base_url"], self.client_args)

    async def generate(self, messages: list[dict[str, str]]) -> ModelOutput:
        if self._reachable is None:
            self._reachable = asyncio.ensure_future(self._check())
        await asyncio.shield(self._reachable)  # every request of the run waits for the one check
        for attempt in range(self.max_retries + 1):
            started = time.perf_counter()
            try:
                output = await self._request(messages, started)
            except _MalformedReply as exc:
                if attempt >= self.max_retries:
                    raise ModelError("malformed_reply", f"unusable reply from the server: {exc}", attempt + 1) from None
                await asyncio.sleep(min(0.5 * 2**attempt, 8.0))
                continue
            output.attempts = attempt + 1
            return output
        raise AssertionError("unreachable")

    async def _request(self, messages: list[dict[str, Any]], started: float) -> ModelOutput:
        import openai

        messages = wire_messages(messages)  # image references become data: URIs only in the request body
        try:
            if self.request.get("stream"):
                return await self._stream(messages, started)
            client = self.client
            raw = await client.post("/chat/completions", body=self._body(messages), cast_to=self._response_cls,
                                    options=self._request_options())
            response = json.loads(raw.content)
        except openai.APIStatusError as exc:
            retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            raise ModelError(f"http_{exc.status_code}", _status_message(exc), self.max_retries + 1 if retried else 1) from None
        except openai.APITimeoutError:
            raise ModelError("timeout", f"no reply within the timeout after {self.max_retries + 1} attempts", self.max_retries + 1) from None
        except openai.APIConnectionError as exc:
            lost = self.fleet.all_down(exc) if self.fleet is not None else None
            if lost:  # the whole fleet is out of service: no sample can succeed, the run stops
                raise ModelError("unreachable", f"{lost} after {self.max_retries + 1} attempts", self.max_retries + 1) from None
            raise ModelError("connection", f"connection failed after {self.max_retries + 1} attempts: {exc}", self.max_retries + 1) from None
        except (ValueError, TypeError, AttributeError, openai.APIResponseValidationError) as exc:
            raise _MalformedReply(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        output = _parse_completion(response, time.perf_counter() - started)
        if self.fleet is not None:
            output.endpoint = raw.extensions.get(FleetTransport.ENDPOINT)
        return output

    def _body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        body = {k: v for k, v in self.request.items() if k != "extra_body"}
        body["messages"] = messages
        body.update(self.request.get("extra_body") or {})
        return body

    def _request_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if "extra_headers" in self._options:
            options["headers"] = self._options["extra_headers"]
        if "extra_query" in self._options:
            options["params"] = self._options["extra_query"]
        if "timeout" in self._options:
            options["timeout"] = self._options["timeout"]
        return options

    async def _stream(self, messages: list[dict[str, str]], started: float) -> ModelOutput:
        stream = await self.client.chat.completions.create(messages=messages, **self.request, **self._options)
        content: list[str] = []
        reasoning: list[str] = []
        ttft = finish = usage = model = ident = None
        async for chunk in stream:
            model, ident = chunk.model or model, chunk.id or ident
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices or []:
                delta = choice.delta
                text = getattr(delta, "content", None)
                thought = _reasoning_of(delta)
                if (text or thought) and ttft is None:
                    ttft = time.perf_counter() - started
                content.append(text or "")
                reasoning.append(thought or "")
                finish = choice.finish_reason or finish
        if ttft is None and finish is None:
            raise _MalformedReply("the stream ended without any choice")
        endpoint = stream.response.extensions.get(FleetTransport.ENDPOINT) if self.fleet is not None else None
        return ModelOutput(_text("".join(content)), _text("".join(reasoning)) or None, finish, _usage(usage),
                           time.perf_counter() - started, ttft, model=_opt_text(model), id=_opt_text(ident),
                           endpoint=endpoint)


class _MalformedReply(Exception):
    pass


async def check_reachable(url: str, client_args: dict[str, Any], tries: int = 2) -> None:
    """Raise ModelError("unreachable") when `url`'s host cannot be reached at all: connection refused,
    an unknown host, or a TLS handshake that fails. The client would retry each of those with backoff
    for every sample (minutes for a whole benchmark, all ending as errors); the run stops at once instead,
    naming the URL. Skipped where a connection of our own would not be the client's (a proxy applies,
    or the user passed an http_client). A timeout is not unreachable: the client's retries handle it."""
    parts = urllib.parse.urlsplit(url)
    if "http_client" in client_args or parts.hostname is None or _proxied(url):
        return
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    reason = ""
    for attempt in range(tries):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(
                parts.hostname, port, ssl=ssl.create_default_context() if secure else None,
                server_hostname=parts.hostname if secure else None), timeout=10.0)
        except (ConnectionRefusedError, socket.gaierror, ssl.SSLError) as exc:
            reason = _unreachable_reason(exc)
            if attempt + 1 < tries:
                await asyncio.sleep(1.0)  # a server that is just starting gets a second chance
            continue
        except (OSError, asyncio.TimeoutError):
            return  # slow, filtered or unusual: left to the client's own retries and timeouts
        writer.close()
        return
    raise ModelError("unreachable", f"cannot reach {redact_url(url)}: {reason}", tries)


def _proxied(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    scheme = urllib.parse.urlsplit(url).scheme
    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def _unreachable_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and on this port?)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror or exc})"
    return f"TLS handshake failed ({getattr(exc, 'reason', None) or exc})"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """A server's text as Unicode: JSON escapes can carry lone surrogates, which no output file can hold,
    so each becomes U+FFFD (the replacement character), as a UTF-8 decoder would make of it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


def _reasoning_of(message: Any) -> str | None:
    value = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    if value is None and getattr(message, "model_extra", None):
        value = message.model_extra.get("reasoning_content") or message.model_extra.get("reasoning")
    return value if isinstance(value, str) else None


def _usage(usage: Any) -> dict[str, int | None]:
    if usage is None:
        return {}
    details = getattr(usage, "completion_tokens_details", None)
    return {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "reasoning_tokens": getattr(details, "reasoning_tokens", None) if details else None,
    }


def _parse_completion(response: Any, latency: float) -> ModelOutput:
    """Check and read a chat.completion JSON object; anything unusable is a malformed reply."""
    if not isinstance(response, dict):
        raise _MalformedReply(f"expected a JSON object, got {type(response).__name__}")
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _MalformedReply("the reply has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _MalformedReply("the first choice has no message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise _MalformedReply(f"message content is {type(content).__name__}, not text")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
    details = usage.get("completion_tokens_details") if isinstance(usage.get("completion_tokens_details"), dict) else {}
    return ModelOutput(
        _text(content or ""), _text(reasoning) if isinstance(reasoning, str) else None, choices[0].get("finish_reason"),
        {"input_tokens": usage.get("prompt_tokens"), "output_tokens": usage.get("completion_tokens"),
         "total_tokens": usage.get("total_tokens"), "reasoning_tokens": details.get("reasoning_tokens")} if usage else {},
        latency, model=_opt_text(response.get("model")), id=_opt_text(response.get("id")))


def _opt_text(value: Any) -> str | None:
    return _text(value) if isinstance(value, str) else None


def _status_message(exc: Any) -> str:
    detail = getattr(exc, "message", "") or str(exc)
    return f"HTTP {exc.status_code} from the server: {str(detail)[:200]}"
