"""Several endpoints serving one model: which endpoint gets each request, and which are in service.

A fleet is the list form of ``api_url``. The openai client keeps doing everything it does (request
building, retries with backoff, Retry-After, timeouts, status errors, streaming); only the HTTP
transport under it is :class:`FleetTransport`, which sends each request to an endpoint of the fleet:

- **least in flight**: the endpoint with the fewest requests of this process in flight (ties taken in
  turn), so a slower endpoint holds its requests longer and receives proportionally fewer;
- **taken out**: a refused connection (or an unknown host, a connect timeout) takes an endpoint out at
  once, and the request goes to another endpoint straight away (no byte of it was sent, so nothing is
  done twice); :data:`STREAK` failures in a row (5xx replies, connections cut mid-reply) take it out
  too, and those requests are retried by the client as usual, on whichever endpoint is then picked;
- **retried later**: an endpoint out of service is left alone for a cool-down (:data:`COOLDOWN_S`,
  doubling per outage in a row up to :data:`MAX_COOLDOWN_S`), then receives one request at a time
  until one succeeds;
- **all out**: a request finds no endpoint to send to and fails as a refused connection
  (:class:`FleetDown`); the client retries it with backoff, and when its retries are spent the run
  stops (the ``unreachable`` fatal kind), as a single unreachable endpoint does at start.

At start (:meth:`Fleet.check`, once per process) every endpoint is checked: one that cannot be reached is
taken out (the run stops only when none can be), and ``GET /models`` must list the same models on
every endpoint that answers it, so replies cannot depend on which endpoint answered.

Counts are per process: under ``-n`` each worker balances its own requests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import httpx2

from ..config import redact_url
from ..params import ConfigError
from .base import ModelError
from .http11 import Http11Transport, lean_transport_applies

STREAK = 3  # failures in a row that take an endpoint out
COOLDOWN_S = 1.0  # the first outage's length; doubles for each outage in a row
MAX_COOLDOWN_S = 30.0
CHECK_TIMEOUT_S = 10.0
MAX_STAMPS = 20  # outage times kept per endpoint


class FleetDown(httpx2.ConnectError):
    """No endpoint of the fleet can take a request now (all are out of service)."""


@dataclass
class Endpoint:
    url: str  # the base URL, as configured (http://host:port/v1)
    label: str  # the URL as shown in reports and messages (credentials redacted)
    inner: httpx2.AsyncBaseTransport
    in_flight: int = 0
    requests: int = 0  # HTTP requests sent to it
    ok: int = 0  # of which answered with a status below 500
    errors: Counter[str] = field(default_factory=Counter)  # connect, transport, http_5xx
    streak: int = 0
    out_until: float | None = None  # taken out: not picked before this monotonic time
    outages: int = 0  # times taken out
    outages_in_a_row: int = 0
    out_at: list[float] = field(default_factory=list)  # when it was taken out (epoch seconds), the first ones
    models: list[str] | None = None  # what GET /models listed at start, when it answered


class Fleet:
    """The endpoints and their health; every method runs on the one event loop that sends requests."""

    def __init__(self, urls: list[str], inner_for: Callable[[str], httpx2.AsyncBaseTransport],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = [Endpoint(url, redact_url(url) or url, inner_for(url)) for url in urls]
        self.clock = clock
        self._turn = itertools.count()
        self._checked: asyncio.Future[None] | None = None

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
            if index in exclude:
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
        return {e.label: {"requests": e.requests, "ok": e.ok, "errors": dict(sorted(e.errors.items())),
                          "taken_out": e.outages, "out_at": list(e.out_at),
                          "in_service": e.out_until is None or e.out_until <= now}
                for e in self.endpoints}

    # ------------------------------------------------------------ the check at start

    async def check(self, model: str, headers: dict[str, str], reachable: Callable[[str], Any]) -> None:
        """Once per process, before the first request (later callers wait for the first one's result)."""
        if self._checked is None:
            self._checked = asyncio.ensure_future(self._check(model, headers, reachable))
        await asyncio.shield(self._checked)

    async def _check(self, model: str, headers: dict[str, str], reachable: Callable[[str], Any]) -> None:
        down: list[str] = []
        for endpoint, problem in zip(self.endpoints, await asyncio.gather(
                *(_reach(reachable, e.url) for e in self.endpoints)), strict=True):
            if problem is not None:
                self.failed(endpoint, "connect", hard=True)
                down.append(f"{endpoint.label}: {problem}")
        if len(down) == len(self.endpoints):
            raise ModelError("unreachable", f"cannot reach any of the {len(down)} endpoints: {'; '.join(down)}")
        up = [e for e in self.endpoints if e.out_until is None]
        listings = await asyncio.gather(*(_models(e, headers) for e in up))
        for endpoint, listing in zip(up, listings, strict=True):
            endpoint.models = listing
        _same_models([e for e in up if e.models is not None], model)


async def _reach(reachable: Callable[[str], Any], url: str) -> str | None:
    try:
        await reachable(url)
    except ModelError as exc:
        return str(exc).rpartition(": ")[2] if ": " in str(exc) else str(exc)
    return None


async def _models(endpoint: Endpoint, headers: dict[str, str]) -> list[str] | None:
    """The model ids `GET <url>/models` lists, or None when it does not answer with a list."""
    try:
        async with httpx2.AsyncClient(transport=_Untracked(endpoint.inner), timeout=CHECK_TIMEOUT_S,
                                      trust_env=False) as client:  # the inner transport applies any proxy
            reply = await client.get(endpoint.url + "/models", headers=headers)
            data = json.loads(reply.content) if reply.status_code == 200 else None
    except (httpx2.HTTPError, ValueError):
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return sorted(str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id") is not None)


def _same_models(endpoints: list[Endpoint], model: str) -> None:
    listings = {tuple(e.models or ()) for e in endpoints}
    if len(listings) <= 1:
        return
    shown = "; ".join(f"{e.label} serves {', '.join(e.models or []) or 'nothing'}" for e in endpoints)
    raise ModelError("fleet_mismatch", f"the endpoints of api_url serve different models ({shown}); every "
                     f"endpoint must serve the same {model!r}, or replies would depend on which one answered")


class _Untracked(httpx2.AsyncBaseTransport):
    """An endpoint's transport used by the check at start, leaving the inner transport open afterwards."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass


class FleetTransport(httpx2.AsyncBaseTransport):
    """Sends each request to the fleet's least busy endpoint in service (see the module docstring).
    The client is made for the first endpoint's URL; each request's URL is rewritten to the endpoint's."""

    ENDPOINT = "evalscope_endpoint"  # the response extension naming the endpoint that answered

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.base = str(httpx2.URL(fleet.endpoints[0].url))  # as the client spells it (http://h:80/v1 is http://h/v1)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        tried: set[int] = set()
        original = str(request.url)
        while True:
            endpoint = self.fleet.pick(tried)
            if endpoint is None:
                raise FleetDown(f"no endpoint of the fleet can take a request: all {len(self.fleet.endpoints)} are "
                                "out of service", request=request)
            self._route(request, original, endpoint)
            endpoint.requests += 1
            endpoint.in_flight += 1
            try:
                response = await endpoint.inner.handle_async_request(request)
            except (httpx2.ConnectError, httpx2.ConnectTimeout):
                endpoint.in_flight -= 1
                self.fleet.failed(endpoint, "connect", hard=True)
                tried.add(self.fleet.index(endpoint))  # nothing was sent: another endpoint, at once
                continue
            except BaseException as exc:
                endpoint.in_flight -= 1
                if isinstance(exc, httpx2.TransportError):
                    self.fleet.failed(endpoint, "transport", hard=False)
                raise
            response.extensions = {**response.extensions, self.ENDPOINT: endpoint.label}
            tracked = _Tracked(response.stream, self.fleet, endpoint, response.status_code)
            if response.is_closed:  # a body given whole (a mock transport's): settled now, not when read
                tracked.settle(None)
            else:
                response.stream = tracked
            return response

    def _route(self, request: httpx2.Request, original: str, endpoint: Endpoint) -> None:
        if original.startswith(self.base):
            request.url = httpx2.URL(endpoint.url + original[len(self.base):])
            request.headers["Host"] = request.url.netloc.decode("ascii")

    async def aclose(self) -> None:
        seen: set[int] = set()
        for endpoint in self.fleet.endpoints:
            if id(endpoint.inner) not in seen:
                seen.add(id(endpoint.inner))
                await endpoint.inner.aclose()


class _Tracked(httpx2.AsyncByteStream):
    """A response body whose end (read through, cut, or abandoned) settles its endpoint's count."""

    def __init__(self, inner: Any, fleet: Fleet, endpoint: Endpoint, status: int) -> None:
        self.inner, self.fleet, self.endpoint, self.status = inner, fleet, endpoint, status
        self.settled = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self.inner:
                yield part
        except httpx2.TransportError:
            self.settle("transport")
            raise
        self.settle(None)

    def settle(self, failure: str | None, neutral: bool = False) -> None:
        if self.settled:
            return
        self.settled = True
        self.endpoint.in_flight -= 1
        if neutral:
            return
        if failure is None and self.status >= 500:
            failure = f"http_{self.status}"
        if failure is None:
            self.fleet.succeeded(self.endpoint)
        else:
            self.fleet.failed(self.endpoint, failure, hard=False)

    async def aclose(self) -> None:
        # closed before its end: a 5xx the client drops before retrying counts against the endpoint; a
        # reply the caller stopped reading says nothing about it either way
        self.settle(None, neutral=self.status < 500)
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


class FleetClient:
    """What the service model needs of a fleet: the HTTP client for the openai client, the check at start,
    the reading of a lost fleet, and the figures. The fleet itself is made with the client, on its loop."""

    def __init__(self, urls: list[str], model_args: dict[str, Any]) -> None:
        if "http_client" in model_args:
            raise ConfigError("model_args.http_client: cannot be combined with several api_url endpoints, whose "
                              "requests are routed under the client; give one api_url, or leave http_client out")
        self.urls = urls
        self.fleet: Fleet | None = None

    def http_client(self) -> Any:
        import openai

        self.fleet = Fleet(self.urls, _inner_transports())
        # trust_env=False: the environment's proxies would be mounted above the fleet and take requests
        # past it; each endpoint's own transport applies its proxy instead (_inner_transports)
        return openai.DefaultAsyncHttpxClient(transport=FleetTransport(self.fleet), trust_env=False)

    async def check(self, model: str, client_args: dict[str, Any], reachable: Callable[..., Any]) -> None:
        assert self.fleet is not None, "the client is made before the first request"
        headers = {"Authorization": f"Bearer {client_args['api_key']}", **(client_args.get("default_headers") or {})}
        # one try each: an endpoint that is down now is taken out and tried again later, not waited for
        await self.fleet.check(model, headers, lambda url: reachable(url, client_args, tries=1))

    def all_down(self, exc: BaseException) -> str | None:
        """The reason when `exc` (an openai connection error) says no endpoint could take the request."""
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, FleetDown):
            cause = cause.__cause__ or cause.__context__
        return str(cause) if cause is not None else None

    def stats(self) -> dict[str, dict[str, Any]]:
        return self.fleet.stats() if self.fleet is not None else {}


def _inner_transports() -> Callable[[str], httpx2.AsyncBaseTransport]:
    """Each endpoint's own transport: the lean one on plain http without a proxy (shared: it pools
    connections per host), else httpx2's, with the proxy the environment names for that URL."""
    lean = Http11Transport()
    others: dict[str | None, httpx2.AsyncBaseTransport] = {}

    def inner_for(url: str) -> httpx2.AsyncBaseTransport:
        if lean_transport_applies(url, {}):
            return lean
        proxy = _proxy_for(url)
        if proxy not in others:
            others[proxy] = httpx2.AsyncHTTPTransport(proxy=proxy, limits=httpx2.Limits(max_connections=1000,
                                                                                          max_keepalive_connections=100))
        return others[proxy]

    return inner_for


def _proxy_for(url: str) -> str | None:
    proxies = urllib.request.getproxies_environment()
    parts = urllib.parse.urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    return proxy
