"""Throughput of the simulated provider, the upstream of the gateway benchmarks.

Starts a real ``thrifty simulate`` process (latency 0, no errors; uvicorn, one process) and, in
the same run, a bare Starlette route served the same way as the baseline: a POST that reads the
body and answers a constant JSON of a similar size. Both are driven closed loop over keep-alive
connections (non-streaming, concurrency 32), so the ratio shows the simulator's own cost.
Repeated requests are answered from the simulator's plan cache; the last line sends every
request once with a different prompt, the uncached cost.

    python benchmarks/simulator.py [--requests 20000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import httpx

from _harness import Connection, LoadResult, build_request, drive, free_port

GPT_REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "Explain how a monthly budget helps a small team."},
    ],
}
CLAUDE_REQUEST = {
    "model": "claude-haiku-4-5",
    "max_tokens": 512,
    "system": "You are a concise assistant.",
    "messages": [{"role": "user", "content": "Explain how a monthly budget helps a small team."}],
}
HEADERS = {"Authorization": "Bearer bench"}
TOPICS = ("a monthly budget", "a cache", "a code review", "an on-call rota", "a forecast")


def varied(index: int) -> dict[str, object]:
    topic = TOPICS[index % len(TOPICS)]
    prompt = f"Explain how {topic} helps team number {index} work better."
    return {**GPT_REQUEST, "messages": [{"role": "user", "content": prompt}]}


def serve_baseline(port: int) -> None:
    """A bare Starlette route on uvicorn, configured as ``thrifty simulate`` is."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    answer = b'{"id": "baseline", "choices": [{"message": {"content": "' + b"x" * 700 + b'"}}]}'

    async def endpoint(request: Request) -> Response:
        await request.body()
        return Response(answer, media_type="application/json")

    app = Starlette(routes=[Route("/v1/chat/completions", endpoint, methods=["POST"])])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


def start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited during start-up")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start in 60 s")


async def drive_distinct(
    name: str, base: str, raws: list[bytes], *, concurrency: int
) -> LoadResult:
    """Each request once, closed loop: nothing can be answered from the simulator's caches."""
    connections = [await Connection.open(base) for _ in range(concurrency)]
    pending = iter(raws)
    latencies: list[float] = []
    errors = 0

    async def worker(connection: Connection) -> None:
        nonlocal errors
        for raw in pending:
            begin = time.perf_counter()
            errors += await connection.request(raw) >= 400
            latencies.append((time.perf_counter() - begin) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(connection) for connection in connections))
    seconds = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return LoadResult(name, concurrency, len(latencies), seconds, latencies, errors)


async def main(requests: int, concurrency: int) -> None:
    simulator_port, baseline_port = free_port(), free_port()
    command = [sys.executable, "-m", "thrifty.cli", "simulate", "--port", str(simulator_port)]
    simulator = start([*command, "--latency-ms", "0", "--error-rate", "0"], simulator_port)
    baseline = start(
        [sys.executable, __file__, "--serve-baseline", str(baseline_port)], baseline_port
    )
    try:
        base = f"http://127.0.0.1:{baseline_port}"
        raw = build_request(base, "POST", "/v1/chat/completions", GPT_REQUEST, HEADERS)
        bare = await drive(
            "baseline: bare Starlette POST", base, raw, concurrency=concurrency, requests=requests
        )
        base = f"http://127.0.0.1:{simulator_port}"
        gpt = build_request(base, "POST", "/v1/chat/completions", GPT_REQUEST, HEADERS)
        claude = build_request(base, "POST", "/v1/messages", CLAUDE_REQUEST, HEADERS)
        results = [bare]
        for name, raw in (("POST /v1/chat/completions", gpt), ("POST /v1/messages", claude)):
            results.append(await drive(name, base, raw, concurrency=concurrency, requests=requests))
        distinct = [
            build_request(base, "POST", "/v1/chat/completions", varied(i), HEADERS)
            for i in range(requests)
        ]
        name = "  the same, every prompt different"
        results.append(await drive_distinct(name, base, distinct, concurrency=concurrency))
        for result in results:
            print(result.line() + f"   ({result.throughput / bare.throughput:.2f}x baseline)")
    finally:
        for process in (simulator, baseline):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
    else:
        asyncio.run(main(args.requests, args.concurrency))
