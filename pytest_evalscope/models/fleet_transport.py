"""A fleet (several api_url endpoints) under the openai client: the client keeps doing everything it does
(request building, retries with backoff, Retry-After, timeouts, status errors, streaming); only the HTTP
transport under it is :class:`FleetTransport`, which sends each request to the endpoint models/fleet.py
picks and reports back how it went:

- a refused connection (nothing was sent) takes the endpoint out and the request goes to another
  endpoint at once, without spending a retry;
- a 5xx reply or a connection cut mid-reply counts toward the endpoint's streak; the client retries
  the request as usual, and the retry goes to whichever endpoint is then picked;
- when no endpoint can take a request it fails as a refused connection (:class:`FleetDown`): the client
  retries it with backoff, and once its retries are spent the sample's error is ``unreachable``, which
  stops the run, as one unreachable endpoint does at start.
"""

from __future__ import annotations

import asyncio
import base64
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2

from ..params import ConfigError
from .fleet import Endpoint, Fleet
from .fleet_check import admit, check_fleet
from .http11 import Http11Transport, lean_transport_applies


class FleetDown(httpx2.ConnectError):
    """No endpoint of the fleet can take a request now (all are out of service)."""


class FleetTransport(httpx2.AsyncBaseTransport):
    """Sends each request to the fleet's least busy endpoint in service (see the module docstring).
    The client is made for the first endpoint's URL; each request's URL is rewritten to the endpoint's."""

    ENDPOINT = "evalscope_endpoint"  # the response extension naming the endpoint that answered

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        # as the client spells it (http://h:80/v1 is http://h/v1); the client is made without user:password
        self.base = str(httpx2.URL(split_credentials(fleet.endpoints[0].url)[0]))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        tried: set[int] = set()
        original = str(request.url)
        own_auth = request.headers.get("Authorization")  # the api_key's, for endpoints without credentials
        while True:
            endpoint = self.fleet.pick(tried)
            if endpoint is None:
                raise FleetDown(f"no endpoint of the fleet can take a request: all {len(self.fleet.endpoints)} are "
                                "out of service", request=request)
            if not endpoint.verified:  # down at start: its models are compared before its first request
                try:
                    admitted = await admit(self.fleet, endpoint, _auth_headers(request, own_auth))
                except (httpx2.ConnectError, httpx2.ConnectTimeout):
                    admitted = False
                    self.fleet.failed(endpoint, "connect", hard=True)
                if not admitted:
                    tried.add(self.fleet.index(endpoint))
                    continue
            self._route(request, original, endpoint, own_auth)
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

    def _route(self, request: httpx2.Request, original: str, endpoint: Endpoint, own_auth: str | None) -> None:
        if original.startswith(self.base):
            url, basic = split_credentials(endpoint.url)
            request.url = httpx2.URL(url + original[len(self.base):])
            request.headers["Host"] = request.url.netloc.decode("ascii")
            # user:password in an endpoint's URL is its Basic auth, as the client makes it of a single URL;
            # each endpoint gets its own, never another's
            if basic is not None:
                request.headers["Authorization"] = basic
            elif own_auth is not None:
                request.headers["Authorization"] = own_auth

    async def aclose(self) -> None:
        seen: set[int] = set()
        for endpoint in self.fleet.endpoints:
            if id(endpoint.inner) not in seen:
                seen.add(id(endpoint.inner))
                await endpoint.inner.aclose()


def split_credentials(url: str) -> tuple[str, str | None]:
    """`url` without its user:password part, and that part as a Basic Authorization value (or None)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    plain = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    pair = f"{urllib.parse.unquote(parts.username or '')}:{urllib.parse.unquote(parts.password or '')}"
    return plain, "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def _auth_headers(request: httpx2.Request, own_auth: str | None) -> dict[str, str]:
    """The request's own headers that a GET /models needs (authorization, API keys, custom headers), with
    the api_key's Authorization (an endpoint tried before may have set its own Basic auth on the request)."""
    skip = {"host", "content-length", "content-type", "accept-encoding", "transfer-encoding", "connection", "authorization"}
    headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
    return {**headers, "Authorization": own_auth} if own_auth is not None else headers


class _Tracked(httpx2.AsyncByteStream):
    """A response body whose end (read through, cut, or abandoned) settles its endpoint's count."""

    def __init__(self, inner: Any, fleet: Fleet, endpoint: Endpoint, status: int) -> None:
        self.inner, self.fleet, self.endpoint, self.status = inner, fleet, endpoint, status
        self.settled = False
        self._parts: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # one iteration of the inner body, however often this is iterated (the openai client drains a
        # stream after [DONE] with a second iteration, which goes on where the first stopped)
        if self._parts is None:
            self._parts = self.inner.__aiter__()
        try:
            async for part in self._parts:
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
        self._checked: asyncio.Future[None] | None = None

    def http_client(self) -> Any:
        import openai

        self.fleet = Fleet(self.urls, _inner_transports())
        # trust_env=False: the environment's proxies would be mounted above the fleet and take requests
        # past it; each endpoint's own transport applies its proxy instead (_inner_transports)
        return openai.DefaultAsyncHttpxClient(transport=FleetTransport(self.fleet), trust_env=False)

    async def check(self, model: str, client_args: dict[str, Any], reachable: Callable[..., Any]) -> None:
        """Once per process, before the first request; later callers wait for the first one's result."""
        assert self.fleet is not None, "the client is made before the first request"
        headers = {"Authorization": f"Bearer {client_args['api_key']}", **(client_args.get("default_headers") or {})}
        if self._checked is None:
            # one try each: an endpoint that is down now is taken out and tried again later, not waited for
            self._checked = asyncio.ensure_future(
                check_fleet(self.fleet, model, headers, lambda url: reachable(url, client_args, tries=1)))
        await asyncio.shield(self._checked)

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
