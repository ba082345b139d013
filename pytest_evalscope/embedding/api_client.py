"""One JSON POST through the official ``openai`` client, for the embeddings and rerank endpoints.

The client brings what the chat backend has: retries of 408/409/429/5xx and connection errors with
backoff, timeouts, headers and the key. Every failure leaves here as a ModelError whose kind says
what happened (``http_404``, ``timeout``, ``connection``, ``malformed_reply``), so its item is an error.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from ..models.base import ModelError
from ..params import ConfigError, bounded_int, check_headers, parse_seconds

DEFAULT_MAX_RETRIES = 5
CLIENT_KEYS = ("timeout", "max_retries", "default_headers")


class JsonPoster:
    """A lazily made AsyncOpenAI client that posts JSON bodies and returns parsed JSON objects."""

    def __init__(self, api_url: str, api_key: str, args: dict[str, Any], where: str) -> None:
        self.base_url = api_url.rstrip("/")
        self.max_retries = bounded_int(0, 100)(args.get("max_retries", DEFAULT_MAX_RETRIES), f"{where}.max_retries")
        self.client_args: dict[str, Any] = {"base_url": self.base_url, "api_key": api_key or "EMPTY",
                                            "max_retries": self.max_retries}
        if "timeout" in args:
            self.client_args["timeout"] = parse_seconds(args["timeout"], f"{where}.timeout")
        if args.get("default_headers") is not None:
            self.client_args["default_headers"] = check_headers(args["default_headers"], f"{where}.default_headers")
        self._client: Any = None
        self._response_cls: Any = None

    def _get_client(self) -> Any:
        if self._client is None:  # made inside the loop that uses it
            try:
                import openai
            except ImportError:  # pragma: no cover - openai is a core dependency
                raise ConfigError("the embedding and rerank clients need the openai package: pip install openai") from None
            self._client = openai.AsyncOpenAI(**self.client_args)
            base = next(c for c in type(self._client._client).__mro__ if c.__name__ == "AsyncClient")
            self._response_cls = importlib.import_module(base.__module__.split(".")[0]).Response
        return self._client

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import openai

        client = self._get_client()
        attempts = self.max_retries + 1
        try:
            raw = await client.post(path, body=body, cast_to=self._response_cls)
        except openai.APIStatusError as exc:
            retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            raise ModelError(f"http_{exc.status_code}", f"{self.base_url}{path}: HTTP {exc.status_code}: "
                             f"{_error_text(exc)}", attempts if retried else 1) from None
        except openai.APITimeoutError:
            raise ModelError("timeout", f"{self.base_url}{path}: no reply within the timeout after {attempts} attempts",
                             attempts) from None
        except openai.APIConnectionError as exc:
            # nothing listens there, or the host has no address: no later request can succeed (fatal, as for chat)
            kind = "unreachable" if _refused(exc) else "connection"
            raise ModelError(kind, f"{self.base_url}{path}: connection failed after {attempts} attempts: "
                             f"{_root(exc)}", attempts) from None
        try:
            data = json.loads(raw.content)
        except ValueError as exc:
            raise ModelError("malformed_reply", f"{self.base_url}{path}: the reply is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ModelError("malformed_reply", f"{self.base_url}{path}: the reply is a JSON {type(data).__name__}, "
                             "expected an object")
        return data

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _root(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _refused(exc: BaseException) -> bool:
    import socket

    return isinstance(_root(exc), (ConnectionRefusedError, socket.gaierror))


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) \
            else body.get("message") or body.get("error")
        if message:
            return str(message)[:300]
    return str(getattr(exc, "message", exc))[:300]


def check_keys(args: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    """Refuse a model_args key the backend does not read, naming the ones it does."""
    from ..params import did_you_mean

    for key in args:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, known)}; valid: {', '.join(known)}")
