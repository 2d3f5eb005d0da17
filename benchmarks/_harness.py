"""Shared benchmark harness: start a real ``thrifty serve`` and drive HTTP load at it.

Figures are medians and percentiles of wall-clock latency on a shared 2-core machine; every
benchmark also measures a baseline in the same run, so compare ratios, not absolute numbers.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
def thrifty_server(workers: int = 1, database_url: str | None = None) -> Iterator[str]:
    """A ``thrifty serve`` process on a free port with a fresh SQLite database."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "THRIFTY_ADMIN_KEY": ADMIN_KEY,
            "THRIFTY_DATABASE_URL": database_url or f"sqlite:///{Path(tmp) / 'bench.db'}",
        }
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
            f"{self.name:<28} c={self.concurrency:<3} {self.throughput:8.0f} req/s   "
            f"p50 {statistics.median(self.latencies_ms):6.2f} ms   p99 {self.percentile(99):6.2f} ms"
            f"   errors {self.errors}"
        )


async def drive(
    name: str,
    base: str,
    method: str,
    path: str,
    body: Any,
    *,
    concurrency: int,
    requests: int,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Send ``requests`` requests from ``concurrency`` keep-alive connections."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=headers) as client:
        remaining = requests

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                response = await client.request(method, path, json=body)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code >= 400:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(min(concurrency, 8))))  # warm-up
        latencies.clear()
        remaining = requests
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(name, concurrency, len(latencies), seconds, latencies, errors)
