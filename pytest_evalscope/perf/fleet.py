"""Load-testing several endpoints of one model from one client (``--url`` repeated).

Each request goes to the endpoint with the fewest requests in flight (ties in turn), with the eval
harness's health rules (models/fleet.py): a refused connection takes an endpoint out at once and the
request goes to another endpoint straight away (its record names the endpoint that answered); a streak
of failures takes it out too; it is tried again, one request at a time, after a cool-down. When every
endpoint is out, a request fails as ``connect``. The point's summary gains ``endpoints``: per endpoint,
requests sent, succeeded, failures by kind, times taken out, and its e2e latency.

Requests are built once, for the first endpoint; a request for another endpoint is the same bytes with
that endpoint's request line and Host header, made on first use and kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models.fleet import Fleet
from .client import HttpClient
from .metrics import describe
from .records import RequestRecord


def make_client(args: Any) -> HttpClient | FleetHttpClient:
    if isinstance(args.url, list) and len(args.url) > 1:
        return FleetHttpClient(args.url, args.connect_timeout, args.read_timeout)
    url = args.url[0] if isinstance(args.url, list) else args.url
    return HttpClient(url, args.connect_timeout, args.read_timeout)


class FleetHttpClient:
    """HttpClient's face (request_bytes, send, close, arrival_clock) over one HttpClient per endpoint."""

    def __init__(self, urls: list[str], connect_timeout: float, read_timeout: float) -> None:
        self.fleet = Fleet(urls, lambda url: HttpClient(url, connect_timeout, read_timeout))
        self.clients: list[HttpClient] = [e.inner for e in self.fleet.endpoints]
        self.prefixes = [_prefix(c) for c in self.clients]
        self._copies: dict[bytes, list[bytes | None]] = {}

    @property
    def arrival_clock(self) -> str:
        return "kernel" if all(c.arrival_clock == "kernel" for c in self.clients) else "user"

    def request_bytes(self, body: bytes, headers: dict[str, str]) -> bytes:
        return self.clients[0].request_bytes(body, headers)

    def _payload_for(self, payload: bytes, index: int) -> bytes:
        if index == 0:
            return payload
        copies = self._copies.setdefault(payload, [None] * len(self.clients))
        copy = copies[index]
        if copy is None:
            assert payload.startswith(self.prefixes[0]), "requests are built by request_bytes"
            copy = copies[index] = self.prefixes[index] + payload[len(self.prefixes[0]):]
        return copy

    async def send(self, rec: RequestRecord, payload: bytes) -> RequestRecord:
        tried: set[int] = set()
        while True:
            endpoint = self.fleet.pick(tried)
            if endpoint is None:
                rec.error = "connect"
                rec.error_detail = f"no endpoint can take a request: all {len(self.clients)} are out of service"
                return rec
            index = self.fleet.index(endpoint)
            rec.endpoint = endpoint.label
            endpoint.requests += 1
            endpoint.in_flight += 1
            try:
                await endpoint.inner.send(rec, self._payload_for(payload, index))
            finally:
                endpoint.in_flight -= 1
            if rec.error in ("connect", "connect_timeout"):  # nothing was sent: another endpoint, at once
                self.fleet.failed(endpoint, rec.error, hard=True)
                tried.add(index)
                rec.error = rec.error_detail = None
                continue
            if rec.error is not None or (rec.status or 0) >= 500:
                self.fleet.failed(endpoint, rec.error or f"http_{rec.status}", hard=False)
            else:
                self.fleet.succeeded(endpoint)
            return rec

    def summary(self, records: Sequence[RequestRecord]) -> dict[str, Any]:
        """Per endpoint: requests sent (refused ones and warm-up included), succeeded (measured requests),
        failures by kind (refused connections, 5xx replies, cut streams), times taken out, and the e2e
        latency (ms) of its successful measured requests."""
        out: dict[str, Any] = {}
        for endpoint in self.fleet.endpoints:
            mine = [r for r in records if r.endpoint == endpoint.label]
            out[endpoint.label] = {
                "requests": endpoint.requests, "succeeded": sum(1 for r in mine if r.error is None),
                "failures": dict(sorted(endpoint.errors.items())),
                "taken_out": endpoint.outages,
                "e2e": describe(r.e2e * 1000.0 for r in mine if r.error is None and r.e2e is not None)}
        return out

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _prefix(client: HttpClient) -> bytes:
    return f"POST {client.path} HTTP/1.1\r\nHost: {client.authority}\r\n".encode("latin-1")
