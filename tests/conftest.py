"""Shared fixtures: the real benchmark data beside the repository, and suite files in pytester dirs."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"

# Tests never reach outside 127.0.0.1: hub clients fail at once instead of trying the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"


def _import_http_stack() -> None:
    """Import every module of the openai/httpx/httpcore stack before any in-process pytester run.

    pytester restores sys.modules after each in-process run, dropping modules first imported inside
    it. httpcore then gets imported twice, and httpx's exception mapping, which holds the first copy's
    classes, stops translating the second copy's errors (a RemoteProtocolError escapes instead of
    APIConnectionError). Making one sync, one async and one streamed request loads them all up front.
    """
    import asyncio

    import openai

    from pytest_evalscope.testing.server import ServerConfig, serve_in_thread

    with serve_in_thread(ServerConfig(oracle={"q": "a"}, max_seconds=30)) as handle:
        messages = [{"role": "user", "content": "q"}]
        openai.OpenAI(base_url=handle.url, api_key="x").chat.completions.create(model="m", messages=messages)

        async def run() -> None:
            client = openai.AsyncOpenAI(base_url=handle.url, api_key="x")
            await client.chat.completions.create(model="m", messages=messages)
            async for _ in await client.chat.completions.create(model="m", messages=messages, stream=True):
                pass
            await client.close()

        asyncio.run(run())


def pytest_collection_finish(session: pytest.Session) -> None:
    # Only for runs of these tests: an evaluation run from the repository root loads this conftest too.
    here = Path(__file__).parent
    if any(here in item.path.parents for item in session.items):
        _import_http_stack()
        # pytester's in-process runs drop modules first imported inside them; numpy's C core cannot be
        # imported twice in one process, so a run that imports it (statistics) must find it loaded
        import numpy  # noqa: F401
GSM8K_DIR = SHARED / "datasets" / "gsm8k"


@pytest.fixture
def gsm8k_dir() -> Path:
    if not GSM8K_DIR.is_dir():
        pytest.fail(f"the shared GSM8K data is missing: expected {GSM8K_DIR}")
    return GSM8K_DIR


@pytest.fixture
def gsm8k_args(gsm8k_dir: Path) -> str:
    return "--evalscope-dataset-args=" + json.dumps({"gsm8k": {"local_path": str(gsm8k_dir)}})


@pytest.fixture
def suite_file(pytester: pytest.Pytester) -> Path:
    return pytester.makepyfile(eval_gsm8k="from pytest_evalscope import Suite\n\ngsm8k = Suite('gsm8k')\n")


@pytest.fixture(autouse=True)
def _unfreeze_after_in_process_sessions() -> Iterator[None]:
    """The plugin freezes a session's objects after collection (gc.freeze); in this process many
    sessions run in turn (pytester), so each test lets the last one's cycles go again."""
    yield
    gc.unfreeze()
