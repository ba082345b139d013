"""A lean HTTP/1.1 transport for the official openai client on plain-`http://` endpoints.

The client keeps doing everything it does (request building, retries with backoff, Retry-After,
timeouts as errors, status errors, streaming); only the bytes on the wire go through this transport
instead of httpx2's default httpcore2 pool. Measured on GSM8K at 32 in flight, that pool (its
per-request scan of every connection, anyio stream wrappers and h11 events) was a third of the
harness's CPU per sample; this transport reads and writes with one asyncio Protocol per connection.

Used only where it can change nothing but speed: `http://` URLs, no proxy configured for the URL,
and no `http_client` of the user's own in model_args. `PYTEST_EVALSCOPE_LEAN_HTTP=0` turns it off.

What it implements: keep-alive connections pooled per host, Content-Length, chunked and
close-delimited bodies, 1xx replies skipped, HEAD/204/304 without a body, connect and read timeouts
as httpx2's ConnectTimeout/ReadTimeout, and failures as httpx2's ConnectError/ReadError/
RemoteProtocolError, which the openai client retries and reports exactly as it does for its own
transport. A request on a reused connection that the server had already closed is sent once more
on a fresh connection (no byte of a reply was read, so nothing is lost or doubled). Response
content-encoding (gzip, ...) is decoded by httpx2 itself, as with the default transport.
"""

from __future__ import annotations

import asyncio
import os
import re
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import httpx2

MAX_IDLE_PER_HOST = 256
MAX_HEAD_BYTES = 64 * 1024
_UNSAFE_HEADER = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab


def lean_transport_applies(url: str, model_args: dict[str, Any]) -> bool:
    """Whether requests to `url` may go through Http11Transport without changing their meaning."""
    if os.environ.get("PYTEST_EVALSCOPE_LEAN_HTTP", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if "http_client" in model_args or not url.lower().startswith("http://"):
        return False
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get("http") or proxies.get("all")):
        return True
    host = httpx2.URL(url).host
    return bool(urllib.request.proxy_bypass_environment(host, proxies))


class _Connection(asyncio.Protocol):
    """One keep-alive connection: bytes arrive into `buffer`; a reader waits on `_waiter`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.received_any = False  # a byte of the current reply has arrived
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.received_any = True
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float | None, request: httpx2.Request) -> None:
        """Until more bytes arrive or the connection closes; ReadTimeout after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None
        if timeout is not None:
            timer = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            self.close()
            raise httpx2.ReadTimeout(f"no data from the server within {timeout:g} s", request=request) from None
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.received_any = False
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Reply:
    """The framing of one response body."""

    def __init__(self, status: int, reason: bytes, version: bytes, headers: list[tuple[bytes, bytes]], method: bytes,
                 request: httpx2.Request) -> None:
        self.status, self.reason, self.version, self.headers = status, reason, version, headers
        connection = length = encoding = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"connection":
                connection = value.lower()
            elif lowered == b"content-length":
                length = value
            elif lowered == b"transfer-encoding":
                encoding = value.lower()
        if version == b"HTTP/1.0":  # HTTP/1.0 closes unless asked to keep alive; HTTP/1.1 keeps unless told to close
            self.keep_alive = connection is not None and b"keep-alive" in connection
        else:
            self.keep_alive = connection is None or b"close" not in connection
        self.chunked = False
        self.length: int | None = None
        if method == b"HEAD" or status in (204, 304):
            self.length = 0
        elif encoding and b"chunked" in encoding:
            self.chunked = True
        elif length is not None:
            try:
                self.length = int(length.split(b",")[0])
            except ValueError:
                self.length = -1
            if self.length < 0:
                raise httpx2.RemoteProtocolError(f"bad Content-Length header {length!r}", request=request)
        else:
            self.keep_alive = False  # the body ends when the server closes the connection


class _Body(httpx2.AsyncByteStream):
    """A response body read off its connection; the connection goes back to the pool once read to the end."""

    def __init__(self, pool: Http11Transport, key: tuple[str, int], conn: _Connection, reply: _Reply,
                 read_timeout: float | None, request: httpx2.Request) -> None:
        self.pool, self.key, self.conn, self.reply = pool, key, conn, reply
        self.read_timeout, self.request = read_timeout, request
        self.finished = False
        self._source: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # One parser per body, however often it is iterated: the openai client reads a stream up to
        # [DONE], leaves that iteration suspended part way, and drains the rest with a second one, which
        # must go on where the first stopped (a fresh parser would read the last chunk's CRLF as a size line).
        if self.finished:
            return
        reply = self.reply
        if self._source is None:
            if reply.chunked:
                self._source = self._chunked()
            elif reply.length is not None:
                self._source = self._sized(reply.length)
            else:
                self._source = self._until_close()
        async for part in self._source:
            yield part
        if not self.finished:
            self.finished = True
            self.pool.release(self.key, self.conn, reusable=reply.keep_alive and not self.conn.buffer)

    async def _more(self, what: str) -> None:
        conn = self.conn
        if conn.closed:
            raise httpx2.RemoteProtocolError(f"the server closed the connection in the middle of {what}", request=self.request)
        await conn.wait(self.read_timeout, self.request)

    async def _sized(self, remaining: int) -> AsyncIterator[bytes]:
        buffer = self.conn.buffer
        while remaining:
            if not buffer:
                await self._more("the response body")
                continue
            part = bytes(buffer[:remaining])
            del buffer[:len(part)]
            remaining -= len(part)
            yield part

    async def _until_close(self) -> AsyncIterator[bytes]:
        conn = self.conn
        while True:
            if conn.buffer:
                part = bytes(conn.buffer)
                conn.buffer.clear()
                yield part
            elif conn.closed:
                return
            else:
                await conn.wait(self.read_timeout, self.request)

    async def _line(self) -> bytes:
        buffer = self.conn.buffer
        while True:
            end = buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(buffer[:end])
                del buffer[:end + 2]
                return line
            if len(buffer) > MAX_HEAD_BYTES:
                raise httpx2.RemoteProtocolError("a chunk-size line is too long", request=self.request)
            await self._more("a chunked body")

    async def _chunked(self) -> AsyncIterator[bytes]:
        while True:
            line = await self._line()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httpx2.RemoteProtocolError(f"bad chunk size line {line[:40]!r}", request=self.request) from None
            if size == 0:
                while await self._line():  # trailers, up to the empty line
                    pass
                return
            async for part in self._sized(size):
                yield part
            if await self._line() != b"":
                raise httpx2.RemoteProtocolError("a chunk is longer than its size line says", request=self.request)

    async def aclose(self) -> None:
        if not self.finished:  # abandoned part way: the rest of the body is still on the wire
            self.finished = True
            self.pool.release(self.key, self.conn, reusable=False)


