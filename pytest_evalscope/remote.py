"""Workers on other hosts (``--tx socket=HOST:PORT``, ``--tx ssh=HOST``): the reply journal lives on the
controller.

A local worker (an execnet ``popen`` gateway) shares the controller's filesystem and journals each reply
straight into ``<run>/.cache/`` (cache.py). A remote worker does not: it must never touch the run folder,
whose path names a folder on the controller's host. So, for a gateway that is not a local ``popen``:

- the worker journals into memory, and every report it sends next (of any item) carries the entries
  received since its last report (``report.evalscope_journal``, JSON lines); what is left when its
  session ends travels in ``workeroutput``. The controller appends them to
  ``<run>/.cache/replies-<worker>-relayed-<pid>.jsonl``, where ``use_cache`` finds them like any journal.
  A SIGKILLed controller loses only the replies its remote workers received since their last report
  (at most the pipeline's look-ahead each); those are asked again on resume.
- with ``use_cache``, the controller sends the earlier replies in ``workerinput`` (JSON), since the
  worker cannot read the controller's journals.

Everything else a report needs already travels with the test reports (xdist_support.py, recorder.py).
What the worker reads itself is read on its own host: the suite files, the dataset files (a relative
``local_path`` from its working directory), the hub cache, ``judge_cache``, the model for a checkpoint.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from .cache import CACHE_DIR, Journal, load_replies
from .runtime import EvalRuntime

REMOTE_KEY = "evalscope_remote"  # workerinput: this worker does not share the controller's filesystem
REPLIES_KEY = "evalscope_replies"  # workerinput: the earlier replies, for use_cache
JOURNAL_KEY = "evalscope_journal"  # report attribute and workeroutput: journal lines on their way


def is_remote(spec: Any) -> bool:
    """A gateway that does not run on this host: anything but a direct ``popen`` (``popen//via=`` runs
    on the host of the gateway it goes through)."""
    return not getattr(spec, "popen", False) or bool(getattr(spec, "via", None))


def where(node: Any) -> str:
    """``gw1 (socket=127.0.0.1:8888, in /srv/project): `` for a remote worker's messages, else ``""``."""
    if not is_remote(node.gateway.spec):
        return ""
    spec = str(node.gateway.spec).replace("execmodel=main_thread_only//", "")
    cwd = getattr(node, "workerinfo", {}).get("cwd")
    return f"{node.gateway.id} ({spec}{f', in {cwd}' if cwd else ''}): "


class RelayJournal(Journal):
    """A remote worker's journal: lines wait in memory until a report takes them to the controller."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()  # replies arrive on the pipeline's loop, reports go on pytest's thread

    def append(self, key: str, fingerprint: str, output: dict[str, Any]) -> None:
        line = json.dumps({"key": key, "fingerprint": fingerprint, "output": output}, ensure_ascii=False)
        with self._lock:
            self._lines.append(line + "\n")

    def drain(self) -> str:
        with self._lock:
            text, self._lines = "".join(self._lines), []
        return text

    def close(self) -> None:
        pass  # nothing is open; what is left leaves with the workeroutput


class RemoteWorker:
    """Registered on a remote worker only: hands journal lines to the reports and the workeroutput."""

    def __init__(self, runtime: EvalRuntime, workerinput: dict[str, Any]) -> None:
        self.relay = RelayJournal()
        runtime.journal = self.relay
        text = workerinput.get(REPLIES_KEY)
        if text is not None:
            runtime.earlier_replies = {(key, fp): output for key, fp, output in json.loads(text)}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        text = self.relay.drain()
        if text:
            setattr(report, JOURNAL_KEY, text)
        return report

    @pytest.hookimpl(trylast=True)  # after every hook that may still receive a reply
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        if output is not None:
            output[JOURNAL_KEY] = self.relay.drain()


class RemoteController:
    """Registered on an xdist controller: marks remote workers, sends them the earlier replies, and
    journals what they relay."""

    def __init__(self, runtime: EvalRuntime) -> None:
        self.runtime = runtime
        self._replies: str | None = None
        self._files: dict[str, Any] = {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self, config: pytest.Config, specs: list[Any]) -> None:
        """What cannot work with a remote worker stops the run in one line, before any worker starts."""
        remote = next((spec for spec in specs if is_remote(spec)), None)
        if remote is None:
            return
        shown = str(remote).replace("execmodel=main_thread_only//", "")
        if _delegates(self.runtime):
            raise pytest.UsageError(f"eval_backend {self.runtime.config.backend_plan.backend} runs as one item that writes the "
                                    f"run folder itself, which a worker on another host ({shown}) cannot reach; "
                                    "run it without remote workers")
        arg = _path_argument(config)
        if arg is not None:  # xdist itself would fail on it with a traceback
            raise pytest.UsageError(f"{arg!r} names a path of this host, which xdist cannot pass to the worker on another "
                                    f"host ({shown}): select suites with -k or --evalscope-datasets, and give options as "
                                    "--option=VALUE")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if not is_remote(node.gateway.spec):
            return
        node.workerinput[REMOTE_KEY] = True
        if self.runtime.config.use_cache:
            if self._replies is None:  # read once, for every remote worker
                replies = load_replies(self.runtime.run_dir)
                self._replies = json.dumps([[key, fp, out] for (key, fp), out in replies.items()], ensure_ascii=False)
            node.workerinput[REPLIES_KEY] = self._replies

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        text = getattr(report, JOURNAL_KEY, None)
        if text:
            self._write(getattr(report, "node", None), text)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        text = getattr(node, "workeroutput", {}).get(JOURNAL_KEY)
        if text:
            self._write(node, text)

    def _write(self, node: Any, text: str) -> None:
        worker = node.gateway.id if node is not None else "remote"
        handle = self._files.get(worker)
        if handle is None:
            path = Path(self.runtime.run_dir) / CACHE_DIR / f"replies-{worker}-relayed-{os.getpid()}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self._files[worker] = path.open("a", encoding="utf-8")
        handle.write(text)
        handle.flush()  # in the kernel's hands at once: a SIGKILL of this process keeps it

    def pytest_unconfigure(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()


def _path_argument(config: pytest.Config) -> str | None:
    """The first argument naming an existing path outside the ``--rsyncdir`` folders: xdist rewrites a path
    argument for a remote worker relative to one of those, and raises when it is in none."""
    roots = [Path(p).resolve() for p in [*config.option.rsyncdir, *config.getini("rsyncdirs")]]
    for arg in map(str, config.invocation_params.args):
        path = Path(arg.split("::")[0])
        try:
            here = path.exists()
        except OSError:
            here = False
        if here and not any(root == path.resolve() or root in path.resolve().parents for root in roots):
            return arg
    return None


def _delegates(runtime: EvalRuntime) -> bool:
    """Whether the run hands the evaluation to another backend (backends_config): its item writes the
    run folder from whichever worker runs it."""
    from .backends_config import Delegation

    return isinstance(getattr(runtime.config, "backend_plan", None), Delegation)


def install(config: pytest.Config, runtime: EvalRuntime) -> None:
    """Register the side of this feature that runs in this process (called under xdist only)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        config.pluginmanager.register(RemoteController(runtime), "evalscope-remote")
    elif workerinput.get(REMOTE_KEY):
        config.pluginmanager.register(RemoteWorker(runtime, workerinput), "evalscope-remote")
