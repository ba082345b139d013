"""Several endpoints serving one model (the list form of ``api_url``): which endpoint takes each request,
and which are in service. This module is the state and its rules; ``fleet_transport`` applies them
under the openai client, ``fleet_check`` checks the endpoints' models, and ``perf/fleet.py`` applies
them to the load tester.

- **least in flight**: the endpoint with the fewest requests of this process in flight (ties taken in
  turn), so a slower endpoint holds its requests longer and receives proportionally fewer;
- **taken out**: a hard failure (a refused connection, an unknown host, a connect timeout) takes an
  endpoint out at once; :data:`STREAK` failures in a row (5xx replies, connections cut mid-reply) too;
- **retried later**: an endpoint out of service is left alone for a cool-down (:data:`COOLDOWN_S`,
  doubling per outage in a row up to :data:`MAX_COOLDOWN_S`), then receives one request at a time
  until one succeeds;
- **excluded**: an endpoint found serving other models than the rest is never picked again.

Counts are per process: under ``-n`` each worker balances its own requests.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from ..config import redact_url

STREAK = 3  # failures in a row that take an endpoint out
COOLDOWN_S = 1.0  # the first outage's length; doubles for each outage in a row
MAX_COOLDOWN_S = 30.0
MAX_STAMPS = 20  # outage times kept per endpoint


@dataclass
class Endpoint:
    url: str  # the base URL, as configured (http://host:port/v1)
    label: str  # the URL as shown in reports and messages (credentials redacted)
    inner: Any  # what sends its requests: an httpx2 transport, or perf's HttpClient
    in_flight: int = 0
    requests: int = 0  # requests sent to it
    ok: int = 0  # of which answered with a status below 500
    errors: Counter[str] = field(default_factory=Counter)  # connect, transport, http_5xx, models_differ
    streak: int = 0
    out_until: float | None = None  # taken out: not picked before this monotonic time
    outages: int = 0  # times taken out
    outages_in_a_row: int = 0
    out_at: list[float] = field(default_factory=list)  # when it was taken out (epoch seconds), the first ones
    models: list[str] | None = None  # what GET /models listed, when it answered
    verified: bool = False  # its models were compared with the fleet's (or could not be)
    excluded: str | None = None  # why it is never picked again
    admission: Any = None  # the comparison of its models under way (an asyncio future), if any


class Fleet:
    """The endpoints and their health; every method runs on the one event loop that sends requests."""

    def __init__(self, urls: list[str], inner_for: Callable[[str], Any],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = [Endpoint(url, redact_url(url) or url, inner_for(url)) for url in urls]
        self.clock = clock
        self._turn = itertools.count()
        self.reference: tuple[str, ...] | None = None  # the models the fleet serves, once an endpoint listed them

    def pick(self, exclude: Collection[int] = ()) -> Endpoint | None:
        """The endpoint in service with the fewest requests in flight, or None when none can take one.
        An endpoint back from its cool-down takes one request at a time until one succeeds."""
        now = self.clock()
        best: Endpoint | None = None
        count = len(self.endpoints)
        start = next(self._turn) % count
        for offset in range(count):
            index = (start + offset) % count
            endpoint = self.endpoints[index]
            if index in exclude or endpoint.excluded is not None:
                continue
            if endpoint.out_until is not None and (endpoint.out_until > now or endpoint.in_flight > 0):
                continue
            if best is None or endpoint.in_flight < best.in_flight:
                best = endpoint
        return best

    def succeeded(self, endpoint: Endpoint) -> None:
        endpoint.ok += 1
        endpoint.streak = 0
        endpoint.outages_in_a_row = 0
        endpoint.out_until = None

    def failed(self, endpoint: Endpoint, kind: str, hard: bool) -> None:
        """Count a failure; a hard one (the endpoint cannot be reached) or a streak takes it out."""
        endpoint.errors[kind] += 1
        endpoint.streak += 1
        on_probation = endpoint.out_until is not None
        if hard or on_probation or endpoint.streak >= STREAK:
            self._take_out(endpoint)

    def _take_out(self, endpoint: Endpoint) -> None:
        if endpoint.out_until is not None and endpoint.out_until > self.clock():
            return  # already out: requests sent before it went out are failing one by one
        cooldown = min(COOLDOWN_S * 2 ** endpoint.outages_in_a_row, MAX_COOLDOWN_S)
        endpoint.out_until = self.clock() + cooldown
        endpoint.outages += 1
        endpoint.outages_in_a_row += 1
        if len(endpoint.out_at) < MAX_STAMPS:
            endpoint.out_at.append(round(time.time(), 3))

    def index(self, endpoint: Endpoint) -> int:
        return self.endpoints.index(endpoint)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per endpoint: requests sent, answered, errors by kind, times taken out, and whether it is in
        service now; JSON-ready, summed over processes in the report's ``perf_metrics.endpoints``."""
        now = self.clock()
        return {e.label: {"requests": e.requests, "ok": e.ok, "in_flight": e.in_flight, "errors": dict(sorted(e.errors.items())),
                          "taken_out": e.outages, "out_at": list(e.out_at), "excluded": e.excluded,
                          "in_service": e.excluded is None and (e.out_until is None or e.out_until <= now)}
                for e in self.endpoints}