class _Stale(Exception):
    """A reused connection the server had closed before this request's reply began."""


class Http11Transport(httpx2.AsyncBaseTransport):
    def __init__(self, max_idle_per_host: int = MAX_IDLE_PER_HOST) -> None:
        self.max_idle_per_host = max_idle_per_host
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self.connections_opened = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx2.UnsupportedProtocol(f"this transport speaks plain http, not {url.scheme!r}", request=request)
        timeouts = request.extensions.get("timeout") or {}
        key = (url.host, url.port or 80)
        method = request.method.encode("ascii")
        body = await request.aread()
        lines = [method, b" ", url.raw_path or b"/", b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            if _UNSAFE_HEADER.search(name + value):  # a CR/LF would split the request on the wire
                raise httpx2.LocalProtocolError(f"header {name.decode('latin-1')!r} holds a control character; "
                                                "refusing to send it", request=request)
            if name.lower() not in (b"content-length", b"transfer-encoding"):  # the body is sent whole, sized below
                lines += [name, b": ", value, b"\r\n"]
        if body or method in (b"POST", b"PUT", b"PATCH"):
            lines += [b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n"]
        lines += [b"\r\n", body]
        payload = b"".join(lines)
        for attempt in range(2):  # the second on a fresh connection, after a stale one
            conn, reused = await self._acquire(key, timeouts.get("connect"), request, fresh=attempt > 0)
            try:
                conn.send(payload)
                reply = await self._read_head(conn, method, timeouts.get("read"), request, reused)
            except _Stale:
                self.release(key, conn, reusable=False)
                continue
            except BaseException:
                self.release(key, conn, reusable=False)
                raise
            return httpx2.Response(reply.status, headers=reply.headers,
                                   stream=_Body(self, key, conn, reply, timeouts.get("read"), request),
                                   extensions={"http_version": reply.version, "reason_phrase": reply.reason})
        raise AssertionError("unreachable: a fresh connection is never stale")

    async def _acquire(self, key: tuple[str, int], timeout: float | None, request: httpx2.Request,
                       fresh: bool = False) -> tuple[_Connection, bool]:
        idle = self._idle.get(key)
        while idle and not fresh:
            conn = idle.pop()
            if not conn.closed and not conn.buffer:
                self._busy.add(conn)
                return conn, True
            conn.close()
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(_Connection, key[0], key[1]), timeout)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"could not connect to {key[0]}:{key[1]} within {timeout:g} s", request=request) from None
        except OSError as exc:
            raise httpx2.ConnectError(f"could not connect to {key[0]}:{key[1]}: {exc.strerror or exc}", request=request) from None
        self.connections_opened += 1
        self._busy.add(conn)
        return conn, False

    async def _read_head(self, conn: _Connection, method: bytes, timeout: float | None, request: httpx2.Request,
                         reused: bool) -> _Reply:
        buffer = conn.buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise httpx2.RemoteProtocolError("the response head is too long", request=request)
                if conn.closed:
                    if reused and not conn.received_any:
                        raise _Stale()
                    raise httpx2.RemoteProtocolError("the server closed the connection without sending a response"
                                                     if not buffer else "the server closed the connection in the middle of the response head",
                                                     request=request)
                await conn.wait(timeout, request)
                continue
            head = bytes(buffer[:end])
            del buffer[:end + 4]
            reply = _parse_head(head, method, request)
            if 100 <= reply.status < 200 and reply.status != 101:
                continue  # informational (100 Continue, 103 Early Hints): the real reply follows
            return reply

    def release(self, key: tuple[str, int], conn: _Connection, reusable: bool) -> None:
        self._busy.discard(conn)
        idle = self._idle.setdefault(key, [])
        if reusable and not conn.closed and len(idle) < self.max_idle_per_host:
            idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for conn in [*self._busy, *(c for idle in self._idle.values() for c in idle)]:
            conn.close()
        self._busy.clear()
        self._idle.clear()


def _parse_head(head: bytes, method: bytes, request: httpx2.Request) -> _Reply:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx2.RemoteProtocolError(f"not an HTTP/1.x status line: {lines[0][:60]!r}", request=request)
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise httpx2.RemoteProtocolError(f"malformed header line {line[:60]!r}", request=request)
        headers.append((name, value.strip()))
    return _Reply(int(parts[1]), parts[2] if len(parts) > 2 else b"", parts[0], headers, method, request)
