"""The models check of a fleet (several api_url endpoints): replies must not depend on which endpoint
answered, so every endpoint must serve the same models.

At start (:func:`check_fleet`, once per process, before the first request) every endpoint is tried: one
that cannot be reached is taken out (the run stops, ``unreachable``, only when none can be), and
``GET /models`` must list the same model ids on every endpoint that answers it, else the run stops
(``fleet_mismatch``). An endpoint that was down at start is compared when it first comes back
(:func:`admit`): one serving other models is excluded for the rest of the run, never sent a request.
An endpoint that does not answer ``/models`` (404, not a list) cannot be compared and is not refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from .base import ModelError
from .fleet import Endpoint, Fleet

CHECK_TIMEOUT_S = 10.0


async def check_fleet(fleet: Fleet, model: str, headers: Mapping[str, str], reachable: Callable[[str], Any]) -> None:
    down: list[str] = []
    problems = await asyncio.gather(*(_reach(reachable, e.url) for e in fleet.endpoints))
    for endpoint, problem in zip(fleet.endpoints, problems, strict=True):
        if problem is not None:
            fleet.failed(endpoint, "connect", hard=True)
            down.append(f"{endpoint.label}: {problem}")
    if len(down) == len(fleet.endpoints):
        raise ModelError("unreachable", f"cannot reach any of the {len(down)} endpoints: {'; '.join(down)}")
    up = [e for e in fleet.endpoints if e.out_until is None]
    listings = await asyncio.gather(*(_listing_or_none(e, headers) for e in up))
    for endpoint, listing in zip(up, listings, strict=True):
        endpoint.models, endpoint.verified = listing, True
    listed = [e for e in up if e.models is not None]
    if len({tuple(e.models or ()) for e in listed}) > 1:
        shown = "; ".join(f"{e.label} serves {', '.join(e.models or []) or 'nothing'}" for e in listed)
        raise ModelError("fleet_mismatch", f"the endpoints of api_url serve different models ({shown}); every "
                         f"endpoint must serve the same {model!r}, or replies would depend on which one answered")
    fleet.reference = tuple(listed[0].models or ()) if listed else None


async def admit(fleet: Fleet, endpoint: Endpoint, headers: Mapping[str, str]) -> bool:
    """Before an endpoint that was down at start takes its first request: whether it serves the fleet's
    models (or cannot say). Raises the transport's connect errors when it is still down."""
    if endpoint.excluded is not None:
        return False
    if endpoint.verified or fleet.reference is None:
        endpoint.verified = True
        return True
    if endpoint.admission is None:  # one comparison, however many requests arrive meanwhile
        endpoint.admission = asyncio.ensure_future(_compare(fleet, endpoint, headers))
    try:
        return await asyncio.shield(endpoint.admission)
    finally:
        if endpoint.admission is not None and endpoint.admission.done():
            endpoint.admission = None  # still down: compared again when it is next picked


async def _compare(fleet: Fleet, endpoint: Endpoint, headers: Mapping[str, str]) -> bool:
    assert fleet.reference is not None
    listing = await models_of(endpoint, headers)
    if listing is not None and tuple(listing) != fleet.reference:
        endpoint.models = listing
        endpoint.errors["models_differ"] += 1
        endpoint.excluded = (f"serves {', '.join(listing) or 'nothing'}, where the fleet serves "
                             f"{', '.join(fleet.reference)}")
        return False
    endpoint.models, endpoint.verified = listing, True
    return True


async def _reach(reachable: Callable[[str], Any], url: str) -> str | None:
    try:
        await reachable(url)
    except ModelError as exc:
        return str(exc).rpartition(": ")[2] if ": " in str(exc) else str(exc)
    return None


async def _listing_or_none(endpoint: Endpoint, headers: Mapping[str, str]) -> list[str] | None:
    try:
        return await models_of(endpoint, headers)
    except httpx2.HTTPError:
        return None


async def models_of(endpoint: Endpoint, headers: Mapping[str, str]) -> list[str] | None:
    """The model ids `GET <url>/models` lists, or None when it answers but not with a list; a connection
    that fails raises the transport's error."""
    async with httpx2.AsyncClient(transport=_Untracked(endpoint.inner), timeout=CHECK_TIMEOUT_S,
                                  trust_env=False) as client:  # the inner transport applies any proxy
        try:
            reply = await client.get(endpoint.url + "/models", headers=dict(headers))
        except (httpx2.ConnectError, httpx2.ConnectTimeout):
            raise
        except httpx2.HTTPError:
            return None
    try:
        data = json.loads(reply.content) if reply.status_code == 200 else None
    except ValueError:
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return sorted(str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id") is not None)


class _Untracked(httpx2.AsyncBaseTransport):
    """An endpoint's transport lent to the check, left open afterwards (requests still use it)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass
