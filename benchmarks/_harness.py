"""Shared benchmark harness: start a real ``thrifty serve`` and drive HTTP load at it.

Figures are medians and percentiles of wall-clock latency on a shared 2-core machine; every
benchmark also measures a baseline in the same run, so compare ratios, not absolute numbers.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ADMIN_KEY = "bench-admin-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def thrifty_server(
    workers: int = 1, database_url: str | None = None, config: str | None = None
) -> Iterator[str]:
    """A ``thrifty serve`` process on a free port with a fresh SQLite database (and the
    config file ``config``, else the built-in demo)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "THRIFTY_ADMIN_KEY": ADMIN_KEY,
            "THRIFTY_LOG_LEVEL": "warning",  # no log line per request in the figures' way
            "THRIFTY_DATABASE_URL": database_url or f"sqlite:///{Path(tmp) / 'bench.db'}",
        }
        if config is not None:
            env["THRIFTY_CONFIG"] = config
        command = [sys.executable, "-m", "thrifty.cli", "serve", "--port", str(port)]
        command += ["--workers", str(workers)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("thrifty serve exited during start-up")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("thrifty serve did not become ready in 60 s")


@dataclass
class LoadResult:
    name: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<40} c={self.concurrency:<3} {self.throughput:8.0f} req/s   "
            f"p50 {statistics.median(self.latencies_ms):6.2f} ms   "
            f"p99 {self.percentile(99):6.2f} ms"
            f"   errors {self.errors}"
        )


class Connection:
    """A minimal keep-alive HTTP/1.1 client: the load generator must cost far less than the
    server it measures (httpx spends about a millisecond of CPU a request)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n"):
            lowered = line.lower()
            if lowered.startswith(b"content-length:"):
                length = int(line[15:])
            elif lowered.startswith(b"transfer-encoding:") and b"chunked" in lowered:
                chunked = True
        if chunked:  # a stream: read every chunk to the terminating empty one
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def build_request(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    host = base.removeprefix("http://")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def drive(
    name: str,
    base: str,
    raw: bytes | Sequence[bytes],
    *,
    concurrency: int,
    requests: int,
    rate: float | None = None,
) -> LoadResult:
    """Send ``requests`` requests over ``concurrency`` keep-alive connections.

    Closed loop by default (each connection sends its next request when the last answered:
    measures capacity). With ``rate`` the load is open loop: requests start on a fixed
    schedule of ``rate`` per second whatever the answers, and latency counts from the
    scheduled start, so queueing shows (no coordinated omission).
    """
    raws = [raw] if isinstance(raw, bytes) else list(raw)  # distinct requests, sent in turn
    connections = [await Connection.open(base) for _ in range(concurrency)]
    for connection in connections[:8]:  # warm-up
        for _ in range(20):
            await connection.request(raws[0])
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    started = time.perf_counter()
    for i in range(requests):
        queue.put_nowait((started + i / rate if rate else 0.0, raws[i % len(raws)]))

    async def worker(connection: Connection) -> None:
        nonlocal errors
        while not queue.empty():
            scheduled, request = queue.get_nowait()
            begin = time.perf_counter()
            if scheduled and scheduled > begin:
                # The connection is free before the request is due: wait, and time from the
                # actual send (the event loop's timer is only millisecond-accurate).
                await asyncio.sleep(scheduled - begin)
                begin = time.perf_counter()
            elif scheduled:
                begin = scheduled  # due while the connection was busy: the wait is queueing
            try:
                status = await connection.request(request)
            except (asyncio.IncompleteReadError, ConnectionError):
                errors += 1  # the server hung up: count it and reconnect
                connection.close()
                connection = await Connection.open(base)
                connections.append(connection)
                continue
            latencies.append((time.perf_counter() - begin) * 1000)
            errors += status >= 400

    await asyncio.gather(*(worker(c) for c in connections))
    seconds = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return LoadResult(name, concurrency, len(latencies), seconds, latencies, errors)
