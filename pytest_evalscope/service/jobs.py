"""Jobs: every eval or perf request runs in its own process (``service.worker``), so a crashing job
cannot take the service down.  At most ``max_jobs`` run at once; one more is refused (HTTP 429).

Files, all under the service's output root::

    <root>/<job_id>/                  the eval run folder (perf: <root>/<job_id>/<name>/)
    <root>/.jobs/<job_id>/job.json    state and the redacted config (no API key, secret headers masked)
    <root>/.jobs/<job_id>/job.log     the job process's stdout and stderr
    <root>/.jobs/<job_id>/result.json what the worker returned (reports / perf summary, or the error)

The API key of a request lives only in this process's memory and the job process's environment.

A restarted service reloads every job from ``job.json``: finished jobs keep their state and result; a job
whose process outlived the service is watched again until it ends; one whose process is gone without a
result is ``failed`` (interrupted) and can be resumed. A reloaded job has no API key: send ``api_key`` with
the resume request (header values that were masked in ``job.json`` stay masked).
Cancel sends SIGINT to the job's process group (pytest stops and keeps every finished sample), then
SIGKILL after ``grace_s``.  Resume starts a new eval job on the same config with ``use_cache`` set to
the first job's run folder, so finished samples are not requested again.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import redact_mapping, redact_settings, redact_url
from ..runlock import holder
from .policy import job_environment
from .schema import RequestError

RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"
JOBS_DIR = ".jobs"


@dataclass
class Job:
    id: str
    kind: str  # eval | perf
    config: dict[str, Any]  # what runs, without the API key
    api_key: str | None  # memory only
    job_dir: Path
    output_dir: str | None
    resumed_from: str | None = None
    state: str = RUNNING
    created: float = field(default_factory=time.time)
    finished: float | None = None
    exit_code: int | None = None
    error: str | None = None
    traceback: str | None = None
    result: Any = None
    cancel_requested: bool = False
    proc: subprocess.Popen[bytes] | None = None
    pid: int | None = None  # the job process, also after a restart of the service (proc is then None)
    done: threading.Event = field(default_factory=threading.Event)

    def public_config(self) -> dict[str, Any]:
        shown = dict(self.config)
        for key in ("model_args", "generation_config", "judge_model_args", "headers"):
            if isinstance(shown.get(key), dict):
                shown[key] = redact_mapping(shown[key])
        for key in ("api_url", "url"):
            if isinstance(shown.get(key), str):
                shown[key] = redact_url(shown[key])
            elif isinstance(shown.get(key), list):  # a fleet's endpoints
                shown[key] = [redact_url(u) if isinstance(u, str) else u for u in shown[key]]
        args = shown.get("dataset_args")
        if isinstance(args, str):  # the service takes dataset_args as an object or as its JSON text
            try:
                args = json.loads(args)
            except ValueError:
                args = None
        if isinstance(args, dict):
            shown["dataset_args"] = redact_settings(args)
        shown["api_key"] = "***" if self.api_key else None
        return shown

    def progress(self) -> dict[str, Any] | None:
        """The run's own progress.json: an evaluation's in its run folder, a perf run's in its
        `<outputs_dir>/<name>/` run folder (samples or requests done, ok and failed, and the state)."""
        if not self.output_dir:
            return None
        folder = Path(self.output_dir)  # a finished perf job's output_dir is its run folder itself
        path = folder / "progress.json"
        if self.kind != "eval" and not path.is_file():
            path = next(iter(sorted(folder.glob("*/progress.json"))), path)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def summary(self, detail: bool = False) -> dict[str, Any]:
        data = {"job_id": self.id, "kind": self.kind, "state": self.state, "created": self.created, "pid": self.pid,
                "finished": self.finished, "exit_code": self.exit_code, "output_dir": self.output_dir,
                "resumed_from": self.resumed_from, "error": self.error, "progress": self.progress()}
        if detail:
            data["config"] = self.public_config()
            data["result"] = self.result if self.state == SUCCEEDED else None
        return data


class JobManager:
    def __init__(self, root: Path, max_jobs: int = 2, grace_s: float = 10.0, launch: bool = True,
                 hidden: tuple[str, ...] = ()) -> None:
        self.root = root
        self.hidden = hidden  # secrets of the service (its bearer token) that no job may see
        self.max_jobs = max_jobs
        self.grace_s = grace_s
        self.launch = launch  # False: validate and record, run nothing (fuzzing, dry service)
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        if launch:
            self._reload()

    def _reload(self) -> None:
        """Jobs of an earlier service process on the same output root (see the module docstring)."""
        for path in sorted((self.root / JOBS_DIR).glob("*/job.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                config = {k: v for k, v in data["config"].items() if k != "api_key"}
                job = Job(data["job_id"], data["kind"], config, None, path.parent, data.get("output_dir"),
                          data.get("resumed_from"), data["state"], data["created"], data.get("finished"),
                          data.get("exit_code"), data.get("error"), pid=data.get("pid"))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a job record this version wrote: leave it alone
            self.jobs[job.id] = job
            if job.state != RUNNING:
                job.result = self._read_result(job).get("result") if job.state == SUCCEEDED else None
                job.done.set()
            elif job.pid is not None and _is_job_process(job.pid, job.id):
                threading.Thread(target=self._watch_orphan, args=(job,), name=f"job-{job.id}", daemon=True).start()
            else:
                data = self._read_result(job)
                if not data:
                    data = {"status": "error", "error": "interrupted: the service stopped while the job ran; "
                                                        f"POST /api/v1/jobs/{job.id}/resume continues it"}
                self._finish(job, 0 if data.get("status") == "success" else 1, data)

    @staticmethod
    def _read_result(job: Job) -> dict[str, Any]:
        try:
            return json.loads((job.job_dir / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _watch_orphan(self, job: Job) -> None:
        """A job process started by an earlier service process: poll until it is gone, then read its result."""
        while job.pid is not None and _is_job_process(job.pid, job.id):
            time.sleep(0.5)
        data = self._read_result(job) or {"status": "error", "error": "the job process ended with no result; "
                                                                      f"see GET /api/v1/jobs/{job.id}/log"}
        self._finish(job, 0 if data.get("status") == "success" else 1, data)

    # ------------------------------------------------------------ queries

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise RequestError(f"no job {job_id!r}; GET /api/v1/jobs lists them", "job_id", status=404)
        return job

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.state == RUNNING]

    def log(self, job: Job, start_line: int, page: int) -> dict[str, Any]:
        try:
            lines = (job.job_dir / "job.log").read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        if job.api_key:  # belt and braces: nothing should print it, and nothing shows it
            lines = [line.replace(job.api_key, "***") for line in lines]
        chunk = lines[start_line:start_line + page]
        return {"job_id": job.id, "text": "\n".join(chunk), "head_line": start_line,
                "tail_line": start_line + len(chunk), "total_lines": len(lines), "state": job.state}

    # ------------------------------------------------------------ starting

    def new_id(self) -> str:
        return time.strftime("%Y%m%d_%H%M%S") + "_" + secrets.token_hex(3)

    def submit(self, kind: str, config: dict[str, Any], api_key: str | None, job_id: str | None = None,
               resumed_from: str | None = None) -> Job:
        with self._lock:
            if len(self.running()) >= self.max_jobs:
                raise RequestError(f"{self.max_jobs} jobs are running (the limit); retry when one finishes",
                                   None, status=429)
            if kind == "eval" and config.get("use_cache"):
                self._check_free(Path(config["use_cache"]))
            job_id = job_id or self.new_id()
            job_dir = self.root / JOBS_DIR / job_id
            job_dir.mkdir(parents=True, exist_ok=False)
            config = self._place(kind, dict(config), job_id)
            output_dir = (config.get("use_cache") or config.get("work_dir")) if kind == "eval" else config["outputs_dir"]
            job = Job(job_id, kind, config, api_key, job_dir, output_dir, resumed_from)
            self.jobs[job_id] = job
            self._save(job)
            if self.launch:
                self._spawn(job)
            else:
                self._finish(job, 0, {"status": "success", "result": None, "output_dir": output_dir})
        return job

    def _check_free(self, run_dir: Path) -> None:
        """One run per folder: a job of ours that runs there (it may not hold the lock yet), or any session
        holding the folder's lock (runlock.py), makes another run there a 409."""
        busy = next((j.id for j in self.running() if j.output_dir and Path(j.output_dir) == run_dir), None)
        if busy is None and holder(run_dir) is None:
            return
        who = f"job {busy}" if busy else "another run"
        raise RequestError(f"use_cache: {run_dir.name} is in use by {who}; wait for it to end or cancel it",
                           "use_cache", status=409)

    def _place(self, kind: str, config: dict[str, Any], job_id: str) -> dict[str, Any]:
        """Give the run its own folder under the output root (the request's paths were confined already)."""
        if kind == "perf":
            config["outputs_dir"] = str(Path(config.get("outputs_dir") or self.root) / job_id)
            config.update(no_timestamp=True, progress=False)
            config.setdefault("plots", False)
        elif not config.get("use_cache"):
            config.update(work_dir=str(Path(config.get("work_dir") or self.root) / job_id), no_timestamp=True)
        return config

    def _spawn(self, job: Job) -> None:
        env = {**job_environment(os.environ, self.hidden), "PYTHONUNBUFFERED": "1"}
        if job.api_key:
            env["EVALSCOPE_API_KEY"] = job.api_key
        config = {k: v for k, v in job.config.items() if k != "api_key"}
        with open(job.job_dir / "job.log", "ab") as log:
            job.proc = subprocess.Popen(
                [sys.executable, "-m", "pytest_evalscope.service.worker", job.kind, str(job.job_dir / "result.json")],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=job.job_dir, env=env,
                start_new_session=True)
        assert job.proc.stdin is not None
        job.pid = job.proc.pid
        self._save(job)
        job.proc.stdin.write(json.dumps(config).encode())
        job.proc.stdin.close()
        threading.Thread(target=self._watch, args=(job,), name=f"job-{job.id}", daemon=True).start()

    def _watch(self, job: Job) -> None:
        assert job.proc is not None
        code = job.proc.wait()
        data = self._read_result(job) or {"status": "error", "error": f"the job process ended with exit status {code} "
                                                                      f"and no result; see GET /api/v1/jobs/{job.id}/log"}
        self._finish(job, code, data)

    def _finish(self, job: Job, code: int, data: dict[str, Any]) -> None:
        job.exit_code = code
        job.finished = time.time()
        if job.cancel_requested:
            job.state = CANCELLED
        elif code == 0 and data.get("status") == "success":
            job.state = SUCCEEDED
        else:
            job.state = FAILED
        job.result = data.get("result")
        job.output_dir = data.get("output_dir") or job.output_dir
        if job.state != SUCCEEDED:
            job.error = "cancelled" if job.state == CANCELLED else str(data.get("error") or f"exit status {code}")
            job.traceback = data.get("traceback")
        self._save(job)
        job.done.set()

    def _save(self, job: Job) -> None:
        data = {**job.summary(), "config": job.public_config()}
        tmp = job.job_dir / "job.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, job.job_dir / "job.json")

    # ------------------------------------------------------------ control

    def cancel(self, job: Job) -> Job:
        if job.state != RUNNING:
            raise RequestError(f"job {job.id} is {job.state}, not running", "job_id", status=409)
        job.cancel_requested = True
        self._signal(job, signal.SIGINT)
        timer = threading.Timer(self.grace_s, self._signal, args=(job, signal.SIGKILL))
        timer.daemon = True
        timer.start()
        return job

    def _signal(self, job: Job, sig: int) -> None:
        alive = (job.proc.poll() is None if job.proc is not None
                 else job.pid is not None and _is_job_process(job.pid, job.id))
        if alive and job.pid is not None:
            try:
                os.killpg(job.pid, sig)
            except ProcessLookupError:
                pass

    def resume(self, job: Job, api_key: str | None) -> Job:
        if job.kind != "eval":
            raise RequestError(f"job {job.id} is a perf job; only eval jobs resume", "job_id", status=409)
        if job.state == RUNNING:
            raise RequestError(f"job {job.id} is still running; cancel it first", "job_id", status=409)
        if not job.output_dir or not Path(job.output_dir).is_dir():
            raise RequestError(f"job {job.id} left no run folder to resume", "job_id", status=409)
        config = {k: v for k, v in job.config.items() if k not in ("work_dir", "no_timestamp")}
        config["use_cache"] = job.output_dir
        return self.submit("eval", config, api_key or job.api_key, resumed_from=job.id)

    def shutdown(self, wait_s: float = 10.0) -> None:
        """Stop every running job (SIGINT, then SIGKILL) and wait for them."""
        jobs = self.running()
        for job in jobs:
            job.cancel_requested = True
            self._signal(job, signal.SIGINT)
        deadline = time.monotonic() + wait_s
        for job in jobs:
            if not job.done.wait(max(0.0, deadline - time.monotonic())):
                self._signal(job, signal.SIGKILL)
                job.done.wait(5)


def _is_job_process(pid: int, job_id: str) -> bool:
    """Whether `pid` is still this job's worker process (not a process that reused the number)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"pytest_evalscope.service.worker" in cmdline and any(job_id.encode() in part for part in cmdline)
