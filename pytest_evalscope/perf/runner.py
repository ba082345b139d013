"""Load models and one sweep point's run.

* closed loop (``rate == -1``): ``parallel`` workers, each sends its next request when the last ends;
* closed loop with ``rate``: requests get Poisson arrival times on an absolute, seeded schedule and
  wait for a free worker (waiting counts as ``queue_wait`` and in ``*_scheduled`` latencies);
* open loop (``open_loop``): each request is sent at its scheduled time whatever is in flight; a
  request due while ``max_inflight`` are in flight is dropped and counted (k6's dropped iterations).

Warm-up requests (closed loop, same ``parallel``) run first and are left out of every metric.
``duration`` stops sending; the global deadline cuts in-flight requests (``deadline`` errors), so a
run always ends.  A phase whose first ``max(10, parallel)`` requests all fail stops early
(``aborted``; after ``parallel`` failures when they are connection failures): an unreachable URL
or a bad key gives one clear error quickly, not 1000 timeouts.
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fleet import FleetHttpClient, make_client
from .metrics import summarize
from .records import RequestRecord, analyse
from .telemetry import Telemetry


@dataclass
class Workload:
    """Everything prepared before the clock starts: request bytes per prompt, prompt token hints."""

    payloads: list[bytes]
    hints: list[int | None]
    api: Any
    tokenizer: Any = None


@dataclass
class Point:
    index: int
    parallel: int
    number: int
    rate: float
    open_loop: bool

    @property
    def label(self) -> str:
        if self.open_loop:
            return f"rate_{self.rate:g}_number_{self.number}"
        tail = f"_rate_{self.rate:g}" if self.rate > 0 else ""
        return f"parallel_{self.parallel}_number_{self.number}{tail}"


@dataclass
class PointOutcome:
    point: Point
    records: list[RequestRecord]
    summary: dict[str, Any]
    aborted: str | None = None
    deadline_hit: bool = False
    origin: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def poisson_times(rate: float, count: int, seed: int, start: float) -> list[float]:
    """Absolute send times: exponential gaps with mean 1/rate, seeded, from ``start``."""
    rng = random.Random(seed)
    times, t = [], start
    for _ in range(count):
        t += rng.expovariate(rate)
        times.append(t)
    return times


class Progress:
    """The live line on stderr and, through `sink`, the numbers behind it (the service's progress.json)."""

    def __init__(self, enabled: bool, label: str, total: int,
                 sink: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.enabled, self.label, self.total, self.sink = enabled, label, total, sink
        self.done = self.ok = 0
        self.t0 = time.perf_counter()
        self.next_print = self.next_sink = self.t0 + 0.5
        self.tty = sys.stderr.isatty()
        self._sink_now(self.t0)

    def update(self, ok: bool) -> None:
        self.done += 1
        self.ok += ok
        if self.enabled or self.sink is not None:
            now = time.perf_counter()
            if self.enabled and now >= self.next_print:
                self.next_print = now + (0.5 if self.tty else 10.0)
                self.emit(now)
            if self.sink is not None and now >= self.next_sink:
                self.next_sink = now + 0.5
                self._sink_now(now)

    def snapshot(self, now: float) -> dict[str, Any]:
        elapsed = now - self.t0
        return {"phase": self.label, "done": self.done, "total": self.total, "ok": self.ok,
                "failed": self.done - self.ok, "rate": round(self.done / max(elapsed, 1e-9), 2),
                "elapsed_s": round(elapsed, 2)}

    def _sink_now(self, now: float) -> None:
        if self.sink is not None:
            self.sink(self.snapshot(now))

    def emit(self, now: float, end: str = "") -> None:
        rate = self.done / max(now - self.t0, 1e-9)
        line = (f"[{self.label}] {self.done}/{self.total} ok={self.ok} failed={self.done - self.ok} "
                f"{rate:.1f} req/s {now - self.t0:.1f}s")
        sys.stderr.write(("\r" + line + end) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def close(self) -> None:
        now = time.perf_counter()
        self._sink_now(now)
        if self.enabled:
            self.emit(now, "\n" if self.tty else "")


class PointRunner:
    def __init__(self, args: Any, point: Point, workload: Workload, deadline: float,
                 on_progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.args, self.point, self.work, self.deadline = args, point, workload, deadline
        self.on_progress = on_progress
        self.client = make_client(args)
        self.records: list[RequestRecord] = []
        self.telemetry = Telemetry()
        self.stop = False
        self.aborted: str | None = None
        self.dropped = 0
        self.failures_in_a_row = 0
        self.any_success = False
        self.progress: Progress | None = None

    async def run(self) -> PointOutcome:
        p, args = self.point, self.args
        deadline_hit = False
        gc.collect()
        gc.freeze()  # the prepared payloads are long-lived: keep the collector off them
        try:
            warm = int(args.warmup_num) if args.warmup_num >= 1 else math.ceil(args.warmup_num * p.number)
            if warm:
                self.progress = Progress(args.progress, f"{p.label} warmup", warm, self.on_progress)
                deadline_hit = not await self._bounded(self._closed(warm, p.parallel, None, [], warmup=True))
                self.progress.close()
            self.failures_in_a_row, self.any_success, self.stop = 0, False, False
            self.progress = Progress(args.progress, p.label, p.number, self.on_progress)
            self.telemetry.start()
            if not deadline_hit:
                deadline_hit = not await self._bounded(self._main())
            await self.telemetry.stop()
            self.progress.close()
        finally:
            self.client.close()
            gc.unfreeze()
        measured = [r for r in self.records if r.t_start is not None]
        summary = summarize(measured, args.goodput, self.dropped)
        if isinstance(self.client, FleetHttpClient):
            summary["endpoints"] = self.client.summary(measured)
        summary["telemetry"] = self.telemetry.report(summary["metrics"]["receive_lag"])
        summary["telemetry"]["arrival_clock"] = self.client.arrival_clock
        origin = min((r.t_start for r in measured), default=0.0)
        return PointOutcome(p, measured, summary, self.aborted, deadline_hit, origin)

    async def _bounded(self, coro: Any) -> bool:
        """Run ``coro`` until the global deadline; False when the deadline cut it."""
        try:
            await asyncio.wait_for(coro, max(0.0, self.deadline - time.perf_counter()))
            return True
        except asyncio.TimeoutError:
            for rec in self.records:
                if rec.t_start is not None and rec.t_end is None and rec.error is None:
                    rec.error, rec.error_detail = "deadline", "cut by the global deadline (total_timeout)"
            return False

    async def _main(self) -> None:
        p, args = self.point, self.args
        if args.duration:
            asyncio.get_running_loop().call_later(args.duration, self._halt)
        start = time.perf_counter() + 0.001
        times = poisson_times(p.rate, p.number, args.seed + p.index, start) if p.rate > 0 else None
        if p.open_loop:
            await self._open(p.number, times or [])
        else:
            await self._closed(p.number, p.parallel, times, self.records, warmup=False)

    def _halt(self) -> None:
        self.stop = True

    async def _one(self, index: int, scheduled: float | None, sink: list[RequestRecord], warmup: bool) -> None:
        work = self.work
        slot = index % len(work.payloads)
        rec = RequestRecord(index, scheduled, warmup, work.hints[slot])
        sink.append(rec)
        await self.client.send(rec, work.payloads[slot])
        analyse(rec, work.api, work.tokenizer)
        ok = rec.error is None
        self.any_success |= ok
        self.failures_in_a_row = 0 if ok else self.failures_in_a_row + 1
        # Connection failures stop sooner: each worker has met one (a blackholed host costs connect_timeout each).
        limit = self.point.parallel if rec.error in ("connect", "connect_timeout") else max(10, self.point.parallel)
        if not self.any_success and self.failures_in_a_row >= limit and not self.stop:
            self.stop = True
            self.aborted = (f"stopped after the first {self.failures_in_a_row} requests all failed "
                            f"({rec.error}: {rec.error_detail})")
        assert self.progress is not None
        self.progress.update(ok)

    async def _closed(self, count: int, parallel: int, times: list[float] | None, sink: list[RequestRecord],
                      warmup: bool) -> None:
        indices = iter(range(count))
        lags = self.telemetry.schedule_lags
        clock = time.perf_counter

        async def worker() -> None:
            for index in indices:
                if self.stop:
                    return
                scheduled = None
                if times is not None:
                    scheduled = times[index]
                    delay = scheduled - clock()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        lags.append(clock() - scheduled)
                    if self.stop:
                        return
                await self._one(index, scheduled, sink, warmup)

        await asyncio.gather(*(worker() for _ in range(min(parallel, count))))

    async def _open(self, count: int, times: list[float]) -> None:
        inflight: set[asyncio.Task[None]] = set()
        lags = self.telemetry.schedule_lags
        clock = time.perf_counter
        try:
            for index in range(count):
                delay = times[index] - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                lags.append(max(0.0, clock() - times[index]))
                if self.stop:
                    break
                if len(inflight) >= self.args.max_inflight:
                    self.dropped += 1
                    continue
                task = asyncio.get_running_loop().create_task(self._one(index, times[index], self.records, False))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            if inflight:
                await asyncio.gather(*inflight)
        finally:
            for task in inflight:
                task.cancel()
